//! [`Census`]: protocol and error counts over many [`PacketSummary`]s.

use crate::Layer;
use crate::summary::{App, Fragment, Network, PacketSummary, Transport};
use crate::tunnel::{Tunnel, TunnelLayer};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// Counts over decoded packets. Each field counts packets unless it says otherwise. Network,
/// transport and application counts are of the layer decoded ([`TunnelLayer`]): the innermost
/// packet by default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Census {
    /// Packets seen.
    pub packets: u64,
    /// Sum of original lengths.
    pub wire_bytes: u64,
    /// Frames cut by the capture's snaplen.
    pub snap_truncated: u64,
    /// Frames of a link type we do not decode.
    pub unsupported_link: u64,
    /// Frames with at least one VLAN tag.
    pub vlan_tagged: u64,
    /// ARP.
    pub arp: u64,
    /// IPv4 (outer header).
    pub ipv4: u64,
    /// IPv6 (outer header).
    pub ipv6: u64,
    /// 802.3/LLC frames.
    pub llc: u64,
    /// Other EtherTypes.
    pub other_network: u64,
    /// IP fragments (first and later).
    pub fragments: u64,
    /// IPv6 packets with extension headers.
    pub ipv6_ext: u64,
    /// TCP.
    pub tcp: u64,
    /// UDP.
    pub udp: u64,
    /// ICMP (v4).
    pub icmp: u64,
    /// ICMPv6.
    pub icmpv6: u64,
    /// ICMP / ICMPv6 error messages.
    pub icmp_errors: u64,
    /// Packets that came through at least one encapsulation (or ended in one: ESP).
    pub tunnels: u64,
    /// Packets per encapsulation ([`Tunnel`]): a packet inside VXLAN inside GRE counts for both.
    #[serde(serialize_with = "per_tunnel")]
    pub encapsulations: [u64; Tunnel::ALL.len()],
    /// Other IP protocols.
    pub other_transport: u64,
    /// TCP with SYN set (SYN-ACK included).
    pub tcp_syn: u64,
    /// TCP with SYN and ACK set.
    pub tcp_synack: u64,
    /// TCP with RST set.
    pub tcp_rst: u64,
    /// TCP with FIN set.
    pub tcp_fin: u64,
    /// DNS messages decoded (mDNS included).
    pub dns: u64,
    /// DNS queries (QR = 0).
    pub dns_queries: u64,
    /// DNS responses (QR = 1).
    pub dns_responses: u64,
    /// DNS responses with RCODE 3.
    pub dns_nxdomain: u64,
    /// mDNS messages.
    pub mdns: u64,
    /// TLS ClientHellos.
    pub tls_client_hello: u64,
    /// TLS ClientHellos with a server name.
    pub tls_sni: u64,
    /// HTTP requests.
    pub http_requests: u64,
    /// Frames with a decode error that is not a snaplen cut.
    pub malformed: u64,
    /// `malformed`, per layer.
    #[serde(serialize_with = "per_layer")]
    pub malformed_by_layer: [u64; Layer::ALL.len()],
}

/// Counts as a map from names to the non-zero counts.
fn nonzero<S: Serializer>(names: impl Iterator<Item = &'static str>, counts: &[u64], s: S) -> Result<S::Ok, S::Error> {
    let nonzero: Vec<(&str, u64)> = names.zip(counts.iter().copied()).filter(|(_, n)| *n > 0).collect();
    let mut map = s.serialize_map(Some(nonzero.len()))?;
    for (name, n) in nonzero {
        map.serialize_entry(name, &n)?;
    }
    map.end()
}

fn per_layer<S: Serializer>(counts: &[u64; Layer::ALL.len()], s: S) -> Result<S::Ok, S::Error> {
    nonzero(Layer::ALL.iter().map(|l| l.name()), counts, s)
}

fn per_tunnel<S: Serializer>(counts: &[u64; Tunnel::ALL.len()], s: S) -> Result<S::Ok, S::Error> {
    nonzero(Tunnel::ALL.iter().map(|t| t.name()), counts, s)
}

impl Census {
    /// Counts one packet.
    pub fn add(&mut self, s: &PacketSummary) {
        let inc = |b: bool| u64::from(b);
        self.packets += 1;
        self.wire_bytes += u64::from(s.wire_len);
        self.snap_truncated += inc(s.snap_truncated());
        self.unsupported_link += inc(!s.link_supported);
        self.vlan_tagged += inc(s.vlan.count > 0);
        match s.network {
            Network::None => {}
            Network::Arp(_) => self.arp += 1,
            Network::Ipv4 => self.ipv4 += 1,
            Network::Ipv6 => self.ipv6 += 1,
            Network::Llc => self.llc += 1,
            Network::Other { .. } => self.other_network += 1,
        }
        if let Some(ip) = &s.ip {
            self.fragments += inc(ip.fragment != Fragment::No);
            self.ipv6_ext += inc(ip.ext_headers > 0);
        }
        if !s.encap.kinds.is_empty() {
            self.tunnels += 1;
            s.encap.kinds.count_into(&mut self.encapsulations);
        }
        match &s.transport {
            Transport::None => {}
            Transport::Tcp(t) => {
                self.tcp += 1;
                self.tcp_syn += inc(t.flags.syn());
                self.tcp_synack += inc(t.flags.syn_ack());
                self.tcp_rst += inc(t.flags.rst());
                self.tcp_fin += inc(t.flags.fin());
            }
            Transport::Udp(_) => self.udp += 1,
            Transport::Icmp(i) => {
                if i.v6 {
                    self.icmpv6 += 1;
                } else {
                    self.icmp += 1;
                }
                self.icmp_errors += inc(i.is_error());
            }
            Transport::Tunnel(_) => {}
            Transport::Other { .. } => self.other_transport += 1,
        }
        match &s.app {
            App::None => {}
            App::Dns(d) => {
                self.dns += 1;
                self.dns_queries += inc(!d.response);
                self.dns_responses += inc(d.response);
                self.dns_nxdomain += inc(d.nxdomain());
                self.mdns += inc(d.mdns);
            }
            App::TlsClientHello(t) => {
                self.tls_client_hello += 1;
                self.tls_sni += inc(t.sni.is_some());
            }
            App::Http(_) => self.http_requests += 1,
        }
        if let Some(e) = s.malformed() {
            self.malformed += 1;
            if let Some(slot) =
                Layer::ALL.iter().position(|l| *l == e.layer).and_then(|i| self.malformed_by_layer.get_mut(i))
            {
                *slot += 1;
            }
        }
    }

    /// Adds another census (for parallel or per-file counting).
    pub fn merge(&mut self, o: &Census) {
        let Census {
            packets,
            wire_bytes,
            snap_truncated,
            unsupported_link,
            vlan_tagged,
            arp,
            ipv4,
            ipv6,
            llc,
            other_network,
            fragments,
            ipv6_ext,
            tcp,
            udp,
            icmp,
            icmpv6,
            icmp_errors,
            tunnels,
            encapsulations,
            other_transport,
            tcp_syn,
            tcp_synack,
            tcp_rst,
            tcp_fin,
            dns,
            dns_queries,
            dns_responses,
            dns_nxdomain,
            mdns,
            tls_client_hello,
            tls_sni,
            http_requests,
            malformed,
            malformed_by_layer,
        } = o;
        self.packets += packets;
        self.wire_bytes += wire_bytes;
        self.snap_truncated += snap_truncated;
        self.unsupported_link += unsupported_link;
        self.vlan_tagged += vlan_tagged;
        self.arp += arp;
        self.ipv4 += ipv4;
        self.ipv6 += ipv6;
        self.llc += llc;
        self.other_network += other_network;
        self.fragments += fragments;
        self.ipv6_ext += ipv6_ext;
        self.tcp += tcp;
        self.udp += udp;
        self.icmp += icmp;
        self.icmpv6 += icmpv6;
        self.icmp_errors += icmp_errors;
        self.tunnels += tunnels;
        for (a, b) in self.encapsulations.iter_mut().zip(encapsulations) {
            *a += b;
        }
        self.other_transport += other_transport;
        self.tcp_syn += tcp_syn;
        self.tcp_synack += tcp_synack;
        self.tcp_rst += tcp_rst;
        self.tcp_fin += tcp_fin;
        self.dns += dns;
        self.dns_queries += dns_queries;
        self.dns_responses += dns_responses;
        self.dns_nxdomain += dns_nxdomain;
        self.mdns += mdns;
        self.tls_client_hello += tls_client_hello;
        self.tls_sni += tls_sni;
        self.http_requests += http_requests;
        self.malformed += malformed;
        for (a, b) in self.malformed_by_layer.iter_mut().zip(malformed_by_layer) {
            *a += b;
        }
    }
}

/// Reads every packet of `reader`, decoding each into the census. Returns the census and the
/// error that stopped reading, if any (packets before it are counted).
pub fn census_of(reader: &mut nta_capture::CaptureReader) -> (Census, Option<nta_capture::Error>) {
    census_of_layer(reader, TunnelLayer::Inner)
}

/// [`census_of`], counting the given layer of tunnelled packets.
pub fn census_of_layer(
    reader: &mut nta_capture::CaptureReader,
    layer: TunnelLayer,
) -> (Census, Option<nta_capture::Error>) {
    let mut census = Census::default();
    loop {
        match reader.next_packet() {
            Ok(Some(packet)) => census.add(&crate::decode_with(&packet, layer)),
            Ok(None) => return (census, None),
            Err(e) => return (census, Some(e)),
        }
    }
}
