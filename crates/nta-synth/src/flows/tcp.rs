//! [`TcpConv`]: a whole TCP connection, generated lazily a window of segments at a time, with
//! sequence and acknowledgement numbers that follow the data.

use crate::flow::{Ctx, Flow};
use crate::frame::{AppKind, Built, Ep, flags};
use crate::proto;
use std::collections::VecDeque;

/// What one side sends in one turn of a [`TcpConv`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    ClientHello,
    ServerFlight,
    ClientFinished,
    /// TLS application data of about this many bytes, from the client (`true`) or server.
    Tls(bool, usize),
    HttpRequest,
    HttpResponse(usize),
    SshBanner(bool),
    SshKexInit(bool),
    SshKex(bool),
    /// Opaque (encrypted) SSH bytes.
    SshData(bool, usize),
    /// Nothing is sent for this long (user think time).
    Pause(i64),
}

impl Turn {
    fn sent_by_client(self) -> bool {
        match self {
            Turn::ClientHello | Turn::ClientFinished | Turn::HttpRequest => true,
            Turn::ServerFlight | Turn::HttpResponse(_) | Turn::Pause(_) => false,
            Turn::Tls(c, _) | Turn::SshBanner(c) | Turn::SshKexInit(c) | Turn::SshKex(c) | Turn::SshData(c, _) => c,
        }
    }
}

/// How the connection attempt goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Handshake, the turns, then FIN (by the client when `true`).
    Completes { client_closes: bool, reset: bool },
    /// The server answers the SYN with RST-ACK.
    Refused,
    /// Nobody answers: the SYN is retransmitted after 1, 3 and 7 s.
    Unanswered,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tail {
    None,
    Tls,
    Opaque,
}

#[derive(Debug)]
struct Side {
    ep: Ep,
    ttl: u8,
    seq: u32,
    lit: Vec<u8>,
    tail: Tail,
    tail_len: usize,
    sent: usize,
    app: AppKind,
    /// Bytes per second it sends at.
    bandwidth: f64,
}

impl Side {
    fn len(&self) -> usize {
        self.lit.len() + self.tail_len
    }
}

#[derive(Clone, Copy, Debug)]
struct Step {
    ts: i64,
    from_client: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    /// Offset and length in the sender's current message.
    data: Option<(usize, usize)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Start,
    Turns,
    Close,
    Done,
}

/// A whole TCP connection, generated a window at a time.
#[derive(Debug)]
pub(crate) struct TcpConv {
    client: Side,
    server: Side,
    /// Round-trip time from the capture point (the LAN) to the server.
    rtt: i64,
    fate: Fate,
    turns: VecDeque<Turn>,
    steps: VecDeque<Step>,
    phase: Phase,
    /// Time the last scheduled step happens.
    t: i64,
    last_sender_client: bool,
    window: usize,
    sni: String,
    path: String,
    attack: Option<usize>,
}

impl TcpConv {
    /// A connection from `client` to `server` starting at `t0`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        ctx: &mut Ctx<'_>,
        t0: i64,
        client: Ep,
        server: Ep,
        rtt: i64,
        server_bandwidth: f64,
        fate: Fate,
        turns: Vec<Turn>,
        host: &str,
        attack: Option<usize>,
    ) -> TcpConv {
        let side = |ep: Ep, ttl: u8, seq: u32, bandwidth: f64| Side {
            ep,
            ttl,
            seq,
            lit: Vec::new(),
            tail: Tail::None,
            tail_len: 0,
            sent: 0,
            app: AppKind::None,
            bandwidth,
        };
        let internal = rtt < 2_000_000;
        let server_ttl = if internal { 64 } else { 64 - (rtt / 4_000_000).min(40) as u8 };
        let path = format!("/{}/{}", proto::base32(ctx.rng, 6), proto::base32(ctx.rng, 10));
        TcpConv {
            client: side(client, 64, ctx.rng.next_u64() as u32, 12_000_000.0),
            server: side(server, server_ttl, ctx.rng.next_u64() as u32, server_bandwidth),
            rtt,
            fate,
            turns: turns.into(),
            steps: VecDeque::with_capacity(64),
            phase: Phase::Start,
            t: t0,
            last_sender_client: true,
            window: 16,
            sni: host.to_owned(),
            path,
            attack,
        }
    }

    /// Sends up to this many segments per round trip (bulk transfers need more than 16).
    pub(crate) fn with_window(mut self, segments: usize) -> TcpConv {
        self.window = segments.max(2);
        self
    }

    /// Client-side bandwidth (bulk uploads).
    pub(crate) fn with_client_bandwidth(mut self, bytes_per_s: f64) -> TcpConv {
        self.client.bandwidth = bytes_per_s;
        self
    }

    fn push(&mut self, ts: i64, from_client: bool, fl: u8, data: Option<(usize, usize)>) {
        let (s, r) = if from_client { (&mut self.client, &self.server) } else { (&mut self.server, &self.client) };
        let seq = s.seq;
        let len = data.map_or(0, |(_, l)| l) as u32;
        s.seq = s.seq.wrapping_add(len + u32::from(fl & (flags::SYN | flags::FIN) != 0));
        self.steps.push_back(Step { ts, from_client, flags: fl, seq, ack: r.seq, data });
        self.t = self.t.max(ts);
    }

    /// The delay before the other side's answer shows up on the LAN.
    fn answer_delay(&self, ctx: &mut Ctx<'_>, to_client: bool) -> i64 {
        if to_client { ctx.rng.range(30_000, 200_000) as i64 } else { self.rtt + ctx.rng.range(20_000, 400_000) as i64 }
    }

    fn refill(&mut self, ctx: &mut Ctx<'_>) {
        match self.phase {
            Phase::Start => {
                let t = self.t;
                self.push(t, true, flags::SYN, None);
                match self.fate {
                    Fate::Unanswered => {
                        for back in [1, 3, 7] {
                            let c = &mut self.client;
                            c.seq = c.seq.wrapping_sub(1);
                            self.push(t + back * 1_000_000_000, true, flags::SYN, None);
                        }
                        self.phase = Phase::Done;
                    }
                    Fate::Refused => {
                        let d = self.rtt;
                        self.push(t + d, false, flags::RST | flags::ACK, None);
                        self.phase = Phase::Done;
                    }
                    Fate::Completes { .. } => {
                        let d = self.rtt;
                        self.push(t + d, false, flags::SYN | flags::ACK, None);
                        let d2 = self.answer_delay(ctx, false) - self.rtt;
                        self.push(t + d + d2.max(20_000), true, flags::ACK, None);
                        self.phase = Phase::Turns;
                    }
                }
            }
            Phase::Turns => {
                let sending_client = self.last_sender_client;
                let sender = if sending_client { &self.client } else { &self.server };
                if sender.sent < sender.len() {
                    self.send_window(ctx, sending_client);
                    return;
                }
                let Some(turn) = self.turns.pop_front() else {
                    self.phase = Phase::Close;
                    return self.refill(ctx);
                };
                if let Turn::Pause(ns) = turn {
                    self.t += ns;
                    return self.refill(ctx);
                }
                let from_client = turn.sent_by_client();
                if from_client != self.last_sender_client {
                    self.t += self.answer_delay(ctx, !from_client);
                }
                self.materialize(ctx, turn);
                self.last_sender_client = from_client;
                self.send_window(ctx, from_client);
            }
            Phase::Close => {
                let t = self.t + ctx.rng.range(100_000, 50_000_000) as i64;
                match self.fate {
                    Fate::Completes { reset: true, .. } => self.push(t, true, flags::RST | flags::ACK, None),
                    Fate::Completes { client_closes, .. } => {
                        let fa = flags::FIN | flags::ACK;
                        let d1 = self.answer_delay(ctx, !client_closes);
                        let d2 = self.answer_delay(ctx, client_closes);
                        self.push(t, client_closes, fa, None);
                        self.push(t + d1, !client_closes, fa, None);
                        self.push(t + d1 + d2, client_closes, flags::ACK, None);
                    }
                    _ => {}
                }
                self.phase = Phase::Done;
            }
            Phase::Done => {}
        }
    }

    fn materialize(&mut self, ctx: &mut Ctx<'_>, turn: Turn) {
        let from_client = turn.sent_by_client();
        let side = if from_client { &mut self.client } else { &mut self.server };
        side.lit.clear();
        side.tail = Tail::None;
        side.tail_len = 0;
        side.sent = 0;
        side.app = AppKind::None;
        match turn {
            Turn::ClientHello => {
                proto::client_hello(&mut side.lit, ctx.rng, &self.sni);
                side.app = AppKind::ClientHello;
            }
            Turn::ServerFlight => {
                proto::server_hello(&mut side.lit, ctx.rng);
                side.tail = Tail::Tls;
                side.tail_len = proto::tls_stream_len(ctx.rng.range(2_500, 5_500) as usize);
            }
            Turn::ClientFinished => {
                proto::change_cipher_spec(&mut side.lit);
                side.tail = Tail::Tls;
                side.tail_len = proto::tls_stream_len(58);
            }
            Turn::Tls(_, len) => {
                side.tail = Tail::Tls;
                side.tail_len = proto::tls_stream_len(len);
            }
            Turn::HttpRequest => {
                proto::http_request(&mut side.lit, &self.sni, &self.path, "Mozilla/5.0 (X11; Linux x86_64)");
                side.app = AppKind::HttpRequest;
            }
            Turn::HttpResponse(len) => {
                proto::http_response_header(&mut side.lit, len);
                side.tail = Tail::Opaque;
                side.tail_len = len;
            }
            Turn::SshBanner(client) => proto::ssh_banner(&mut side.lit, !client),
            Turn::SshKexInit(_) => proto::ssh_kexinit(&mut side.lit, ctx.rng),
            Turn::SshKex(client) => proto::ssh_kex(&mut side.lit, ctx.rng, !client),
            Turn::SshData(_, len) => {
                side.tail = Tail::Opaque;
                side.tail_len = len.max(1);
            }
            Turn::Pause(_) => {}
        }
    }

    /// Schedules up to one window of the sender's message, and the receiver's ACKs.
    fn send_window(&mut self, ctx: &mut Ctx<'_>, from_client: bool) {
        let (len, bw) = {
            let s = if from_client { &self.client } else { &self.server };
            (s.len(), s.bandwidth)
        };
        let mut t = self.t;
        let mut unacked = 0;
        for _ in 0..self.window {
            let sent = if from_client { self.client.sent } else { self.server.sent };
            if sent >= len {
                break;
            }
            let n = (len - sent).min(ctx.net.mss);
            let last = sent + n == len;
            let fl = if last { flags::PSH | flags::ACK } else { flags::ACK };
            self.push(t, from_client, fl, Some((sent, n)));
            if from_client {
                self.client.sent += n;
            } else {
                self.server.sent += n;
            }
            unacked += 1;
            let gap = ((n + 66) as f64 / bw * 1e9) as i64;
            if unacked == 2 || last {
                // The server's ACKs reach the LAN a round trip later; the client's leave at once,
                // or after the 40 ms delayed-ACK timer for a lone segment.
                let mut d = self.answer_delay(ctx, !from_client);
                if !from_client && unacked == 1 {
                    d += 40_000_000;
                }
                self.push(t + d, !from_client, flags::ACK, None);
                unacked = 0;
            }
            t += gap.max(1);
        }
        self.steps.make_contiguous().sort_by_key(|s| s.ts);
    }

    fn payload(&self, ctx: &mut Ctx<'_>, side: &Side, off: usize, len: usize) {
        let s = &mut *ctx.scratch;
        s.clear();
        let lit_end = (off + len).min(side.lit.len());
        if off < lit_end {
            s.extend_from_slice(side.lit.get(off..lit_end).unwrap_or_default());
        }
        let tail_from = off.max(side.lit.len()) - side.lit.len();
        let tail_n = len - s.len();
        if tail_n > 0 {
            let start = s.len();
            s.resize(start + tail_n, 0);
            let out = s.get_mut(start..).unwrap_or_default();
            match side.tail {
                Tail::Tls => proto::tls_stream(out, ctx.rng, tail_from, side.tail_len),
                Tail::Opaque | Tail::None => ctx.rng.fill(out),
            }
            // A segment that starts inside opaque bytes must not look like the start of a
            // ClientHello or an HTTP request to a decoder.
            if start == 0
                && let Some(b) = out.first_mut()
                && (*b == 0x16 || b.is_ascii_uppercase())
            {
                *b ^= 0x80;
            }
        }
    }
}

impl Flow for TcpConv {
    fn next_ts(&self) -> Option<i64> {
        self.steps.front().map(|s| s.ts).or(if self.phase == Phase::Done { None } else { Some(self.t) })
    }

    fn attack(&self) -> Option<usize> {
        self.attack
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Option<Built> {
        if self.steps.is_empty() {
            self.refill(ctx);
            return None;
        }
        let st = self.steps.pop_front()?;
        let (s, r) = if st.from_client { (&self.client, &self.server) } else { (&self.server, &self.client) };
        match st.data {
            Some((off, len)) => self.payload(ctx, s, off, len),
            None => ctx.scratch.clear(),
        }
        let window = if st.flags & flags::SYN != 0 { 64_240 } else { 502 };
        let built = ctx.frame.tcp(&s.ep, &r.ep, s.ttl, st.seq, st.ack, st.flags, window, ctx.scratch.as_slice())?;
        let app = if st.data.is_some_and(|(off, _)| off == 0) { s.app } else { AppKind::None };
        Some(built.with_app(app))
    }
}
