//! [`Network`]: the simulated site. A LAN `10.20.0.0/16` (IPv6 `2001:db8:20::/64`) with a
//! gateway, two resolvers, an SSH bastion and an intranet web server; clients from
//! `10.20.1.1`; external servers with names, addresses, RTTs and Zipf-like popularity.

use crate::config::Profile;
use crate::frame::{Ep, Mac};
use crate::rng::{Rng, Zipf};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host on the LAN.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub(crate) mac: Mac,
    pub(crate) v4: Ipv4Addr,
    pub(crate) v6: Option<Ipv6Addr>,
}

impl Host {
    fn new(v4: Ipv4Addr, v6: Option<Ipv6Addr>) -> Host {
        let [_, _, c, d] = v4.octets();
        // Locally administered unicast MACs derived from the address.
        Host { mac: [0x02, 0x5e, 0x10, 0x20, c, d], v4, v6 }
    }

    pub(crate) fn ep(&self, v6: bool, port: u16) -> Ep {
        let ip = match (v6, self.v6) {
            (true, Some(a)) => IpAddr::V6(a),
            _ => IpAddr::V4(self.v4),
        };
        Ep { mac: self.mac, ip, port }
    }
}

/// What an external server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    Https,
    Http,
}

/// An external server.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    pub(crate) name: String,
    /// CNAME chain the resolver returns before the address (CDN-style), often empty.
    pub(crate) cnames: Vec<String>,
    pub(crate) v4: Ipv4Addr,
    pub(crate) v6: Option<Ipv6Addr>,
    pub(crate) service: Service,
    pub(crate) rtt_ns: i64,
    /// Bytes per second it sends at.
    pub(crate) bandwidth: f64,
}

const WORDS: [&str; 48] = [
    "acme", "nimbus", "orbit", "quartz", "atlas", "boreal", "cobalt", "delta", "ember", "fjord", "granite", "harbor",
    "iris", "juniper", "kepler", "lumen", "meridian", "nova", "onyx", "polar", "quill", "raven", "sierra", "tundra",
    "umber", "vertex", "willow", "xenon", "yarrow", "zephyr", "amber", "basalt", "cedar", "dune", "echo", "falcon",
    "glacier", "helix", "indigo", "jade", "krypton", "lotus", "magnet", "nectar", "opal", "pixel", "quasar", "ripple",
];
const PREFIXES: [&str; 10] = ["www", "api", "cdn", "static", "img", "login", "mail", "app", "assets", "update"];
const TLDS: [&str; 8] = ["com", "net", "org", "io", "de", "co.uk", "fr", "cloud"];

/// A public-looking IPv4 address (no private, shared, loopback, link-local, documentation or
/// multicast ranges).
pub(crate) fn public_v4(rng: &mut Rng) -> Ipv4Addr {
    loop {
        let a = Ipv4Addr::from(rng.next_u64() as u32);
        let [o1, o2, o3, _] = a.octets();
        let reserved = o1 == 0
            || o1 == 10
            || o1 == 127
            || o1 >= 224
            || (o1 == 100 && (64..128).contains(&o2))
            || (o1 == 169 && o2 == 254)
            || (o1 == 172 && (16..32).contains(&o2))
            || (o1 == 192 && o2 == 168)
            || (o1 == 192 && o2 == 0 && (o3 == 0 || o3 == 2))
            || (o1 == 198 && (o2 == 18 || o2 == 19))
            || (o1 == 198 && o2 == 51 && o3 == 100)
            || (o1 == 203 && o2 == 0 && o3 == 113);
        if !reserved {
            return a;
        }
    }
}

/// A global-unicast-looking IPv6 address in 2a00::/12.
pub(crate) fn public_v6(rng: &mut Rng) -> Ipv6Addr {
    let hi = (0x2a00u64 << 48) | (rng.next_u64() & 0x000f_ffff_ffff_ffff);
    Ipv6Addr::from((u128::from(hi) << 64) | u128::from(rng.next_u64()))
}

/// The simulated site.
#[derive(Debug)]
pub(crate) struct Network {
    pub(crate) gateway: Host,
    pub(crate) resolvers: Vec<Host>,
    pub(crate) bastion: Host,
    pub(crate) intranet: Host,
    pub(crate) clients: Vec<Host>,
    pub(crate) servers: Vec<Server>,
    pub(crate) popularity: Zipf,
    pub(crate) ntp: Ipv4Addr,
    /// Domains that do not resolve (typos, stale names): NXDOMAIN answers.
    pub(crate) zones: Vec<String>,
    /// Largest TCP payload of a segment (the profile's).
    pub(crate) mss: usize,
}

const LAN6: u128 = 0x2001_0db8_0020_0000_0000_0000_0000_0000;

fn lan6(low: u64) -> Ipv6Addr {
    Ipv6Addr::from(LAN6 | u128::from(low))
}

impl Network {
    pub(crate) fn new(profile: &Profile, rng: &mut Rng) -> Network {
        let gateway = Host::new(Ipv4Addr::new(10, 20, 0, 1), Some(lan6(1)));
        let resolvers = vec![
            Host::new(Ipv4Addr::new(10, 20, 0, 53), Some(lan6(0x53))),
            Host::new(Ipv4Addr::new(10, 20, 0, 54), Some(lan6(0x54))),
        ];
        let bastion = Host::new(Ipv4Addr::new(10, 20, 0, 22), Some(lan6(0x22)));
        let intranet = Host::new(Ipv4Addr::new(10, 20, 0, 80), Some(lan6(0x80)));
        let clients = (0..profile.clients.max(1))
            .map(|i| {
                let v4 = Ipv4Addr::new(10, 20, 1 + (i / 250) as u8, 1 + (i % 250) as u8);
                let v6 = rng.chance(profile.ipv6_share).then(|| lan6(0x1000 + u64::from(i) * 7919 + rng.below(1000)));
                Host::new(v4, v6)
            })
            .collect();
        let mut zones = Vec::new();
        let servers = (0..profile.servers.max(1))
            .map(|i| {
                let w1 = WORDS[rng.below(WORDS.len() as u64) as usize];
                let w2 = WORDS[rng.below(WORDS.len() as u64) as usize];
                let tld = TLDS[rng.below(TLDS.len() as u64) as usize];
                let prefix = PREFIXES[rng.below(PREFIXES.len() as u64) as usize];
                let domain = format!("{w1}{w2}{i}.{tld}");
                if zones.len() < 40 {
                    zones.push(domain.clone());
                }
                let name = format!("{prefix}.{domain}");
                let cnames = if rng.chance(0.3) {
                    let edge = WORDS[rng.below(WORDS.len() as u64) as usize];
                    vec![format!("{prefix}-{w1}.edge{}.{edge}cdn.net", rng.below(40))]
                } else {
                    Vec::new()
                };
                let service = if rng.chance(0.12) { Service::Http } else { Service::Https };
                Server {
                    name,
                    cnames,
                    v4: public_v4(rng),
                    v6: rng.chance(0.45).then(|| public_v6(rng)),
                    service,
                    rtt_ns: (rng.lognormal(35.0, 0.7).clamp(3.0, 400.0) * 1e6) as i64,
                    bandwidth: rng.lognormal(4e6, 0.8).clamp(3e5, 6e7),
                }
            })
            .collect();
        let popularity = Zipf::new(profile.servers.max(1) as usize, profile.zipf_exponent);
        let ntp = public_v4(rng);
        let mss = usize::try_from(profile.mss.clamp(1, 65_000)).unwrap_or(1448);
        Network { gateway, resolvers, bastion, intranet, clients, servers, popularity, ntp, zones, mss }
    }

    /// The LAN host with this address, if any.
    pub(crate) fn host(&self, ip: IpAddr) -> Option<&Host> {
        let internal = [&self.gateway, &self.bastion, &self.intranet];
        internal
            .into_iter()
            .chain(&self.resolvers)
            .chain(&self.clients)
            .find(|h| IpAddr::V4(h.v4) == ip || h.v6.map(IpAddr::V6) == Some(ip))
    }

    /// An endpoint as seen on the LAN: a LAN host's own MAC, the gateway's for anything else.
    pub(crate) fn ep(&self, ip: IpAddr, port: u16) -> Ep {
        let mac = self.host(ip).map_or(self.gateway.mac, |h| h.mac);
        Ep { mac, ip, port }
    }

    /// A client, uniformly.
    pub(crate) fn client<'a>(&'a self, rng: &mut Rng) -> &'a Host {
        let i = rng.below(self.clients.len() as u64) as usize;
        self.clients.get(i).unwrap_or(&self.gateway)
    }

    /// A server, by popularity.
    pub(crate) fn server<'a>(&'a self, rng: &mut Rng) -> Option<&'a Server> {
        self.servers.get(self.popularity.sample(rng))
    }

    /// A resolver (the first three times out of four).
    pub(crate) fn resolver<'a>(&'a self, rng: &mut Rng) -> &'a Host {
        let i = usize::from(rng.chance(0.25));
        self.resolvers.get(i).unwrap_or(&self.gateway)
    }
}

/// An ephemeral source port (Linux range).
pub(crate) fn ephemeral(rng: &mut Rng) -> u16 {
    rng.range(32_768, 61_000) as u16
}
