//! [`ClickHouseStore`]: the fleet's records in ClickHouse, read as the API reads the files
//! (`nta_store::RecordStore`): the same filters, orders, pages and JSON.

use crate::clickhouse::{ClickHouse, quote};
use crate::names::RecordKind;
use crate::schema::severity_rank;
use nta_analysis::{Anomaly, Severity};
use nta_capture::AttackKind;
use nta_metrics::Aggregate;
use nta_metrics::{FlowRecord, WindowRecord};
use nta_store::{
    Error, Filter, FlowFilter, FlowPage, MetricsFilter, MetricsPage, Order, Page, RecordCounts, RecordStore, Series,
    SeriesQuery, SummaryPage, resolve, summary_page,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Most anomalies a summary (and the lookup of an incident's flows) reads: the most recent
/// 200,000 matching ones.
pub const MAX_SUMMARY_ANOMALIES: usize = 200_000;
/// Most sensors `/api/status` lists.
pub const MAX_SENSORS_LISTED: usize = 10_000;

/// The records of a fleet in ClickHouse.
#[derive(Clone, Debug)]
pub struct ClickHouseStore {
    ch: ClickHouse,
}

#[derive(Deserialize)]
struct RecordRow {
    record: String,
}

impl ClickHouseStore {
    /// A store over `ch`, its tables created when missing.
    pub fn open(ch: ClickHouse) -> Result<ClickHouseStore, crate::Error> {
        ch.create_tables()?;
        Ok(ClickHouseStore { ch })
    }

    /// The server.
    pub fn clickhouse(&self) -> &ClickHouse {
        &self.ch
    }

    fn count(&self, kind: RecordKind, conditions: &str) -> Result<usize, Error> {
        let sql = format!("SELECT count() FROM {} FINAL WHERE {conditions} FORMAT TabSeparated", self.ch.table(kind));
        let text = self.ch.query(&sql)?;
        text.trim().parse().map_err(|_| Error::Backend { backend: "clickhouse", reason: format!("count {text:?}") })
    }

    fn records<T: DeserializeOwned>(&self, kind: RecordKind, rest: &str) -> Result<Vec<T>, Error> {
        let sql = format!("SELECT record FROM {} FINAL WHERE {rest} FORMAT JSONEachRow", self.ch.table(kind));
        let text = self.ch.query(&sql)?;
        let bad =
            |e: serde_json::Error| Error::Backend { backend: "clickhouse", reason: format!("a stored record: {e}") };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let row: RecordRow = serde_json::from_str(l).map_err(bad)?;
                serde_json::from_str(&row.record).map_err(bad)
            })
            .collect()
    }

    /// The anomalies matching `filter` in the summary's order (sensor, capture, time): the
    /// most recent [`MAX_SUMMARY_ANOMALIES`].
    fn for_summary(&self, filter: &Filter) -> Result<Vec<Anomaly>, Error> {
        let cond = anomaly_conditions(filter);
        let mut all: Vec<Anomaly> = self.records(
            RecordKind::Anomalies,
            &format!("{cond} ORDER BY window_start_ns DESC, id DESC LIMIT {MAX_SUMMARY_ANOMALIES}"),
        )?;
        all.sort_by(|a, b| {
            (&a.sensor, &a.capture, a.window_start_ns, &a.id).cmp(&(&b.sensor, &b.capture, b.window_start_ns, &b.id))
        });
        Ok(all)
    }
}

/// A float for SQL (a non-finite bound matches nothing).
fn float(x: f64) -> Option<String> {
    x.is_finite().then(|| format!("{x:?}"))
}

fn anomaly_conditions(f: &Filter) -> String {
    let mut c = vec!["1".to_owned()];
    if let Some(t) = f.since_ns {
        c.push(format!("window_end_ns > {t}"));
    }
    if let Some(t) = f.until_ns {
        c.push(format!("window_start_ns < {t}"));
    }
    if let Some(s) = f.min_severity {
        c.push(format!("severity >= {}", severity_rank(s)));
    }
    if let Some(d) = f.detector {
        c.push(format!("detector = {}", quote(d.name())));
    }
    if let Some(text) = &f.capture {
        c.push(format!("position(capture, {}) > 0", quote(text)));
    }
    if let Some(k) = f.kind {
        c.push(format!("kind = {}", quote(k.name())));
    }
    if let Some(ip) = f.ip {
        c.push(format!("has(hosts, {})", quote(&ip.to_string())));
    }
    if let Some(m) = f.min_score {
        c.push(float(m).map_or("0".to_owned(), |m| format!("score >= {m}")));
    }
    if let Some(s) = &f.sensor {
        c.push(format!("sensor = {}", quote(s)));
    }
    c.join(" AND ")
}

fn order_by(order: Order) -> &'static str {
    match order {
        Order::Severity => {
            "ORDER BY severity DESC, ifNull(score, 0) DESC, ifNull(max_abs_z, 0) DESC, window_start_ns, id"
        }
        Order::Time => "ORDER BY window_start_ns, id",
    }
}

fn metrics_conditions(f: &MetricsFilter) -> String {
    let mut c = vec!["1".to_owned()];
    if let Some(t) = f.since_ns {
        c.push(format!("window_start_ns + window_ns > {t}"));
    }
    if let Some(t) = f.until_ns {
        c.push(format!("window_start_ns < {t}"));
    }
    if let Some(s) = &f.sensor {
        c.push(format!("sensor = {}", quote(s)));
    }
    c.join(" AND ")
}

fn flow_conditions(f: &FlowFilter) -> String {
    let mut c = vec!["1".to_owned()];
    if let Some(t) = f.since_ns {
        c.push(format!("last_ns >= {t}"));
    }
    if let Some(t) = f.until_ns {
        c.push(format!("first_ns < {t}"));
    }
    if !f.ips.is_empty() {
        let ips: Vec<String> = f.ips.iter().map(|ip| quote(&ip.to_string())).collect();
        let list = ips.join(", ");
        c.push(format!("(src_ip IN ({list}) OR dst_ip IN ({list}))"));
    }
    if let Some(p) = f.port {
        c.push(format!("(src_port = {p} OR dst_port = {p})"));
    }
    if let Some(id) = &f.community_id {
        c.push(format!("community_id = {}", quote(id)));
    }
    if let Some(s) = &f.sensor {
        c.push(format!("sensor = {}", quote(s)));
    }
    c.join(" AND ")
}

impl RecordStore for ClickHouseStore {
    fn anomalies(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Page, Error> {
        let cond = anomaly_conditions(filter);
        let total = self.count(RecordKind::Anomalies, &cond)?;
        let items =
            self.records(RecordKind::Anomalies, &format!("{cond} {} LIMIT {offset}, {limit}", order_by(filter.order)))?;
        Ok(Page { total, offset, items })
    }

    fn anomaly(&self, id: &str) -> Result<Option<Anomaly>, Error> {
        let found: Vec<Anomaly> = self.records(RecordKind::Anomalies, &format!("id = {} LIMIT 1", quote(id)))?;
        Ok(found.into_iter().next())
    }

    fn summary(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Arc<SummaryPage>, Error> {
        let all = self.for_summary(filter)?;
        let items: Vec<&Anomaly> = all.iter().collect();
        Ok(Arc::new(summary_page(&items, filter.order, offset, limit)))
    }

    fn metrics(&self, filter: &MetricsFilter, offset: usize, limit: usize) -> Result<MetricsPage, Error> {
        let cond = metrics_conditions(filter);
        let total = self.count(RecordKind::Metrics, &cond)?;
        let items: Vec<WindowRecord> = self.records(
            RecordKind::Metrics,
            &format!("{cond} ORDER BY window_start_ns, late, sensor, capture, id LIMIT {offset}, {limit}"),
        )?;
        Ok(MetricsPage { total, offset, items })
    }

    fn flows(&self, filter: &FlowFilter, offset: usize, limit: usize) -> Result<FlowPage, Error> {
        let cond = flow_conditions(filter);
        let total = self.count(RecordKind::Flows, &cond)?;
        let items: Vec<FlowRecord> =
            self.records(RecordKind::Flows, &format!("{cond} ORDER BY last_ns, first_ns, id LIMIT {offset}, {limit}"))?;
        Ok(FlowPage { total, offset, items, bad_lines: 0 })
    }

    fn flows_of(&self, id: &str) -> Result<Option<FlowFilter>, Error> {
        if let Some(a) = self.anomaly(id)? {
            return Ok(Some(FlowFilter::of_anomaly(&a)));
        }
        let all = self.for_summary(&Filter { order: Order::Time, ..Filter::default() })?;
        let refs: Vec<&Anomaly> = all.iter().collect();
        Ok(FlowFilter::of_id(&refs, id))
    }

    fn counts(&self) -> Result<RecordCounts, Error> {
        let union = RecordKind::ALL
            .iter()
            .map(|k| format!("SELECT DISTINCT sensor FROM {}", self.ch.table(*k)))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let sql = format!(
            "SELECT DISTINCT sensor FROM ({union}) ORDER BY sensor LIMIT {MAX_SENSORS_LISTED} FORMAT JSONEachRow"
        );
        #[derive(Deserialize)]
        struct Sensor {
            sensor: String,
        }
        let sensors = self
            .ch
            .query(&sql)?
            .lines()
            .filter_map(|l| serde_json::from_str::<Sensor>(l).ok().map(|s| s.sensor))
            .collect();
        Ok(RecordCounts {
            backend: "clickhouse",
            metrics_windows: self.count(RecordKind::Metrics, "1")?,
            anomalies: self.count(RecordKind::Anomalies, "1")?,
            flows: Some(self.count(RecordKind::Flows, "1")?),
            sensors,
        })
    }

    fn series(&self, q: &SeriesQuery) -> Result<Series, Error> {
        let table = self.ch.table(RecordKind::Metrics);
        let cond = metrics_conditions(&MetricsFilter { sensor: q.sensor.clone(), ..MetricsFilter::default() });
        let bad =
            |what: &str, text: &str| Error::Backend { backend: "clickhouse", reason: format!("{what}: {text:?}") };
        let sql = format!(
            "SELECT count(), min(window_start_ns), max(window_start_ns + window_ns), any(window_ns) \
             FROM {table} FINAL WHERE {cond} FORMAT TabSeparated"
        );
        let text = self.ch.query(&sql)?;
        let nums: Vec<i64> = text.split_whitespace().filter_map(|t| t.parse().ok()).collect();
        let [n, lo, hi, window_ns] = nums[..] else { return Err(bad("extent", &text)) };
        let extent = (n > 0).then_some((lo, hi));
        let window_ns = if n > 0 { window_ns } else { 0 };
        let (since, until, step, points) = resolve(q, extent, window_ns).map_err(|reason| Error::Query { reason })?;
        let mut columns = Vec::new();
        for m in &q.metrics {
            let name = quote(m.name());
            let (x, has) = (
                format!("visitParamExtractFloat(record, {name})"),
                format!("visitParamExtractRaw(record, {name}) != 'null'"),
            );
            let f = match m.aggregate() {
                Aggregate::Sum => "sumIf",
                Aggregate::Mean => "avgIf",
                Aggregate::Max => "maxIf",
            };
            columns.push(format!("countIf({has}), if(countIf({has}) > 0, {f}({x}, {has}), 0)"));
        }
        let sql = format!(
            "SELECT intDiv(window_start_ns - {since}, {step}) AS b, count(), {} FROM {table} FINAL \
             WHERE {cond} AND window_start_ns >= {since} AND window_start_ns < {until} GROUP BY b ORDER BY b \
             FORMAT TabSeparated",
            columns.join(", ")
        );
        let mut windows = vec![0u32; points];
        let mut values = vec![vec![None; points]; q.metrics.len()];
        for line in self.ch.query(&sql)?.lines().filter(|l| !l.is_empty()) {
            let cells: Vec<&str> = line.split('\t').collect();
            let mut parsed = || -> Option<()> {
                let b: usize = cells.first()?.parse().ok()?;
                *windows.get_mut(b)? = cells.get(1)?.parse().ok()?;
                for (k, v) in values.iter_mut().enumerate() {
                    let have: u64 = cells.get(2 + 2 * k)?.parse().ok()?;
                    let x: f64 = cells.get(3 + 2 * k)?.parse().ok()?;
                    *v.get_mut(b)? = (have > 0).then_some(x);
                }
                Some(())
            };
            parsed().ok_or_else(|| bad("a step", line))?;
        }
        Ok(Series::from_steps((since, until, step), window_ns, &q.metrics, windows, values))
    }

    fn anomaly_counts(&self) -> Result<Vec<(Severity, AttackKind, usize)>, Error> {
        let sql = format!(
            "SELECT severity, kind, count() AS n FROM {} FINAL GROUP BY severity, kind ORDER BY n DESC FORMAT TabSeparated",
            self.ch.table(RecordKind::Anomalies)
        );
        let mut out = Vec::new();
        for line in self.ch.query(&sql)?.lines().filter(|l| !l.is_empty()) {
            let mut cells = line.split('\t');
            let rank: u8 = cells.next().and_then(|c| c.parse().ok()).unwrap_or(0);
            let kind: Option<AttackKind> = cells.next().and_then(|k| serde_json::from_value(k.into()).ok());
            let n: usize = cells.next().and_then(|c| c.parse().ok()).unwrap_or(0);
            let severity = Severity::ALL.into_iter().find(|s| severity_rank(*s) == rank);
            if let (Some(s), Some(k)) = (severity, kind) {
                out.push((s, k, n));
            }
        }
        Ok(out)
    }
}
