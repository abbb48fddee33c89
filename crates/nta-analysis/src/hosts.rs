//! [`HostPattern`]: an address or a subnet, as allow lists take them (a thin wrapper over
//! `ipnet::IpNet` that also accepts a bare address).

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// An address or a subnet (`10.20.0.5`, `10.20.0.0/16`, `2001:db8::/32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostPattern(pub IpNet);

impl HostPattern {
    /// Whether `ip` is in it (an IPv4 pattern never contains an IPv6 address, nor the reverse).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

impl std::str::FromStr for HostPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<HostPattern, String> {
        let t = s.trim();
        let net = if t.contains('/') {
            t.parse::<IpNet>().map_err(|e| format!("{s:?}: {e}"))?
        } else {
            IpNet::from(t.parse::<IpAddr>().map_err(|e| format!("{s:?}: {e}"))?)
        };
        Ok(HostPattern(net))
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<HostPattern, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::HostPattern;

    #[test]
    fn addresses_and_subnets() {
        let p: HostPattern = "10.20.0.0/16".parse().unwrap();
        assert!(p.contains("10.20.255.1".parse().unwrap()) && !p.contains("10.21.0.1".parse().unwrap()));
        assert!(!p.contains("::ffff:10.20.0.1".parse().unwrap()));
        let one: HostPattern = " 2001:db8::1 ".parse().unwrap();
        assert_eq!(one.to_string(), "2001:db8::1/128");
        assert!(one.contains("2001:db8::1".parse().unwrap()) && !one.contains("2001:db8::2".parse().unwrap()));
        for bad in ["10.0.0.0/33", "host", "10.0.0.1/x", "::/129"] {
            assert!(bad.parse::<HostPattern>().is_err(), "{bad}");
        }
    }
}
