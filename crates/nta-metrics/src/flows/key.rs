//! Flow keys: [`FlowKey`] (both directions of a flow share it), [`Keyed`] (a packet's key, which
//! endpoint sent it and the key's hash, made once by the decoding workers) and
//! [`endpoint_le`], the order that picks the key's lower endpoint.

use nta_parsing::PacketSummary;
use rustc_hash::FxBuildHasher;
use std::hash::BuildHasher;
use std::net::IpAddr;

/// Canonical key: the lower endpoint first, so both directions share the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlowKey {
    pub(super) vlan: u16,
    pub(super) proto: u8,
    pub(super) lo: (IpAddr, u16),
    pub(super) hi: (IpAddr, u16),
    /// The tunnel a decapsulated packet came through, by its number in the table's
    /// [`TunnelKey`](super::TunnelKey)s (0: none): two overlays with the same inner addresses
    /// never share a flow.
    pub(super) tunnel: u32,
}

/// The hash of a flow key: the index, its filter and the sets of half-open attempts all use it.
#[inline]
pub(super) fn hash_key(key: &FlowKey) -> u64 {
    FxBuildHasher.hash_one(key)
}

/// A packet's flow key as if it came through no tunnel, whether its sender is the key's `lo`,
/// and the key's hash: made once per packet by the decoding workers (in parallel), then read
/// by the shard split, the prefetch and the table (the key of two `IpAddr` endpoints costs as
/// much to build and hash as the rest of a lookup).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keyed {
    pub(super) key: FlowKey,
    pub(super) hash: u64,
    pub(super) src_is_lo: bool,
}

impl Keyed {
    /// The key of an IP packet (TCP and UDP with their ports, other protocols with none).
    #[inline]
    pub(crate) fn of(s: &PacketSummary) -> Option<Keyed> {
        let ip = s.ip.as_ref()?;
        let (sp, dp) = s.ports().unwrap_or_default();
        let (a, b) = ((ip.src, sp), (ip.dst, dp));
        let src_is_lo = endpoint_le(a, b);
        let (lo, hi) = if src_is_lo { (a, b) } else { (b, a) };
        let key = FlowKey { vlan: s.vlan.outer.unwrap_or(0), proto: ip.protocol, lo, hi, tunnel: 0 };
        Some(Keyed { key, hash: hash_key(&key), src_is_lo })
    }

    /// The hash that spreads flows over shards: the endpoints and the protocol (not the VLAN
    /// nor the tunnel), the same both ways.
    #[inline]
    pub(crate) fn shard_hash(&self) -> u64 {
        FxBuildHasher.hash_one((self.key.lo, self.key.hi, self.key.proto))
    }
}

/// `a <= b` for endpoints (address, then port), with IPv4 pairs compared as one number.
#[inline]
fn endpoint_le(a: (IpAddr, u16), b: (IpAddr, u16)) -> bool {
    match (a.0, b.0) {
        // An IPv4 address orders as its 32 bits, big-endian (`Ipv4Addr`'s `Ord`).
        (IpAddr::V4(x), IpAddr::V4(y)) => {
            (u64::from(x.to_bits()) << 16 | u64::from(a.1)) <= (u64::from(y.to_bits()) << 16 | u64::from(b.1))
        }
        _ => a <= b,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::endpoint_le;
    use std::net::IpAddr;

    /// The IPv4 shortcut orders endpoints as the tuples' own order does, IPv6 and mixed pairs
    /// included.
    #[test]
    fn endpoints_order_as_tuples() {
        let addrs: Vec<IpAddr> =
            ["0.0.0.0", "10.0.0.1", "10.0.0.2", "10.1.0.0", "200.1.2.3", "255.255.255.255", "::", "::1", "fe80::1"]
                .iter()
                .map(|a| a.parse().unwrap())
                .collect();
        for &x in &addrs {
            for &y in &addrs {
                for (p, q) in [(0u16, 0u16), (1, 0), (0, 1), (443, 50_000), (65_535, 65_535)] {
                    assert_eq!(endpoint_le((x, p), (y, q)), (x, p) <= (y, q), "{x}:{p} {y}:{q}");
                }
            }
        }
    }
}
