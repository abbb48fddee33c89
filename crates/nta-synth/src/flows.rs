//! The flows the engine interleaves: [`TcpConv`] (flows/tcp.rs: a whole TCP connection, generated lazily a
//! window of segments at a time, with sequence and acknowledgement numbers that follow the
//! data) and [`Script`] (a few scheduled packets: DNS, NTP, ICMP, ARP, scan probes).

use crate::flow::{Ctx, Flow};
use crate::frame::{AppKind, Built, Ep, Mac};
use crate::proto::{self, Answer};
use std::collections::VecDeque;
use std::net::Ipv4Addr;

mod tcp;

pub(crate) use tcp::{Fate, TcpConv, Turn};

/// One packet of a [`Script`].
#[derive(Clone, Debug)]
pub(crate) enum Pkt {
    DnsQuery {
        from: Ep,
        to: Ep,
        id: u16,
        qname: String,
        qtype: u16,
    },
    DnsResponse {
        from: Ep,
        to: Ep,
        id: u16,
        qname: String,
        qtype: u16,
        answer: Answer,
    },
    Ntp {
        from: Ep,
        to: Ep,
        server: bool,
        origin_ns: i64,
    },
    Echo {
        from: Ep,
        to: Ep,
        reply: bool,
        id: u16,
        seq: u16,
        len: usize,
        ttl: u8,
    },
    /// A UDP datagram with `len` bytes of zeros.
    Udp {
        from: Ep,
        to: Ep,
        len: usize,
        ttl: u8,
    },
    /// An ICMP destination-unreachable (port) from `from` quoting the datagram `quoted` sent
    /// from `quoted.0` to `quoted.1` with `quoted.2` bytes.
    PortUnreachable {
        from: Ep,
        to: Ep,
        quoted: (Ep, Ep, usize, u8),
    },
    Arp {
        eth_dst: Mac,
        reply: bool,
        sender: (Mac, Ipv4Addr),
        target: (Mac, Ipv4Addr),
    },
    Tcp {
        from: Ep,
        to: Ep,
        ttl: u8,
        seq: u32,
        ack: u32,
        flags: u8,
    },
}

/// Scheduled packets, sent in time order.
#[derive(Debug)]
pub(crate) struct Script {
    items: VecDeque<(i64, Pkt)>,
    attack: Option<usize>,
}

impl Script {
    pub(crate) fn new(mut items: Vec<(i64, Pkt)>, attack: Option<usize>) -> Script {
        items.sort_by_key(|(t, _)| *t);
        Script { items: items.into(), attack }
    }
}

impl Flow for Script {
    fn next_ts(&self) -> Option<i64> {
        self.items.front().map(|(t, _)| *t)
    }

    fn attack(&self) -> Option<usize> {
        self.attack
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Option<Built> {
        let (ts, pkt) = self.items.pop_front()?;
        let s = &mut *ctx.scratch;
        match pkt {
            Pkt::DnsQuery { from, to, id, qname, qtype } => {
                proto::dns(s, id, &qname, qtype, None);
                ctx.frame.udp(&from, &to, 64, s.as_slice()).map(|b| b.with_app(AppKind::DnsQuery))
            }
            Pkt::DnsResponse { from, to, id, qname, qtype, answer } => {
                proto::dns(s, id, &qname, qtype, Some(&answer));
                let nxdomain = matches!(answer, Answer::NxDomain { .. });
                ctx.frame.udp(&from, &to, 64, s.as_slice()).map(|b| b.with_app(AppKind::DnsResponse { nxdomain }))
            }
            Pkt::Ntp { from, to, server, origin_ns } => {
                proto::ntp(s, server, origin_ns, ts);
                ctx.frame.udp(&from, &to, if server { 54 } else { 64 }, s)
            }
            Pkt::Echo { from, to, reply, id, seq, len, ttl } => {
                proto::ping_data(s, ts, len);
                let ty = match (from.ip.is_ipv6(), reply) {
                    (false, false) => 8,
                    (false, true) => 0,
                    (true, false) => 128,
                    (true, true) => 129,
                };
                ctx.frame.icmp(&from, &to, ttl, ty, 0, (u32::from(id) << 16) | u32::from(seq), s)
            }
            Pkt::Udp { from, to, len, ttl } => {
                s.clear();
                s.resize(len, 0);
                ctx.frame.udp(&from, &to, ttl, s)
            }
            Pkt::PortUnreachable { from, to, quoted: (qf, qt, len, ttl) } => {
                s.clear();
                s.resize(len, 0);
                ctx.frame.udp(&qf, &qt, ttl, s)?;
                // What fits in a 576-byte IPv4 datagram (RFC 1812) / 1280-byte IPv6 one.
                let max = if from.ip.is_ipv6() { 1280 - 48 } else { 576 - 28 };
                let quoted = ctx.frame.ip_bytes();
                s.clear();
                s.extend_from_slice(quoted.get(..quoted.len().min(max)).unwrap_or_default());
                let (ty, code) = if from.ip.is_ipv6() { (1, 4) } else { (3, 3) };
                ctx.frame.icmp(&from, &to, 64, ty, code, 0, s)
            }
            Pkt::Arp { eth_dst, reply, sender, target } => ctx.frame.arp(eth_dst, reply, sender, target),
            Pkt::Tcp { from, to, ttl, seq, ack, flags } => ctx.frame.tcp(&from, &to, ttl, seq, ack, flags, 64_240, &[]),
        }
    }
}
