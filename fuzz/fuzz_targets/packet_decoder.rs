//! Any bytes as a frame of any link type: no panic; what decodes stays inside the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nta_capture::LinkType;
use nta_parsing::{App, decode_frame};

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
});
