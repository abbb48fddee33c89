//! [`synthesize`]: the event loop. Flows are kept in a heap by the time of their next packet;
//! the earliest one builds its packet into the shared frame buffer, which goes straight to
//! the capture writer. Memory holds only the flows alive at the same time.

use crate::attacks;
use crate::config::{NS, SynthConfig};
use crate::flow::{Ctx, Flow, Setup};
use crate::frame::Frame;
use crate::net::Network;
use crate::report::{SynthCounts, SynthError, SynthReport};
use crate::rng::Rng;
use crate::traffic::Traffic;
use nta_capture::{CaptureWriter, LinkType, format_rfc3339_ns};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;

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
    let (mut wrapped, mut outer_id) = (Vec::new(), 0u16);
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
            match &cfg.wrap {
                Some(w) => {
                    w.encapsulate(data, outer_id, &mut wrapped);
                    outer_id = outer_id.wrapping_add(1);
                    out.write_packet(ts, &wrapped, wrapped.len() as u32)?;
                    written += wrapped.len() as u64 + 16;
                }
                None => {
                    out.write_packet(ts, data, data.len() as u32)?;
                    written += data.len() as u64 + 16;
                }
            }
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
