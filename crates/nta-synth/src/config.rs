//! [`SynthConfig`], [`Profile`], [`SynthAttack`] and [`AttackSpec`]: what to synthesize.

use crate::wrap::Wrap;
use nta_capture::AttackKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Nanoseconds per second.
pub const NS: i64 = 1_000_000_000;

/// Everything the synthesizer needs; the same config and seed give byte-identical output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Capture time of the start, in ns since the Unix epoch.
    pub start_ns: i64,
    /// Length of the capture in capture time.
    pub duration_ns: i64,
    /// Stop once this many bytes of packets were written (the attacks still scheduled later
    /// are dropped, the running ones cut).
    pub max_bytes: Option<u64>,
    /// Generate normal traffic (off: the attacks alone, for tests).
    pub normal: bool,
    /// Population and rates of normal traffic.
    pub profile: Profile,
    /// Attacks, with start times relative to `start_ns`.
    pub attacks: Vec<AttackSpec>,
    /// Deliver every frame inside VXLAN or GENEVE, as a cloud traffic mirror does (the
    /// report still counts the mirrored frames, without the encapsulation).
    #[serde(default)]
    pub wrap: Option<Wrap>,
}

impl SynthConfig {
    /// Defaults: seed 1, start 2026-03-02T09:00:00Z, 10 minutes, the `office` profile, no attack.
    pub fn new(seed: u64, duration_ns: i64) -> SynthConfig {
        SynthConfig {
            seed,
            start_ns: 1_772_442_000 * NS,
            duration_ns,
            max_bytes: None,
            normal: true,
            profile: Profile::office(),
            attacks: Vec::new(),
            wrap: None,
        }
    }

    /// Adds `kinds` with default times: spread evenly over the capture, not overlapping.
    pub fn schedule_defaults(&mut self, kinds: &[SynthAttack]) {
        let n = kinds.len() as i64;
        for (i, kind) in kinds.iter().enumerate() {
            let slot = self.duration_ns / (n + 1);
            let duration = kind.default_duration_ns().min(slot / 2).max(NS);
            let start = (slot * (i as i64 + 1) - duration / 2).max(0);
            self.attacks.push(AttackSpec::new(*kind, start, duration));
        }
    }
}

/// The simulated network and how busy it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Internal IPv4 clients (10.20.1.0 onwards).
    pub clients: u32,
    /// Share of clients that also have an IPv6 address.
    pub ipv6_share: f64,
    /// External servers (web sites, APIs, CDNs), chosen with Zipf-like popularity.
    pub servers: u32,
    /// Zipf exponent of server popularity.
    pub zipf_exponent: f64,
    /// Mean new sessions per second (before the wave and noise).
    pub sessions_per_s: f64,
    /// Period of the slow rate wave.
    pub wave_period_ns: i64,
    /// Relative amplitude of the wave, in [0, 1).
    pub wave_amplitude: f64,
    /// Log-normal sigma of the rate noise, drawn once per `noise_step_ns`.
    pub noise_sigma: f64,
    /// Length of one noise step.
    pub noise_step_ns: i64,
    /// Median bytes of a web response.
    pub response_median: f64,
    /// Log-normal sigma of response sizes (heavy tail).
    pub response_sigma: f64,
    /// Largest response, bytes.
    pub response_max: u64,
    /// Largest TCP payload of one segment (1,448: Ethernet with TCP timestamps).
    pub mss: u32,
}

impl Profile {
    /// A small office: 60 clients, 400 servers, 4 sessions/s, 12 KB median responses.
    pub fn office() -> Profile {
        Profile {
            clients: 60,
            ipv6_share: 0.3,
            servers: 400,
            zipf_exponent: 1.0,
            sessions_per_s: 4.0,
            wave_period_ns: 3600 * NS,
            wave_amplitude: 0.35,
            noise_sigma: 0.25,
            noise_step_ns: 10 * NS,
            response_median: 12_000.0,
            response_sigma: 1.6,
            response_max: 20_000_000,
            mss: 1448,
        }
    }

    /// A quiet network for small fixtures: 25 clients, 0.45 sessions/s, 1.5 KB responses.
    pub fn quiet() -> Profile {
        Profile {
            clients: 25,
            servers: 150,
            sessions_per_s: 0.45,
            wave_period_ns: 1200 * NS,
            response_median: 1_500.0,
            response_sigma: 1.0,
            response_max: 200_000,
            ..Profile::office()
        }
    }

    /// A busy campus: 2,000 clients, 3,000 servers, 400 sessions/s (benchmark files).
    pub fn campus() -> Profile {
        Profile {
            clients: 2000,
            servers: 3000,
            sessions_per_s: 400.0,
            response_median: 20_000.0,
            response_max: 50_000_000,
            ..Profile::office()
        }
    }

    /// Small packets over few flows (the extraction benchmark's packet-rate case): 200
    /// clients, 60 servers, 40 sessions/s, TCP segments of at most 48 bytes of payload, so
    /// 99.99 % of frames are 54–127 bytes (DNS answers and the like aside).
    pub fn small() -> Profile {
        Profile {
            clients: 200,
            servers: 60,
            sessions_per_s: 40.0,
            response_median: 20_000.0,
            response_max: 2_000_000,
            mss: 48,
            ..Profile::office()
        }
    }

    /// The profile named `name` (`quiet`, `office`, `campus`, `small`).
    pub fn by_name(name: &str) -> Option<Profile> {
        match name {
            "quiet" => Some(Profile::quiet()),
            "office" => Some(Profile::office()),
            "campus" => Some(Profile::campus()),
            "small" => Some(Profile::small()),
            _ => None,
        }
    }
}

/// The attacks the synthesizer can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SynthAttack {
    /// Vertical TCP SYN scan: one attacker, one victim, many ports.
    #[serde(alias = "port_scan")]
    Portscan,
    /// Horizontal TCP SYN scan from inside: one port on many hosts (ARP first, as nmap does).
    #[serde(alias = "host_sweep")]
    Portsweep,
    /// SYN flood from spoofed sources against one service.
    #[serde(alias = "syn_flood")]
    Synflood,
    /// UDP flood to random high ports (60002–65535) of one victim.
    #[serde(alias = "udp_flood")]
    Udpflood,
    /// ICMP echo flood from a few sources.
    #[serde(alias = "icmp_flood")]
    Icmpflood,
    /// DNS tunnelling: long high-entropy subdomains, TXT queries and answers.
    DnsTunnel,
    /// Bulk upload from one client to one external host.
    #[serde(alias = "exfiltration")]
    Exfil,
    /// SSH brute force: many short connections to port 22.
    #[serde(alias = "brute_force")]
    SshBruteforce,
    /// ARP spoofing: a client claims the gateway's address.
    ArpSpoof,
}

impl SynthAttack {
    /// Every kind.
    pub const ALL: [SynthAttack; 9] = [
        SynthAttack::Portscan,
        SynthAttack::Portsweep,
        SynthAttack::Synflood,
        SynthAttack::Udpflood,
        SynthAttack::Icmpflood,
        SynthAttack::DnsTunnel,
        SynthAttack::Exfil,
        SynthAttack::SshBruteforce,
        SynthAttack::ArpSpoof,
    ];

    /// Its name on command lines (the label's [`AttackKind`] name is accepted too).
    pub fn name(self) -> &'static str {
        match self {
            SynthAttack::Portscan => "portscan",
            SynthAttack::Portsweep => "portsweep",
            SynthAttack::Synflood => "synflood",
            SynthAttack::Udpflood => "udpflood",
            SynthAttack::Icmpflood => "icmpflood",
            SynthAttack::DnsTunnel => "dns_tunnel",
            SynthAttack::Exfil => "exfil",
            SynthAttack::SshBruteforce => "ssh_bruteforce",
            SynthAttack::ArpSpoof => "arp_spoof",
        }
    }

    /// The kind of attack it is, in the vocabulary of labels and detections.
    pub fn kind(self) -> AttackKind {
        match self {
            SynthAttack::Portscan => AttackKind::PortScan,
            SynthAttack::Portsweep => AttackKind::HostSweep,
            SynthAttack::Synflood => AttackKind::SynFlood,
            SynthAttack::Udpflood => AttackKind::UdpFlood,
            SynthAttack::Icmpflood => AttackKind::IcmpFlood,
            SynthAttack::DnsTunnel => AttackKind::DnsTunnel,
            SynthAttack::Exfil => AttackKind::Exfiltration,
            SynthAttack::SshBruteforce => AttackKind::BruteForce,
            SynthAttack::ArpSpoof => AttackKind::ArpSpoof,
        }
    }

    /// Default intensity, in [`SynthAttack::rate_unit`]s.
    pub fn default_rate(self) -> f64 {
        match self {
            SynthAttack::Portscan => 150.0,
            SynthAttack::Portsweep => 40.0,
            SynthAttack::Synflood => 1500.0,
            SynthAttack::Udpflood => 1500.0,
            SynthAttack::Icmpflood => 800.0,
            SynthAttack::DnsTunnel => 12.0,
            SynthAttack::Exfil => 2_000_000.0,
            SynthAttack::SshBruteforce => 4.0,
            SynthAttack::ArpSpoof => 8.0,
        }
    }

    /// What `rate` counts for this kind.
    pub fn rate_unit(self) -> &'static str {
        match self {
            SynthAttack::Portscan | SynthAttack::Portsweep => "probes/s",
            SynthAttack::Synflood => "SYN/s",
            SynthAttack::Udpflood | SynthAttack::Icmpflood => "packets/s",
            SynthAttack::DnsTunnel => "queries/s",
            SynthAttack::Exfil => "bytes/s",
            SynthAttack::SshBruteforce => "connections/s",
            SynthAttack::ArpSpoof => "ARP replies/s",
        }
    }

    /// Default duration when none is given.
    pub fn default_duration_ns(self) -> i64 {
        match self {
            SynthAttack::Portscan | SynthAttack::Portsweep | SynthAttack::ArpSpoof => 90 * NS,
            SynthAttack::Synflood | SynthAttack::Udpflood | SynthAttack::Icmpflood => 60 * NS,
            SynthAttack::DnsTunnel | SynthAttack::Exfil | SynthAttack::SshBruteforce => 120 * NS,
        }
    }
}

impl fmt::Display for SynthAttack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A configuration value that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not an attack kind.
    #[error("unknown attack {name:?} (known: {known})")]
    UnknownAttack {
        /// What was given.
        name: String,
        /// The known names.
        known: String,
    },
    /// A `key=value` of an attack spec that is wrong.
    #[error("attack {spec:?}: {key}: {reason}")]
    BadAttackOption {
        /// The whole spec.
        spec: String,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl FromStr for SynthAttack {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<SynthAttack, ConfigError> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        SynthAttack::ALL.into_iter().find(|k| k.name() == norm || k.kind().name() == norm).ok_or_else(|| {
            ConfigError::UnknownAttack { name: s.to_owned(), known: SynthAttack::ALL.map(SynthAttack::name).join(", ") }
        })
    }
}

/// One attack to inject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackSpec {
    /// What.
    pub kind: SynthAttack,
    /// Start, ns after the capture's start.
    pub start_ns: i64,
    /// How long.
    pub duration_ns: i64,
    /// Intensity in the kind's [`SynthAttack::rate_unit`].
    pub rate: f64,
    /// The attacker (chosen from the population when `None`; ignored by spoofing floods).
    pub attacker: Option<IpAddr>,
    /// The victim (chosen from the population when `None`).
    pub victim: Option<IpAddr>,
}

impl AttackSpec {
    /// `kind` at `start_ns` for `duration_ns`, default rate and actors.
    pub fn new(kind: SynthAttack, start_ns: i64, duration_ns: i64) -> AttackSpec {
        AttackSpec { kind, start_ns, duration_ns, rate: kind.default_rate(), attacker: None, victim: None }
    }

    /// Parses `KIND[,start=DUR][,duration=DUR][,rate=N][,attacker=IP][,victim=IP]`, e.g.
    /// `synflood,start=5m,duration=90s,rate=800`. Missing times come from `default_start`.
    pub fn parse(spec: &str, default_start_ns: i64) -> Result<AttackSpec, ConfigError> {
        let mut parts = spec.split(',');
        let kind: SynthAttack = parts.next().unwrap_or_default().parse()?;
        let mut a = AttackSpec::new(kind, default_start_ns, kind.default_duration_ns());
        for part in parts {
            let bad = |key: &str, reason: String| ConfigError::BadAttackOption {
                spec: spec.to_owned(),
                key: key.to_owned(),
                reason,
            };
            let (key, value) = part.split_once('=').ok_or_else(|| bad(part, "expected key=value".into()))?;
            let dur = |v: &str| {
                humantime::parse_duration(v)
                    .map_err(|e| bad(key, e.to_string()))
                    .and_then(|d| i64::try_from(d.as_nanos()).map_err(|_| bad(key, "too long".into())))
            };
            let ip = |v: &str| v.parse::<IpAddr>().map_err(|e| bad(key, e.to_string()));
            match key {
                "start" => a.start_ns = dur(value)?,
                "duration" => a.duration_ns = dur(value)?,
                "rate" => {
                    a.rate = value.parse::<f64>().map_err(|e| bad(key, e.to_string()))?;
                    if !(a.rate.is_finite() && a.rate > 0.0) {
                        return Err(bad(key, "must be a positive number".into()));
                    }
                }
                "attacker" => a.attacker = Some(ip(value)?),
                "victim" => a.victim = Some(ip(value)?),
                _ => return Err(bad(key, "unknown key (start, duration, rate, attacker, victim)".into())),
            }
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_attack_specs() {
        let a = AttackSpec::parse("synflood,start=5m,duration=90s,rate=800,victim=10.20.0.20", 0).unwrap();
        assert_eq!(a.kind, SynthAttack::Synflood);
        assert_eq!(a.start_ns, 300 * NS);
        assert_eq!(a.duration_ns, 90 * NS);
        assert_eq!(a.rate, 800.0);
        assert_eq!(a.victim, Some("10.20.0.20".parse().unwrap()));
        assert_eq!(AttackSpec::parse("DNS-TUNNEL", 7).unwrap().start_ns, 7);
        assert!(matches!(AttackSpec::parse("smurf", 0), Err(ConfigError::UnknownAttack { .. })));
        assert!(matches!(AttackSpec::parse("exfil,rate=-1", 0), Err(ConfigError::BadAttackOption { .. })));
        assert!(matches!(AttackSpec::parse("exfil,when=1s", 0), Err(ConfigError::BadAttackOption { .. })));
        assert!(matches!(AttackSpec::parse("exfil,start=soon", 0), Err(ConfigError::BadAttackOption { .. })));
    }

    #[test]
    fn default_schedule_spreads_attacks_without_overlap() {
        let mut c = SynthConfig::new(1, 1800 * NS);
        c.schedule_defaults(&SynthAttack::ALL);
        for pair in c.attacks.windows(2) {
            assert!(pair[0].start_ns + pair[0].duration_ns <= pair[1].start_ns, "{pair:?}");
        }
        let last = c.attacks.last().unwrap();
        assert!(last.start_ns + last.duration_ns <= c.duration_ns);
    }
}
