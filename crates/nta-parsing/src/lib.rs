//! Panic-free decoding of captured frames into compact, owned, `Copy` summaries.
//!
//! The principal types:
//! - [`PacketSummary`] — what one frame contains: link layer and VLAN tags, [`Network`] (ARP,
//!   IPv4, IPv6), IP addresses and fragmentation ([`IpSummary`]), [`Transport`] (TCP with
//!   flags, UDP, ICMP/ICMPv6, tunnels) and an application hint [`App`] (DNS, TLS ClientHello
//!   SNI, HTTP request method and Host). It owns no heap memory: decoding allocates nothing.
//! - [`DecodeError`] — a malformed or truncated layer: the [`Layer`], its offset in the frame
//!   and what was wrong. A summary always keeps everything decoded before the error.
//! - [`Census`] — counts of protocols, application hints and errors per layer over many
//!   summaries (what `nta-cli inspect` prints).
//!
//! Link types: Ethernet (802.1Q / 802.1ad / QinQ, stacked tags), Linux SLL and SLL2, raw IP
//! (101, 12, 14, 228, 229), BSD null/loopback (0, 108; either byte order). Other link types
//! are counted as unsupported, not as errors.
//!
//! ```
//! # fn main() -> Result<(), nta_capture::Error> {
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/sample.pcap");
//! let mut reader = nta_capture::CaptureReader::open(path)?;
//! let mut census = nta_parsing::Census::default();
//! while let Some(packet) = reader.next_packet()? {
//!     let summary = nta_parsing::decode(&packet);
//!     census.add(&summary);
//! }
//! println!("{} TCP SYNs", census.tcp_syn);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod app;
mod census;
mod decode;
mod error;
mod summary;
mod tunnel;

pub use crate::{
    app::{
        DnsSummary, DnsTransport, HttpMethod, HttpSummary, NameStats, TextRef, TlsSummary, client_hello_server_name,
        dns_question_name, domain_hash, label_entropy,
    },
    census::{Census, census_of, census_of_layer},
    decode::{MAX_ENCAP_DEPTH, decode, decode_frame, decode_into, decode_with, link_type_decoded},
    error::{DecodeError, DecodeErrorKind, Layer},
    summary::{
        App, ArpSummary, Fragment, IcmpSummary, IpSummary, Network, PacketSummary, TcpFlags, TcpSummary, Transport,
        UdpSummary, VlanTags,
    },
    tunnel::{Encapsulation, OuterTunnel, Tunnel, TunnelLayer, TunnelSet},
};
