//! pcapng block framing: one block at a time ([`CaptureReader`]'s `step_ng`), interface
//! descriptions and their timestamp options.

use super::{
    BOM, CaptureReader, EPB, IDB, Interface, MAX_BLOCK, Meta, Mode, PB, SHB, SPB, Step, TsResolution, clamp_ns, u16_at,
    u32_at,
};
use crate::{Error, LinkType, ReadStats, Warning};

impl CaptureReader {
    /// One pcapng block: a packet, or a block that describes the section or an interface.
    pub(super) fn step_ng(&mut self, big_endian: bool, first_iface: usize) -> Result<Step, Error> {
        if !self.fill(8)? {
            return Ok(self.cut_short(8));
        }
        let offset = self.win.offset();
        let raw_type = u32_at(self.win.available(), 0, false);
        let (block_type, big_endian) = if raw_type == SHB {
            if !self.fill(12)? {
                return Ok(self.cut_short(12));
            }
            match u32_at(self.win.available(), 8, false) {
                BOM => (SHB, false),
                b if b == BOM.swap_bytes() => (SHB, true),
                _ => {
                    return Err(Error::CorruptBlock {
                        what: "pcapng section header",
                        offset,
                        reason: "bad byte-order magic",
                    });
                }
            }
        } else {
            (if big_endian { raw_type.swap_bytes() } else { raw_type }, big_endian)
        };
        let len = u32_at(self.win.available(), 4, big_endian);
        let bad_len = |reason| Error::CorruptLength { what: "pcapng block", offset, len: u64::from(len), reason };
        if len < 12 {
            return Err(bad_len("shorter than the 12-byte minimum"));
        }
        if !len.is_multiple_of(4) {
            return Err(bad_len("not a multiple of 4"));
        }
        if u64::from(len) > MAX_BLOCK {
            return Err(bad_len("larger than 128 MiB"));
        }
        let len = len as usize;
        if !self.fill(len)? {
            return Ok(self.cut_short(len as u64));
        }
        let block = self.win.available().get(..len).unwrap_or_default();
        if u32_at(block, len - 4, big_endian) as usize != len {
            return Err(Error::CorruptBlock {
                what: "pcapng block",
                offset,
                reason: "trailing length differs from leading length",
            });
        }
        match block_type {
            SHB => {
                if pcap_parser::pcapng::parse_sectionheaderblock(block).is_err() {
                    return Err(Error::CorruptBlock { what: "pcapng section header", offset, reason: "unreadable" });
                }
                self.stats.sections += 1;
                self.mode = Mode::Ng { big_endian, section_first_iface: self.interfaces.len() };
                Ok(Step::Skip(len))
            }
            IDB => {
                add_interface(&mut self.interfaces, &mut self.stats, block, big_endian, offset);
                Ok(Step::Skip(len))
            }
            EPB | PB => {
                if len < 32 {
                    return Err(Error::CorruptBlock {
                        what: "pcapng packet block",
                        offset,
                        reason: "shorter than its fixed fields",
                    });
                }
                let if_id = if block_type == EPB {
                    u32_at(block, 8, big_endian)
                } else {
                    u32::from(u16_at(block, 8, big_endian))
                };
                let ticks = (u64::from(u32_at(block, 12, big_endian)) << 32) | u64::from(u32_at(block, 16, big_endian));
                let caplen = u32_at(block, 20, big_endian) as usize;
                let orig_len = u32_at(block, 24, big_endian);
                if caplen > len - 32 {
                    return Err(Error::CorruptBlock {
                        what: "pcapng packet block",
                        offset,
                        reason: "captured length exceeds the block",
                    });
                }
                let index = first_iface + if_id as usize;
                let Some(iface) = self.interfaces.get(index) else {
                    self.stats.warn(Warning::UnknownInterface { offset, interface: if_id });
                    return Ok(Step::Skip(len));
                };
                let ns = iface.resolution.ticks_to_ns(ticks) + i128::from(iface.ts_offset_s) * 1_000_000_000;
                let (ts_ns, saturated) = clamp_ns(ns);
                self.stats.ts_out_of_range += u64::from(saturated);
                Ok(Step::Packet(Meta {
                    ts_ns,
                    interface: index as u32,
                    link_type: iface.link_type,
                    orig_len,
                    data_start: 28,
                    data_end: 28 + caplen,
                    block_len: len,
                }))
            }
            SPB => {
                let Some(iface) = self.interfaces.get(first_iface) else {
                    self.stats.warn(Warning::UnknownInterface { offset, interface: 0 });
                    return Ok(Step::Skip(len));
                };
                let orig_len = u32_at(block, 8, big_endian);
                let mut caplen = (orig_len as usize).min(len - 16);
                if iface.snaplen > 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                Ok(Step::Packet(Meta {
                    // A Simple Packet Block has no timestamp: it inherits the previous packet's.
                    ts_ns: self.last_ts_ns,
                    interface: first_iface as u32,
                    link_type: iface.link_type,
                    orig_len,
                    data_start: 12,
                    data_end: 12 + caplen,
                    block_len: len,
                }))
            }
            _ => Ok(Step::Skip(len)),
        }
    }
}

fn add_interface(interfaces: &mut Vec<Interface>, stats: &mut ReadStats, block: &[u8], big_endian: bool, offset: u64) {
    let section = stats.sections.saturating_sub(1);
    let parsed = if big_endian {
        pcap_parser::pcapng::parse_interfacedescriptionblock_be(block)
    } else {
        pcap_parser::pcapng::parse_interfacedescriptionblock_le(block)
    };
    let (link_type, snaplen) = match parsed {
        Ok((_, idb)) => (LinkType(idb.linktype.0 as u16), idb.snaplen),
        Err(_) => {
            stats.warn(Warning::BadInterfaceOptions { offset });
            (LinkType(u16_at(block, 8, big_endian)), u32_at(block, 12, big_endian))
        }
    };
    // if_tsresol and if_tsoffset are read here: pcap-parser 0.17 decodes if_tsoffset as
    // little-endian whatever the section's byte order.
    let (tsresol, ts_offset_s) = timestamp_options(block, big_endian);
    let resolution = TsResolution::from_option(tsresol).unwrap_or_else(|| {
        stats.warn(Warning::BadTsResolution { offset, value: tsresol });
        TsResolution::Pow10(6)
    });
    interfaces.push(Interface { section, link_type, snaplen, resolution, ts_offset_s });
}

/// Walks an IDB's options for `if_tsresol` (9) and `if_tsoffset` (14); defaults 6 and 0.
fn timestamp_options(block: &[u8], big_endian: bool) -> (u8, i64) {
    let (mut tsresol, mut tsoffset) = (6u8, 0i64);
    let end = block.len().saturating_sub(4);
    let mut pos = 16;
    while pos + 4 <= end {
        let code = u16_at(block, pos, big_endian);
        let len = usize::from(u16_at(block, pos + 2, big_endian));
        let value = block.get(pos + 4..(pos + 4 + len).min(end)).unwrap_or_default();
        match (code, value.len()) {
            (0, _) => break,
            (9, 1..) => tsresol = value.first().copied().unwrap_or(6),
            (14, 8..) => {
                let bytes: [u8; 8] = value.get(..8).and_then(|v| v.try_into().ok()).unwrap_or_default();
                tsoffset = if big_endian { i64::from_be_bytes(bytes) } else { i64::from_le_bytes(bytes) };
            }
            _ => {}
        }
        pos += 4 + len.div_ceil(4) * 4;
    }
    (tsresol, tsoffset)
}
