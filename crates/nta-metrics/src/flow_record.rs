//! [`FlowRecord`]: one line of a flow log — a connection as Zeek's `conn.log` or an IPFIX
//! exporter would write it when it ends. Every field is defined in docs/FLOWS.md.

use nta_capture::format_rfc3339_ns;
use nta_parsing::Tunnel;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Why a flow record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// No packet for the idle timeout.
    Idle,
    /// Longer than the active timeout: written, and a new flow starts.
    ActiveTimeout,
    /// TCP FIN both ways or RST (written once the time-wait that absorbs stray packets ends).
    Closed,
    /// The input ended with the flow open.
    EndOfInput,
    /// The flow table was full: the least recently active flow was written early.
    Evicted,
}

/// Zeek's connection states (docs/FLOWS.md has each one's rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected.
    REJ,
    /// Established, the originator closed (FIN), no FIN from the responder.
    S2,
    /// Established, the responder closed (FIN), no FIN from the originator.
    S3,
    /// Established, the originator aborted (RST).
    RSTO,
    /// Established, the responder aborted (RST).
    RSTR,
    /// The originator sent a SYN then a RST; no SYN-ACK.
    RSTOS0,
    /// The responder sent a SYN-ACK then a RST; no SYN from the originator seen.
    RSTRH,
    /// The originator sent a SYN then a FIN; no SYN-ACK ("half-open").
    SH,
    /// The responder sent a SYN-ACK then a FIN; no SYN from the originator seen.
    SHR,
    /// No SYN seen: midstream traffic.
    OTH,
}

/// What the application layer said the flow was for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppHint {
    /// `dns` (the first question's name), `tls` (the ClientHello's server name) or `http`
    /// (the request's Host).
    pub kind: String,
    /// The name.
    pub name: String,
}

/// One flow, from its originator's point of view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowRecord {
    /// Community ID v1 (seed 0) of the flow's 5-tuple: the key Zeek, Suricata, Wireshark and
    /// Elastic share.
    pub community_id: String,
    /// IANA protocol number.
    pub proto: u8,
    /// The originator (the SYN's sender; else the first packet's sender).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub src_ip: IpAddr,
    /// The originator's port (ICMP: the first packet's type).
    pub src_port: u16,
    /// The responder.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub dst_ip: IpAddr,
    /// The responder's port (ICMP: the first packet's code).
    pub dst_port: u16,
    /// Outer VLAN id, when tagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// First packet, ns since the epoch.
    pub first_ns: i64,
    /// Last packet, ns since the epoch.
    pub last_ns: i64,
    /// First packet, RFC 3339.
    pub first: String,
    /// Last packet, RFC 3339.
    pub last: String,
    /// Packets from the originator.
    pub src_packets: u64,
    /// Bytes (frame lengths on the wire, less any tunnel encapsulation) from the originator.
    pub src_bytes: u64,
    /// Packets from the responder.
    pub dst_packets: u64,
    /// Bytes from the responder.
    pub dst_bytes: u64,
    /// TCP flags the originator sent, as letters (`FSRPAUEC` order).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub src_tcp_flags: String,
    /// TCP flags the responder sent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dst_tcp_flags: String,
    /// Zeek's connection state (TCP; UDP and others: `S0` one way, `SF` both ways, `OTH`
    /// when only the responder was seen).
    pub conn_state: ConnState,
    /// Why the record was written.
    pub end_reason: EndReason,
    /// The application hint, when a packet carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppHint>,
    /// The outermost tunnel the flow's first packet came through, when it came through one
    /// (the addresses and ports above are the innermost packet's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<FlowTunnel>,
    /// The sensor that saw it (`--sensor`), when it was published to a fleet; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
}

/// The tunnel a flow came through: what carried it, not what it said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowTunnel {
    /// `gre`, `erspan`, `ip_in_ip`, `ipv6_in_ip`, `vxlan`, `geneve`, `teredo` or `gtp_u`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "vxlan"))]
    pub kind: Tunnel,
    /// The VXLAN or GENEVE VNI, GRE key, ERSPAN session or GTP TEID, when the tunnel has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// The tunnel's source endpoint (outer IP source of the first packet; `0.0.0.0` when the
    /// extractor was given summaries without their frames).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub src_ip: IpAddr,
    /// The tunnel's destination endpoint.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub dst_ip: IpAddr,
}

/// `FSRPAUEC` letters of the TCP flag bits set in `bits` (FIN = bit 0 … CWR = bit 7).
pub(crate) fn flag_letters(bits: u16) -> String {
    const LETTERS: [(u16, char); 8] =
        [(0x01, 'F'), (0x02, 'S'), (0x04, 'R'), (0x08, 'P'), (0x10, 'A'), (0x20, 'U'), (0x40, 'E'), (0x80, 'C')];
    LETTERS.iter().filter(|(b, _)| bits & b != 0).map(|(_, c)| *c).collect()
}

/// The TCP facts a connection state is read from, per direction.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TcpSides {
    /// Flag bits the originator sent / the responder sent.
    pub(crate) orig: u16,
    pub(crate) resp: u16,
    /// The originator acknowledged the SYN-ACK.
    pub(crate) established: bool,
}

/// Zeek's conn_state for a TCP flow.
pub(crate) fn tcp_state(t: TcpSides) -> ConnState {
    let (syn, fin, rst) = (0x02u16, 0x01u16, 0x04u16);
    let orig_syn = t.orig & syn != 0;
    let resp_synack = t.resp & syn != 0;
    let (of, rf) = (t.orig & fin != 0, t.resp & fin != 0);
    let (or, rr) = (t.orig & rst != 0, t.resp & rst != 0);
    if !orig_syn {
        return match (resp_synack, rr, rf) {
            (true, true, _) => ConnState::RSTRH,
            (true, false, true) => ConnState::SHR,
            _ => ConnState::OTH,
        };
    }
    if !resp_synack && !t.established {
        return match (or, rr, of) {
            (_, true, _) => ConnState::REJ,
            (true, false, _) => ConnState::RSTOS0,
            (false, false, true) => ConnState::SH,
            _ => ConnState::S0,
        };
    }
    match (or, rr, of, rf) {
        (true, _, _, _) => ConnState::RSTO,
        (false, true, _, _) => ConnState::RSTR,
        (false, false, true, true) => ConnState::SF,
        (false, false, true, false) => ConnState::S2,
        (false, false, false, true) => ConnState::S3,
        _ => ConnState::S1,
    }
}

/// Zeek's conn_state for a flow without TCP: one way `S0`, both ways `SF`, only the
/// responder `OTH`.
pub(crate) fn other_state(src_packets: u64, dst_packets: u64) -> ConnState {
    match (src_packets > 0, dst_packets > 0) {
        (true, true) => ConnState::SF,
        (true, false) => ConnState::S0,
        _ => ConnState::OTH,
    }
}

/// The Community ID v1 (seed 0) of a flow; ICMP "ports" are the type and code.
pub(crate) fn community_id(proto: u8, src: (IpAddr, u16), dst: (IpAddr, u16)) -> String {
    let ports = matches!(proto, 6 | 17 | 132 | 1 | 58);
    let (sp, dp) = if ports { (Some(src.1), Some(dst.1)) } else { (None, None) };
    community_id::calculate_community_id(0, src.0, dst.0, sp, dp, proto, false).unwrap_or_default()
}

/// RFC 3339 of a timestamp.
pub(crate) fn rfc3339(ns: i64) -> String {
    format_rfc3339_ns(ns)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn community_id_matches_the_specs_test_vector() {
        let a: IpAddr = "1.2.3.4".parse().unwrap();
        let b: IpAddr = "5.6.7.8".parse().unwrap();
        assert_eq!(community_id(6, (a, 1122), (b, 3344)), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
        // Either direction: the same id.
        assert_eq!(community_id(6, (b, 3344), (a, 1122)), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
    }

    #[test]
    fn zeek_states() {
        let t = |orig, resp, established| tcp_state(TcpSides { orig, resp, established });
        assert_eq!(t(0x02, 0, false), ConnState::S0);
        assert_eq!(t(0x02, 0x14, false), ConnState::REJ);
        assert_eq!(t(0x12, 0x12, true), ConnState::S1);
        assert_eq!(t(0x13, 0x13, true), ConnState::SF);
        assert_eq!(t(0x16, 0x12, true), ConnState::RSTO);
        assert_eq!(t(0x12, 0x16, true), ConnState::RSTR);
        assert_eq!(t(0x10, 0x10, false), ConnState::OTH);
        assert_eq!(flag_letters(0x12), "SA");
        assert_eq!(other_state(3, 0), ConnState::S0);
        assert_eq!(other_state(3, 1), ConnState::SF);
    }
}
