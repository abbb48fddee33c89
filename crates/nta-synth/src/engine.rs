//! [`synthesize`]: the event loop. Flows are kept in a heap by the time of their next packet;
//! the earliest one builds its packet into the shared frame buffer, which goes straight to
//! the capture writer. Memory holds only the flows alive at the same time.

use crate::attacks;
use crate::config::{NS, SynthAttack, SynthConfig};
use crate::frame::{AppKind, Built, Frame, Proto};
use crate::net::Network;
use crate::rng::Rng;
use crate::traffic::Traffic;
use nta_capture::{CaptureWriter, Label, LinkType, format_rfc3339_ns};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::io::Write;
use std::net::IpAddr;

/// What a flow gets while it builds a packet.
pub(crate) struct Ctx<'a> {
    pub(crate) rng: &'a mut Rng,
    pub(crate) net: &'a Network,
    pub(crate) frame: &'a mut Frame,
    pub(crate) scratch: &'a mut Vec<u8>,
    pub(crate) spawn: &'a mut Vec<Box<dyn Flow>>,
}

/// A source of packets in time order.
pub(crate) trait Flow: std::fmt::Debug {
    /// When the next step is due; `None` when the flow is over.
    fn next_ts(&self) -> Option<i64>;
    /// Builds the packet due now into `ctx.frame`, or only updates state (and may spawn
    /// flows) and returns `None`.
    fn step(&mut self, ctx: &mut Ctx<'_>) -> Option<Built>;
    /// The attack (index into the config's list) this flow belongs to.
    fn attack(&self) -> Option<usize> {
        None
    }
}

/// Counts of what was written, by protocol (comparable with `nta_parsing::Census`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SynthCounts {
    /// Frames.
    pub packets: u64,
    /// Bytes of frames.
    pub bytes: u64,
    /// ARP frames.
    pub arp: u64,
    /// IPv4 packets.
    pub ipv4: u64,
    /// IPv6 packets.
    pub ipv6: u64,
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// ICMP and ICMPv6 messages.
    pub icmp: u64,
    /// ICMP / ICMPv6 errors (destination unreachable).
    pub icmp_errors: u64,
    /// Segments with SYN (SYN-ACK included).
    pub tcp_syn: u64,
    /// Segments with SYN and ACK.
    pub tcp_synack: u64,
    /// Segments with RST.
    pub tcp_rst: u64,
    /// Segments with FIN.
    pub tcp_fin: u64,
    /// DNS queries.
    pub dns_queries: u64,
    /// DNS responses.
    pub dns_responses: u64,
    /// DNS responses with NXDOMAIN.
    pub dns_nxdomain: u64,
    /// TLS ClientHellos (each with a server name).
    pub tls_client_hellos: u64,
    /// HTTP requests.
    pub http_requests: u64,
}

impl SynthCounts {
    fn add(&mut self, b: Built, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
        if b.proto == Proto::Arp {
            self.arp += 1;
        } else if b.v6 {
            self.ipv6 += 1;
        } else {
            self.ipv4 += 1;
        }
        match b.proto {
            Proto::Arp => {}
            Proto::Tcp(f) => {
                self.tcp += 1;
                let syn = f & 0x02 != 0;
                self.tcp_syn += u64::from(syn);
                self.tcp_synack += u64::from(syn && f & 0x10 != 0);
                self.tcp_rst += u64::from(f & 0x04 != 0);
                self.tcp_fin += u64::from(f & 0x01 != 0);
            }
            Proto::Udp => self.udp += 1,
            Proto::Icmp { error } => {
                self.icmp += 1;
                self.icmp_errors += u64::from(error);
            }
        }
        match b.app {
            AppKind::None => {}
            AppKind::DnsQuery => self.dns_queries += 1,
            AppKind::DnsResponse { nxdomain } => {
                self.dns_responses += 1;
                self.dns_nxdomain += u64::from(nxdomain);
            }
            AppKind::ClientHello => self.tls_client_hellos += 1,
            AppKind::HttpRequest => self.http_requests += 1,
        }
    }
}

/// One injected attack, as written to the labels file (one JSON line each): the shared
/// [`Label`] (kind, interval, attackers, victims) and what the synthesizer did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttackLabel {
    /// Kind, scheduled interval (cut at the end of the capture) and hosts. Spoofed floods have
    /// no attackers: see `spoofed_sources`; for scans the victims are the probed hosts.
    #[serde(flatten)]
    pub label: Label,
    /// What the synthesizer was asked for (`portscan`, ...).
    pub attack: SynthAttack,
    /// `start_ns` as RFC 3339.
    pub start: String,
    /// `end_ns` as RFC 3339.
    pub end: String,
    /// Timestamp of its first packet (`None` if it wrote none).
    pub first_packet_ns: Option<i64>,
    /// Timestamp of its last packet.
    pub last_packet_ns: Option<i64>,
    /// Random spoofed source addresses were used.
    pub spoofed_sources: bool,
    /// Intensity, in `rate_unit`.
    pub rate: f64,
    /// Unit of `rate`.
    pub rate_unit: &'static str,
    /// Packets written for the attack (the attacker's and the victims' answers).
    pub packets: u64,
    /// Bytes of those packets.
    pub bytes: u64,
    /// The same by protocol.
    pub counts: SynthCounts,
}

/// What [`synthesize`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SynthReport {
    /// The seed.
    pub seed: u64,
    /// Capture start, ns.
    pub start_ns: i64,
    /// Capture end (exclusive), ns.
    pub end_ns: i64,
    /// Every packet.
    pub total: SynthCounts,
    /// Packets of normal traffic only.
    pub normal: SynthCounts,
    /// Flows (connections and exchanges) started.
    pub flows: u64,
    /// Most flows alive at once.
    pub max_live_flows: usize,
    /// Generation stopped at `max_bytes`.
    pub size_limited: bool,
    /// One record per attack, in the config's order.
    pub attacks: Vec<AttackLabel>,
}

/// Errors of [`synthesize`].
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Writing the capture failed.
    #[error("writing the capture: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration cannot be synthesized.
    #[error("invalid configuration: {reason}")]
    Config {
        /// Why.
        reason: String,
    },
}

/// Registers attack flows and their labels.
#[derive(Debug)]
pub(crate) struct Setup {
    pub(crate) flows: Vec<Box<dyn Flow>>,
    pub(crate) labels: Vec<AttackLabel>,
}

impl Setup {
    pub(crate) fn label(
        &mut self,
        cfg: &SynthConfig,
        i: usize,
        attackers: BTreeSet<IpAddr>,
        victims: BTreeSet<IpAddr>,
    ) {
        let Some(a) = cfg.attacks.get(i) else { return };
        let start_ns = cfg.start_ns + a.start_ns;
        let end_ns = (start_ns + a.duration_ns).min(cfg.start_ns + cfg.duration_ns);
        self.labels.push(AttackLabel {
            label: Label {
                kind: a.kind.kind(),
                start_ns,
                end_ns,
                attackers: attackers.into_iter().collect(),
                victims: victims.into_iter().collect(),
            },
            attack: a.kind,
            start: format_rfc3339_ns(start_ns),
            end: format_rfc3339_ns(end_ns),
            first_packet_ns: None,
            last_packet_ns: None,
            spoofed_sources: a.kind == SynthAttack::Synflood,
            rate: a.rate,
            rate_unit: a.kind.rate_unit(),
            packets: 0,
            bytes: 0,
            counts: SynthCounts::default(),
        });
    }
}

fn validate(cfg: &SynthConfig) -> Result<(), SynthError> {
    let bad = |reason: String| Err(SynthError::Config { reason });
    if cfg.duration_ns <= 0 {
        return bad("duration must be positive".into());
    }
    if cfg.start_ns < 0 || cfg.start_ns.checked_add(cfg.duration_ns).is_none_or(|e| e >= 4_294_967_295 * NS) {
        return bad("the capture must lie between 1970 and 2106".into());
    }
    let p = &cfg.profile;
    if !(p.sessions_per_s.is_finite() && p.sessions_per_s >= 0.0 && (0.0..1.0).contains(&p.wave_amplitude)) {
        return bad("profile: sessions_per_s must be >= 0 and wave_amplitude in [0, 1)".into());
    }
    if p.wave_period_ns <= 0 || p.noise_step_ns <= 0 || p.clients == 0 || p.servers == 0 {
        return bad("profile: periods, clients and servers must be positive".into());
    }
    for a in &cfg.attacks {
        if a.start_ns < 0 || a.duration_ns <= 0 || !(a.rate.is_finite() && a.rate > 0.0) {
            return bad(format!("attack {}: start >= 0, duration > 0 and rate > 0 are required", a.kind));
        }
        if a.start_ns >= cfg.duration_ns {
            return bad(format!("attack {} starts after the end of the capture", a.kind));
        }
    }
    Ok(())
}

/// Flows by the time of their next step; ties in insertion order (deterministic).
#[derive(Debug, Default)]
struct Sched {
    slots: Vec<Option<Box<dyn Flow>>>,
    free: Vec<usize>,
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    order: u64,
    live: usize,
}

impl Sched {
    fn add(&mut self, flow: Box<dyn Flow>) {
        let Some(ts) = flow.next_ts() else { return };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        if let Some(x) = self.slots.get_mut(slot) {
            *x = Some(flow);
        }
        self.order += 1;
        self.heap.push(Reverse((ts, self.order, slot)));
        self.live += 1;
    }

    fn drop_flow(&mut self, slot: usize) {
        self.free.push(slot);
        self.live -= 1;
    }

    fn requeue(&mut self, slot: usize, flow: Box<dyn Flow>, now: i64) {
        match flow.next_ts() {
            Some(next) => {
                if let Some(x) = self.slots.get_mut(slot) {
                    *x = Some(flow);
                }
                self.order += 1;
                self.heap.push(Reverse((next.max(now), self.order, slot)));
            }
            None => {
                self.free.push(slot);
                self.live -= 1;
            }
        }
    }
}

/// Snap length written in the capture header.
pub const SNAPLEN: u32 = 65_535;

/// Writes the capture `cfg` describes to `out` (Ethernet frames) and returns what was written.
/// The same `cfg` always gives the same bytes.
pub fn synthesize<W: Write>(cfg: &SynthConfig, out: &mut CaptureWriter<W>) -> Result<SynthReport, SynthError> {
    validate(cfg)?;
    // One random stream per traffic source (normal, then each attack), so that adding an
    // attack leaves the normal traffic as it was.
    let mut rngs: Vec<Rng> = (0..=cfg.attacks.len() as u64).map(|i| Rng::stream(cfg.seed, 100 + i)).collect();
    let mut ip_ids: Vec<u16> = (0..=cfg.attacks.len()).map(|i| 0x1d2c ^ (i as u16).wrapping_mul(0x2f31)).collect();
    let net = Network::new(&cfg.profile, &mut Rng::stream(cfg.seed, 1));
    let mut setup = Setup { flows: Vec::new(), labels: Vec::new() };
    let mut attack_rng = Rng::stream(cfg.seed, 2);
    for i in 0..cfg.attacks.len() {
        attacks::setup(cfg, i, &net, &mut attack_rng, &mut setup)?;
    }
    let end_ns = cfg.start_ns + cfg.duration_ns;
    let mut report = SynthReport {
        seed: cfg.seed,
        start_ns: cfg.start_ns,
        end_ns,
        total: SynthCounts::default(),
        normal: SynthCounts::default(),
        flows: 0,
        max_live_flows: 0,
        size_limited: false,
        attacks: std::mem::take(&mut setup.labels),
    };
    let mut sched = Sched::default();
    if cfg.normal {
        sched.add(Box::new(Traffic::new(cfg)));
    }
    for flow in setup.flows.drain(..) {
        sched.add(flow);
    }
    let mut frame = Frame::new();
    let mut scratch = Vec::with_capacity(65_536);
    let mut spawned: Vec<Box<dyn Flow>> = Vec::new();
    let mut written = 0u64;
    while let Some(Reverse((ts, _, slot))) = sched.heap.pop() {
        if ts >= end_ns {
            break;
        }
        let Some(mut flow) = sched.slots.get_mut(slot).and_then(Option::take) else { continue };
        let attack = flow.attack();
        if let Some(label) = attack.and_then(|i| report.attacks.get(i))
            && ts >= label.label.end_ns
        {
            sched.drop_flow(slot);
            continue;
        }
        let stream = attack.map_or(0, |i| i + 1);
        let (Some(rng), Some(ip_id)) = (rngs.get_mut(stream), ip_ids.get_mut(stream)) else { continue };
        frame.ip_id = *ip_id;
        let mut ctx = Ctx { rng, net: &net, frame: &mut frame, scratch: &mut scratch, spawn: &mut spawned };
        let built = flow.step(&mut ctx);
        *ip_id = frame.ip_id;
        if let Some(built) = built {
            let data = frame.buf.as_slice();
            out.write_packet(ts, data, data.len() as u32)?;
            written += data.len() as u64 + 16;
            report.total.add(built, data.len());
            match attack.and_then(|i| report.attacks.get_mut(i)) {
                Some(label) => {
                    label.counts.add(built, data.len());
                    label.packets += 1;
                    label.bytes += data.len() as u64;
                    label.first_packet_ns.get_or_insert(ts);
                    label.last_packet_ns = Some(ts);
                }
                None => report.normal.add(built, data.len()),
            }
        }
        sched.requeue(slot, flow, ts);
        for f in spawned.drain(..) {
            report.flows += 1;
            sched.add(f);
        }
        report.max_live_flows = report.max_live_flows.max(sched.live);
        if cfg.max_bytes.is_some_and(|max| written >= max) {
            report.size_limited = true;
            let cut = ts + 1;
            report.end_ns = cut;
            report.attacks.retain(|l| l.label.start_ns < cut);
            for l in &mut report.attacks {
                l.label.end_ns = l.label.end_ns.min(cut);
                l.end = format_rfc3339_ns(l.label.end_ns);
            }
            break;
        }
    }
    Ok(report)
}

/// The link type of everything [`synthesize`] writes.
pub const LINK_TYPE: LinkType = LinkType::ETHERNET;
