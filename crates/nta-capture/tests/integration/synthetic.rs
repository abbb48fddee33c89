//! Hand-built files: round trips, gzip, truncation, corrupt lengths, non-captures.

use crate::common::pcaps_dir;
use nta_capture::{
    CaptureFormat, CaptureReader, CaptureWriter, Compression, Error, LinkType, PcapWriter, TsResolution, Warning,
    WriteFormat,
};
use std::io::{Cursor, Write};

fn sample_pcap(nano: bool) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 65535, nano).unwrap();
    for i in 0..10u8 {
        let frame = vec![i; 60 + usize::from(i)];
        w.write_packet(1_700_000_000_123_456_789 + i64::from(i) * 1_000_000_007, &frame, 60 + u32::from(i) * 2)
            .unwrap();
    }
    w.into_inner().unwrap()
}

type Read = (Vec<(i64, Vec<u8>, u32)>, CaptureReader, Option<Error>);

fn read_all(bytes: Vec<u8>) -> Read {
    let mut r = CaptureReader::from_reader(Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    let err = loop {
        match r.next_packet() {
            Ok(Some(p)) => out.push((p.ts_ns, p.data.to_vec(), p.orig_len)),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    (out, r, err)
}

#[test]
fn writer_round_trip_nano_and_micro() {
    for nano in [true, false] {
        let (pkts, r, err) = read_all(sample_pcap(nano));
        assert!(err.is_none());
        assert_eq!(pkts.len(), 10);
        for (i, (ts, data, orig)) in pkts.iter().enumerate() {
            let want = 1_700_000_000_123_456_789 + i as i64 * 1_000_000_007;
            assert_eq!(*ts, if nano { want } else { want / 1000 * 1000 });
            assert_eq!(data.len(), 60 + i);
            assert_eq!(*orig, 60 + i as u32 * 2);
        }
        assert_eq!(r.stats().truncated, 9);
        assert_eq!(r.stats().link_types, vec![(LinkType::ETHERNET, 10)]);
    }
}

#[test]
fn capture_writer_round_trip_every_format() {
    for format in WriteFormat::ALL {
        let mut w = CaptureWriter::new(Vec::new(), format, LinkType::ETHERNET, 65535, "nta test").unwrap();
        for i in 0..7u8 {
            // Odd lengths exercise the pcapng padding.
            let frame = vec![i; 61 + usize::from(i)];
            w.write_packet(1_700_000_000_987_654_321 + i64::from(i) * 333_333_333, &frame, 100).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let (pkts, r, err) = read_all(bytes);
        assert!(err.is_none(), "{format}: {err:?}");
        assert!(r.stats().warnings.is_empty(), "{format}: {:?}", r.stats().warnings);
        assert_eq!(pkts.len(), 7, "{format}");
        for (i, (ts, data, orig)) in pkts.iter().enumerate() {
            let want = 1_700_000_000_987_654_321 + i as i64 * 333_333_333;
            let want = if format == WriteFormat::Pcap { want / 1000 * 1000 } else { want };
            assert_eq!(*ts, want, "{format} packet {i}");
            assert_eq!(data, &vec![i as u8; 61 + i]);
            assert_eq!(*orig, 100);
        }
        let is_ng = matches!(r.format(), CaptureFormat::Pcapng { .. });
        assert_eq!(is_ng, format == WriteFormat::Pcapng);
        if is_ng {
            assert_eq!(r.interfaces().len(), 1);
            assert_eq!(r.interfaces()[0].resolution, TsResolution::Pow10(9));
        }
    }
    assert_eq!("PCAPNG".parse::<WriteFormat>(), Ok(WriteFormat::Pcapng));
    assert!("pcapx".parse::<WriteFormat>().is_err());
    assert_eq!(WriteFormat::from_extension("a/b.pcapng".as_ref()), WriteFormat::Pcapng);
    assert_eq!(WriteFormat::from_extension("a/b.cap".as_ref()), WriteFormat::Pcap);
}

#[test]
fn gzip_detected_by_magic() {
    let plain = sample_pcap(true);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let (pkts, r, err) = read_all(gz.finish().unwrap());
    assert!(err.is_none());
    assert_eq!(pkts.len(), 10);
    assert!(matches!(r.format(), CaptureFormat::Pcap { compression: Compression::Gzip, .. }));
}

#[test]
fn every_cut_of_a_file_keeps_the_packets_before_it() {
    let full = sample_pcap(false);
    let record = |i: usize| 16 + 60 + i; // record sizes
    for cut in 24..full.len() {
        let (pkts, r, err) = read_all(full[..cut].to_vec());
        assert!(err.is_none(), "cut {cut}: {err:?}");
        // Complete records before the cut.
        let (mut end, mut complete) = (24, 0);
        while complete < 10 && end + record(complete) <= cut {
            end += record(complete);
            complete += 1;
        }
        assert_eq!(pkts.len(), complete, "cut at {cut}");
        let truncated = r.stats().warnings.iter().find_map(|w| match w {
            Warning::Truncated { offset, .. } => Some(*offset),
            _ => None,
        });
        assert_eq!(truncated, (cut > end).then_some(end as u64), "cut at {cut}");
    }
}

#[test]
fn truncated_gzip_keeps_complete_packets() {
    let plain = sample_pcap(false);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let (pkts, _, err) = read_all(gz[..gz.len() - 30].to_vec());
    assert!(err.is_none(), "{err:?}");
    assert!(pkts.len() >= 5 && pkts.len() < 10, "{} packets", pkts.len());
}

#[test]
fn corrupt_record_length_is_an_error_with_its_offset() {
    let mut bytes = sample_pcap(false);
    let second = 24 + 16 + 60;
    bytes[second + 8..second + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let (pkts, _, err) = read_all(bytes);
    assert_eq!(pkts.len(), 1);
    match err {
        Some(Error::CorruptLength { offset, len, .. }) => assert_eq!((offset, len), (second as u64, 0x7fff_ffff)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn not_a_capture_names_what_it_found() {
    for (bytes, found) in [
        (b"hello, this is text\n".to_vec(), "a text file"),
        (Vec::new(), "an empty file"),
        (vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0], "a zstd-compressed file (decompress it first)"),
        (vec![0u8, 1, 2, 3, 4, 5, 6, 7], "an unknown binary format"),
    ] {
        match CaptureReader::from_reader(Cursor::new(bytes)) {
            Err(Error::NotACapture { found: f, .. }) => assert_eq!(f, found),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn pcapng_block_length_errors_say_where() {
    // SHB of 28 bytes, then a block whose length is not a multiple of 4.
    let mut b = Vec::new();
    b.extend_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a]);
    b.extend_from_slice(&28u32.to_le_bytes());
    b.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    b.extend_from_slice(&[1, 0, 0, 0]);
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    b.extend_from_slice(&28u32.to_le_bytes());
    b.extend_from_slice(&6u32.to_le_bytes());
    b.extend_from_slice(&33u32.to_le_bytes());
    b.extend_from_slice(&[0; 40]);
    let (pkts, r, err) = read_all(b);
    assert!(pkts.is_empty());
    assert_eq!(r.stats().sections, 1);
    match err {
        Some(Error::CorruptLength { offset: 28, len: 33, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn gzip_captures_in_the_manifest_read() {
    if !nta_corpus::require() {
        return;
    }
    let f = pcaps_dir().join("zeek__zeek/testing/btest/Traces/trunc/mpls-6in6-broken.pcap.gz");
    let mut r = CaptureReader::open(f).unwrap();
    assert!(matches!(r.format(), CaptureFormat::Pcap { compression: Compression::Gzip, .. }));
    let mut n = 0;
    while r.next_packet().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 1811);
}
