//! [`LiveCapture`] over libpcap (the `pcap` crate).

use crate::{InterfaceInfo, LiveError, LiveOptions, LiveStats, PacketSource, RawPacket};
use nta_capture::LinkType;

/// One opened interface and its counters as last read.
struct One {
    cap: pcap::Capture<pcap::Active>,
    interface: String,
    /// libpcap's 32-bit counters as last read.
    last: (u32, u32, u32),
}

/// One interface or several, opened: lends packets (several: taken in turn, each in its
/// kernel's time order) and counts drops.
pub struct LiveCapture {
    ones: Vec<One>,
    name: String,
    link_type: LinkType,
    snaplen: u32,
    /// The longest wait in one `next_packet`.
    poll: std::time::Duration,
    /// The last packet, copied out of the ring.
    buf: Vec<u8>,
    /// The interface to try first next time (round robin).
    next: usize,
    totals: LiveStats,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture").field("interfaces", &self.name).field("link_type", &self.link_type).finish()
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

/// Opens one interface: nanosecond timestamps, the options' snaplen, ring and promiscuity, its
/// filter compiled and set, non-blocking.
fn open_one(interface: &str, options: &LiveOptions) -> Result<One, LiveError> {
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
        // Non-blocking: with TPACKET_V3 a blocking read may never return on a quiet link (the
        // kernel's timer retires only blocks that hold packets), and a stop must be seen;
        // next_packet waits itself, in short sleeps, up to the poll interval.
        .setnonblock()
        .map_err(|e| open_error(interface, e))?;
    if let Some(expression) = &options.filter {
        cap.filter(expression, true)
            .map_err(|e| LiveError::Filter { expression: expression.clone(), reason: e.to_string() })?;
    }
    Ok(One { cap, interface: interface.to_owned(), last: (0, 0, 0) })
}

impl LiveCapture {
    /// Opens `interface`. A missing interface, missing privileges or a filter that does not
    /// compile are errors that say so.
    pub fn open(interface: &str, options: &LiveOptions) -> Result<LiveCapture, LiveError> {
        LiveCapture::open_many(&[interface.to_owned()], options)
    }

    /// Opens several interfaces as one capture (the same filter on each); they must share a
    /// link type (`any` captures every interface at once whatever theirs).
    pub fn open_many(interfaces: &[String], options: &LiveOptions) -> Result<LiveCapture, LiveError> {
        options.validate()?;
        if interfaces.is_empty() {
            return Err(LiveError::Options { reason: "no interface".into() });
        }
        let ones = interfaces.iter().map(|i| open_one(i, options)).collect::<Result<Vec<One>, LiveError>>()?;
        let link = |o: &One| LinkType(u16::try_from(o.cap.get_datalink().0).unwrap_or(u16::MAX));
        let link_type = ones.first().map(link).unwrap_or(LinkType::ETHERNET);
        if let Some(other) = ones.iter().find(|o| link(o) != link_type) {
            return Err(LiveError::Options {
                reason: format!(
                    "{} and {} have different link types ({} and {}): capture on `any` instead",
                    interfaces.first().map_or("", String::as_str),
                    other.interface,
                    link_type.0,
                    link(other).0
                ),
            });
        }
        Ok(LiveCapture {
            ones,
            name: interfaces.join(","),
            link_type,
            snaplen: options.snaplen,
            poll: std::time::Duration::from_millis(u64::from(options.poll_ms)),
            buf: Vec::with_capacity(options.snaplen as usize),
            next: 0,
            totals: LiveStats::default(),
        })
    }

    /// The interface's name (several: joined by commas).
    pub fn interface(&self) -> &str {
        &self.name
    }
}

impl PacketSource for LiveCapture {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, LiveError> {
        // Take a packet from the interfaces in turn; when none has one, sleep 50 µs doubling
        // to 2 ms, at most the poll interval (a busy ring never sleeps). The packet is copied
        // out of the ring into a buffer of our own (one copy, no allocation once the buffer has
        // grown) so the wait can loop.
        let began = std::time::Instant::now();
        let mut nap = std::time::Duration::from_micros(50);
        let n = self.ones.len();
        let (ts_ns, orig_len) = 'found: loop {
            for k in 0..n {
                let i = (self.next + k) % n;
                let Some(one) = self.ones.get_mut(i) else { continue };
                match one.cap.next_packet() {
                    Ok(p) => {
                        self.buf.clear();
                        self.buf.extend_from_slice(p.data);
                        // With nanosecond precision libpcap puts nanoseconds in tv_usec. (The
                        // conversions are no-ops where `time_t` is 64-bit, not everywhere.)
                        #[allow(clippy::useless_conversion)]
                        let ts = i64::from(p.header.ts.tv_sec)
                            .saturating_mul(1_000_000_000)
                            .saturating_add(i64::from(p.header.ts.tv_usec));
                        self.next = i + 1;
                        break 'found (ts, p.header.len);
                    }
                    Err(pcap::Error::TimeoutExpired) => {}
                    Err(e) => {
                        return Err(LiveError::Capture { interface: one.interface.clone(), reason: e.to_string() });
                    }
                }
            }
            if began.elapsed() >= self.poll {
                return Ok(None);
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(std::time::Duration::from_millis(2));
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
        for one in &mut self.ones {
            let s = one
                .cap
                .stats()
                .map_err(|e| LiveError::Capture { interface: one.interface.clone(), reason: e.to_string() })?;
            // Accumulate the 32-bit counters across wrap-around.
            let (r, d, i) = one.last;
            self.totals.received += u64::from(s.received.wrapping_sub(r));
            self.totals.dropped_kernel += u64::from(s.dropped.wrapping_sub(d));
            self.totals.dropped_interface += u64::from(s.if_dropped.wrapping_sub(i));
            one.last = (s.received, s.dropped, s.if_dropped);
        }
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
