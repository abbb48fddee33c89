//! [`LiveCapture`] over libpcap (the `pcap` crate).

use crate::{InterfaceInfo, LiveError, LiveOptions, LiveStats, PacketSource, RawPacket};
use nta_capture::LinkType;

/// One interface, opened: lends packets and counts drops.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    interface: String,
    link_type: LinkType,
    snaplen: u32,
    /// The longest wait in one `next_packet`.
    poll: std::time::Duration,
    /// The last packet, copied out of the ring.
    buf: Vec<u8>,
    /// libpcap's 32-bit counters as last read, and their 64-bit sums.
    last: (u32, u32, u32),
    totals: LiveStats,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture").field("interface", &self.interface).field("link_type", &self.link_type).finish()
    }
}

/// The error of opening `interface`, told apart when it is a matter of privileges.
fn open_error(interface: &str, e: pcap::Error) -> LiveError {
    let reason = e.to_string();
    let lower = reason.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("operation not permitted") {
        LiveError::Permission { interface: interface.to_owned(), reason }
    } else {
        LiveError::Open { interface: interface.to_owned(), reason }
    }
}

impl LiveCapture {
    /// Opens `interface` with nanosecond timestamps, the options' snaplen, buffer and
    /// promiscuity, and compiles and sets its filter. A missing interface, missing privileges
    /// or a filter that does not compile are errors that say so.
    pub fn open(interface: &str, options: &LiveOptions) -> Result<LiveCapture, LiveError> {
        options.validate()?;
        let device = pcap::Device::list()
            .map_err(|e| open_error(interface, e))?
            .into_iter()
            .find(|d| d.name == interface)
            .ok_or_else(|| LiveError::Open {
                interface: interface.to_owned(),
                reason: "no such interface (nta-cli capture --list shows them)".into(),
            })?;
        let as_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let mut cap = pcap::Capture::from_device(device)
            .map_err(|e| open_error(interface, e))?
            .precision(pcap::Precision::Nano)
            .snaplen(as_i32(options.snaplen))
            .buffer_size(as_i32(options.buffer_size))
            .promisc(options.promisc)
            .timeout(as_i32(options.poll_ms))
            .open()
            .map_err(|e| open_error(interface, e))?
            // Non-blocking: with TPACKET_V3 a blocking read may never return on a quiet link
            // (the kernel's timer retires only blocks that hold packets), and a stop must be
            // seen; next_packet waits itself, in short sleeps, up to the poll interval.
            .setnonblock()
            .map_err(|e| open_error(interface, e))?;
        if let Some(expression) = &options.filter {
            cap.filter(expression, true)
                .map_err(|e| LiveError::Filter { expression: expression.clone(), reason: e.to_string() })?;
        }
        let link_type = LinkType(u16::try_from(cap.get_datalink().0).unwrap_or(u16::MAX));
        Ok(LiveCapture {
            cap,
            interface: interface.to_owned(),
            link_type,
            snaplen: options.snaplen,
            poll: std::time::Duration::from_millis(u64::from(options.poll_ms)),
            buf: Vec::with_capacity(options.snaplen as usize),
            last: (0, 0, 0),
            totals: LiveStats::default(),
        })
    }

    /// The interface's name.
    pub fn interface(&self) -> &str {
        &self.interface
    }
}

impl PacketSource for LiveCapture {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, LiveError> {
        // Wait for a packet in sleeps of 50 µs doubling to 2 ms, at most the poll interval (a
        // busy ring never sleeps). The packet is copied out of the ring into a buffer of our
        // own (one copy, no allocation once the buffer has grown) so the wait can loop.
        let began = std::time::Instant::now();
        let mut nap = std::time::Duration::from_micros(50);
        let (ts_ns, orig_len) = loop {
            match self.cap.next_packet() {
                Ok(p) => {
                    self.buf.clear();
                    self.buf.extend_from_slice(p.data);
                    // With nanosecond precision libpcap puts nanoseconds in tv_usec. (The
                    // conversions are no-ops where `time_t` is 64-bit, not everywhere.)
                    #[allow(clippy::useless_conversion)]
                    let ts = i64::from(p.header.ts.tv_sec)
                        .saturating_mul(1_000_000_000)
                        .saturating_add(i64::from(p.header.ts.tv_usec));
                    break (ts, p.header.len);
                }
                Err(pcap::Error::TimeoutExpired) if began.elapsed() < self.poll => {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(std::time::Duration::from_millis(2));
                }
                Err(pcap::Error::TimeoutExpired) => return Ok(None),
                Err(e) => return Err(LiveError::Capture { interface: self.interface.clone(), reason: e.to_string() }),
            }
        };
        Ok(Some(RawPacket { ts_ns, orig_len, data: &self.buf }))
    }

    fn link_type(&self) -> LinkType {
        self.link_type
    }

    fn snaplen(&self) -> u32 {
        self.snaplen
    }

    fn stats(&mut self) -> Result<LiveStats, LiveError> {
        let s = self
            .cap
            .stats()
            .map_err(|e| LiveError::Capture { interface: self.interface.clone(), reason: e.to_string() })?;
        // Accumulate the 32-bit counters across wrap-around.
        let (r, d, i) = self.last;
        self.totals.received += u64::from(s.received.wrapping_sub(r));
        self.totals.dropped_kernel += u64::from(s.dropped.wrapping_sub(d));
        self.totals.dropped_interface += u64::from(s.if_dropped.wrapping_sub(i));
        self.last = (s.received, s.dropped, s.if_dropped);
        Ok(self.totals)
    }
}

/// Every interface libpcap can capture on.
pub fn interfaces() -> Result<Vec<InterfaceInfo>, LiveError> {
    let list = pcap::Device::list().map_err(|e| LiveError::Open { interface: "*".into(), reason: e.to_string() })?;
    Ok(list
        .into_iter()
        .map(|d| InterfaceInfo {
            name: d.name,
            description: d.desc,
            addresses: d.addresses.iter().map(|a| a.addr).collect(),
            up: d.flags.is_up(),
            running: d.flags.is_running(),
            loopback: d.flags.is_loopback(),
        })
        .collect())
}
