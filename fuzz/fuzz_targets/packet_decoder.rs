//! Any bytes as a frame of any link type: no panic; what decodes stays inside the frame, and
//! tunnels are walked at most `MAX_ENCAP_DEPTH` deep.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nta_capture::LinkType;
use nta_capture::Packet;
use nta_parsing::{App, MAX_ENCAP_DEPTH, TunnelLayer, decode_frame, decode_with};

fuzz_target!(|input: (u16, &[u8])| {
    let (link, data) = input;
    let lt = LinkType([0, 1, 12, 101, 108, 113, 228, 229, 276][usize::from(link) % 9]);
    let s = decode_frame(lt, data);
    assert_eq!(s.cap_len as usize, data.len());
    let text = match s.app {
        App::TlsClientHello(t) => t.sni,
        App::Http(h) => h.host,
        _ => None,
    };
    if let Some(t) = text {
        assert_eq!(t.bytes(data).len(), usize::from(t.len), "text reference inside the frame");
    }
    if let Some(e) = s.error {
        assert!(e.offset as usize <= data.len());
    }
    // Through tunnels: bounded depth, the innermost packet inside the frame; the outer view
    // never walks in.
    assert!(s.encap.depth <= MAX_ENCAP_DEPTH);
    assert!(s.encap.overhead as usize <= data.len());
    let outer = decode_with(&Packet { ts_ns: 0, link_type: lt, caplen: s.cap_len, orig_len: s.cap_len, interface: 0, data }, TunnelLayer::Outer);
    assert_eq!((outer.encap.depth, outer.encap.overhead), (0, 0));
});
