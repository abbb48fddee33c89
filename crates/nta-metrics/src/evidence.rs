//! [`Evidence`]: who did what to whom in one window — the per-host accounting that lets
//! detection name an attack and its hosts. Every list holds at most [`EVIDENCE_LIST_LEN`]
//! entries, strongest first, and only entries above a floor that ordinary traffic rarely
//! reaches, so a quiet window carries empty lists. Counts are not scaled by sampling.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// The most entries of each evidence list.
pub const EVIDENCE_LIST_LEN: usize = 10;

/// An Ethernet address, written `aa:bb:cc:dd:ee:ff`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl std::str::FromStr for MacAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<MacAddr, String> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut out {
            let p = parts.next().ok_or_else(|| format!("MAC address {s:?}: expected six hex bytes"))?;
            *b = u8::from_str_radix(p, 16).map_err(|_| format!("MAC address {s:?}: {p:?} is not a hex byte"))?;
        }
        if parts.next().is_some() {
            return Err(format!("MAC address {s:?}: expected six hex bytes"));
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MacAddr, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A host that opened flows to many ports or hosts (scan evidence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScannerEvidence {
    /// The initiator.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ip: IpAddr,
    /// Distinct (host, protocol, port) it opened flows to.
    pub probes: u64,
    /// Distinct hosts it opened flows to.
    pub hosts: u64,
    /// The host it probed on the most distinct ports.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub top_host: Option<IpAddr>,
    /// Distinct ports it opened flows to on `top_host`.
    pub top_host_ports: u64,
    /// The port it opened flows to on the most hosts (0: ICMP echo).
    pub top_port: u16,
    /// Distinct hosts it opened flows to on `top_port`.
    pub top_port_hosts: u64,
    /// Connection attempts: TCP SYNs it sent (without ACK).
    pub syns: u64,
    /// SYN-ACKs it received: attempts a service accepted.
    pub answered: u64,
    /// RSTs and ICMP unreachables it received: attempts refused.
    pub refused: u64,
    /// Distinct addresses it asked for by ARP (an ARP ping sweep).
    pub arp_targets: u64,
}

/// A source and what it sent a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SourceFlows {
    /// The initiator.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ip: IpAddr,
    /// Flows it opened to the target in the window.
    pub flows: u64,
    /// SYNs, UDP packets and echo requests it sent the target.
    pub packets: u64,
}

/// A host that received a lot (flood evidence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetEvidence {
    /// The receiver.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ip: IpAddr,
    /// Packets it received.
    pub packets: u64,
    /// Bytes it received.
    pub bytes: u64,
    /// TCP SYNs (without ACK) it received.
    pub syns: u64,
    /// SYN-ACKs it sent.
    pub answered: u64,
    /// Handshakes to it that completed (the initiator's ACK after its SYN-ACK).
    pub completed: u64,
    /// UDP packets it received.
    pub udp_packets: u64,
    /// UDP packets it sent.
    pub udp_sent: u64,
    /// ICMP/ICMPv6 echo requests it received.
    pub echo_requests: u64,
    /// Distinct hosts that opened flows to it or sent it SYNs, UDP or echo requests.
    pub sources: u64,
    /// Distinct (protocol, port) flows were opened to on it.
    pub ports: u64,
    /// The sources that sent it the most SYNs, UDP packets and echo requests (at most 5).
    pub top_sources: Vec<SourceFlows>,
}

/// Flows from one host to one service of another (brute-force evidence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionEvidence {
    /// The initiator.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub src: IpAddr,
    /// The responder.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub dst: IpAddr,
    /// IANA protocol number.
    pub proto: u8,
    /// The responder's port.
    pub port: u16,
    /// Flows opened (TCP: connection attempts).
    pub attempts: u64,
    /// TCP handshakes completed.
    pub completed: u64,
}

/// A client's DNS queries under one domain to one resolver (tunnel evidence).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsEvidence {
    /// The client.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub client: IpAddr,
    /// The resolver it asked.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub resolver: IpAddr,
    /// Hash of the domain (the names' last two labels; `nta_parsing::domain_hash`).
    pub domain_hash: u64,
    /// Queries.
    pub queries: u64,
    /// Distinct names queried.
    pub names: u64,
    /// Mean name length, characters.
    pub mean_name_len: f64,
    /// Longest name, characters.
    pub max_name_len: u64,
    /// TXT queries.
    pub txt_queries: u64,
}

/// Bytes from one host to another in full-size packets (exfiltration evidence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferEvidence {
    /// The sender.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub src: IpAddr,
    /// The receiver.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub dst: IpAddr,
    /// Bytes `src` sent `dst` in packets of at least [`crate::BULK_PACKET_BYTES`].
    pub bytes: u64,
    /// Bytes `dst` sent back in such packets.
    pub reverse_bytes: u64,
    /// Packets `dst` sent back (any size).
    pub reverse_packets: u64,
}

/// One MAC address claiming an IPv4 address that another MAC also claimed in the window, or
/// that another MAC claimed first in the capture (ARP spoofing evidence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArpEvidence {
    /// The contested address.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ip: Ipv4Addr,
    /// The claiming MAC.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub mac: MacAddr,
    /// ARP replies with this pair as sender.
    pub replies: u64,
    /// ARP requests with this pair as sender.
    pub requests: u64,
    /// The MAC first seen claiming the address (in this capture): the presumed owner.
    pub owner: bool,
    /// The address this MAC claimed first (its own, presumably), when another.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub mac_home: Option<Ipv4Addr>,
}

/// The window's per-host evidence (docs/METRICS.md, "Evidence").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// Hosts that opened flows to at least 10 distinct (host, port) or asked ARP for 10 addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scanners: Vec<ScannerEvidence>,
    /// Hosts that received at least 20 SYNs, 100 UDP packets or 20 echo requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetEvidence>,
    /// (source, destination, port) with at least 3 flows opened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnectionEvidence>,
    /// (client, resolver, domain) with at least 5 queries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<DnsEvidence>,
    /// (sender, receiver) with at least 100 kB in full-size packets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<TransferEvidence>,
    /// Addresses claimed by more than one MAC, or by a MAC other than the first that claimed them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arp: Vec<ArpEvidence>,
    /// Packets or flows not accounted per host because a table reached its bound
    /// (docs/LIMITS.md): the lists may then miss a host.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub untracked: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Evidence {
    /// Adds `other` (another window's evidence) to this, entry by entry: counts are summed —
    /// distinct counts too, so over several windows they are upper bounds — and lists are not
    /// truncated (the evidence of a span of windows, which the rules read at fine grain).
    pub fn merge(&mut self, other: &Evidence) {
        for o in &other.scanners {
            match self.scanners.iter_mut().find(|s| s.ip == o.ip) {
                Some(s) => {
                    s.probes += o.probes;
                    s.hosts += o.hosts;
                    if s.top_host == o.top_host {
                        s.top_host_ports += o.top_host_ports;
                    } else if o.top_host_ports > s.top_host_ports {
                        (s.top_host, s.top_host_ports) = (o.top_host, o.top_host_ports);
                    }
                    if s.top_port == o.top_port {
                        s.top_port_hosts += o.top_port_hosts;
                    } else if o.top_port_hosts > s.top_port_hosts {
                        (s.top_port, s.top_port_hosts) = (o.top_port, o.top_port_hosts);
                    }
                    s.syns += o.syns;
                    s.answered += o.answered;
                    s.refused += o.refused;
                    s.arp_targets += o.arp_targets;
                }
                None => self.scanners.push(o.clone()),
            }
        }
        for o in &other.targets {
            match self.targets.iter_mut().find(|t| t.ip == o.ip) {
                Some(t) => {
                    t.packets += o.packets;
                    t.bytes += o.bytes;
                    t.syns += o.syns;
                    t.answered += o.answered;
                    t.completed += o.completed;
                    t.udp_packets += o.udp_packets;
                    t.udp_sent += o.udp_sent;
                    t.echo_requests += o.echo_requests;
                    t.sources = t.sources.max(o.sources);
                    t.ports = t.ports.max(o.ports);
                    for src in &o.top_sources {
                        match t.top_sources.iter_mut().find(|x| x.ip == src.ip) {
                            Some(x) => {
                                x.flows += src.flows;
                                x.packets += src.packets;
                            }
                            None => t.top_sources.push(src.clone()),
                        }
                    }
                    t.top_sources.sort_by(|a, b| b.packets.cmp(&a.packets).then(a.ip.cmp(&b.ip)));
                }
                None => self.targets.push(o.clone()),
            }
        }
        for o in &other.connections {
            let key = |c: &ConnectionEvidence| (c.src, c.dst, c.proto, c.port);
            match self.connections.iter_mut().find(|c| key(c) == key(o)) {
                Some(c) => {
                    c.attempts += o.attempts;
                    c.completed += o.completed;
                }
                None => self.connections.push(o.clone()),
            }
        }
        for o in &other.dns {
            let key = |d: &DnsEvidence| (d.client, d.resolver, d.domain_hash);
            match self.dns.iter_mut().find(|d| key(d) == key(o)) {
                Some(d) => {
                    let q = d.queries + o.queries;
                    if q > 0 {
                        d.mean_name_len =
                            (d.mean_name_len * d.queries as f64 + o.mean_name_len * o.queries as f64) / q as f64;
                    }
                    d.queries = q;
                    d.names += o.names;
                    d.max_name_len = d.max_name_len.max(o.max_name_len);
                    d.txt_queries += o.txt_queries;
                }
                None => self.dns.push(o.clone()),
            }
        }
        for o in &other.transfers {
            match self.transfers.iter_mut().find(|t| (t.src, t.dst) == (o.src, o.dst)) {
                Some(t) => {
                    t.bytes += o.bytes;
                    t.reverse_bytes += o.reverse_bytes;
                    t.reverse_packets += o.reverse_packets;
                }
                None => self.transfers.push(o.clone()),
            }
        }
        for o in &other.arp {
            match self.arp.iter_mut().find(|a| (a.ip, a.mac) == (o.ip, o.mac)) {
                Some(a) => {
                    a.replies += o.replies;
                    a.requests += o.requests;
                }
                None => self.arp.push(o.clone()),
            }
        }
        self.untracked += other.untracked;
    }

    /// Whether `ip` appears anywhere in the evidence (as a scanner, a target or one of its
    /// sources, either end of a connection or transfer, a DNS client or resolver, an ARP claim
    /// or its MAC's home address).
    pub fn mentions(&self, ip: IpAddr) -> bool {
        self.scanners.iter().any(|s| s.ip == ip || s.top_host == Some(ip))
            || self.targets.iter().any(|t| t.ip == ip || t.top_sources.iter().any(|s| s.ip == ip))
            || self.connections.iter().any(|c| c.src == ip || c.dst == ip)
            || self.dns.iter().any(|d| d.client == ip || d.resolver == ip)
            || self.transfers.iter().any(|t| t.src == ip || t.dst == ip)
            || self.arp.iter().any(|a| IpAddr::V4(a.ip) == ip || a.mac_home.map(IpAddr::V4) == Some(ip))
    }

    /// Whether every list is empty.
    pub fn is_empty(&self) -> bool {
        self.scanners.is_empty()
            && self.targets.is_empty()
            && self.connections.is_empty()
            && self.dns.is_empty()
            && self.transfers.is_empty()
            && self.arp.is_empty()
    }
}
