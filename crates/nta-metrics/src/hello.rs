//! [`HelloReassembler`]: TLS ClientHellos split over several TCP segments. With post-quantum key
//! shares (X25519MLKEM768) a ClientHello is ~1,800 bytes, two segments, and with randomized
//! extension order its server name is in the second about half the time. A first segment whose
//! ClientHello is cut short waits here (bounded), the client's next segments of that connection
//! join it in sequence order, and once the record is whole its server name is read. Segments
//! that arrive before the first (the client's early data segments of a young connection) wait
//! too, so the arrival order does not matter.

use nta_parsing::{App, PacketSummary, TcpSummary, Transport};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// The most bytes of one ClientHello kept (a TLS record is at most 16 KiB + 5).
pub const MAX_HELLO_BYTES: usize = 16 * 1024 + 5;
/// The most connections with a ClientHello (or early segments) waiting at once.
pub const MAX_PENDING_HELLOS: usize = 1024;
/// A waiting ClientHello older than this (capture time) is given up when room is needed.
const HELLO_WAIT_NS: i64 = 5_000_000_000;

/// One direction of a connection: VLAN, sender, receiver.
type Dir = (u16, (IpAddr, u16), (IpAddr, u16));

#[derive(Debug, Default)]
struct Pending {
    /// Sequence number of the segment the ClientHello record starts in.
    start: Option<u32>,
    /// Bytes the record needs (5 + its length).
    need: usize,
    segments: Vec<(u32, Vec<u8>)>,
    bytes: usize,
    since: i64,
}

/// Slots of the filter in front of the waiting connections (a power of two).
const FILTER_SLOTS: usize = 4096;

/// The filter slot of a direction: its ports (what varies most between connections).
#[inline]
fn filter_slot(d: &Dir) -> usize {
    let (_, (_, sp), (_, dp)) = *d;
    (usize::from(sp).wrapping_mul(0x9e37) ^ usize::from(dp)) & (FILTER_SLOTS - 1)
}

/// ClientHellos being put together.
#[derive(Debug)]
pub(crate) struct HelloReassembler {
    pending: FxHashMap<Dir, Pending>,
    /// How many waiting connections have each [`filter_slot`]: a packet whose slot counts none
    /// is not waited for, without hashing its key (most packets, while some connections wait).
    filter: Vec<u16>,
    /// ClientHellos whose server name came from several segments.
    pub(crate) reassembled: u64,
    /// Waiting ClientHellos given up: too long, or no room (the bounds above).
    pub(crate) dropped: u64,
}

impl Default for HelloReassembler {
    fn default() -> HelloReassembler {
        HelloReassembler { pending: FxHashMap::default(), filter: vec![0; FILTER_SLOTS], reassembled: 0, dropped: 0 }
    }
}

impl HelloReassembler {
    /// Whether connection direction `dir` is waited for.
    #[inline]
    fn waiting(&self, dir: &Dir) -> bool {
        self.filter.get(filter_slot(dir)).is_some_and(|&n| n > 0) && self.pending.contains_key(dir)
    }

    /// Stops waiting for `dir`.
    fn forget(&mut self, dir: &Dir) {
        if self.pending.remove(dir).is_some()
            && let Some(n) = self.filter.get_mut(filter_slot(dir))
        {
            *n = n.saturating_sub(1);
        }
    }

    /// Offers a packet (`frame`: its bytes). `early`: a payload segment of the connection's
    /// originator sent before any decoded one (it may belong to a ClientHello whose first
    /// segment is yet to come). Returns the server name and its hash when this packet completes
    /// a ClientHello that spans segments.
    #[inline]
    pub(crate) fn packet(&mut self, s: &PacketSummary, frame: &[u8], early: bool) -> Option<(String, u64)> {
        let (Some(ip), Transport::Tcp(t)) = (&s.ip, &s.transport) else { return None };
        if t.payload_len == 0 {
            return None;
        }
        let start = match s.app {
            App::TlsClientHello(h) if !h.complete && h.sni.is_none() => true,
            App::None => false,
            _ => return None,
        };
        let dir: Dir = (s.vlan.outer.unwrap_or(0), (ip.src, t.src_port), (ip.dst, t.dst_port));
        if !start && !early && !self.waiting(&dir) {
            return None;
        }
        self.segment(t, s.ts_ns, frame, dir, start)
    }

    /// A segment `t` at `ts` of a ClientHello (its first when `start`) of connection direction
    /// `dir`.
    fn segment(&mut self, t: &TcpSummary, ts: i64, frame: &[u8], dir: Dir, start: bool) -> Option<(String, u64)> {
        let from = t.payload_offset as usize;
        let payload = frame.get(from..from.saturating_add(t.payload_len as usize).min(frame.len()))?;
        if !self.pending.contains_key(&dir) {
            if !self.make_room(ts) {
                self.dropped += 1;
                return None;
            }
            if let Some(n) = self.filter.get_mut(filter_slot(&dir)) {
                *n = n.saturating_add(1);
            }
        }
        let p = self.pending.entry(dir).or_insert_with(|| Pending { since: ts, ..Pending::default() });
        if start {
            p.start = Some(t.seq);
            let len = match payload.get(3..5) {
                Some(&[a, b]) => usize::from(u16::from_be_bytes([a, b])),
                _ => 0,
            };
            p.need = 5 + len;
        }
        if p.bytes + payload.len() > MAX_HELLO_BYTES {
            self.forget(&dir);
            self.dropped += 1;
            return None;
        }
        p.bytes += payload.len();
        p.segments.push((t.seq, payload.to_vec()));
        let first = p.start?;
        // The record, in sequence order from its first segment, as far as it is contiguous.
        p.segments.sort_by_key(|(seq, _)| seq.wrapping_sub(first));
        let mut record = Vec::with_capacity(p.need);
        for (seq, bytes) in &p.segments {
            let at = seq.wrapping_sub(first) as usize;
            if at > record.len() || at > MAX_HELLO_BYTES {
                break; // a hole: wait for the missing segment
            }
            let skip = record.len() - at;
            record.extend_from_slice(bytes.get(skip..).unwrap_or_default());
        }
        let need = p.need;
        if record.len() < need {
            return None;
        }
        self.forget(&dir);
        let found = nta_parsing::client_hello_server_name(record.get(..need)?);
        self.reassembled += u64::from(found.is_some());
        found
    }

    /// Room for one more waiting connection: the expired ones go first, else the oldest
    /// (counted as dropped); `false` only when nothing can go.
    fn make_room(&mut self, now: i64) -> bool {
        if self.pending.len() < MAX_PENDING_HELLOS {
            return true;
        }
        let before = self.pending.len();
        let filter = &mut self.filter;
        self.pending.retain(|dir, p| {
            let keep = now.saturating_sub(p.since) < HELLO_WAIT_NS;
            if !keep && let Some(n) = filter.get_mut(filter_slot(dir)) {
                *n = n.saturating_sub(1);
            }
            keep
        });
        self.dropped += (before - self.pending.len()) as u64;
        if self.pending.len() < MAX_PENDING_HELLOS {
            return true;
        }
        let oldest = self.pending.iter().min_by_key(|(_, p)| p.since).map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                self.forget(&k);
                self.dropped += 1;
                true
            }
            None => false,
        }
    }
}
