//! `nta-cli anomalies list|summary|export|flows`: read the anomaly store, through its index
//! (`<store>.index`, made or brought up to date beside it: a large store is not read whole
//! again); where the index cannot be made (a read-only directory), the store is read whole.

use anyhow::Result;
use nta_analysis::{Detector, Severity};
use nta_capture::AttackKind;
use nta_capture::format_rfc3339_ns;
use nta_store::{AnomalyStore, Filter, Order, Page, StoreIndex, SummaryPage};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum AnomaliesCmd {
    /// List stored anomalies (filters, pagination)
    List(ListArgs),
    /// Counts by severity and detector, time range, top metrics, incidents
    Summary(ListArgs),
    /// Write the matching anomalies for a SIEM: Elastic Common Schema JSON lines
    Export(ExportArgs),
    /// The flows of an anomaly or an incident (by id): active in its time, between its hosts
    Flows(FlowsOfArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct FlowsOfArgs {
    /// An anomaly id or an incident id
    id: String,
    /// The store
    #[arg(long, default_value = "logs/anomalies.jsonl")]
    store: PathBuf,
    /// The flow records (written by `analyze`, or `extract --flows`)
    #[arg(long, default_value = "logs/flows.jsonl")]
    flows: PathBuf,
    /// Skip this many
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// At most this many
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// JSON output (the page: total, offset, items)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// Format: ecs (Elastic Common Schema alerts, one JSON line each)
    #[arg(long, default_value = "ecs", value_parser = ["ecs"])]
    format: String,
    /// Output file ("-" for stdout), written atomically
    #[arg(long, default_value = "-")]
    out: PathBuf,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// The store
    #[arg(long, default_value = "logs/anomalies.jsonl")]
    store: PathBuf,
    /// Windows ending after this (RFC 3339)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    since: Option<i64>,
    /// Windows starting before this (RFC 3339)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    until: Option<i64>,
    /// At least this severity
    #[arg(long)]
    severity: Option<Severity>,
    /// Only this detector (model, baseline, both, rules)
    #[arg(long)]
    detector: Option<Detector>,
    /// Only this attack kind (port_scan, host_sweep, syn_flood, udp_flood, icmp_flood,
    /// dns_tunnel, brute_force, arp_spoof, exfiltration, volume_spike, traffic_drop, unknown)
    #[arg(long, value_parser = parse_kind)]
    kind: Option<AttackKind>,
    /// Only anomalies with this address among their attackers or victims
    #[arg(long)]
    ip: Option<std::net::IpAddr>,
    /// Capture name containing this text
    #[arg(long, alias = "source")]
    capture: Option<String>,
    /// Order: severity (most severe first) or time
    #[arg(long, default_value = "severity")]
    order: Order,
    /// Model score at least this
    #[arg(long)]
    min_score: Option<f64>,
    /// Only anomalies of this sensor (`--sensor` of a fleet's sensors)
    #[arg(long)]
    sensor: Option<String>,
    /// Skip this many
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// At most this many
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// JSON output
    #[arg(long)]
    json: bool,
}

pub(crate) fn parse_kind(s: &str) -> Result<AttackKind, String> {
    // The names, and the synthesizer's older ones (`portscan`, …) as the labels read them.
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("unknown kind {s:?}: expected one of {}", AttackKind::ALL.map(|k| k.name()).join(", ")))
}

fn filter_of(a: &ListArgs) -> Filter {
    Filter {
        since_ns: a.since,
        until_ns: a.until,
        min_severity: a.severity,
        detector: a.detector,
        capture: a.capture.clone(),
        kind: a.kind,
        ip: a.ip,
        min_score: a.min_score,
        sensor: a.sensor.clone(),
        order: a.order,
    }
}

/// The store at `path` read through its index; `whole` answers instead when the index cannot
/// be made or read (it says why once).
fn through_index<T>(
    path: &std::path::Path,
    indexed: impl FnOnce(&StoreIndex) -> std::result::Result<T, nta_store::Error>,
    whole: impl FnOnce(&AnomalyStore) -> std::result::Result<T, nta_store::Error>,
) -> Result<T> {
    let store = AnomalyStore::new(path);
    if path.exists() && !path.is_file() {
        // A device or a pipe: read as it comes (and bounded as every line is).
        return Ok(whole(&store)?);
    }
    let index = StoreIndex::new(store.clone());
    match indexed(&index) {
        Ok(v) => Ok(v),
        Err(e @ nta_store::Error::Backend { .. }) => {
            eprintln!("note: {}; reading the store whole", nta_store::error_chain(&e));
            Ok(whole(&store)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Warns when the store's last line is incomplete (a writer was interrupted): it is skipped.
fn warn_torn(path: &std::path::Path) {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else { return };
    let mut last = [0u8; 1];
    if f.seek(SeekFrom::End(-1)).is_ok() && f.read_exact(&mut last).is_ok() && last[0] != b'\n' {
        eprintln!("warning: {}: an incomplete last line was skipped", path.display());
    }
}

/// One page of a listing.
fn list(path: &std::path::Path, filter: &Filter, offset: usize, limit: usize) -> Result<Page> {
    through_index(path, |i| i.list(filter, offset, limit), |s| s.list(filter, offset, limit))
}

/// The summary and every incident of the matching anomalies, in the filter's order.
fn summary(path: &std::path::Path, filter: &Filter) -> Result<SummaryPage> {
    through_index(
        path,
        |i| i.summary(filter, 0, usize::MAX).map(|p| (*p).clone()),
        |s| {
            let mut all = s.read()?.anomalies;
            all.sort_by(|x, y| x.window_start_ns.cmp(&y.window_start_ns).then_with(|| x.id.cmp(&y.id)));
            let items: Vec<&nta_analysis::Anomaly> = all.iter().filter(|x| filter.matches(x)).collect();
            Ok(nta_store::summary_page(&items, filter.order, 0, usize::MAX))
        },
    )
}

pub(crate) fn run(cmd: &AnomaliesCmd) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        AnomaliesCmd::List(a) => {
            let page = list(&a.store, &filter_of(a), a.offset, a.limit)?;
            if a.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&page)?)?;
            } else {
                for x in &page.items {
                    writeln!(out, "{}  {}  {:<8} {:<8} {}", x.id, x.window_start, x.severity, x.detector, x.summary)?;
                }
                eprintln!("{} of {} matching (offset {})", page.items.len(), page.total, page.offset);
            }
        }
        AnomaliesCmd::Export(e) => {
            let a = &e.list;
            let page = list(&a.store, &Filter { order: Order::Time, ..filter_of(a) }, a.offset, usize::MAX)?;
            let mut text = Vec::new();
            for x in &page.items {
                serde_json::to_writer(&mut text, &crate::export::ecs(x))?;
                text.push(b'\n');
            }
            if e.out.as_os_str() == "-" {
                out.write_all(&text)?;
            } else {
                nta_store::write_atomic(&e.out, &text)?;
            }
            eprintln!("{} anomalies exported ({})", page.items.len(), e.format);
        }
        AnomaliesCmd::Flows(f) => {
            let filter = through_index(
                &f.store,
                |i| i.flows_of(&f.id),
                |s| {
                    let mut all = s.read()?.anomalies;
                    all.sort_by(|x, y| x.window_start_ns.cmp(&y.window_start_ns).then_with(|| x.id.cmp(&y.id)));
                    let refs: Vec<&nta_analysis::Anomaly> = all.iter().collect();
                    Ok(nta_store::FlowFilter::of_id(&refs, &f.id))
                },
            )?;
            let Some(filter) = filter else {
                anyhow::bail!("no anomaly or incident {} in {}", f.id, f.store.display());
            };
            let page = nta_store::read_flows(&f.flows, &filter, f.offset, f.limit)?;
            if f.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&page)?)?;
            } else {
                for r in &page.items {
                    writeln!(
                        out,
                        "{}  {:>3} {}:{} -> {}:{}  {:<6} {}/{} pkts {}/{} B  {}  {}",
                        r.first,
                        r.proto,
                        r.src_ip,
                        r.src_port,
                        r.dst_ip,
                        r.dst_port,
                        format!("{:?}", r.conn_state),
                        r.src_packets,
                        r.dst_packets,
                        r.src_bytes,
                        r.dst_bytes,
                        r.community_id,
                        r.app.as_ref().map_or(String::new(), |a| format!("{} {}", a.kind, a.name)),
                    )?;
                }
                eprintln!(
                    "{} of {} flows (offset {}) from {}",
                    page.items.len(),
                    page.total,
                    page.offset,
                    f.flows.display()
                );
            }
        }
        AnomaliesCmd::Summary(a) => {
            warn_torn(&a.store);
            let page = summary(&a.store, &filter_of(a))?;
            let (s, incidents) = (page.summary, page.incidents);
            if a.json {
                writeln!(out, "{}", serde_json::json!({ "summary": s, "incidents": incidents }))?;
            } else {
                writeln!(out, "{} anomalies, {} incidents", s.total, incidents.len())?;
                writeln!(out, "  by severity: {:?}", s.by_severity)?;
                writeln!(out, "  by detector: {:?}", s.by_detector)?;
                if let (Some(f), Some(l)) = (s.first_ns, s.last_ns) {
                    writeln!(out, "  from {} to {}", format_rfc3339_ns(f), format_rfc3339_ns(l))?;
                }
                let top: Vec<String> = s.top_metrics.iter().map(|(m, n)| format!("{m} ({n})")).collect();
                writeln!(out, "  top metrics: {}", top.join(", "))?;
                for i in incidents.iter().skip(a.offset).take(a.limit) {
                    let line =
                        if i.headline.is_empty() || i.kind == AttackKind::Unknown { &i.summary } else { &i.headline };
                    writeln!(out, "  {:<8} {}  {line}", i.severity.name().to_uppercase(), i.start)?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
