//! Explanations in words: a metric's deviation as a reason ("tcp_syn 427× its usual level"),
//! and the kind of a window no rule names (`volume_spike`, `traffic_drop`, `unknown`).

use crate::anomaly::Contribution;
use nta_capture::AttackKind;
use nta_metrics::{Metric, WindowRecord};

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v:.3}") }
}

/// "tcp_syn 40× its usual level (2561 vs 6)", "arp_replies 40 (usually 0)", "src_ip_entropy +8σ".
pub(crate) fn reason(metric: Metric, value: f64, median: Option<f64>, z: Option<f64>) -> String {
    match (median, z) {
        (Some(m), Some(_)) if m > 0.0 && value / m >= 3.0 => {
            format!("{metric} {:.0}× its usual level ({} vs {})", value / m, fmt_num(value), fmt_num(m))
        }
        (Some(m), Some(_)) if metric == Metric::Packets && value == 0.0 => {
            format!("no traffic at all (usually {} packets)", fmt_num(m))
        }
        (Some(m), Some(_)) if m > 0.0 && value >= 0.0 && value / m <= 1.0 / 3.0 => {
            format!("{metric} {} against a usual {}", fmt_num(value), fmt_num(m))
        }
        (Some(0.0), Some(_)) => format!("{metric} {} (usually 0)", fmt_num(value)),
        (Some(m), Some(z)) => format!("{metric} {z:+.0}σ ({} vs {})", fmt_num(value), fmt_num(m)),
        _ => format!("{metric} {} (the model's main reason)", fmt_num(value)),
    }
}

/// Metrics of bytes sent.
pub(crate) const BYTE_METRICS: &[Metric] =
    &[Metric::Bytes, Metric::BitsPerS, Metric::InitiatorBytes, Metric::MeanPktSize];

/// The kind of a window the learned detectors flagged and no rule names: its strongest reason
/// is more traffic (`volume_spike`) or less (`traffic_drop`), or something else (`unknown`).
pub(crate) fn volume_kind(r: &WindowRecord, explanation: &[Contribution]) -> AttackKind {
    const VOLUME: &[Metric] = &[
        Metric::Packets,
        Metric::Bytes,
        Metric::BitsPerS,
        Metric::PacketsPerS,
        Metric::Ipv4Packets,
        Metric::Ipv6Packets,
        Metric::TcpPackets,
        Metric::UdpPackets,
        Metric::IcmpPackets,
        Metric::InitiatorBytes,
    ];
    if r.packets == 0 {
        return AttackKind::TrafficDrop;
    }
    match explanation.first() {
        Some(c) if VOLUME.contains(&c.metric) && c.z.is_some_and(|z| z > 0.0) => AttackKind::VolumeSpike,
        Some(c) if VOLUME.contains(&c.metric) && c.z.is_some_and(|z| z < 0.0) => AttackKind::TrafficDrop,
        _ => AttackKind::Unknown,
    }
}
