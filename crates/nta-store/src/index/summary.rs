//! The summary and the incidents from the index: one pass over the small rows in time order
//! (counts, time range, top metrics, incident groups and their triage), then the records of
//! only the incidents shown, each built one record at a time.

use super::answers::Version;
use super::follow::Meta;
use super::query::{Where, order_by};
use super::schema::{kind_of, metrics_of, severity_of_rank};
use super::{Lines, StoreIndex};
use crate::Error;
use crate::anomalies::{Filter, Order};
use crate::files::SummaryPage;
use crate::flows::FlowFilter;
use nta_analysis::{Incident, IncidentBuilder, StoryKey, Summary, Triage, triage_cmp};
use nta_metrics::Metric;
use rusqlite::{Connection, params_from_iter};
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

/// The furthest a summary pages its incidents: the groups kept while ranking them are at
/// most this many plus the page.
pub const MAX_INCIDENT_OFFSET: usize = 100_000;

/// The columns a pass reads.
const LIGHT: &str =
    "n, at, len, id, start_ns, end_ns, gap, capture, sensor, kind, severity, detector, score, abs_z, top3";

/// One row of a pass.
struct Light {
    n: i64,
    at: i64,
    len: i64,
    id: String,
    key: Key,
    severity: nta_analysis::Severity,
    detector: String,
    score: Option<f64>,
    abs_z: Option<f64>,
}

impl Light {
    fn of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Light> {
        Ok(Light {
            n: r.get(0)?,
            at: r.get(1)?,
            len: r.get(2)?,
            id: r.get(3)?,
            key: StoryKey {
                window_start_ns: r.get(4)?,
                window_end_ns: r.get(5)?,
                incident_gap_windows: r.get(6)?,
                origin: (r.get(7)?, r.get(8)?),
                kind: kind_of(&r.get::<_, String>(9)?),
                top3: metrics_of(&r.get::<_, String>(14)?),
            },
            severity: severity_of_rank(r.get(10)?),
            detector: r.get(11)?,
            score: r.get(12)?,
            abs_z: r.get(13)?,
        })
    }
}

/// What the incident rule reads of a row: its capture and sensor by number.
type Key = StoryKey<(i64, Option<i64>)>;

/// Where a member of an incident is.
type Member = (i64, i64, String);

/// An incident group: its place among the groups, its triage, its members.
struct Group {
    index: usize,
    triage: Triage,
    members: Vec<Member>,
}

impl Group {
    fn start(index: usize, l: &Light) -> Group {
        Group { index, triage: (l.severity, l.score, l.abs_z, l.key.window_start_ns), members: Vec::new() }
    }

    fn add(&mut self, l: &Light, keep: bool) {
        let max = |cur: Option<f64>, v: Option<f64>| match (cur, v) {
            (Some(c), Some(v)) => Some(if v.total_cmp(&c).is_ge() { v } else { c }),
            (c, v) => v.or(c),
        };
        self.triage.0 = self.triage.0.max(l.severity);
        self.triage.1 = max(self.triage.1, l.score);
        self.triage.2 = max(self.triage.2, l.abs_z);
        if keep {
            self.members.push((l.at, l.len, l.id.clone()));
        }
    }
}

/// Groups ranked for a page in triage order: the greatest is the one to let go.
impl Ord for Group {
    fn cmp(&self, other: &Group) -> std::cmp::Ordering {
        triage_cmp(&self.triage, &other.triage).then(self.index.cmp(&other.index))
    }
}

impl PartialOrd for Group {
    fn partial_cmp(&self, other: &Group) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Group {
    fn eq(&self, other: &Group) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Group {}

/// The groups a page shows, as a pass finds them.
enum Pick {
    /// Groups `offset..offset + limit` in time order.
    Time { from: usize, to: usize, picked: Vec<Group> },
    /// The best `keep` groups in triage order.
    Triage { keep: usize, best: BinaryHeap<Group> },
}

impl Pick {
    fn wants_members(&self, index: usize) -> bool {
        match self {
            Pick::Time { from, to, .. } => (*from..*to).contains(&index),
            Pick::Triage { keep, .. } => *keep > 0,
        }
    }

    fn offer(&mut self, g: Group) {
        match self {
            Pick::Time { from, to, picked } => {
                if (*from..*to).contains(&g.index) {
                    picked.push(g);
                }
            }
            Pick::Triage { keep, best } => {
                if *keep == 0 {
                    return;
                }
                best.push(g);
                if best.len() > *keep {
                    best.pop();
                }
            }
        }
    }

    /// The page's groups in its order.
    fn page(self, offset: usize) -> Vec<Group> {
        match self {
            Pick::Time { picked, .. } => picked,
            Pick::Triage { best, .. } => best.into_sorted_vec().into_iter().skip(offset).collect(),
        }
    }
}

impl StoreIndex {
    /// The summary of the anomalies matching `filter` and `limit` of their incidents from
    /// `offset`, in the filter's order; kept until the store changes.
    pub fn summary(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Arc<SummaryPage>, Error> {
        if offset > MAX_INCIDENT_OFFSET {
            return Err(Error::Query {
                reason: format!("offset {offset}: a summary pages its incidents up to offset {MAX_INCIDENT_OFFSET}"),
            });
        }
        let Some(lines) = self.refresh()? else { return Ok(Arc::new(crate::summary_page(&[], filter.order, 0, 0))) };
        let sql = self.sql();
        let mut conn = self.reader()?;
        let tx = conn.transaction().map_err(&sql)?;
        let meta = Meta::read(&tx).map_err(&sql)?;
        let version: Version = meta.version();
        if let Some(s) = self.answers.summary(version, filter, offset, limit) {
            return Ok(s);
        }
        let w = Where::of(&tx, filter, meta.max_window_ns).map_err(&sql)?;
        let pick = match filter.order {
            Order::Time => Pick::Time { from: offset, to: offset.saturating_add(limit), picked: Vec::new() },
            Order::Severity => Pick::Triage { keep: offset.saturating_add(limit), best: BinaryHeap::new() },
        };
        let (summary, groups, pick) = pass(&tx, &w, pick).map_err(&sql)?;
        tx.finish().map_err(&sql)?;
        let mut incidents = Vec::new();
        for g in pick.page(offset).into_iter().take(limit) {
            incidents.extend(self.incident(&lines, &g.members)?);
        }
        let page = Arc::new(SummaryPage { summary, incidents_total: groups, incidents });
        self.answers.keep_summary(version, filter, offset, limit, page.clone());
        Ok(page)
    }

    /// The incident of these members, built one record at a time.
    fn incident(&self, lines: &Lines, members: &[Member]) -> Result<Option<Incident>, Error> {
        let mut b = IncidentBuilder::default();
        for (at, len, id) in members {
            b.push(&self.record(lines, *at, *len, id)?);
        }
        Ok(b.finish())
    }

    /// The flows of the anomaly or the incident `id`; `None` when neither has that id.
    pub fn flows_of(&self, id: &str) -> Result<Option<FlowFilter>, Error> {
        if let Some(a) = self.get(id)? {
            return Ok(Some(FlowFilter::of_anomaly(&a)));
        }
        let Some(key) = super::schema::incident_key(id) else { return Ok(None) };
        let Some(lines) = self.refresh()? else { return Ok(None) };
        let sql = self.sql();
        let mut conn = self.reader()?;
        let tx = conn.transaction().map_err(&sql)?;
        // The anomalies that would give the incident this id if they began one.
        let candidates: Vec<Light> = {
            let q = format!("SELECT {LIGHT} FROM anomalies WHERE incident = ?1 ORDER BY {}", order_by(Order::Time));
            let mut stmt = tx.prepare_cached(&q).map_err(&sql)?;
            let rows = stmt.query_map([key], Light::of);
            rows.and_then(Iterator::collect).map_err(&sql)?
        };
        for c in candidates {
            let at = (c.key.window_start_ns, c.id.clone(), c.n);
            let before = format!(
                "SELECT {LIGHT} FROM anomalies WHERE (start_ns, id, n) < (?1, ?2, ?3) ORDER BY start_ns DESC, id DESC, n DESC LIMIT 1"
            );
            let prev: Option<Light> = {
                let mut stmt = tx.prepare_cached(&before).map_err(&sql)?;
                let mut rows = stmt.query_map(rusqlite::params![at.0, at.1, at.2], Light::of).map_err(&sql)?;
                rows.next().transpose().map_err(&sql)?
            };
            if prev.is_some_and(|p| c.key.joins(&p.key)) {
                continue; // not the first of its incident
            }
            let after = format!(
                "SELECT {LIGHT} FROM anomalies WHERE (start_ns, id, n) >= (?1, ?2, ?3) ORDER BY {}",
                order_by(Order::Time)
            );
            let mut members: Vec<Member> = Vec::new();
            {
                let mut stmt = tx.prepare_cached(&after).map_err(&sql)?;
                let mut rows = stmt.query_map(rusqlite::params![at.0, at.1, at.2], Light::of).map_err(&sql)?;
                let mut last: Option<Key> = None;
                for l in rows.by_ref() {
                    let l = l.map_err(&sql)?;
                    if last.is_some_and(|k| !l.key.joins(&k)) {
                        break;
                    }
                    last = Some(l.key);
                    members.push((l.at, l.len, l.id));
                }
            }
            if let Some(i) = self.incident(&lines, &members)? {
                return Ok(Some(FlowFilter::of_incident(&i)));
            }
        }
        Ok(None)
    }
}

/// One pass over the rows `w` selects, in time order: the summary, the number of incident
/// groups, and the groups `pick` keeps with their members.
fn pass(c: &Connection, w: &Where, mut pick: Pick) -> rusqlite::Result<(Summary, usize, Pick)> {
    let q = format!("SELECT {LIGHT} FROM anomalies{} ORDER BY {}", w.sql, order_by(Order::Time));
    let mut stmt = c.prepare_cached(&q)?;
    let mut rows = stmt.query(params_from_iter(w.params.iter()))?;
    let mut s = Summary::default();
    let (mut severities, mut detectors) = (BTreeMap::<&str, usize>::new(), BTreeMap::<String, usize>::new());
    let mut metrics: BTreeMap<Metric, usize> = BTreeMap::new();
    let mut groups = 0usize;
    let mut current: Option<(Group, Key)> = None;
    while let Some(r) = rows.next()? {
        let l = Light::of(r)?;
        s.total += 1;
        *severities.entry(l.severity.name()).or_insert(0) += 1;
        match detectors.get_mut(&l.detector) {
            Some(n) => *n += 1,
            None => {
                detectors.insert(l.detector.clone(), 1);
            }
        }
        s.first_ns = Some(s.first_ns.map_or(l.key.window_start_ns, |t| t.min(l.key.window_start_ns)));
        s.last_ns = Some(s.last_ns.map_or(l.key.window_end_ns, |t| t.max(l.key.window_end_ns)));
        for m in l.key.top3.iter().flatten() {
            *metrics.entry(*m).or_insert(0) += 1;
        }
        let joins = current.as_ref().is_some_and(|(_, last)| l.key.joins(last));
        if !joins {
            if let Some((g, _)) = current.take() {
                pick.offer(g);
            }
            current = Some((Group::start(groups, &l), l.key));
            groups += 1;
        }
        if let Some((g, last)) = current.as_mut() {
            let keep = pick.wants_members(g.index);
            g.add(&l, keep);
            *last = l.key;
        }
    }
    if let Some((g, _)) = current.take() {
        pick.offer(g);
    }
    s.by_severity = severities.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    s.by_detector = detectors;
    let mut top: Vec<(Metric, usize)> = metrics.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(10);
    s.top_metrics = top;
    Ok((s, groups, pick))
}
