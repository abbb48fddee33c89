//! Capture format detection from the magic number (never from the file name).

use serde::Serialize;
use std::fmt;

/// Byte order of a legacy pcap file or of one pcapng section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ByteOrder {
    /// Little endian.
    Little,
    /// Big endian.
    Big,
}

/// Timestamp precision of a legacy pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TsPrecision {
    /// Microseconds (magic `a1b2c3d4`).
    Micro,
    /// Nanoseconds (magic `a1b23c4d`).
    Nano,
}

/// Compression wrapped around the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Plain file.
    None,
    /// gzip (one or more members), detected by its `1f 8b` magic.
    Gzip,
}

/// The container format of a capture, as detected from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CaptureFormat {
    /// Legacy libpcap format.
    Pcap {
        /// Byte order of the header and record headers.
        byte_order: ByteOrder,
        /// Timestamp precision.
        precision: TsPrecision,
        /// Kuznetzov's "modified" format (magic `a1b2cd34`, 24-byte record headers).
        modified: bool,
        /// Compression around the file.
        compression: Compression,
    },
    /// pcapng; each section carries its own byte order (that of the first is given here).
    Pcapng {
        /// Byte order of the first section.
        byte_order: ByteOrder,
        /// Compression around the file.
        compression: Compression,
    },
}

impl CaptureFormat {
    /// Short name such as `pcap`, `pcap-nsec-be`, `pcapng`, `pcapng.gz`.
    pub fn short_name(&self) -> String {
        let (mut name, compression) = match *self {
            CaptureFormat::Pcap { byte_order, precision, modified, compression } => {
                let mut s = String::from("pcap");
                if modified {
                    s.push_str("-modified");
                }
                if precision == TsPrecision::Nano {
                    s.push_str("-nsec");
                }
                if byte_order == ByteOrder::Big {
                    s.push_str("-be");
                }
                (s, compression)
            }
            CaptureFormat::Pcapng { byte_order, compression } => {
                let mut s = String::from("pcapng");
                if byte_order == ByteOrder::Big {
                    s.push_str("-be");
                }
                (s, compression)
            }
        };
        if compression == Compression::Gzip {
            name.push_str(".gz");
        }
        name
    }
}

impl fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short_name())
    }
}

/// What the first bytes of a file look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Magic {
    Pcap {
        byte_order: ByteOrder,
        precision: TsPrecision,
        modified: bool,
    },
    Pcapng,
    Gzip,
    /// Something we recognise but do not read; the name goes into the error.
    Other(&'static str),
}

/// Classifies a file from its first bytes (`head` may be shorter than 4 bytes).
pub(crate) fn sniff(head: &[u8]) -> Magic {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Magic::Gzip;
    }
    let Some(first4) = head.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()) else {
        return Magic::Other(if head.is_empty() { "an empty file" } else { "a file shorter than any capture header" });
    };
    let le = u32::from_le_bytes(first4);
    use ByteOrder::{Big, Little};
    use TsPrecision::{Micro, Nano};
    match le {
        0xa1b2_c3d4 => Magic::Pcap { byte_order: Little, precision: Micro, modified: false },
        0xd4c3_b2a1 => Magic::Pcap { byte_order: Big, precision: Micro, modified: false },
        0xa1b2_3c4d => Magic::Pcap { byte_order: Little, precision: Nano, modified: false },
        0x4d3c_b2a1 => Magic::Pcap { byte_order: Big, precision: Nano, modified: false },
        0xa1b2_cd34 => Magic::Pcap { byte_order: Little, precision: Micro, modified: true },
        0x34cd_b2a1 => Magic::Pcap { byte_order: Big, precision: Micro, modified: true },
        0x0a0d_0d0a => Magic::Pcapng,
        _ => Magic::Other(describe_unknown(head)),
    }
}

fn describe_unknown(head: &[u8]) -> &'static str {
    const KNOWN: &[(&[u8], &str)] = &[
        (&[0x28, 0xb5, 0x2f, 0xfd], "a zstd-compressed file (decompress it first)"),
        (b"BZh", "a bzip2-compressed file (decompress it first)"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], "an xz-compressed file (decompress it first)"),
        (b"PK\x03\x04", "a zip archive"),
        (b"snoop\0\0\0", "a Solaris snoop capture (not supported)"),
        (b"XCP\0", "a NetXray/Sniffer capture (not supported)"),
        (b"\x7fELF", "an ELF executable"),
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"{", "a JSON or text file"),
        (b"<", "an XML/HTML or text file"),
    ];
    for (magic, name) in KNOWN {
        if head.starts_with(magic) {
            return name;
        }
    }
    let sample = head.get(..head.len().min(64)).unwrap_or_default();
    if !sample.is_empty() && sample.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) {
        "a text file"
    } else {
        "an unknown binary format"
    }
}
