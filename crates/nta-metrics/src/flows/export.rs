//! Flow records: what the table keeps for them and how a flow becomes a [`FlowRecord`].

use super::{FlowTable, NIL};
use crate::flow_record::{
    AppHint, EndReason, FlowRecord, TcpSides, community_id, flag_letters, other_state, rfc3339, tcp_state,
};
use nta_parsing::{App, PacketSummary, Transport};

impl FlowTable {
    /// Makes a [`FlowRecord`] of every flow that ends from now on.
    pub(crate) fn export(&mut self) {
        self.export = true;
    }

    /// The records of the flows ended since the last call.
    pub(crate) fn take_finished(&mut self) -> std::vec::Drain<'_, FlowRecord> {
        self.finished.drain(..)
    }

    /// The record of the flow in slot `i`.
    pub(super) fn record(&self, i: u32, reason: EndReason) -> Option<FlowRecord> {
        let f = self.slab.get(i as usize)?;
        let (orig, resp, o, r) = if f.lo_initiates { (f.key.lo, f.key.hi, 0, 1) } else { (f.key.hi, f.key.lo, 1, 0) };
        let get = |a: &[u64; 2], k: usize| a.get(k).copied().unwrap_or(0);
        let flags = |k: usize| f.flags.get(k).copied().unwrap_or(0);
        let icmp = matches!(f.key.proto, 1 | 58);
        let (sp, dp) = if icmp { (u16::from(f.icmp.0), u16::from(f.icmp.1)) } else { (orig.1, resp.1) };
        let (src_packets, dst_packets) = (get(&f.packets, o), get(&f.packets, r));
        let conn_state = if f.key.proto == 6 {
            tcp_state(TcpSides { orig: flags(o), resp: flags(r), established: f.established })
        } else {
            other_state(src_packets, dst_packets)
        };
        Some(FlowRecord {
            community_id: community_id(f.key.proto, (orig.0, sp), (resp.0, dp)),
            proto: f.key.proto,
            src_ip: orig.0,
            src_port: sp,
            dst_ip: resp.0,
            dst_port: dp,
            vlan: (f.key.vlan != 0).then_some(f.key.vlan),
            first_ns: f.first_ts,
            last_ns: f.last_ts,
            first: rfc3339(f.first_ts),
            last: rfc3339(f.last_ts),
            src_packets,
            src_bytes: get(&f.bytes, o),
            dst_packets,
            dst_bytes: get(&f.bytes, r),
            src_tcp_flags: flag_letters(flags(o)),
            dst_tcp_flags: flag_letters(flags(r)),
            conn_state,
            end_reason: reason,
            app: self.hints.get(&i).cloned(),
            tunnel: f.tunnel,
            sensor: None,
        })
    }

    /// Writes the record of slot `i` (when exporting).
    pub(super) fn finish_flow(&mut self, i: u32, reason: EndReason) {
        if self.export
            && let Some(r) = self.record(i, reason)
        {
            self.finished.push(r);
            self.hints.remove(&i);
        }
    }

    /// Ends every flow: open ones as `end_of_input`, those in time-wait as `closed`.
    pub(crate) fn finish_all(&mut self) {
        while self.finish_some(usize::MAX) {}
    }

    /// Ends at most `limit` of the flows still open (closed ones in their time-wait first, then
    /// the others from the least recently active), in the order [`FlowTable::finish_all`]
    /// ends them; returns whether some remain. At the end of the input only: until the last
    /// call, the index still names the slots of flows already ended. Taking the records
    /// between calls keeps the end of a run from holding a record of every flow of a full
    /// table at once.
    pub(crate) fn finish_some(&mut self, limit: usize) -> bool {
        self.embryos.clear();
        if !self.export {
            // No records to make: every flow ends at once, the table emptied whole (a walk of
            // its list would read every flow for nothing).
            self.closed.clear();
            self.closed_order.clear();
            self.slab.clear();
            self.free.clear();
            (self.head, self.tail) = (NIL, NIL);
            self.index.clear();
            return false;
        }
        let mut ended = 0;
        while ended < limit
            && let Some((_, key, slot)) = self.closed_order.pop_front()
        {
            if slot != NIL {
                self.finish_flow(slot, EndReason::Closed);
                self.free.push(slot);
            }
            self.closed.remove(&key);
            ended += 1;
        }
        // The end of the input: no packet comes after, so the index is cleared once, when the
        // last flow has ended, not flow by flow (a lookup each, a cache miss each in a full
        // table: 30 ms for the 250,000 flows of the flood benchmark).
        while ended < limit && self.head != NIL {
            let h = self.head;
            self.finish_flow(h, EndReason::EndOfInput);
            self.unlink(h);
            self.free.push(h);
            ended += 1;
        }
        if self.head == NIL {
            self.index.clear();
        }
        !self.closed_order.is_empty() || self.head != NIL
    }

    /// The server name of a ClientHello put together from several segments, for the flow of
    /// `s` (its last segment; `keyed` its key, [`Keyed::of`](super::Keyed::of)), when exporting
    /// and the flow has no hint yet.
    pub(crate) fn set_tls_hint(&mut self, s: &PacketSummary, keyed: Option<&super::Keyed>, frame: &[u8], name: String) {
        let Some(k) = keyed else { return };
        if !self.export || !matches!(s.transport, Transport::Tcp(_)) {
            return;
        }
        let k = if s.encap.depth > 0 { self.tunnelled(s, frame, k) } else { *k };
        if let Some(i) = self.index.get(&k.key, k.hash)
            && !self.hints.contains_key(&i)
        {
            self.hints.insert(i, AppHint { kind: "tls".into(), name });
        }
    }

    /// Keeps the first application hint of the flow in slot `i` (exporting, with the frame).
    pub(super) fn hint(&mut self, i: u32, s: &PacketSummary, frame: &[u8]) {
        if !self.export || frame.is_empty() || matches!(s.app, App::None) {
            return;
        }
        match self.slab.get_mut(i as usize) {
            Some(f) if !f.hinted => f.hinted = true,
            _ => return,
        }
        let text = |t: nta_parsing::TextRef| String::from_utf8_lossy(t.bytes(frame)).to_ascii_lowercase();
        let hint = match s.app {
            App::TlsClientHello(t) => t.sni.map(|n| ("tls", text(n))),
            App::Http(h) => h.host.map(|n| ("http", text(n))),
            App::Dns(d) if d.qname.is_some() => {
                let start = match s.transport {
                    Transport::Udp(u) => Some(u.payload_offset as usize),
                    Transport::Tcp(t) => Some(t.payload_offset as usize + 2),
                    _ => None,
                };
                start.and_then(|o| frame.get(o..)).and_then(nta_parsing::dns_question_name).map(|n| ("dns", n))
            }
            _ => None,
        };
        if let Some((kind, name)) = hint.filter(|(_, n)| !n.is_empty()) {
            self.hints.insert(i, AppHint { kind: kind.into(), name });
        }
    }
}
