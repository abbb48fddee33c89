//! [`LinkType`]: the data-link header type of a packet (the pcap LINKTYPE_ registry).

use serde::{Serialize, Serializer};
use std::fmt;

/// A pcap `LINKTYPE_*` value (<https://www.tcpdump.org/linktypes.html>).
///
/// Legacy pcap headers keep FCS information in the upper bits of the 32-bit field; those bits
/// are masked off (as libpcap's `LT_LINKTYPE` does, keeping the 16-bit link type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet (and 802.3 with LLC).
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP as written by some BSDs (DLT_RAW = 12).
    pub const RAW_BSD12: LinkType = LinkType(12);
    /// Raw IP as written by OpenBSD (DLT_RAW = 14).
    pub const RAW_BSD14: LinkType = LinkType(14);
    /// Raw IPv4 or IPv6, version from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// IEEE 802.11 wireless.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Builds a link type from the 32-bit field of a legacy pcap header, masking the FCS bits.
    pub fn from_header_field(value: u32) -> LinkType {
        LinkType((value & 0xFFFF) as u16)
    }

    /// The registry name without its `LINKTYPE_` prefix, when known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NULL",
            1 => "ETHERNET",
            6 => "IEEE802_5",
            9 => "PPP",
            10 => "FDDI",
            12 | 14 => "RAW",
            50 => "PPP_HDLC",
            51 => "PPP_ETHER",
            101 => "RAW",
            104 => "C_HDLC",
            105 => "IEEE802_11",
            107 => "FRELAY",
            108 => "LOOP",
            113 => "LINUX_SLL",
            119 => "IEEE802_11_PRISM",
            127 => "IEEE802_11_RADIOTAP",
            139 => "MTP2_WITH_PHDR",
            143 => "DOCSIS",
            147..=162 => "USER",
            163 => "IEEE802_11_AVS",
            165 => "BACNET_MS_TP",
            187 => "BLUETOOTH_HCI_H4",
            189 => "USB_LINUX",
            192 => "PPI",
            195 => "IEEE802_15_4_WITHFCS",
            201 => "BLUETOOTH_HCI_H4_WITH_PHDR",
            220 => "USB_LINUX_MMAPPED",
            227 => "CAN_SOCKETCAN",
            228 => "IPV4",
            229 => "IPV6",
            249 => "NETLINK",
            276 => "LINUX_SLL2",
            _ => return None,
        })
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "LINKTYPE({})", self.0),
        }
    }
}

impl Serialize for LinkType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}
