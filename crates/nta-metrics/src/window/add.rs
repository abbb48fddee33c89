//! One packet into a window: [`WindowAcc::add`] counts it, [`WindowAcc::prefetch`] asks for
//! the lines it will touch a few packets ahead.

use super::{ENTROPY_SCALE, WindowAcc, reverse_domains};
use crate::evidence::MacAddr;
use crate::hosts::{MAX_TRACKED_SNI, Opened, TcpFacts};
use nta_parsing::{App, Fragment, Network, PacketSummary, Transport};

impl WindowAcc {
    /// Adds one packet from source `source`; `opened`: the flow it opened, if any.
    #[inline]
    pub(crate) fn add(&mut self, s: &PacketSummary, source: usize, opened: Option<Opened>) {
        self.sources |= 1u64 << source.min(63);
        self.packets += 1;
        self.bytes += u64::from(s.packet_len());
        if s.snap_truncated() {
            self.truncated += 1;
        }
        if s.malformed().is_some() {
            self.malformed += 1;
        }
        if !s.link_supported {
            self.undecoded += 1;
        }
        if !s.encap.kinds.is_empty() {
            self.tunnelled += 1;
            s.encap.kinds.count_into(&mut self.encapsulations);
        }
        match s.network {
            Network::Ipv4 => self.ipv4 += 1,
            Network::Ipv6 => self.ipv6 += 1,
            Network::Arp(a) => {
                self.arp += 1;
                self.arp_replies += u64::from(a.operation == 2);
                self.hosts.arp(a.sender, MacAddr(a.sender_mac), a.operation == 2, a.target);
            }
            _ => self.other += 1,
        }
        let Some(ip) = &s.ip else { return };
        match ip.protocol {
            6 => self.tcp += 1,
            17 => self.udp += 1,
            1 | 58 => self.icmp += 1,
            _ => {}
        }
        if ip.fragment != Fragment::No {
            self.fragments += 1;
        }
        let mut tcp = None;
        let mut echo_request = false;
        let mut unreachable = false;
        let dst_port = match s.transport {
            Transport::Tcp(t) => {
                let f = t.flags;
                self.tcp_syn += u64::from(f.syn());
                self.tcp_synack += u64::from(f.syn_ack());
                self.tcp_rst += u64::from(f.rst());
                self.tcp_fin += u64::from(f.fin());
                tcp = Some(TcpFacts { syn: f.syn() && !f.ack(), syn_ack: f.syn_ack(), rst: f.rst() });
                self.src_ports.add(t.src_port, 1);
                self.dst_ports.add(t.dst_port, 1);
                Some(t.dst_port)
            }
            Transport::Udp(u) => {
                self.src_ports.add(u.src_port, 1);
                self.dst_ports.add(u.dst_port, 1);
                Some(u.dst_port)
            }
            Transport::Icmp(i) => {
                unreachable = i.is_unreachable();
                echo_request = i.is_echo_request();
                self.icmp_unreachable += u64::from(unreachable);
                self.icmp_echo += u64::from(echo_request);
                None
            }
            _ => None,
        };
        let udp = matches!(s.transport, Transport::Udp(_));
        self.hosts.packet(ip.src, ip.dst, s.packet_len(), tcp, udp, echo_request, unreachable, opened);
        match s.app {
            App::None => {}
            App::Dns(d) if !d.mdns => {
                let src_port = s.ports().map_or(0, |p| p.0);
                if !d.response && dst_port == Some(53) {
                    self.dns_queries += 1;
                    self.dns_txt += u64::from(d.qtype == Some(16));
                    if let Some(q) = d.qname {
                        self.qname_count += 1;
                        self.qname_len_sum += u64::from(q.len);
                        self.qname_len_max = self.qname_len_max.max(u64::from(q.len));
                        self.qname_entropy_fx += (f64::from(q.entropy) * ENTROPY_SCALE).round() as u64;
                        if !reverse_domains().contains(&q.domain_hash) {
                            self.hosts.dns_query(ip.src, ip.dst, (q.domain_hash, q.hash, q.len), d.qtype == Some(16));
                        }
                    }
                } else if d.response && src_port == 53 {
                    self.dns_responses += 1;
                    self.dns_nxdomain += u64::from(d.nxdomain());
                }
            }
            App::Dns(_) => {}
            App::TlsClientHello(t) => {
                self.tls_hellos += 1;
                if let Some(sni) = t.sni {
                    self.add_sni(sni.hash);
                }
            }
            App::Http(_) => self.http += 1,
        }
    }

    /// Counts the server name of a ClientHello put together from several segments (its first
    /// segment was counted as a ClientHello without one).
    /// Asks for the lines of packet `s`'s port counters and of the filters of its hosts' full
    /// tables (called a few packets ahead).
    #[inline]
    pub(crate) fn prefetch(&self, s: &PacketSummary) {
        let ports = s.ports();
        if let Some((sp, dp)) = ports {
            self.src_ports.prefetch(sp);
            self.dst_ports.prefetch(dp);
        }
        if let Some(ip) = &s.ip {
            self.hosts.prefetch(ip.src, ip.dst, ip.protocol, ports.map_or(0, |p| p.1));
        }
    }

    pub(crate) fn add_sni(&mut self, hash: u64) {
        if self.sni.len() < MAX_TRACKED_SNI {
            self.sni.insert(hash);
        } else if !self.sni.contains(&hash) {
            self.sni_beyond.add_u64(hash);
        }
    }
}
