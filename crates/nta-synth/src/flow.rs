//! [`Flow`]: what every source of packets (normal traffic, each attack) implements, the
//! [`Ctx`] it builds packets with, and [`Setup`], where attacks register their flows and labels.

use crate::config::{SynthAttack, SynthConfig};
use crate::frame::{Built, Frame};
use crate::net::Network;
use crate::report::{AttackLabel, SynthCounts};
use crate::rng::Rng;
use nta_capture::{Label, format_rfc3339_ns};
use std::collections::BTreeSet;
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
