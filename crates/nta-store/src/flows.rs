//! The flow records of the logs directory (`<logs>/flows.jsonl`, written by an analysis):
//! [`FlowFilter`] and [`read_flows`], read streaming — a page holds at most `limit` records,
//! whatever the file's size.

use crate::Error;
use nta_analysis::{Anomaly, Incident};
use nta_capture::LineReader;
use nta_metrics::FlowRecord;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::Path;

/// Which flows; every field optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowFilter {
    /// Flows whose last packet is at or after this (ns).
    pub since_ns: Option<i64>,
    /// Flows whose first packet is before this (ns).
    pub until_ns: Option<i64>,
    /// Flows with one of these addresses at either end (none: any).
    pub ips: Vec<IpAddr>,
    /// Flows with this port at either end.
    pub port: Option<u16>,
    /// This Community ID.
    pub community_id: Option<String>,
    /// Records of this sensor.
    pub sensor: Option<String>,
}

impl FlowFilter {
    /// Whether `f` passes.
    pub fn matches(&self, f: &FlowRecord) -> bool {
        self.since_ns.is_none_or(|t| f.last_ns >= t)
            && self.until_ns.is_none_or(|t| f.first_ns < t)
            && (self.ips.is_empty() || self.ips.iter().any(|ip| f.src_ip == *ip || f.dst_ip == *ip))
            && self.port.is_none_or(|p| f.src_port == p || f.dst_port == p)
            && self.community_id.as_deref().is_none_or(|c| f.community_id == c)
            && self.sensor.as_deref().is_none_or(|s| f.sensor.as_deref() == Some(s))
    }

    /// The flows of an anomaly: those active in its window, between its attackers and victims
    /// (any flow of the window when it names no host).
    pub fn of_anomaly(a: &Anomaly) -> FlowFilter {
        let ips = a.attackers.iter().chain(&a.victims).map(|h| h.ip).collect();
        FlowFilter {
            since_ns: Some(a.window_start_ns),
            until_ns: Some(a.window_end_ns),
            ips,
            sensor: a.sensor.clone(),
            ..FlowFilter::default()
        }
    }

    /// The flows of the anomaly or the incident `id` among `anomalies` (in time order: the
    /// incidents are grouped from them); `None` when neither has that id.
    pub fn of_id(anomalies: &[&Anomaly], id: &str) -> Option<FlowFilter> {
        match anomalies.iter().find(|a| a.id == id) {
            Some(a) => Some(FlowFilter::of_anomaly(a)),
            None => nta_analysis::incidents(anomalies.iter().copied())
                .into_iter()
                .find(|i| i.id == id)
                .map(|i| FlowFilter::of_incident(&i)),
        }
    }

    /// The flows of an incident: active from its start to its end, of its attackers and victims.
    pub fn of_incident(i: &Incident) -> FlowFilter {
        let ips = i.attackers.iter().chain(&i.victims).map(|h| h.ip).collect();
        FlowFilter {
            since_ns: Some(i.start_ns),
            until_ns: Some(i.end_ns),
            ips,
            sensor: i.sensor.clone(),
            ..FlowFilter::default()
        }
    }
}

/// One page of flow records.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowPage {
    /// Matching records in total.
    pub total: usize,
    /// Offset of the first item.
    pub offset: usize,
    /// The records, in the order their flows ended.
    pub items: Vec<FlowRecord>,
    /// Lines that did not parse (a torn last line included), skipped.
    pub bad_lines: usize,
}

/// The records of `path` that pass `filter`, `limit` of them from `offset` (no file: none).
pub fn read_flows(path: &Path, filter: &FlowFilter, offset: usize, limit: usize) -> Result<FlowPage, Error> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FlowPage { offset, ..FlowPage::default() }),
        Err(e) => return Err(Error::io(path)(e)),
    };
    let mut lines = LineReader::new(std::io::BufReader::with_capacity(1 << 16, file));
    let mut page = FlowPage { offset, ..FlowPage::default() };
    while let Some(line) =
        lines.next_line().map_err(|e| Error::Format { path: path.to_owned(), reason: e.to_string() })?
    {
        let Ok(f) = serde_json::from_str::<FlowRecord>(line.text) else {
            page.bad_lines += 1;
            continue;
        };
        if filter.matches(&f) {
            if page.total >= offset && page.items.len() < limit {
                page.items.push(f);
            }
            page.total += 1;
        }
    }
    Ok(page)
}
