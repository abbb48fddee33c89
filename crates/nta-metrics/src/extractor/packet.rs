//! One packet through the [`Extractor`]: [`Extractor::push_frame`] (and [`Extractor::push`],
//! without the frame) moves the clock, gives the packet to the flow table and to its window;
//! under a flood the walk first asks for the lines it will touch ([`Extractor::prefetch`]).

use super::Extractor;
use crate::evidence::MacAddr;
use crate::flows::Keyed;
use crate::hosts::Opened;
use crate::record::WindowRecord;
use nta_parsing::{Network, PacketSummary};

impl Extractor {
    /// Adds a packet from source `source` (an index into the names given to [`Extractor::new`]);
    /// `emit` receives every record that is complete.
    pub fn push(&mut self, s: &PacketSummary, source: usize, emit: &mut dyn FnMut(WindowRecord)) {
        self.push_frame(s, &[], source, emit);
    }

    /// Whether prefetching pays: the flow table is crowded or the newest window has a full
    /// table (a flood). Otherwise the tables hold what traffic keeps coming back to: no miss
    /// to spare.
    #[inline]
    pub(crate) fn pressed(&self) -> bool {
        self.flows.crowded() || self.windows.back().is_some_and(|w| w.hosts.full())
    }

    /// Asks for the cache lines packet `s` will touch (its attempt's slot under a flood, its
    /// port counters in the newest window), to be called a few packets before
    /// [`Extractor::push_frame`] takes it: the misses of several packets then overlap.
    #[inline]
    pub(crate) fn prefetch(&self, s: &PacketSummary, keyed: Option<&Keyed>) {
        if let Some(k) = keyed {
            self.flows.prefetch(s, k);
        }
        if let Some(w) = self.windows.back() {
            w.prefetch(s);
        }
    }

    /// [`Extractor::push`] with the packet's bytes (`frame`), from which flow records take
    /// their application hint.
    pub fn push_frame(&mut self, s: &PacketSummary, frame: &[u8], source: usize, emit: &mut dyn FnMut(WindowRecord)) {
        self.push_keyed(s, Keyed::of(s).as_ref(), frame, source, emit);
    }

    /// [`Extractor::push_frame`] of a packet whose flow key [`Keyed::of`] made (the decoding
    /// workers make it beside the summary).
    #[inline]
    pub(crate) fn push_keyed(
        &mut self,
        s: &PacketSummary,
        keyed: Option<&Keyed>,
        frame: &[u8],
        source: usize,
        emit: &mut dyn FnMut(WindowRecord),
    ) {
        self.counts.packets_processed += 1;
        self.last_source = 1u64 << source.min(63);
        let ts = s.ts_ns;
        // Nothing due before `wake_at` (no window boundary, expiry or close): a packet at or
        // later than the clock and before it only moves the clock, and closes nothing.
        let quiet = !self.dirty && self.clock.is_some_and(|c| ts >= c) && ts < self.wake_at;
        if quiet {
            self.clock = Some(ts);
        } else {
            if self.clock.is_some_and(|c| ts < c) {
                self.counts.out_of_order += 1;
            }
            self.advance(ts);
        }
        let idx = if quiet { self.current } else { self.index_of(ts) };
        let ev = self.flows.packet(s, keyed, frame, self.clock.unwrap_or(ts).max(ts));
        if let Network::Arp(a) = s.network {
            self.arp.claim(a.sender, MacAddr(a.sender_mac));
        }
        // Probes: TCP and UDP flows, and ICMP flows opened by an echo request or a neighbour
        // solicitation (not errors nor other protocols).
        let opened = match (ev.new_initiator, &s.ip) {
            (Some(a), Some(ip)) => Some(Opened {
                from_src: a == ip.src,
                proto: ip.protocol,
                port: ev.new_port,
                syn: ev.syn_opened,
                probe: match s.transport {
                    nta_parsing::Transport::Tcp(_) | nta_parsing::Transport::Udp(_) => true,
                    nta_parsing::Transport::Icmp(i) => i.is_echo_request() || (i.v6 && i.icmp_type == 135),
                    _ => false,
                },
            }),
            _ => None,
        };
        // A ClientHello split over segments: its server name once the record is whole.
        let early = ev.from_initiator && ev.sender_packets <= 4 && matches!(s.app, nta_parsing::App::None);
        let hello = if frame.is_empty() { None } else { self.hello.packet(s, frame, early) };
        if let Some((name, _)) = &hello {
            self.flows.set_tls_hint(s, keyed, frame, name.clone());
        }
        if let Some(win) = self.window(idx) {
            win.add(s, source, opened);
            if let Some((_, hash)) = hello {
                win.add_sni(hash);
            }
            win.new_flows += ev.new;
            win.ended_flows += ev.ended;
            win.evicted_flows += ev.evicted;
            win.half_open += u64::from(ev.syn_opened);
            if ev.from_initiator {
                win.initiator_bytes += u64::from(s.packet_len());
            }
            if ev.established
                && let (Some(ip), Some(t)) = (&s.ip, s.tcp())
            {
                win.hosts.established(ip.src, ip.dst, t.dst_port);
            }
        }
        self.counts.evicted_flows += ev.evicted;
        if let Some(t) = ev.answered_syn_ts {
            // Answered before its window was written: not half-open after all.
            let i = self.index_of(t);
            if let Some(w) = self.open_window(i) {
                w.half_open = w.half_open.saturating_sub(1);
            }
        }
        if !quiet {
            self.flush(false, emit);
        }
    }
}
