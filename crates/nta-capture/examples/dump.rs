fn main() {
    let path = std::env::args().nth(1).unwrap();
    let mut r = nta_capture::CaptureReader::open(&path).unwrap();
    println!("{:?}", r.interfaces());
    while let Some(p) = r.next_packet().unwrap() {
        println!("{} if={} lt={} cap={} len={}", p.ts_ns, p.interface, p.link_type, p.caplen, p.orig_len);
    }
    println!("{:?}", r.interfaces());
}
