//! One packet through the table, and the admission of half-open TCP connections while the
//! table is crowded.
//!
//! While the table holds fewer than half its `max_flows`, every packet of a new key opens a
//! flow, as it always did. From half full on, a TCP SYN or SYN-ACK of a new key opens no flow:
//! it is kept apart in [`Embryos`](super::embryos::Embryos), a fixed array indexed by the key's hash, the newest
//! attempt replacing whatever held its slot. The connection's next packet of another kind
//! (the handshake's ACK, data, a RST, a FIN) gives it its flow, with everything the SYN and
//! SYN-ACK counted. A spoofed SYN flood — every SYN from another address, answered or not,
//! never acknowledged — therefore costs a slot of a bounded array, never a flow: it can
//! neither fill the table nor evict the connections in it. Every event (a new flow, a
//! half-open SYN, its answer) is reported as if the flow had been made, so window metrics do
//! not depend on admission; attempts replaced before their third packet are counted
//! ([`FlowTable::unadmitted`]) and get no flow record.

use super::{EndReason, Flow, FlowEvents, FlowKey, FlowTable, Keyed, NIL, TIME_WAIT_NS, tunnel_of};
use nta_parsing::{IpSummary, PacketSummary, TcpFlags, Transport};

/// What the packet says about its TCP handshake.
#[derive(Clone, Copy)]
struct Handshake {
    flags: Option<TcpFlags>,
    syn_only: bool,
    syn_ack: bool,
    flag_bits: u16,
}

impl FlowTable {
    /// Whether the table is crowded: half full or more (then a TCP handshake of a new key is
    /// held apart, and keys are looked up through the index's filter).
    #[inline]
    pub(crate) fn crowded(&self) -> bool {
        self.index.len() >= self.cfg.max_flows / 2
    }

    /// Asks for the lines packet `s` (its key `k`) will touch in the index's filter and the
    /// array of half-open attempts when the table is crowded: called a few packets ahead.
    #[inline]
    pub(crate) fn prefetch(&self, s: &PacketSummary, k: &Keyed) {
        if !self.crowded() || s.encap.depth > 0 {
            return;
        }
        self.index.prefetch(k.hash);
        if matches!(s.transport, Transport::Tcp(_)) {
            self.embryos.prefetch(k.hash);
        }
    }

    /// Accounts one packet at `ts`, whose key [`Keyed::of`] made (`keyed`: none without IP);
    /// `frame` (the packet's bytes, or empty) gives flow records their application hint.
    pub(crate) fn packet(&mut self, s: &PacketSummary, keyed: Option<&Keyed>, frame: &[u8], ts: i64) -> FlowEvents {
        let mut ev = FlowEvents::default();
        let (Some(ip), Some(keyed)) = (&s.ip, keyed) else { return ev };
        let (sp, dp, tcp_flags) = match s.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port, Some(t.flags)),
            Transport::Udp(u) => (u.src_port, u.dst_port, None),
            _ => (0, 0, None),
        };
        // A tunnelled packet's key gets its tunnel's number (and is hashed again).
        let tunnelled;
        let keyed = if s.encap.depth > 0 {
            tunnelled = self.tunnelled(s, frame, keyed);
            &tunnelled
        } else {
            keyed
        };
        let (key, hash, src_is_lo) = (&keyed.key, keyed.hash, keyed.src_is_lo);
        let hs = Handshake {
            flags: tcp_flags,
            syn_only: tcp_flags.is_some_and(|f| f.syn() && !f.ack()),
            syn_ack: tcp_flags.is_some_and(|f| f.syn_ack()),
            flag_bits: tcp_flags.map_or(0, |f| f.0 & 0xff),
        };

        let mut slot = if self.crowded() { self.index.get_filtered(key, hash) } else { self.index.get(key, hash) };
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
                && let Some(&(t, slot)) = self.closed.get(key)
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
                    self.embryos.take(key, hash, ts, self.cfg.idle_ns, self.cfg.active_ns)
                } else {
                    None
                };
                match held {
                    Some(mut f) if hs.syn_only || hs.syn_ack => {
                        // Still in its handshake: stays apart.
                        update(&mut f, src_is_lo, hs, s.packet_len(), ts, &mut ev);
                        self.embryos.put(&f, hash);
                        return ev;
                    }
                    // Past its handshake: its flow, then this packet as any other (which
                    // puts it back at the tail of the activity list).
                    Some(f) => {
                        let i = self.admit(f, hash, &mut ev);
                        self.unlink(i);
                        i
                    }
                    None => {
                        let f = self.new_flow(s, frame, *key, src_is_lo, ip, (sp, dp), hs, ts, &mut ev);
                        if apart && self.crowded() && (hs.syn_only || hs.syn_ack) {
                            self.embryos.put(&f, hash);
                        } else {
                            let i = self.admit(f, hash, &mut ev);
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
                    self.index.remove(key, hash);
                    i
                } else {
                    self.remove(i);
                    NIL
                };
                self.closed.insert(*key, (ts, slot));
                self.closed_order.push_back((ts, *key, slot));
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
            syn_pending: hs.syn_only,
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

    /// Puts a flow (the hash of whose key is `hash`) in the table (the least recently active
    /// evicted when full); its slot.
    fn admit(&mut self, flow: Flow, hash: u64, ev: &mut FlowEvents) -> u32 {
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
        self.index.insert(key, hash, i);
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
    } else if !from_initiator && f.syn_pending {
        f.syn_pending = false;
        ev.answered_syn_ts = Some(f.first_ts);
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
