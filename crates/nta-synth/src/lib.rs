//! Deterministic synthetic network traffic with labelled attacks, for fixtures, tests, demos
//! and benchmarks.
//!
//! The principal types:
//! - [`SynthConfig`] — seed, start, duration (or a size), the [`Profile`] of the simulated
//!   site (clients, servers, session rate with a slow wave and noise) and the attacks
//!   ([`AttackSpec`]: [`SynthAttack`], start, duration, rate, attacker, victim).
//! - [`Wrap`] — optionally, every frame inside VXLAN or GENEVE ([`WrapKind`]), as a cloud
//!   traffic mirror delivers it.
//! - [`synthesize`] — streams the capture into a [`nta_capture::CaptureWriter`] (pcap or
//!   pcapng) and returns a [`SynthReport`]: what was written, by protocol ([`SynthCounts`]),
//!   and one [`AttackLabel`] per attack, the ground truth for detectors.
//!
//! Normal traffic is sessions arriving as a Poisson process: DNS lookups (A, AAAA, CNAME
//! chains, PTR, TXT, NXDOMAIN), TCP connections with real handshakes, sequence and
//! acknowledgement numbers that follow the data, delayed ACKs and FIN/RST teardown, TLS
//! ClientHellos with SNI, HTTP requests with Host, SSH, NTP, ICMP echo and port-unreachable
//! errors quoting the datagram, and ARP. Every checksum is valid. The same config gives the
//! same bytes; each attack draws from its own random stream, so adding one does not change
//! the normal traffic.
//!
//! ```
//! use nta_capture::{CaptureWriter, WriteFormat};
//! use nta_synth::{SynthAttack, SynthConfig, synthesize, NS, LINK_TYPE, SNAPLEN};
//!
//! let mut cfg = SynthConfig::new(7, 60 * NS);
//! cfg.schedule_defaults(&[SynthAttack::Portscan]);
//! let mut out = CaptureWriter::new(Vec::new(), WriteFormat::Pcapng, LINK_TYPE, SNAPLEN, "doc").unwrap();
//! let report = synthesize(&cfg, &mut out).unwrap();
//! assert!(report.attacks[0].packets > 0);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attacks;
mod config;
mod engine;
mod flow;
mod flows;
mod frame;
mod net;
mod proto;
mod report;
mod rng;
mod traffic;
mod wrap;

pub use crate::{
    config::{AttackSpec, ConfigError, NS, Profile, SynthAttack, SynthConfig},
    engine::{LINK_TYPE, SNAPLEN, synthesize},
    report::{AttackLabel, SynthCounts, SynthError, SynthReport},
    rng::{Rng, Zipf},
    wrap::{Wrap, WrapKind},
};
