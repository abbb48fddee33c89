//! [`Batch`]: a few MB of frames copied from the inputs with their [`Meta`]data, then decoded in
//! parallel into the summaries, flow keys and shards the accumulation reads.

use crate::flows::Keyed;
use nta_capture::{LinkType, Packet};
use nta_parsing::{Census, PacketSummary, TunnelLayer, decode_into};
use rayon::prelude::*;

/// Frame bytes of about this much make a batch.
const BATCH_BYTES: usize = 4 << 20;
/// At most this many packets make a batch.
const BATCH_PACKETS: usize = 32_768;

/// A packet of a batch as the reader gave it: its time, link type and length on the wire, its
/// input, and where its frame lies in the batch's bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    pub(crate) ts_ns: i64,
    pub(crate) link_type: LinkType,
    pub(crate) orig_len: u32,
    pub(crate) source: u32,
    pub(crate) start: u32,
    pub(crate) len: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) data: Vec<u8>,
    pub(crate) meta: Vec<Meta>,
    /// The decoded packets and their source, one per `meta` once [`Batch::decode`] ran (until
    /// then, what the last batch decoded: the summaries are decoded in place, never moved).
    pub(crate) summaries: Vec<(PacketSummary, u32)>,
    /// The shard of each packet ([`crate::shards::shard_of`]), computed while decoding.
    pub(crate) shards: Vec<u8>,
    /// The flow key of each packet with IP ([`Keyed::of`]), made while decoding.
    pub(crate) keys: Vec<Option<Keyed>>,
    /// Census of `summaries`, counted on the decoding side.
    pub(crate) census: Census,
    /// Live sources' kernel counters since the previous batch (received, dropped).
    pub(crate) counters: Option<(u64, u64)>,
}

impl Batch {
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.meta.clear();
        self.counters = None;
    }

    pub(crate) fn push(&mut self, source: usize, p: &Packet<'_>) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(p.data);
        self.meta.push(Meta {
            ts_ns: p.ts_ns,
            link_type: p.link_type,
            orig_len: p.orig_len,
            source: source as u32,
            start,
            len: p.data.len() as u32,
        });
    }

    pub(crate) fn full(&self) -> bool {
        self.data.len() >= BATCH_BYTES || self.meta.len() >= BATCH_PACKETS
    }

    /// Decodes every packet, in parallel, keeping the order, and counts their census (each
    /// worker its part, the parts then added).
    pub(crate) fn decode(&mut self, layer: TunnelLayer, shards: usize) {
        let n = self.meta.len();
        // Slots to decode into: the last batch's are reused, new ones start blank.
        let blank = nta_parsing::decode_frame(nta_capture::LinkType::ETHERNET, &[]);
        self.summaries.resize(n, (blank, 0));
        self.shards.resize(n, 0);
        self.keys.resize(n, None);
        let data = &self.data;
        let census = self
            .summaries
            .par_iter_mut()
            .zip(self.shards.par_iter_mut())
            .zip(self.keys.par_iter_mut())
            .zip(self.meta.par_iter())
            .with_min_len(1024)
            // Boxed: the accumulator moves from packet to packet.
            .fold(Box::<Census>::default, |mut census, ((((s, source), shard), key), m)| {
                let bytes = data.get(m.start as usize..(m.start + m.len) as usize).unwrap_or_default();
                let p = Packet {
                    ts_ns: m.ts_ns,
                    link_type: m.link_type,
                    caplen: m.len,
                    orig_len: m.orig_len,
                    interface: 0,
                    data: bytes,
                };
                decode_into(&p, layer, s);
                *source = m.source;
                *key = Keyed::of(s);
                *shard = crate::shards::shard_of(key.as_ref(), shards);
                census.add(s);
                census
            })
            .reduce(Box::<Census>::default, |mut all, part| {
                all.merge(&part);
                all
            });
        self.census = *census;
    }
}
