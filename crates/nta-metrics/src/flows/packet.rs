//! One packet through the table, and the admission of half-open TCP connections while the
//! table is crowded.
//!
//! While the table holds fewer than half its `max_flows`, every packet of a new key opens a
//! flow, as it always did. From half full on, a TCP SYN or SYN-ACK of a new key opens no flow:
//! it is kept apart in [`Embryos`], a fixed array indexed by the key's hash, the newest
//! attempt replacing whatever held its slot. The connection's next packet of another kind
//! (the handshake's ACK, data, a RST, a FIN) gives it its flow, with everything the SYN and
//! SYN-ACK counted. A spoofed SYN flood — every SYN from another address, answered or not,
//! never acknowledged — therefore costs a slot of a bounded array, never a flow: it can
//! neither fill the table nor evict the connections in it. Every event (a new flow, a
//! half-open SYN, its answer) is reported as if the flow had been made, so window metrics do
//! not depend on admission; attempts replaced before their third packet are counted
//! ([`FlowTable::unadmitted`]) and get no flow record.

use super::{EndReason, Flow, FlowEvents, FlowKey, FlowTable, NIL, TIME_WAIT_NS, tunnel_of};
use crate::prefetch;
use nta_parsing::{IpSummary, PacketSummary, TcpFlags, Transport};
use std::hash::BuildHasher;

/// Slots of the array of half-open attempts (a power of two): 65,536 × ~180 bytes, in sets
/// of [`WAYS`].
pub(crate) const EMBRYO_SLOTS: usize = 1 << 16;
/// Slots per set: an attempt keeps its place until [`WAYS`] newer ones have come to its set
/// (first in, first out), not until the first one that hashes to its slot — under 4 M SYNs a
/// second, a handshake answered within a millisecond keeps its attempt all but surely (a lone
/// slot would lose one in sixteen).
const WAYS: usize = 4;
const SETS: usize = EMBRYO_SLOTS / WAYS;

/// Half-open TCP attempts held apart from the table (module docs). A lookup reads the set's
/// fingerprints first (16 bytes), the slots only on a match.
#[derive(Debug, Default)]
pub(crate) struct Embryos {
    slots: Vec<Flow>,
    /// Per slot: 0 when empty, else the high half of the key's hash with its low bit set.
    tags: Vec<[u32; WAYS]>,
    /// Per set: the way the next attempt replaces when the set is full.
    next: Vec<u8>,
    /// Per slot: the packets of the attempt held (saturating).
    packets: Vec<u32>,
    /// Slots in use.
    held: u64,
    /// Attempts replaced (or left at the end) before they got a flow.
    pub(crate) forgotten: u64,
    /// Packets of the attempts forgotten.
    pub(crate) forgotten_packets: u64,
    /// As one of 2^`shift` shards: 2^`shift` times fewer sets.
    pub(crate) shift: u32,
}

impl Embryos {
    /// The key's set and fingerprint.
    fn set_of(&self, key: &FlowKey) -> (usize, u32) {
        let h = rustc_hash::FxBuildHasher.hash_one(key);
        ((h as usize) & (self.sets() - 1), ((h >> 32) as u32) | 1)
    }

    /// How many sets: [`EMBRYO_SLOTS`] / 4, divided among the shards.
    fn sets(&self) -> usize {
        (SETS >> self.shift).max(1)
    }

    /// The attempt of `key`, taken out, if one is held and still alive at `ts`.
    fn take(&mut self, key: &FlowKey, ts: i64, idle_ns: i64, active_ns: i64) -> Option<Flow> {
        let (set, tag) = self.set_of(key);
        let tags = self.tags.get_mut(set)?;
        for (way, t) in tags.iter_mut().enumerate() {
            if *t != tag {
                continue;
            }
            let i = set * WAYS + way;
            let Some(f) = self.slots.get(i) else { continue };
            if f.key != *key {
                continue;
            }
            if ts.saturating_sub(f.last_ts) >= idle_ns || ts.saturating_sub(f.first_ts) >= active_ns {
                return None;
            }
            *t = 0;
            let f = *f;
            if let Some(p) = self.packets.get_mut(i) {
                *p = 0;
            }
            self.held = self.held.saturating_sub(1);
            return Some(f);
        }
        None
    }

    /// Holds `f` in its set: in an empty slot, else in place of the oldest attempt there
    /// (which is forgotten).
    fn put(&mut self, f: Flow) {
        if self.slots.is_empty() {
            let sets = self.sets();
            self.slots = vec![f; sets * WAYS];
            self.tags = vec![[0; WAYS]; sets];
            self.next = vec![0; sets];
            self.packets = vec![0; sets * WAYS];
        }
        let (set, tag) = self.set_of(&f.key);
        let (Some(tags), Some(next)) = (self.tags.get_mut(set), self.next.get_mut(set)) else { return };
        let way = match tags.iter().position(|t| *t == 0) {
            Some(w) => {
                self.held += 1;
                w
            }
            None => {
                let w = usize::from(*next) % WAYS;
                *next = ((w + 1) % WAYS) as u8;
                self.forgotten += 1;
                self.forgotten_packets += self.packets.get(set * WAYS + w).map_or(0, |p| u64::from(*p));
                w
            }
        };
        let i = set * WAYS + way;
        let packets = u32::try_from(f.packets.iter().sum::<u64>()).unwrap_or(u32::MAX);
        if let (Some(t), Some(s), Some(p)) = (tags.get_mut(way), self.slots.get_mut(i), self.packets.get_mut(i)) {
            (*t, *s, *p) = (tag, f, packets);
        }
    }

    /// Asks for the lines an attempt of `key` will touch: its set's fingerprints and the slot
    /// the next attempt there takes (under a flood the sets are full: the oldest way).
    #[inline]
    fn prefetch(&self, key: &FlowKey) {
        let (set, _) = self.set_of(key);
        let Some(tags) = self.tags.get(set) else { return };
        prefetch::read(tags);
        let way = self.next.get(set).map_or(0, |n| usize::from(*n) % WAYS);
        let i = set * WAYS + way;
        if let Some(f) = self.slots.get(i) {
            // A slot spans three or four lines: one field in each part of it.
            prefetch::write(&f.key);
            prefetch::write(&f.packets);
            prefetch::write(&f.tunnel);
            prefetch::write(&f.next);
        }
        if let Some(p) = self.packets.get(i) {
            prefetch::write(p);
        }
    }

    /// Attempts held now.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Packets of the attempts held now (a pass over the counts).
    fn held_packets(&self) -> u64 {
        self.packets.iter().map(|p| u64::from(*p)).sum()
    }

    /// Forgets every attempt held (the end of the input).
    pub(crate) fn clear(&mut self) {
        self.forgotten += self.held;
        self.forgotten_packets += self.held_packets();
        *self = Embryos { forgotten: self.forgotten, forgotten_packets: self.forgotten_packets, ..Embryos::default() };
    }
}

/// What the packet says about its TCP handshake.
#[derive(Clone, Copy)]
struct Handshake {
    flags: Option<TcpFlags>,
    syn_only: bool,
    syn_ack: bool,
    flag_bits: u16,
}

impl FlowTable {
    /// Asks for the lines packet `s` will touch in the array of half-open attempts, when the
    /// table is crowded (a TCP packet of a new key then goes there): called a few packets ahead.
    #[inline]
    pub(crate) fn prefetch(&self, s: &PacketSummary) {
        if self.index.len() < self.cfg.max_flows / 2 || s.encap.depth > 0 {
            return;
        }
        let (Some(ip), Transport::Tcp(t)) = (s.ip, s.transport) else { return };
        let (key, _) = FlowKey::untunnelled(s, &ip, t.src_port, t.dst_port);
        self.embryos.prefetch(&key);
    }

    /// Accounts one packet at `ts`; `frame` (the packet's bytes, or empty) gives flow records
    /// their application hint.
    pub(crate) fn packet(&mut self, s: &PacketSummary, frame: &[u8], ts: i64) -> FlowEvents {
        let mut ev = FlowEvents::default();
        let Some(ip) = s.ip else { return ev };
        let (sp, dp, tcp_flags) = match s.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port, Some(t.flags)),
            Transport::Udp(u) => (u.src_port, u.dst_port, None),
            _ => (0, 0, None),
        };
        let (key, src_is_lo) = self.key(s, frame, &ip, sp, dp);
        let hs = Handshake {
            flags: tcp_flags,
            syn_only: tcp_flags.is_some_and(|f| f.syn() && !f.ack()),
            syn_ack: tcp_flags.is_some_and(|f| f.syn_ack()),
            flag_bits: tcp_flags.map_or(0, |f| f.0 & 0xff),
        };

        let mut slot = self.index.get(&key).copied();
        if let Some(i) = slot
            && let Some(f) = self.slab.get(i as usize)
            && ts.saturating_sub(f.first_ts) >= self.cfg.active_ns
        {
            self.finish_flow(i, EndReason::ActiveTimeout);
            self.remove(i);
            ev.ended += 1;
            slot = None;
        }
        let i = match slot {
            Some(i) => {
                self.unlink(i);
                i
            }
            None if !hs.syn_only
                && let Some(&(t, slot)) = self.closed.get(&key)
                && ts.saturating_sub(t) < TIME_WAIT_NS =>
            {
                // The tail of a closed connection: counted in its record, not a new flow.
                if let Some(f) = self.slab.get_mut(slot as usize) {
                    f.last_ts = f.last_ts.max(ts);
                    f.count(src_is_lo, s.packet_len(), hs.flag_bits);
                }
                return ev;
            }
            None => {
                let apart = tcp_flags.is_some() && key.tunnel == 0;
                let held = if apart && self.embryos.held() > 0 {
                    self.embryos.take(&key, ts, self.cfg.idle_ns, self.cfg.active_ns)
                } else {
                    None
                };
                match held {
                    Some(mut f) if hs.syn_only || hs.syn_ack => {
                        // Still in its handshake: stays apart.
                        update(&mut f, src_is_lo, hs, s.packet_len(), ts, &mut ev);
                        self.embryos.put(f);
                        return ev;
                    }
                    // Past its handshake: its flow, then this packet as any other (which
                    // puts it back at the tail of the activity list).
                    Some(f) => {
                        let i = self.admit(f, &mut ev);
                        self.unlink(i);
                        i
                    }
                    None => {
                        let f = self.new_flow(s, frame, key, src_is_lo, &ip, (sp, dp), hs, ts, &mut ev);
                        let crowded = self.index.len() >= self.cfg.max_flows / 2;
                        if apart && crowded && (hs.syn_only || hs.syn_ack) {
                            self.embryos.put(f);
                        } else {
                            let i = self.admit(f, &mut ev);
                            self.hint(i, s, frame);
                        }
                        return ev;
                    }
                }
            }
        };
        let mut close = false;
        if let Some(f) = self.slab.get_mut(i as usize) {
            close = update(f, src_is_lo, hs, s.packet_len(), ts, &mut ev);
        }
        self.hint(i, s, frame);
        if close {
            ev.ended += 1;
            if self.closed.len() < self.cfg.max_flows {
                // Exporting, the flow stays in its slot through the time-wait: its stray
                // packets are counted in its record, written when the time-wait ends.
                let slot = if self.export {
                    self.unlink(i);
                    self.index.remove(&key);
                    i
                } else {
                    self.remove(i);
                    NIL
                };
                self.closed.insert(key, (ts, slot));
                self.closed_order.push_back((ts, key, slot));
            } else {
                self.finish_flow(i, EndReason::Closed);
                self.remove(i);
            }
        } else {
            self.push_back(i);
        }
        ev
    }

    /// The flow a packet of a new key opens (its events in `ev`), not yet in the table.
    #[allow(clippy::too_many_arguments)]
    fn new_flow(
        &mut self,
        s: &PacketSummary,
        frame: &[u8],
        key: FlowKey,
        src_is_lo: bool,
        ip: &IpSummary,
        (sp, dp): (u16, u16),
        hs: Handshake,
        ts: i64,
        ev: &mut FlowEvents,
    ) -> Flow {
        ev.new += 1;
        // Direction: the SYN's sender initiates; a SYN-ACK's receiver; else the sender.
        let src_initiates = !hs.syn_ack;
        let icmp = match s.transport {
            Transport::Icmp(i) => (i.icmp_type, i.code),
            _ => (0, 0),
        };
        let mut flow = Flow {
            key,
            first_ts: ts,
            last_ts: ts,
            lo_initiates: src_initiates == src_is_lo,
            syn_ts: hs.syn_only.then_some(ts),
            answered: false,
            established: false,
            fin_lo: false,
            fin_hi: false,
            packets: [0; 2],
            bytes: [0; 2],
            flags: [0; 2],
            icmp,
            tunnel: if key.tunnel != 0 { tunnel_of(s, frame) } else { None },
            hinted: false,
            prev: NIL,
            next: NIL,
        };
        flow.count(src_is_lo, s.packet_len(), hs.flag_bits);
        ev.sender_packets = 1;
        ev.syn_opened = hs.syn_only;
        ev.from_initiator = src_initiates;
        ev.new_initiator = Some(if src_initiates { ip.src } else { ip.dst });
        ev.new_responder = Some(if src_initiates { ip.dst } else { ip.src });
        ev.new_port = if src_initiates { dp } else { sp };
        flow
    }

    /// Puts a flow in the table (the least recently active evicted when full); its slot.
    fn admit(&mut self, flow: Flow, ev: &mut FlowEvents) -> u32 {
        if self.index.len() >= self.cfg.max_flows.max(1) && self.head != NIL {
            let h = self.head;
            self.finish_flow(h, EndReason::Evicted);
            self.remove(h);
            ev.evicted += 1;
        }
        let key = flow.key;
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(f) = self.slab.get_mut(i as usize) {
                    *f = flow;
                }
                i
            }
            None => {
                self.slab.push(flow);
                (self.slab.len() - 1) as u32
            }
        };
        self.index.insert(key, i);
        self.push_back(i);
        i
    }

    /// Half-open attempts that never got a flow: replaced in their slot, or held still.
    pub(crate) fn unadmitted(&self) -> u64 {
        self.embryos.forgotten + self.embryos.held()
    }

    /// Packets of the attempts that never got a flow: replaced, or held still.
    pub(crate) fn unadmitted_packets(&self) -> u64 {
        self.embryos.forgotten_packets + self.embryos.held_packets()
    }
}

/// Accounts a packet of an existing flow `f`; whether it closes the connection.
fn update(f: &mut Flow, src_is_lo: bool, hs: Handshake, len: u32, ts: i64, ev: &mut FlowEvents) -> bool {
    f.last_ts = f.last_ts.max(ts);
    f.count(src_is_lo, len, hs.flag_bits);
    ev.sender_packets = f.packets.get(usize::from(!src_is_lo)).copied().unwrap_or(0);
    let from_initiator = src_is_lo == f.lo_initiates;
    if hs.syn_only && !from_initiator {
        // Seen mid-stream first: the SYN tells the direction.
        f.lo_initiates = src_is_lo;
    } else if !from_initiator && let Some(t) = f.syn_ts.take() {
        ev.answered_syn_ts = Some(t);
    }
    if !from_initiator && hs.syn_ack {
        f.answered = true;
    }
    ev.from_initiator = src_is_lo == f.lo_initiates;
    if ev.from_initiator
        && f.answered
        && !f.established
        && hs.flags.is_some_and(|fl| fl.ack() && !fl.syn() && !fl.rst())
    {
        f.established = true;
        ev.established = true;
    }
    let mut close = false;
    if let Some(fl) = hs.flags {
        if fl.fin() {
            if src_is_lo {
                f.fin_lo = true;
            } else {
                f.fin_hi = true;
            }
        }
        close = fl.rst() || (f.fin_lo && f.fin_hi);
    }
    close
}
