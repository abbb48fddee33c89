//! Property tests: no input makes the reader or the decoder panic or loop.

use crate::common::pcap;
use nta_capture::{CaptureReader, LinkType};
use nta_parsing::{Census, decode_frame};
use proptest::prelude::*;

const LINK_TYPES: [u16; 12] = [0, 1, 12, 14, 101, 105, 108, 113, 228, 229, 276, 999];

fn real_frames() -> Vec<(LinkType, Vec<u8>)> {
    let mut out = Vec::new();
    for rel in [
        "seladb__PcapPlusPlus/Tests/ExamplesTest/pcap_examples/many-protocols.pcap",
        "seladb__PcapPlusPlus/Tests/Pcap++Test/PcapExamples/sll.pcap",
        "seladb__PcapPlusPlus/Tests/Pcap++Test/PcapExamples/DnsPackets.pcap",
        "seladb__PcapPlusPlus/Tests/Pcap++Test/PcapExamples/ip6_fragments.pcap",
        "zeek__zeek/testing/btest/Traces/tls/tls13-ech.pcap",
        "zeek__zeek/testing/btest/Traces/linux_dlt_sll2.pcap",
    ] {
        let mut r = CaptureReader::open(pcap(rel)).unwrap();
        while let Some(p) = r.next_packet().unwrap() {
            out.push((p.link_type, p.data.to_vec()));
        }
    }
    out
}

/// Every prefix of every real frame decodes without panic, and a prefix never claims more
/// than the full frame did at the layers both reached.
#[test]
fn every_truncation_of_real_frames_decodes() {
    if !nta_corpus::require() {
        return;
    }
    let frames = real_frames();
    assert!(frames.len() > 5000);
    let mut census = Census::default();
    for (lt, f) in frames.iter().step_by(7) {
        let full = decode_frame(*lt, f);
        for cut in 0..f.len() {
            let s = decode_frame(*lt, &f[..cut]);
            census.add(&s);
            if s.ip.is_some() {
                assert_eq!(s.ip.map(|i| i.src), full.ip.map(|i| i.src));
            }
        }
    }
    assert!(census.packets > 100_000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_frames_never_panic(lt in proptest::sample::select(&LINK_TYPES[..]), data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let s = decode_frame(LinkType(lt), &data);
        prop_assert_eq!(s.cap_len as usize, data.len());
    }

    #[test]
    fn mutated_real_frames_never_panic(idx in 0usize..5000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        if !nta_corpus::require() {
            return Ok(());
        }
        thread_local!(static FRAMES: Vec<(LinkType, Vec<u8>)> = real_frames());
        FRAMES.with(|frames| {
            let (lt, f) = &frames[idx % frames.len()];
            let mut f = f.clone();
            for (at, v) in &flips {
                if !f.is_empty() {
                    let n = f.len();
                    f[at % n] = *v;
                }
            }
            let _ = decode_frame(*lt, &f);
        });
    }

    #[test]
    fn random_files_never_panic_or_hang(data in proptest::collection::vec(any::<u8>(), 0..2000), magic in 0usize..5) {
        let magics: [&[u8]; 5] = [
            &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0],
            &[0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a],
            &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0x1c, 0x1a, 0x2b, 0x3c, 0x4d],
            &[0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0],
            &[],
        ];
        let mut bytes = magics[magic].to_vec();
        bytes.extend_from_slice(&data);
        if let Ok(mut r) = CaptureReader::from_reader(std::io::Cursor::new(bytes)) {
            let mut n = 0;
            while let Ok(Some(p)) = r.next_packet() {
                let _ = nta_parsing::decode(&p);
                n += 1;
                prop_assert!(n <= data.len() + 1, "more packets than bytes: a loop");
            }
        }
    }
}
