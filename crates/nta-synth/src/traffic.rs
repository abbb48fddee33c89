//! [`Traffic`]: normal traffic. New sessions arrive as a Poisson process whose rate follows a
//! slow wave times log-normal noise; each session is a mix of DNS, TCP conversations (HTTPS
//! with ClientHello/SNI, HTTP with Host, SSH), NTP, ICMP echo and errors, and ARP.

use crate::config::{NS, Profile, SynthConfig};
use crate::flow::{Ctx, Flow};
use crate::flows::{Fate, Pkt, Script, TcpConv, Turn};
use crate::frame::{BROADCAST, Built, Ep};
use crate::net::{Service, ephemeral};
use crate::proto::{self, Answer, qtype};
use crate::rng::Rng;
use std::net::{IpAddr, Ipv4Addr};

/// The session spawner.
#[derive(Debug)]
pub(crate) struct Traffic {
    profile: Profile,
    start: i64,
    next: i64,
    rng: Rng,
    noise_seed: u64,
}

/// Session kinds and their weights.
const MIX: [(Kind, u32); 10] = [
    (Kind::Web, 50),
    (Kind::Dns, 18),
    (Kind::Arp, 7),
    (Kind::Intranet, 5),
    (Kind::Ping, 4),
    (Kind::FailedTcp, 4),
    (Kind::Ntp, 3),
    (Kind::Unreachable, 3),
    (Kind::Ssh, 2),
    (Kind::Ptr, 4),
];

#[derive(Clone, Copy, Debug)]
enum Kind {
    Web,
    Dns,
    Ptr,
    Arp,
    Intranet,
    Ping,
    FailedTcp,
    Ntp,
    Unreachable,
    Ssh,
}

impl Traffic {
    pub(crate) fn new(cfg: &SynthConfig) -> Traffic {
        Traffic {
            profile: cfg.profile.clone(),
            start: cfg.start_ns,
            next: cfg.start_ns,
            rng: Rng::stream(cfg.seed, 3),
            noise_seed: cfg.seed,
        }
    }

    /// Sessions per second at `t`.
    fn rate(&self, t: i64) -> f64 {
        let p = &self.profile;
        let phase = (t - self.start) as f64 / p.wave_period_ns as f64;
        let wave = 1.0 + p.wave_amplitude * (std::f64::consts::TAU * phase).sin();
        let bucket = (t - self.start) / p.noise_step_ns;
        let mut r = Rng::stream(self.noise_seed ^ 0x006e_6f69_7365, bucket as u64);
        let noise = (p.noise_sigma * r.normal() - p.noise_sigma * p.noise_sigma / 2.0).exp();
        (p.sessions_per_s * wave * noise).max(1e-6)
    }
}

impl Flow for Traffic {
    fn next_ts(&self) -> Option<i64> {
        Some(self.next)
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Option<Built> {
        let t = self.next;
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.below(u64::from(total)) as u32;
        let kind = MIX
            .iter()
            .find(|(_, w)| {
                if x < *w {
                    true
                } else {
                    x -= w;
                    false
                }
            })
            .map_or(Kind::Web, |(k, _)| *k);
        session(ctx, &self.profile, kind, t);
        let gap = self.rng.exp(1.0 / self.rate(t)) * NS as f64;
        self.next = t + (gap as i64).max(1);
        None
    }
}

fn response_size(ctx: &mut Ctx<'_>, p: &Profile) -> usize {
    ctx.rng.lognormal(p.response_median, p.response_sigma).clamp(200.0, p.response_max as f64) as usize
}

fn dns_latency(ctx: &mut Ctx<'_>) -> i64 {
    if ctx.rng.chance(0.6) {
        ctx.rng.range(150_000, 900_000) as i64 // cached
    } else {
        (ctx.rng.lognormal(25.0, 0.6).clamp(3.0, 400.0) * 1e6) as i64
    }
}

fn session(ctx: &mut Ctx<'_>, p: &Profile, kind: Kind, t: i64) {
    let net = ctx.net;
    let client = net.client(ctx.rng).clone();
    let resolver = net.resolver(ctx.rng).clone();
    let gw = &net.gateway;
    match kind {
        Kind::Web => {
            let Some(server) = net.server(ctx.rng) else { return };
            let v6 = client.v6.is_some() && server.v6.is_some() && ctx.rng.chance(0.7);
            let sip = match (v6, server.v6) {
                (true, Some(a)) => IpAddr::V6(a),
                _ => IpAddr::V4(server.v4),
            };
            let https = server.service == Service::Https;
            let cep = client.ep(v6, ephemeral(ctx.rng));
            let sep = Ep { mac: gw.mac, ip: sip, port: if https { 443 } else { 80 } };
            let mut t0 = t;
            if ctx.rng.chance(0.45) {
                let lat = dns_latency(ctx);
                let rep = resolver.ep(v6, 53);
                let id = ctx.rng.next_u64() as u16;
                let qt = if v6 { qtype::AAAA } else { qtype::A };
                let qc = cep.with_port(ephemeral(ctx.rng));
                let answer = Answer::Addrs { cnames: server.cnames.clone(), addrs: vec![sip] };
                ctx.spawn.push(Box::new(Script::new(
                    vec![
                        (t0, Pkt::DnsQuery { from: qc, to: rep, id, qname: server.name.clone(), qtype: qt }),
                        (
                            t0 + lat,
                            Pkt::DnsResponse { from: rep, to: qc, id, qname: server.name.clone(), qtype: qt, answer },
                        ),
                    ],
                    None,
                )));
                t0 += lat + ctx.rng.range(100_000, 600_000) as i64;
            }
            let requests = 1 + (ctx.rng.exp(1.2) as usize).min(7);
            let mut turns = Vec::with_capacity(3 + requests * 3);
            if https {
                turns.extend([Turn::ClientHello, Turn::ServerFlight, Turn::ClientFinished]);
            }
            for i in 0..requests {
                if i > 0 {
                    turns.push(Turn::Pause((ctx.rng.lognormal(0.3, 1.2).min(20.0) * 1e9) as i64));
                }
                let resp = response_size(ctx, p);
                if https {
                    turns.push(Turn::Tls(true, ctx.rng.range(250, 900) as usize));
                    turns.push(Turn::Tls(false, resp));
                } else {
                    turns.push(Turn::HttpRequest);
                    turns.push(Turn::HttpResponse(resp));
                }
            }
            let fate = Fate::Completes { client_closes: ctx.rng.chance(0.6), reset: ctx.rng.chance(0.05) };
            let conv =
                TcpConv::new(ctx, t0, cep, sep, server.rtt_ns, server.bandwidth, fate, turns, &server.name, None);
            ctx.spawn.push(Box::new(conv));
        }
        Kind::Intranet => {
            let cep = client.ep(false, ephemeral(ctx.rng));
            let sep = net.intranet.ep(false, 80);
            let mut turns = Vec::new();
            for i in 0..1 + ctx.rng.below(4) {
                if i > 0 {
                    turns.push(Turn::Pause((ctx.rng.lognormal(1.0, 1.0).min(30.0) * 1e9) as i64));
                }
                turns.push(Turn::HttpRequest);
                turns.push(Turn::HttpResponse(response_size(ctx, p)));
            }
            let fate = Fate::Completes { client_closes: true, reset: false };
            let rtt = ctx.rng.range(150_000, 500_000) as i64;
            let conv = TcpConv::new(ctx, t, cep, sep, rtt, 40e6, fate, turns, "intranet.corp.example", None);
            ctx.spawn.push(Box::new(conv));
        }
        Kind::Dns | Kind::Ptr => {
            let v6 = client.v6.is_some() && ctx.rng.chance(0.3);
            let qc = client.ep(v6, ephemeral(ctx.rng));
            let rep = resolver.ep(v6, 53);
            let id = ctx.rng.next_u64() as u16;
            let lat = dns_latency(ctx);
            let (qname, qt, answer) = dns_question(ctx, matches!(kind, Kind::Ptr));
            ctx.spawn.push(Box::new(Script::new(
                vec![
                    (t, Pkt::DnsQuery { from: qc, to: rep, id, qname: qname.clone(), qtype: qt }),
                    (t + lat, Pkt::DnsResponse { from: rep, to: qc, id, qname, qtype: qt, answer }),
                ],
                None,
            )));
        }
        Kind::Arp => {
            // Clients refresh the gateway's or a resolver's entry; the gateway asks for clients.
            let (asker, target) = match ctx.rng.below(3) {
                0 => (client.clone(), gw.clone()),
                1 => (client.clone(), resolver.clone()),
                _ => (gw.clone(), client.clone()),
            };
            let d = ctx.rng.range(80_000, 400_000) as i64;
            ctx.spawn.push(Box::new(Script::new(
                vec![
                    (
                        t,
                        Pkt::Arp {
                            eth_dst: BROADCAST,
                            reply: false,
                            sender: (asker.mac, asker.v4),
                            target: ([0; 6], target.v4),
                        },
                    ),
                    (
                        t + d,
                        Pkt::Arp {
                            eth_dst: asker.mac,
                            reply: true,
                            sender: (target.mac, target.v4),
                            target: (asker.mac, asker.v4),
                        },
                    ),
                ],
                None,
            )));
        }
        Kind::Ping => {
            let (dst, rtt) = match net.server(ctx.rng) {
                Some(s) if ctx.rng.chance(0.7) => (IpAddr::V4(s.v4), s.rtt_ns),
                _ => (IpAddr::V4(gw.v4), ctx.rng.range(100_000, 400_000) as i64),
            };
            let from = client.ep(false, 0);
            let to = net.ep(dst, 0);
            let id = ctx.rng.next_u64() as u16;
            let ttl = if rtt < 2_000_000 { 64 } else { 64 - (rtt / 4_000_000).min(40) as u8 };
            let mut items = Vec::new();
            for seq in 1..=1 + ctx.rng.below(4) as u16 {
                let ts = t + i64::from(seq - 1) * NS + ctx.rng.below(2_000_000) as i64;
                items.push((ts, Pkt::Echo { from, to, reply: false, id, seq, len: 56, ttl: 64 }));
                let back = rtt + ctx.rng.below(rtt as u64 / 10 + 1) as i64;
                items.push((ts + back, Pkt::Echo { from: to, to: from, reply: true, id, seq, len: 56, ttl }));
            }
            ctx.spawn.push(Box::new(Script::new(items, None)));
        }
        Kind::FailedTcp => {
            let Some(server) = net.server(ctx.rng) else { return };
            let cep = client.ep(false, ephemeral(ctx.rng));
            let refused = ctx.rng.chance(0.5);
            let port = if refused { 8443 } else { 443 };
            let sep = Ep { mac: gw.mac, ip: IpAddr::V4(server.v4), port };
            let fate = if refused { Fate::Refused } else { Fate::Unanswered };
            let conv = TcpConv::new(ctx, t, cep, sep, server.rtt_ns, 1e6, fate, Vec::new(), &server.name, None);
            ctx.spawn.push(Box::new(conv));
        }
        Kind::Ntp => {
            let from = client.ep(false, 123);
            let to = net.ep(IpAddr::V4(net.ntp), 123);
            let rtt = ctx.rng.range(8_000_000, 40_000_000) as i64;
            ctx.spawn.push(Box::new(Script::new(
                vec![
                    (t, Pkt::Ntp { from, to, server: false, origin_ns: t }),
                    (t + rtt, Pkt::Ntp { from: to, to: from, server: true, origin_ns: t }),
                ],
                None,
            )));
        }
        Kind::Unreachable => {
            let Some(server) = net.server(ctx.rng) else { return };
            let v6 = client.v6.is_some() && server.v6.is_some();
            let sip = match (v6, server.v6) {
                (true, Some(a)) => IpAddr::V6(a),
                _ => IpAddr::V4(server.v4),
            };
            let from = client.ep(v6, ephemeral(ctx.rng));
            let to = Ep { mac: gw.mac, ip: sip, port: 33_434 + ctx.rng.below(60) as u16 };
            let len = 32;
            ctx.spawn.push(Box::new(Script::new(
                vec![
                    (t, Pkt::Udp { from, to, len, ttl: 64 }),
                    (
                        t + server.rtt_ns,
                        Pkt::PortUnreachable {
                            from: to.with_port(0),
                            to: from.with_port(0),
                            quoted: (from, to, len, 40),
                        },
                    ),
                ],
                None,
            )));
        }
        Kind::Ssh => {
            let cep = client.ep(false, ephemeral(ctx.rng));
            let sep = net.bastion.ep(false, 22);
            let mut turns = ssh_opening();
            turns.extend([
                Turn::SshData(true, 96),
                Turn::SshData(false, 32),
                Turn::SshData(true, 400),
                Turn::SshData(false, 700),
            ]);
            for _ in 0..5 + ctx.rng.below(60) {
                turns.push(Turn::Pause((ctx.rng.lognormal(0.4, 1.0).min(10.0) * 1e9) as i64));
                turns.push(Turn::SshData(true, 36));
                turns.push(Turn::SshData(false, 36 + 16 * ctx.rng.below(40) as usize));
            }
            let rtt = ctx.rng.range(150_000, 500_000) as i64;
            let fate = Fate::Completes { client_closes: true, reset: false };
            let conv = TcpConv::new(ctx, t, cep, sep, rtt, 40e6, fate, turns, "", None);
            ctx.spawn.push(Box::new(conv));
        }
    }
}

/// Banners, KEXINITs, key exchange and NEWKEYS (the server speaks first).
pub(crate) fn ssh_opening() -> Vec<Turn> {
    vec![
        Turn::SshBanner(false),
        Turn::SshBanner(true),
        Turn::SshKexInit(true),
        Turn::SshKexInit(false),
        Turn::SshKex(true),
        Turn::SshKex(false),
    ]
}

/// A DNS question and its answer: names of popular servers, the intranet, SPF TXT records,
/// NXDOMAIN for stale names, or (with `ptr`) reverse lookups of LAN hosts.
fn dns_question(ctx: &mut Ctx<'_>, ptr: bool) -> (String, u16, Answer) {
    let net = ctx.net;
    if ptr {
        let host = net.client(ctx.rng);
        let [_, _, c, d] = host.v4.octets();
        let name = proto::ptr_name(IpAddr::V4(host.v4));
        return (name, qtype::PTR, Answer::Ptr(format!("host-{c}-{d}.corp.example")));
    }
    let zone = ctx.rng.pick(&net.zones).cloned().unwrap_or_else(|| "example.com".to_owned());
    match ctx.rng.below(10) {
        0..=4 => match net.server(ctx.rng) {
            Some(s) => {
                let v6 = s.v6.is_some() && ctx.rng.chance(0.4);
                let (qt, addr) = match (v6, s.v6) {
                    (true, Some(a)) => (qtype::AAAA, IpAddr::V6(a)),
                    _ => (qtype::A, IpAddr::V4(s.v4)),
                };
                (s.name.clone(), qt, Answer::Addrs { cnames: s.cnames.clone(), addrs: vec![addr] })
            }
            None => (zone.clone(), qtype::A, Answer::NxDomain { zone }),
        },
        5 => (
            "intranet.corp.example".to_owned(),
            qtype::A,
            Answer::Addrs { cnames: Vec::new(), addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 20, 0, 80))] },
        ),
        6 => (zone.clone(), qtype::TXT, Answer::Txt(vec![format!("v=spf1 include:_spf.{zone} ~all")])),
        _ => {
            let stale = ["wpad", "old-mail", "printer", "autodiscover", "vpn2"];
            let label = stale.get(ctx.rng.below(stale.len() as u64) as usize).copied().unwrap_or("wpad");
            (format!("{label}.{zone}"), qtype::A, Answer::NxDomain { zone })
        }
    }
}
