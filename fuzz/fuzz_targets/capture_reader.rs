//! Any bytes as a capture file: no panic, no hang, and the stats agree with what was returned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nta_capture::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::from_reader(std::io::Cursor::new(data.to_vec())) else { return };
    let (mut packets, mut bytes) = (0u64, 0u64);
    while let Ok(Some(p)) = reader.next_packet() {
        assert_eq!(p.data.len(), p.caplen as usize);
        packets += 1;
        bytes += u64::from(p.caplen);
        let _ = nta_parsing::decode(&p);
    }
    assert_eq!(reader.stats().packets, packets);
    assert_eq!(reader.stats().captured_bytes, bytes);
    assert!(bytes <= data.len() as u64, "more packet bytes than input bytes");
});
