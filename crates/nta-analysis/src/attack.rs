//! [`Host`] and [`Finding`]: an attack named in one window, with its hosts and the counts that
//! make the case, and the words that say it ("PORT SCAN by … against …: 2,905 ports, 97%
//! refused").

use crate::anomaly::Severity;
use nta_capture::AttackKind;
use nta_metrics::MacAddr;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The most attackers and victims kept per anomaly and per incident.
pub const MAX_HOSTS: usize = 10;

/// An attacker or a victim and the counts that make the case (only those that apply).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Host {
    /// The address.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "203.0.113.66"))]
    pub ip: IpAddr,
    /// Distinct ports probed (scans) or flooded (floods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<u64>,
    /// Distinct hosts probed (sweeps) or flooding (floods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<u64>,
    /// Packets of the attack sent (by an attacker) or received (by a victim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    /// TCP SYNs sent or received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syns: Option<u64>,
    /// Attempts that got no answer (no SYN-ACK, no reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<u64>,
    /// Attempts refused (RST, ICMP unreachable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<u64>,
    /// Connection attempts to one service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u64>,
    /// DNS queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries: Option<u64>,
    /// Distinct names queried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<u64>,
    /// Mean length of the names queried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_name_len: Option<f64>,
    /// Bytes sent out (exfiltration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    /// The MAC address of an ARP claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub mac: Option<MacAddr>,
}

impl Host {
    /// A host with no counts yet.
    pub fn new(ip: IpAddr) -> Host {
        Host {
            ip,
            ports: None,
            hosts: None,
            packets: None,
            syns: None,
            unanswered: None,
            refused: None,
            attempts: None,
            queries: None,
            names: None,
            mean_name_len: None,
            bytes_out: None,
            mac: None,
        }
    }

    /// Adds `other`'s counts to these (the same address in another window).
    pub fn merge(&mut self, other: &Host) {
        fn add(a: &mut Option<u64>, b: Option<u64>) {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0).saturating_add(b));
            }
        }
        fn max(a: &mut Option<u64>, b: Option<u64>) {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0).max(b));
            }
        }
        // Distinct counts do not add across windows: the largest is a lower bound.
        max(&mut self.ports, other.ports);
        max(&mut self.hosts, other.hosts);
        max(&mut self.names, other.names);
        add(&mut self.packets, other.packets);
        add(&mut self.syns, other.syns);
        add(&mut self.unanswered, other.unanswered);
        add(&mut self.refused, other.refused);
        add(&mut self.attempts, other.attempts);
        let (q0, q1) = (self.queries.unwrap_or(0), other.queries.unwrap_or(0));
        if let (Some(m1), true) = (other.mean_name_len, q0 + q1 > 0) {
            let m0 = self.mean_name_len.unwrap_or(0.0);
            self.mean_name_len = Some((m0 * q0 as f64 + m1 * q1 as f64) / (q0 + q1) as f64);
        }
        add(&mut self.queries, other.queries);
        add(&mut self.bytes_out, other.bytes_out);
        if self.mac.is_none() {
            self.mac = other.mac;
        }
    }

    /// The number the host is ranked by: its strongest count.
    pub fn weight(&self) -> u64 {
        [self.ports, self.hosts, self.packets, self.syns, self.attempts, self.queries, self.bytes_out]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0)
    }
}

/// Merges `more` into `into` by address, strongest first, at most [`MAX_HOSTS`].
pub fn merge_hosts(into: &mut Vec<Host>, more: &[Host]) {
    for h in more {
        match into.iter_mut().find(|x| x.ip == h.ip) {
            Some(x) => x.merge(h),
            None => into.push(h.clone()),
        }
    }
    into.sort_by(|a, b| b.weight().cmp(&a.weight()).then(a.ip.cmp(&b.ip)));
    into.truncate(MAX_HOSTS);
}

/// An attack a rule found in one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// What kind.
    pub kind: AttackKind,
    /// Evidence over the rule's alert threshold (≥ 1: the rule alerts on its own; below, it
    /// only names a window the learned detectors flagged).
    pub strength: f64,
    /// Severity the evidence alone supports (`None` below the alert threshold).
    pub severity: Option<Severity>,
    /// The attackers, strongest first.
    pub attackers: Vec<Host>,
    /// The victims, strongest first.
    pub victims: Vec<Host>,
    /// The key counts in words: "2,905 ports in 20 s, 97% refused".
    pub detail: String,
}

/// `12345` → `12,345`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "PORT SCAN by 203.0.113.66 against 10.1.0.124: `detail`" — the first line of an alert.
pub fn headline(kind: AttackKind, attackers: &[Host], victims: &[Host], detail: &str) -> String {
    fn list(hosts: &[Host]) -> String {
        let mut s: Vec<String> = hosts.iter().take(3).map(|h| h.ip.to_string()).collect();
        if hosts.len() > 3 {
            s.push(format!("{} more", hosts.len() - 3));
        }
        s.join(", ")
    }
    let mut out = kind.to_string().replace('_', " ").to_uppercase();
    if !attackers.is_empty() {
        out.push_str(" by ");
        out.push_str(&list(attackers));
    }
    if !victims.is_empty() {
        out.push_str(if kind == AttackKind::ArpSpoof { " claiming " } else { " against " });
        out.push_str(&list(victims));
    }
    if !detail.is_empty() {
        out.push_str(": ");
        out.push_str(detail);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_headlines_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2905), "2,905");
        assert_eq!(thousands(1_234_567), "1,234,567");
        let a = [Host::new("203.0.113.66".parse().unwrap())];
        let v = [Host::new("10.1.0.124".parse().unwrap())];
        assert_eq!(
            headline(AttackKind::PortScan, &a, &v, "2,905 ports, 97% refused"),
            "PORT SCAN by 203.0.113.66 against 10.1.0.124: 2,905 ports, 97% refused"
        );
        assert_eq!(headline(AttackKind::SynFlood, &[], &v, ""), "SYN FLOOD against 10.1.0.124");
    }

    #[test]
    fn hosts_merge_by_address_and_rank_by_evidence() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut all = vec![Host { ports: Some(10), syns: Some(10), ..Host::new(ip("10.0.0.1")) }];
        merge_hosts(
            &mut all,
            &[
                Host { ports: Some(40), syns: Some(40), ..Host::new(ip("10.0.0.1")) },
                Host { ports: Some(20), ..Host::new(ip("10.0.0.2")) },
            ],
        );
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].ip, ip("10.0.0.1"));
        assert_eq!((all[0].ports, all[0].syns), (Some(40), Some(50)));
    }
}
