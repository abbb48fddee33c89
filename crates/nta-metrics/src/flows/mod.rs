//! [`FlowTable`]: bidirectional flows keyed by VLAN + protocol + both endpoints, on packet
//! time. A flow's direction comes from its SYN; it ends on FIN both ways or RST, after
//! `idle_ns` without packets, or after `active_ns` (then a new flow starts). The table holds
//! at most `max_flows`: when full the least recently active flow is evicted. Flows are kept in
//! a slab with an intrusive list in order of last activity, so expiry and eviction are O(1).

mod embryos;
mod export;
mod index;
mod key;
mod packet;

pub(crate) use key::Keyed;
use key::{FlowKey, hash_key};

use crate::flow_record::{AppHint, EndReason, FlowRecord, FlowTunnel};
use nta_parsing::{PacketSummary, Tunnel};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::net::IpAddr;

/// The most flows a table may be set to hold (about 250 bytes each: ~5 GB).
pub const MAX_FLOWS: usize = 20_000_000;

/// Flow table settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlowConfig {
    /// A flow without packets for this long has ended (ns).
    pub idle_ns: i64,
    /// A flow longer than this is ended and restarted (ns), as NetFlow exporters do.
    pub active_ns: i64,
    /// Most flows held; beyond it the least recently active is evicted.
    pub max_flows: usize,
}

impl Default for FlowConfig {
    fn default() -> FlowConfig {
        FlowConfig { idle_ns: 60_000_000_000, active_ns: 1_800_000_000_000, max_flows: 500_000 }
    }
}

/// The outermost tunnel, as part of a flow key: its kind, its endpoints (lower first) and the
/// id when it names the overlay both ways (a VNI, an ERSPAN session; not a GTP TEID or a GRE
/// key, which differ by direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TunnelKey {
    kind: Tunnel,
    id: u32,
    lo: IpAddr,
    hi: IpAddr,
}

/// Distinct tunnels numbered for flow keys; beyond, further tunnels share the last number
/// (their flows may merge: counted in no metric, documented in docs/LIMITS.md).
pub const MAX_TUNNELS: usize = 65_536;

impl TunnelKey {
    fn of(t: Option<FlowTunnel>) -> Option<TunnelKey> {
        t.map(|t| TunnelKey {
            kind: t.kind,
            id: if t.kind.id_names_overlay() { t.id.unwrap_or(0) } else { 0 },
            lo: t.src_ip.min(t.dst_ip),
            hi: t.src_ip.max(t.dst_ip),
        })
    }
}

/// The outermost tunnel a decapsulated packet came through, its endpoints read from `frame`
/// (unspecified without it).
#[cold]
fn tunnel_of(s: &PacketSummary, frame: &[u8]) -> Option<FlowTunnel> {
    let o = s.encap.outer.filter(|_| s.encap.depth > 0)?;
    let unknown = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    let (src_ip, dst_ip) = o.endpoints(frame).unwrap_or((unknown, unknown));
    Some(FlowTunnel { kind: o.kind, id: o.id, src_ip, dst_ip })
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Flow {
    key: FlowKey,
    first_ts: i64,
    last_ts: i64,
    /// The initiator is `key.lo`.
    lo_initiates: bool,
    /// The initiator's SYN has not been answered: the flow was opened by it (at `first_ts`,
    /// the only time a SYN opens a flow) and nothing came back yet.
    syn_pending: bool,
    /// The responder answered the SYN (SYN-ACK seen).
    answered: bool,
    /// The initiator acknowledged the answer: the handshake completed.
    established: bool,
    fin_lo: bool,
    fin_hi: bool,
    /// Packets, bytes and TCP flag bits from `lo` and from `hi`.
    packets: [u64; 2],
    bytes: [u64; 2],
    flags: [u16; 2],
    /// ICMP type and code of the first packet (the Community ID's "ports").
    icmp: (u8, u8),
    /// The outermost tunnel the first packet came through.
    tunnel: Option<FlowTunnel>,
    /// An application hint was looked for in a packet that carries one (found or not).
    hinted: bool,
    prev: u32,
    next: u32,
}

impl Flow {
    /// Counts a packet (`from_lo`: sent by the `lo` endpoint).
    fn count(&mut self, from_lo: bool, wire_len: u32, tcp_flags: u16) {
        let k = usize::from(!from_lo);
        if let (Some(p), Some(b), Some(f)) = (self.packets.get_mut(k), self.bytes.get_mut(k), self.flags.get_mut(k)) {
            *p += 1;
            *b += u64::from(wire_len);
            *f |= tcp_flags;
        }
    }
}

/// What one packet did to the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FlowEvents {
    pub(crate) new: u64,
    pub(crate) ended: u64,
    pub(crate) evicted: u64,
    /// This packet is a SYN opening a connection (not yet answered).
    pub(crate) syn_opened: bool,
    /// This packet answered the SYN sent at this time.
    pub(crate) answered_syn_ts: Option<i64>,
    /// The packet was sent by its flow's initiator.
    pub(crate) from_initiator: bool,
    /// The initiator of the flow this packet created.
    pub(crate) new_initiator: Option<IpAddr>,
    /// The responder of the flow this packet created.
    pub(crate) new_responder: Option<IpAddr>,
    /// The responder's port of the flow this packet created (0 without ports).
    pub(crate) new_port: u16,
    /// This packet completed a TCP handshake (the initiator's first ACK after the SYN-ACK).
    pub(crate) established: bool,
    /// Packets this packet's sender has sent in its flow, this one included.
    pub(crate) sender_packets: u64,
}

/// The flow table.
#[derive(Debug)]
pub(crate) struct FlowTable {
    cfg: FlowConfig,
    index: index::FlowIndex,
    slab: Vec<Flow>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    /// Recently closed TCP flows (time-wait): late ACKs and retransmitted FINs of a closed
    /// connection are absorbed instead of opening a new flow.
    closed: FxHashMap<FlowKey, (i64, u32)>,
    closed_order: VecDeque<(i64, FlowKey, u32)>,
    /// Flow records are made ([`FlowTable::export`]): closed flows stay in the slab through
    /// their time-wait (so its stray packets are counted) and ended flows' records wait in
    /// `finished`.
    export: bool,
    finished: Vec<FlowRecord>,
    /// Application hints of flows, by slab slot.
    hints: FxHashMap<u32, AppHint>,
    /// The tunnels of flow keys, numbered from 1 (at most [`MAX_TUNNELS`]).
    tunnels: FxHashMap<TunnelKey, u32>,
    /// Half-open TCP attempts held apart while the table is crowded (packet.rs).
    embryos: embryos::Embryos,
}

/// How long a closed TCP flow absorbs stray packets.
const TIME_WAIT_NS: i64 = 5_000_000_000;

impl FlowTable {
    pub(crate) fn new(cfg: FlowConfig) -> FlowTable {
        FlowTable {
            cfg,
            index: index::FlowIndex::new(cfg.max_flows),
            slab: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            closed: FxHashMap::default(),
            closed_order: VecDeque::new(),
            export: false,
            finished: Vec::new(),
            hints: FxHashMap::default(),
            tunnels: FxHashMap::default(),
            embryos: embryos::Embryos::default(),
        }
    }

    /// The key `k` of a tunnelled packet `s` ([`Keyed::of`]) with its tunnel's number (the
    /// tunnel's endpoints read from `frame`).
    #[cold]
    fn tunnelled(&mut self, s: &PacketSummary, frame: &[u8], k: &Keyed) -> Keyed {
        let mut k = *k;
        k.key.tunnel = self.tunnel_number(s, frame);
        k.hash = hash_key(&k.key);
        k
    }

    /// The number of the tunnel a decapsulated packet came through.
    #[cold]
    fn tunnel_number(&mut self, s: &PacketSummary, frame: &[u8]) -> u32 {
        let Some(key) = TunnelKey::of(tunnel_of(s, frame)) else { return 0 };
        let next = self.tunnels.len() as u32 + 1;
        match self.tunnels.get(&key) {
            Some(n) => *n,
            None if self.tunnels.len() < MAX_TUNNELS => {
                self.tunnels.insert(key, next);
                next
            }
            None => MAX_TUNNELS as u32,
        }
    }

    /// As one of 2^`shift` shards: the half-open attempts get 2^`shift` times fewer slots.
    pub(crate) fn share(&mut self, shift: u32) {
        self.embryos.shift = shift;
    }

    /// Flows open now (half-open attempts held apart included).
    pub(crate) fn len(&self) -> u64 {
        self.index.len() as u64 + self.embryos.held()
    }

    fn unlink(&mut self, i: u32) {
        let Some(f) = self.slab.get(i as usize).copied() else { return };
        match self.slab.get_mut(f.prev as usize) {
            Some(p) => p.next = f.next,
            None => self.head = f.next,
        }
        match self.slab.get_mut(f.next as usize) {
            Some(n) => n.prev = f.prev,
            None => self.tail = f.prev,
        }
    }

    fn push_back(&mut self, i: u32) {
        let tail = self.tail;
        if let Some(f) = self.slab.get_mut(i as usize) {
            f.prev = tail;
            f.next = NIL;
        }
        match self.slab.get_mut(tail as usize) {
            Some(t) => t.next = i,
            None => self.head = i,
        }
        self.tail = i;
    }

    fn remove(&mut self, i: u32) {
        self.unlink(i);
        if let Some(f) = self.slab.get(i as usize) {
            self.index.remove(&f.key, hash_key(&f.key));
        }
        self.free.push(i);
    }

    /// The earliest time at which [`FlowTable::expire`] has something to do.
    #[inline]
    pub(crate) fn deadline(&self) -> i64 {
        let closed = self.closed_order.front().map_or(i64::MAX, |(t, _, _)| t.saturating_add(TIME_WAIT_NS));
        let idle = self.slab.get(self.head as usize).map_or(i64::MAX, |f| f.last_ts.saturating_add(self.cfg.idle_ns));
        closed.min(idle)
    }

    /// How soon after a packet at `ts` anything it does to the table can be due to expire: a
    /// flow it closes waits out its time-wait, one it opens its idle timeout.
    #[inline]
    pub(crate) fn least_wait(&self) -> i64 {
        TIME_WAIT_NS.min(self.cfg.idle_ns)
    }

    /// Whether flow records wait to be taken.
    #[inline]
    pub(crate) fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Ends flows idle since before `now - idle_ns`; calls `ended(expiry_time)` for each, the
    /// expiry time being the last packet plus the idle timeout.
    pub(crate) fn expire(&mut self, now: i64, mut ended: impl FnMut(i64)) {
        while let Some(&(t, key, slot)) = self.closed_order.front() {
            if t.saturating_add(TIME_WAIT_NS) > now {
                break;
            }
            self.closed_order.pop_front();
            if self.closed.get(&key).is_some_and(|(ct, cs)| *ct == t && *cs == slot) {
                self.closed.remove(&key);
            }
            if slot != NIL {
                self.finish_flow(slot, EndReason::Closed);
                self.free.push(slot);
            }
        }
        while let Some(f) = self.slab.get(self.head as usize).copied() {
            let expiry = f.last_ts.saturating_add(self.cfg.idle_ns);
            if expiry > now {
                break;
            }
            let h = self.head;
            self.finish_flow(h, EndReason::Idle);
            self.remove(h);
            ended(expiry);
        }
    }
}
