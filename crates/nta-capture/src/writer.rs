//! Writers: [`PcapWriter`] (legacy pcap), [`PcapngWriter`] (one section, one interface) and
//! [`CaptureWriter`], either of them chosen by [`WriteFormat`] (fixtures, carved evidence,
//! synthetic traffic).

use crate::LinkType;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn caplen_of(data: &[u8]) -> io::Result<u32> {
    u32::try_from(data.len()).map_err(|_| invalid("packet too large"))
}

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
        let ts = u64::try_from(ts_ns).map_err(|_| invalid("negative timestamp"))?;
        let sec = u32::try_from(ts / 1_000_000_000).map_err(|_| invalid("timestamp beyond 2106"))?;
        let frac = ts % 1_000_000_000;
        let frac = if self.nano { frac } else { frac / 1_000 } as u32;
        let caplen = caplen_of(data)?;
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

/// Writes a little-endian pcapng stream: one Section Header Block, one Interface Description
/// Block and one Enhanced Packet Block per packet. With `nano` the interface declares
/// `if_tsresol = 9` (nanoseconds); otherwise it uses the default microseconds.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    nano: bool,
}

const PAD: [u8; 4] = [0; 4];

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header (with `application` as `shb_userappl` when not empty) and the
    /// interface description.
    pub fn new(
        mut out: W,
        link_type: LinkType,
        snaplen: u32,
        nano: bool,
        application: &str,
    ) -> io::Result<PcapngWriter<W>> {
        // Section Header Block.
        let app = application.as_bytes();
        let app_len = u16::try_from(app.len()).map_err(|_| invalid("application name too long"))?;
        let opts_len = if app.is_empty() { 0 } else { 4 + app.len() + pad4(app.len()) + 4 };
        let shb_len = u32::try_from(28 + opts_len).map_err(|_| invalid("application name too long"))?;
        out.write_all(&0x0A0D_0D0Au32.to_le_bytes())?;
        out.write_all(&shb_len.to_le_bytes())?;
        out.write_all(&0x1A2B_3C4Du32.to_le_bytes())?;
        out.write_all(&1u16.to_le_bytes())?;
        out.write_all(&0u16.to_le_bytes())?;
        out.write_all(&(-1i64).to_le_bytes())?; // section length unknown
        if !app.is_empty() {
            out.write_all(&4u16.to_le_bytes())?; // shb_userappl
            out.write_all(&app_len.to_le_bytes())?;
            out.write_all(app)?;
            out.write_all(PAD.get(..pad4(app.len())).unwrap_or_default())?;
            out.write_all(&[0; 4])?; // opt_endofopt
        }
        out.write_all(&shb_len.to_le_bytes())?;
        // Interface Description Block.
        let idb_len: u32 = if nano { 20 + 8 + 4 } else { 20 };
        out.write_all(&1u32.to_le_bytes())?;
        out.write_all(&idb_len.to_le_bytes())?;
        out.write_all(&link_type.0.to_le_bytes())?;
        out.write_all(&0u16.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        if nano {
            out.write_all(&9u16.to_le_bytes())?; // if_tsresol
            out.write_all(&1u16.to_le_bytes())?;
            out.write_all(&[9, 0, 0, 0])?;
            out.write_all(&[0; 4])?; // opt_endofopt
        }
        out.write_all(&idb_len.to_le_bytes())?;
        Ok(PcapngWriter { out, nano })
    }

    /// Writes one Enhanced Packet Block on interface 0. `ts_ns` must not be negative;
    /// `orig_len` below `data.len()` is raised.
    pub fn write_packet(&mut self, ts_ns: i64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let ts = u64::try_from(ts_ns).map_err(|_| invalid("negative timestamp"))?;
        let ts = if self.nano { ts } else { ts / 1_000 };
        let caplen = caplen_of(data)?;
        let pad = pad4(data.len());
        let block_len = u32::try_from(32 + data.len() + pad).map_err(|_| invalid("packet too large"))?;
        let mut hdr = [0u8; 28];
        hdr[0..4].copy_from_slice(&6u32.to_le_bytes());
        hdr[4..8].copy_from_slice(&block_len.to_le_bytes());
        // hdr[8..12]: interface 0
        hdr[12..16].copy_from_slice(&((ts >> 32) as u32).to_le_bytes());
        hdr[16..20].copy_from_slice(&(ts as u32).to_le_bytes());
        hdr[20..24].copy_from_slice(&caplen.to_le_bytes());
        hdr[24..28].copy_from_slice(&orig_len.max(caplen).to_le_bytes());
        self.out.write_all(&hdr)?;
        self.out.write_all(data)?;
        self.out.write_all(PAD.get(..pad).unwrap_or_default())?;
        self.out.write_all(&block_len.to_le_bytes())
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The container a [`CaptureWriter`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteFormat {
    /// Legacy pcap, microsecond timestamps (readable by every tool).
    Pcap,
    /// Legacy pcap, nanosecond timestamps (magic `a1b23c4d`).
    PcapNs,
    /// pcapng with nanosecond timestamps (`if_tsresol = 9`).
    Pcapng,
}

impl WriteFormat {
    /// All formats, for help texts.
    pub const ALL: [WriteFormat; 3] = [WriteFormat::Pcap, WriteFormat::PcapNs, WriteFormat::Pcapng];

    /// The name used on command lines and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            WriteFormat::Pcap => "pcap",
            WriteFormat::PcapNs => "pcap-ns",
            WriteFormat::Pcapng => "pcapng",
        }
    }

    /// The format a file name suggests: `.pcapng` (or `.ntar`) gives pcapng, anything else pcap.
    pub fn from_extension(path: &std::path::Path) -> WriteFormat {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("pcapng" | "ntar") => WriteFormat::Pcapng,
            _ => WriteFormat::Pcap,
        }
    }
}

impl fmt::Display for WriteFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A [`WriteFormat`] name that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown capture format {name:?} (expected pcap, pcap-ns or pcapng)")]
pub struct UnknownWriteFormat {
    /// What was given.
    pub name: String,
}

impl FromStr for WriteFormat {
    type Err = UnknownWriteFormat;

    fn from_str(s: &str) -> Result<WriteFormat, UnknownWriteFormat> {
        WriteFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownWriteFormat { name: s.to_owned() })
    }
}

/// A pcap or pcapng writer behind one interface.
#[derive(Debug)]
pub enum CaptureWriter<W: Write> {
    /// Legacy pcap.
    Pcap(PcapWriter<W>),
    /// pcapng.
    Pcapng(PcapngWriter<W>),
}

impl<W: Write> CaptureWriter<W> {
    /// Writes the file header(s) of `format`. `application` names the writer in pcapng.
    pub fn new(
        out: W,
        format: WriteFormat,
        link_type: LinkType,
        snaplen: u32,
        application: &str,
    ) -> io::Result<CaptureWriter<W>> {
        Ok(match format {
            WriteFormat::Pcap => CaptureWriter::Pcap(PcapWriter::new(out, link_type, snaplen, false)?),
            WriteFormat::PcapNs => CaptureWriter::Pcap(PcapWriter::new(out, link_type, snaplen, true)?),
            WriteFormat::Pcapng => {
                CaptureWriter::Pcapng(PcapngWriter::new(out, link_type, snaplen, true, application)?)
            }
        })
    }

    /// Writes one packet.
    pub fn write_packet(&mut self, ts_ns: i64, data: &[u8], orig_len: u32) -> io::Result<()> {
        match self {
            CaptureWriter::Pcap(w) => w.write_packet(ts_ns, data, orig_len),
            CaptureWriter::Pcapng(w) => w.write_packet(ts_ns, data, orig_len),
        }
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(self) -> io::Result<W> {
        match self {
            CaptureWriter::Pcap(w) => w.into_inner(),
            CaptureWriter::Pcapng(w) => w.into_inner(),
        }
    }
}
