//! The attacks: each is a flow that, at intervals drawn from its rate, spawns the packets of
//! one probe, flood packet or connection (and the victim's answers), all labelled with the
//! attack's index.

use crate::config::{AttackSpec, NS, SynthAttack, SynthConfig};
use crate::flow::{Ctx, Flow, Setup};
use crate::flows::{Fate, Pkt, Script, TcpConv, Turn};
use crate::frame::{BROADCAST, Built, Ep, flags};
use crate::net::{Host, Network, ephemeral, public_v4};
use crate::proto::{self, Answer, qtype};
use crate::report::SynthError;
use crate::rng::Rng;
use crate::traffic::ssh_opening;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

/// One attack's generator.
#[derive(Debug)]
struct Attack {
    index: usize,
    kind: SynthAttack,
    next: i64,
    end: i64,
    /// Mean gap between ticks, ns.
    gap: f64,
    attacker: Ep,
    /// Extra attackers (ICMP flood).
    others: Vec<Ep>,
    victims: Vec<Ep>,
    rtt: i64,
    ticks: u64,
    /// Ports of a vertical scan, shuffled.
    ports: Vec<u16>,
    /// Open ports of the victim.
    open: Vec<u16>,
    /// Whether the sweep's target exists.
    sweep_targets: Vec<(Ipv4Addr, Option<Host>)>,
    domain: String,
    resolver: Ep,
    started: bool,
}

fn lan_rtt(rng: &mut Rng) -> i64 {
    rng.range(60_000, 250_000) as i64
}

fn ext_rtt(rng: &mut Rng) -> i64 {
    (rng.lognormal(60.0, 0.5).clamp(10.0, 300.0) * 1e6) as i64
}

fn v4_of(ip: Option<IpAddr>, fallback: Ipv4Addr) -> IpAddr {
    ip.unwrap_or(IpAddr::V4(fallback))
}

fn open_ports(net: &Network, ip: IpAddr) -> Vec<u16> {
    if ip == IpAddr::V4(net.bastion.v4) {
        vec![22]
    } else if ip == IpAddr::V4(net.intranet.v4) {
        vec![22, 80, 443]
    } else if net.host(ip).is_some() {
        vec![]
    } else {
        vec![80, 443]
    }
}

pub(crate) fn setup(
    cfg: &SynthConfig,
    index: usize,
    net: &Network,
    rng: &mut Rng,
    out: &mut Setup,
) -> Result<(), SynthError> {
    let Some(spec) = cfg.attacks.get(index) else { return Ok(()) };
    let AttackSpec { kind, start_ns, duration_ns, rate, attacker, victim } = spec.clone();
    let start = cfg.start_ns + start_ns;
    let end = (start + duration_ns).min(cfg.start_ns + cfg.duration_ns);
    let client = net.clients.get(rng.below(net.clients.len() as u64) as usize).unwrap_or(&net.gateway);
    let internal_attacker =
        matches!(kind, SynthAttack::Portsweep | SynthAttack::DnsTunnel | SynthAttack::Exfil | SynthAttack::ArpSpoof);
    let attacker_ip = match (attacker, internal_attacker) {
        (Some(ip), _) => ip,
        (None, true) => IpAddr::V4(client.v4),
        (None, false) => IpAddr::V4(public_v4(rng)),
    };
    if internal_attacker && !matches!(attacker_ip, IpAddr::V4(_)) {
        return Err(SynthError::Config { reason: format!("attack {kind}: the attacker must be an IPv4 LAN host") });
    }
    if matches!(kind, SynthAttack::Portsweep | SynthAttack::ArpSpoof) && net.host(attacker_ip).is_none() {
        return Err(SynthError::Config {
            reason: format!("attack {kind}: attacker {attacker_ip} is not on the LAN (10.20.0.0/16)"),
        });
    }
    let victim_ip = match kind {
        SynthAttack::Portscan | SynthAttack::Synflood => v4_of(victim, net.intranet.v4),
        SynthAttack::Udpflood | SynthAttack::Icmpflood => v4_of(victim, net.intranet.v4),
        SynthAttack::SshBruteforce => v4_of(victim, net.bastion.v4),
        SynthAttack::Exfil => v4_of(victim, public_v4(rng)),
        SynthAttack::DnsTunnel => v4_of(victim, net.resolvers.first().map_or(net.gateway.v4, |r| r.v4)),
        SynthAttack::Portsweep | SynthAttack::ArpSpoof => v4_of(victim, net.gateway.v4),
    };
    if attacker_ip.is_ipv6() != victim_ip.is_ipv6() {
        return Err(SynthError::Config {
            reason: format!("attack {kind}: attacker and victim of different IP versions"),
        });
    }
    let a_ep = net.ep(attacker_ip, ephemeral(rng));
    let v_ep = net.ep(victim_ip, 0);
    let both_lan = net.host(attacker_ip).is_some() && net.host(victim_ip).is_some();
    let rtt = if both_lan { lan_rtt(rng) } else { ext_rtt(rng) };
    let mut atk = Attack {
        index,
        kind,
        next: start,
        end,
        gap: NS as f64 / rate,
        attacker: a_ep,
        others: Vec::new(),
        victims: vec![v_ep],
        rtt,
        ticks: 0,
        ports: Vec::new(),
        open: open_ports(net, victim_ip),
        sweep_targets: Vec::new(),
        domain: String::new(),
        resolver: v_ep.with_port(53),
        started: false,
    };
    let mut attackers: BTreeSet<IpAddr> = [attacker_ip].into();
    let mut victims: BTreeSet<IpAddr> = [victim_ip].into();
    match kind {
        SynthAttack::Portscan => {
            let mut ports: Vec<u16> = (1..=1024).collect();
            for i in (1..ports.len()).rev() {
                ports.swap(i, rng.below(i as u64 + 1) as usize);
            }
            atk.ports = ports;
        }
        SynthAttack::Portsweep => {
            victims.clear();
            let IpAddr::V4(a) = attacker_ip else { return Ok(()) };
            let [o1, o2, _, _] = a.octets();
            for third in 0..16u8 {
                for fourth in 1..=254u8 {
                    let ip = Ipv4Addr::new(o1, o2, third, fourth);
                    if IpAddr::V4(ip) != attacker_ip {
                        atk.sweep_targets.push((ip, net.host(IpAddr::V4(ip)).cloned()));
                    }
                }
            }
            let probes = ((end - start) as f64 / atk.gap) as usize + 1;
            for (ip, host) in atk.sweep_targets.iter().take(probes) {
                if host.is_some() {
                    victims.insert(IpAddr::V4(*ip));
                }
            }
        }
        SynthAttack::Synflood => {
            attackers.clear();
            atk.victims = vec![v_ep.with_port(80)];
        }
        SynthAttack::Icmpflood => {
            for _ in 0..3 {
                let ip = IpAddr::V4(public_v4(rng));
                attackers.insert(ip);
                atk.others.push(net.ep(ip, 0));
            }
        }
        SynthAttack::DnsTunnel => {
            atk.domain = format!("{}.{}", proto::base32(rng, 7), ["info", "xyz", "top", "net"][rng.below(4) as usize]);
        }
        SynthAttack::ArpSpoof => {
            victims.clear();
            let mut chosen: Vec<&Host> = Vec::new();
            for _ in 0..4 {
                let h = net.client(rng);
                if IpAddr::V4(h.v4) != attacker_ip && !chosen.iter().any(|c| c.v4 == h.v4) {
                    chosen.push(h);
                }
            }
            if let Some(v) = victim.and_then(|ip| net.host(ip)) {
                chosen = vec![v];
            }
            atk.victims = chosen.iter().map(|h| h.ep(false, 0)).collect();
            victims.extend(chosen.iter().map(|h| IpAddr::V4(h.v4)));
        }
        SynthAttack::Udpflood | SynthAttack::Exfil | SynthAttack::SshBruteforce => {}
    }
    out.label(cfg, index, attackers, victims);
    out.flows.push(Box::new(atk));
    Ok(())
}

impl Flow for Attack {
    fn next_ts(&self) -> Option<i64> {
        (self.next < self.end).then_some(self.next)
    }

    fn attack(&self) -> Option<usize> {
        Some(self.index)
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Option<Built> {
        let t = self.next;
        let a = Some(self.index);
        let v = *self.victims.first()?;
        let mut items: Vec<(i64, Pkt)> = Vec::with_capacity(4);
        match self.kind {
            SynthAttack::Portscan => {
                let n = self.ticks as usize;
                let port = match self.ports.get(n) {
                    Some(p) => *p,
                    None => ctx.rng.range(1025, 65_536) as u16,
                };
                let from = self.attacker;
                let to = v.with_port(port);
                let seq = ctx.rng.next_u64() as u32;
                let ttl = if ctx.net.host(from.ip).is_some() { 64 } else { 45 };
                items.push((t, Pkt::Tcp { from, to, ttl: 64.min(ttl), seq, ack: 0, flags: flags::SYN }));
                let answer = t + ctx.rng.range(40_000, 200_000) as i64;
                if self.open.contains(&port) {
                    let s_isn = ctx.rng.next_u64() as u32;
                    let fl = flags::SYN | flags::ACK;
                    items.push((
                        answer,
                        Pkt::Tcp { from: to, to: from, ttl: 64, seq: s_isn, ack: seq.wrapping_add(1), flags: fl },
                    ));
                    let rst = Pkt::Tcp { from, to, ttl, seq: seq.wrapping_add(1), ack: 0, flags: flags::RST };
                    items.push((answer + self.rtt, rst));
                } else {
                    let fl = flags::RST | flags::ACK;
                    items.push((
                        answer,
                        Pkt::Tcp { from: to, to: from, ttl: 64, seq: 0, ack: seq.wrapping_add(1), flags: fl },
                    ));
                }
            }
            SynthAttack::Portsweep => {
                let (ip, host) = self.sweep_targets.get(self.ticks as usize % self.sweep_targets.len().max(1))?.clone();
                let me = self.attacker;
                let IpAddr::V4(my_v4) = me.ip else { return None };
                items.push((
                    t,
                    Pkt::Arp { eth_dst: BROADCAST, reply: false, sender: (me.mac, my_v4), target: ([0; 6], ip) },
                ));
                if let Some(h) = host {
                    let d = ctx.rng.range(60_000, 300_000) as i64;
                    items.push((
                        t + d,
                        Pkt::Arp { eth_dst: me.mac, reply: true, sender: (h.mac, h.v4), target: (me.mac, my_v4) },
                    ));
                    let to = h.ep(false, 22);
                    let seq = ctx.rng.next_u64() as u32;
                    let syn_t = t + d + 50_000;
                    items.push((syn_t, Pkt::Tcp { from: me, to, ttl: 64, seq, ack: 0, flags: flags::SYN }));
                    let ans = syn_t + ctx.rng.range(40_000, 200_000) as i64;
                    if open_ports(ctx.net, to.ip).contains(&22) {
                        let fl = flags::SYN | flags::ACK;
                        let s_isn = ctx.rng.next_u64() as u32;
                        items.push((
                            ans,
                            Pkt::Tcp { from: to, to: me, ttl: 64, seq: s_isn, ack: seq.wrapping_add(1), flags: fl },
                        ));
                        items.push((
                            ans + 30_000,
                            Pkt::Tcp { from: me, to, ttl: 64, seq: seq.wrapping_add(1), ack: 0, flags: flags::RST },
                        ));
                    } else {
                        let fl = flags::RST | flags::ACK;
                        items.push((
                            ans,
                            Pkt::Tcp { from: to, to: me, ttl: 64, seq: 0, ack: seq.wrapping_add(1), flags: fl },
                        ));
                    }
                }
            }
            SynthAttack::Synflood => {
                let src = IpAddr::V4(public_v4(ctx.rng));
                let from = Ep { mac: ctx.net.gateway.mac, ip: src, port: ctx.rng.range(1024, 65_536) as u16 };
                let seq = ctx.rng.next_u64() as u32;
                let ttl = ctx.rng.range(40, 120) as u8;
                items.push((t, Pkt::Tcp { from, to: v, ttl, seq, ack: 0, flags: flags::SYN }));
                // The victim answers while its backlog has room.
                if ctx.rng.chance(0.3) {
                    let fl = flags::SYN | flags::ACK;
                    let s_isn = ctx.rng.next_u64() as u32;
                    let d = ctx.rng.range(30_000, 150_000) as i64;
                    items.push((
                        t + d,
                        Pkt::Tcp { from: v, to: from, ttl: 64, seq: s_isn, ack: seq.wrapping_add(1), flags: fl },
                    ));
                }
            }
            SynthAttack::Udpflood => {
                let from = self.attacker;
                // Random ports above 60000: no service is registered there, so dissectors do
                // not take the junk for their protocol.
                let port = ctx.rng.range(60_002, 65_536) as u16;
                let to = v.with_port(port);
                let len = ctx.rng.range(64, 1_200) as usize;
                items.push((t, Pkt::Udp { from, to, len, ttl: 50 }));
                // ICMP errors are rate limited by the victim's kernel.
                if self.ticks.is_multiple_of(50) {
                    let d = ctx.rng.range(30_000, 150_000) as i64;
                    items.push((
                        d + t,
                        Pkt::PortUnreachable { from: v, to: from.with_port(0), quoted: (from, to, len, 50) },
                    ));
                }
            }
            SynthAttack::Icmpflood => {
                let k = self.ticks as usize % (self.others.len() + 1);
                let from = if k == 0 { self.attacker } else { *self.others.get(k - 1)? };
                let id = (self.index as u16) << 8 | k as u16;
                let seq = (self.ticks / (self.others.len() as u64 + 1)) as u16;
                items.push((t, Pkt::Echo { from, to: v, reply: false, id, seq, len: 1_000, ttl: 52 }));
                let d = ctx.rng.range(20_000, 100_000) as i64;
                items.push((t + d, Pkt::Echo { from: v, to: from, reply: true, id, seq, len: 1_000, ttl: 64 }));
            }
            SynthAttack::DnsTunnel => {
                let from = self.attacker.with_port(ephemeral(ctx.rng));
                let to = self.resolver;
                let id = ctx.rng.next_u64() as u16;
                let second = 40 + ctx.rng.below(20) as usize;
                let qname = format!(
                    "{}.{}.{:x}.t.{}",
                    proto::base32(ctx.rng, 60),
                    proto::base32(ctx.rng, second),
                    self.ticks,
                    self.domain
                );
                let strings = (0..2 + ctx.rng.below(2))
                    .map(|_| {
                        let n = 180 + ctx.rng.below(70) as usize;
                        proto::base64(ctx.rng, n)
                    })
                    .collect();
                let lat = (ctx.rng.lognormal(45.0, 0.3) * 1e6) as i64;
                items.push((t, Pkt::DnsQuery { from, to, id, qname: qname.clone(), qtype: qtype::TXT }));
                items.push((
                    t + lat,
                    Pkt::DnsResponse { from: to, to: from, id, qname, qtype: qtype::TXT, answer: Answer::Txt(strings) },
                ));
            }
            SynthAttack::Exfil => {
                if self.started {
                    self.next = self.end;
                    return None;
                }
                self.started = true;
                let bytes = ((self.end - t) as f64 / self.gap) as usize;
                let turns = vec![Turn::ClientHello, Turn::ServerFlight, Turn::ClientFinished, Turn::Tls(true, bytes)];
                let host = format!("upload.{}.net", proto::base32(ctx.rng, 8));
                let to = v.with_port(443);
                let bw = NS as f64 / self.gap * 1514.0 / 1448.0;
                let fate = Fate::Completes { client_closes: true, reset: false };
                let conv = TcpConv::new(ctx, t, self.attacker, to, self.rtt, 1e6, fate, turns, &host, a)
                    .with_window(512)
                    .with_client_bandwidth(bw);
                ctx.spawn.push(Box::new(conv));
                self.next = self.end;
                return None;
            }
            SynthAttack::SshBruteforce => {
                let from = self.attacker.with_port(ephemeral(ctx.rng));
                let to = v.with_port(22);
                let mut turns = ssh_opening();
                turns.extend([Turn::SshData(true, 52), Turn::SshData(false, 52)]);
                for _ in 0..3 {
                    turns.push(Turn::SshData(true, 100 + 16 * ctx.rng.below(4) as usize));
                    turns.push(Turn::Pause(ctx.rng.range(5_000_000, 30_000_000) as i64));
                    turns.push(Turn::SshData(false, 36));
                }
                let fate = Fate::Completes { client_closes: false, reset: false };
                let conv = TcpConv::new(ctx, t, from, to, self.rtt, 5e6, fate, turns, "", a);
                ctx.spawn.push(Box::new(conv));
            }
            SynthAttack::ArpSpoof => {
                let me = self.attacker;
                let gw = &ctx.net.gateway;
                let k = self.ticks as usize % (self.victims.len() + 1);
                let (eth_dst, target) = match self.victims.get(k) {
                    Some(victim) => {
                        let IpAddr::V4(ip) = victim.ip else { return None };
                        (victim.mac, (victim.mac, ip))
                    }
                    None => (BROADCAST, (BROADCAST, gw.v4)), // gratuitous
                };
                items.push((t, Pkt::Arp { eth_dst, reply: true, sender: (me.mac, gw.v4), target }));
            }
        }
        if !items.is_empty() {
            ctx.spawn.push(Box::new(Script::new(items, a)));
        }
        self.ticks += 1;
        let gap = match self.kind {
            // Scanners and floods pace themselves; the others are bursty.
            SynthAttack::Portscan | SynthAttack::Portsweep | SynthAttack::ArpSpoof => {
                self.gap * (0.8 + 0.4 * ctx.rng.f64())
            }
            _ => ctx.rng.exp(self.gap),
        };
        self.next = t + (gap as i64).max(1);
        None
    }
}
