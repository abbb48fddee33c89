//! TLS ClientHellos split over TCP segments: their server name read once the record is whole,
//! whatever the order of the segments and however many connections wait at once.

use nta_metrics::{ExtractConfig, FlowRecord, WindowRecord};

const NS: i64 = 1_000_000_000;

/// An Ethernet/IPv4/TCP frame from `src`:`sp` to `dst`:`dp`.
fn tcp_frame(src: [u8; 4], dst: [u8; 4], (sp, dp): (u16, u16), seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa, 0x08, 0x00];
    let total = (40 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// A ~1,800-byte ClientHello as current browsers send it: a post-quantum key share (1,216
/// bytes) first, the server name last.
fn big_client_hello(name: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    ext.extend_from_slice(&[0x00, 0x33]); // key_share
    ext.extend_from_slice(&1220u16.to_be_bytes());
    ext.extend_from_slice(&1218u16.to_be_bytes());
    ext.extend_from_slice(&[0x11, 0xec, 0x04, 0xc0]); // X25519MLKEM768, 1,216 bytes
    ext.extend(std::iter::repeat_n(0x5a, 1214));
    ext.extend_from_slice(&[0x00, 0x15, 0x02, 0x00]); // padding, 512 bytes
    ext.extend(std::iter::repeat_n(0, 512));
    let n = name.len() as u16;
    ext.extend_from_slice(&[0x00, 0x00]);
    ext.extend_from_slice(&(n + 5).to_be_bytes());
    ext.extend_from_slice(&(n + 3).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&n.to_be_bytes());
    ext.extend_from_slice(name.as_bytes());
    let mut body = vec![0x03, 0x03];
    body.extend(std::iter::repeat_n(7, 32)); // random
    body.push(32);
    body.extend(std::iter::repeat_n(9, 32)); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01, 0, (body.len() >> 8) as u8, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01, (hs.len() >> 8) as u8, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

/// The window record and the flow record of a connection whose ClientHello comes in two
/// segments, the second first when `reversed`.
fn split_hello(reversed: bool) -> (WindowRecord, FlowRecord, nta_metrics::ExtractCounts) {
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let hello = big_client_hello("pq.example.org");
    assert!(hello.len() > 1700);
    let (one, two) = hello.split_at(1200);
    let t0 = 1_700_000_000 * NS;
    let mut frames = vec![
        tcp_frame(c, s, (50000, 443), 1000, 0x02, &[]),
        tcp_frame(s, c, (443, 50000), 7000, 0x12, &[]),
        tcp_frame(c, s, (50000, 443), 1001, 0x10, &[]),
    ];
    let (first, second) =
        (tcp_frame(c, s, (50000, 443), 1001, 0x18, one), tcp_frame(c, s, (50000, 443), 2201, 0x18, two));
    if reversed {
        frames.extend([second, first]);
    } else {
        frames.extend([first, second]);
    }
    let mut x = nta_metrics::Extractor::new(ExtractConfig::new(10 * NS), vec!["hand".into()]);
    x.export_flows();
    let mut windows = Vec::new();
    for (k, f) in frames.iter().enumerate() {
        let mut summary = nta_parsing::decode_frame(nta_capture::LinkType::ETHERNET, f);
        summary.ts_ns = t0 + k as i64 * 1_000_000;
        x.push_frame(&summary, f, 0, &mut |r| windows.push(r));
    }
    x.end_flows();
    let flows: Vec<FlowRecord> = x.take_flows().collect();
    let counts = x.finish(&mut |r| windows.push(r));
    (windows.into_iter().next().unwrap(), flows.into_iter().next().unwrap(), counts)
}

#[test]
fn a_client_hello_over_two_segments_names_its_server_in_either_order() {
    for reversed in [false, true] {
        let (w, f, counts) = split_hello(reversed);
        assert_eq!((w.tls_client_hellos, w.unique_sni), (1, 1), "reversed: {reversed}");
        let app = f.app.as_ref().unwrap_or_else(|| panic!("no hint, reversed: {reversed}"));
        assert_eq!((app.kind.as_str(), app.name.as_str()), ("tls", "pq.example.org"), "reversed: {reversed}");
        assert_eq!((counts.tls_hellos_reassembled, counts.tls_hellos_dropped), (1, 0));
    }
}

/// More server names in a window than counted exactly (`MAX_TRACKED_SNI`): the rest are
/// estimated (HyperLogLog, 0.81 % standard error on the part beyond), so a flood of
/// ClientHellos with random names cannot grow the window's memory.
#[test]
fn server_names_beyond_the_bound_are_estimated() {
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let n = 100_000u32;
    assert!(n as usize > 3 * nta_metrics::MAX_TRACKED_SNI / 2);
    let t0 = 1_700_000_000 * NS;
    let mut x = nta_metrics::Extractor::new(ExtractConfig::new(10 * NS), vec!["hand".into()]);
    let mut windows = Vec::new();
    for i in 0..n {
        let hello = big_client_hello(&format!("h{i}.example.com"));
        let f = tcp_frame(c, s, (10_000 + (i % 50_000) as u16, 443), 1001, 0x18, &hello);
        let mut summary = nta_parsing::decode_frame(nta_capture::LinkType::ETHERNET, &f);
        summary.ts_ns = t0 + i64::from(i) * 10_000;
        x.push_frame(&summary, &f, 0, &mut |r| windows.push(r));
    }
    x.finish(&mut |r| windows.push(r));
    let w = windows.first().unwrap();
    assert_eq!(w.tls_client_hellos, u64::from(n));
    let err = (w.unique_sni as f64 - f64::from(n)).abs() / f64::from(n);
    assert!(err < 0.01, "estimated {} of {n} names ({:.2} %)", w.unique_sni, err * 100.0);
}

/// More split ClientHellos waiting at once than the bound (`MAX_PENDING_HELLOS`), over client
/// ports that share the waiting list's filter slots (ports 4,096 apart): the oldest are given up
/// one by one as new ones come, each still waiting completes when its second segment arrives
/// (those given up are not waited for), and one after them all still does.
#[test]
fn as_many_split_hellos_wait_as_the_bound_whatever_their_ports() {
    let bound = nta_metrics::MAX_PENDING_HELLOS;
    let n = bound + bound / 2;
    let hello = big_client_hello("pq.example.org");
    let (one, two) = hello.split_at(1200);
    let t0 = 1_700_000_000 * NS;
    let mut x = nta_metrics::Extractor::new(ExtractConfig::new(60 * NS), vec!["hand".into()]);
    let mut windows = Vec::new();
    let mut k = 0i64;
    let mut push = |x: &mut nta_metrics::Extractor, f: Vec<u8>| {
        let mut summary = nta_parsing::decode_frame(nta_capture::LinkType::ETHERNET, &f);
        summary.ts_ns = t0 + k * 1_000;
        k += 1;
        x.push_frame(&summary, &f, 0, &mut |r| windows.push(r));
    };
    // Client i: address 10.1.x.y, port 1024 + 4,096 × (i mod 15): 15 slots for them all.
    let client = |i: usize| ([10, 1, (i >> 8) as u8, i as u8], 1024 + 4096 * (i % 15) as u16);
    let server = [10, 0, 0, 2];
    for i in 0..=n {
        let (c, port) = client(i);
        push(&mut x, tcp_frame(c, server, (port, 443), 1000, 0x02, &[]));
        push(&mut x, tcp_frame(server, c, (443, port), 7000, 0x12, &[]));
        push(&mut x, tcp_frame(c, server, (port, 443), 1001, 0x10, &[]));
        if i < n {
            push(&mut x, tcp_frame(c, server, (port, 443), 1001, 0x18, one));
            // The client's fifth packet: its second segment is no early data that waits.
            push(&mut x, tcp_frame(c, server, (port, 443), 2201, 0x10, &[]));
        }
    }
    // The second segments, in the same order; the last connection sends both now.
    for i in 0..n {
        let (c, port) = client(i);
        push(&mut x, tcp_frame(c, server, (port, 443), 2201, 0x18, two));
    }
    let (c, port) = client(n);
    push(&mut x, tcp_frame(c, server, (port, 443), 1001, 0x18, one));
    push(&mut x, tcp_frame(c, server, (port, 443), 2201, 0x18, two));
    let counts = x.finish(&mut |r| windows.push(r));
    let given_up = (n - bound) as u64;
    assert_eq!((counts.tls_hellos_reassembled, counts.tls_hellos_dropped), ((bound + 1) as u64, given_up));
    let w = windows.first().unwrap();
    assert_eq!((w.tls_client_hellos, w.unique_sni), ((n + 1) as u64, 1));
}
