//! [`PcapWriter`]: writes legacy pcap files (fixtures, carved evidence, synthetic traffic).

use crate::LinkType;
use std::io::{self, Write};

/// Writes a little-endian legacy pcap stream, microsecond or nanosecond precision.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    nano: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header.
    pub fn new(mut out: W, link_type: LinkType, snaplen: u32, nano: bool) -> io::Result<PcapWriter<W>> {
        let magic: u32 = if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut hdr = [0u8; 24];
        hdr[0..4].copy_from_slice(&magic.to_le_bytes());
        hdr[4..6].copy_from_slice(&2u16.to_le_bytes());
        hdr[6..8].copy_from_slice(&4u16.to_le_bytes());
        hdr[16..20].copy_from_slice(&snaplen.to_le_bytes());
        hdr[20..24].copy_from_slice(&u32::from(link_type.0).to_le_bytes());
        out.write_all(&hdr)?;
        Ok(PcapWriter { out, nano })
    }

    /// Writes one record. `ts_ns` must not be negative; `orig_len` below `data.len()` is raised.
    pub fn write_packet(&mut self, ts_ns: i64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let ts = u64::try_from(ts_ns).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "negative timestamp"))?;
        let sec = u32::try_from(ts / 1_000_000_000)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "timestamp beyond 2106"))?;
        let frac = ts % 1_000_000_000;
        let frac = if self.nano { frac } else { frac / 1_000 } as u32;
        let caplen =
            u32::try_from(data.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let mut hdr = [0u8; 16];
        hdr[0..4].copy_from_slice(&sec.to_le_bytes());
        hdr[4..8].copy_from_slice(&frac.to_le_bytes());
        hdr[8..12].copy_from_slice(&caplen.to_le_bytes());
        hdr[12..16].copy_from_slice(&orig_len.max(caplen).to_le_bytes());
        self.out.write_all(&hdr)?;
        self.out.write_all(data)
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
