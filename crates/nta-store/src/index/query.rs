//! What the index answers: listings, one record, counts.

use super::follow::Meta;
use super::schema::{ip_bytes, kind_of, severity_of_rank, severity_rank};
use super::{Lines, StoreIndex};
use crate::Error;
use crate::anomalies::{Filter, Order, Page};
use crate::records::JsonPage;
use nta_analysis::{Anomaly, Severity};
use nta_capture::{AttackKind, MAX_LINE_BYTES};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// A row of a page: where its line is, the id it must have, whether it is sent as it is.
struct PageRow {
    at: i64,
    len: i64,
    id: String,
    canonical: bool,
}

/// A condition on the `anomalies` table and its parameters.
pub(super) struct Where {
    pub(super) sql: String,
    pub(super) params: Vec<Value>,
}

impl Where {
    /// The rows `f` selects; `max_window_ns` (the longest window indexed) turns "ends after"
    /// into a range of starts, which `by_time` answers. Captures and sensors are named by
    /// their numbers (found first, so that one capture or sensor is an equality an index
    /// answers in either order).
    pub(super) fn of(c: &Connection, f: &Filter, max_window_ns: i64) -> rusqlite::Result<Where> {
        let mut conds: Vec<&str> = Vec::new();
        let mut params = Vec::new();
        if let Some(t) = f.since_ns {
            conds.push("end_ns > ?");
            params.push(Value::Integer(t));
            conds.push("start_ns > ?");
            params.push(Value::Integer(t.saturating_sub(max_window_ns.max(0))));
        }
        if let Some(t) = f.until_ns {
            conds.push("start_ns < ?");
            params.push(Value::Integer(t));
        }
        if let Some(s) = f.min_severity {
            conds.push("severity >= ?");
            params.push(Value::Integer(severity_rank(s)));
        }
        if let Some(d) = f.detector {
            conds.push("detector = ?");
            params.push(Value::Text(d.name().to_owned()));
        }
        let in_list = |ids: &[i64]| match ids {
            [] => "0".to_owned(),
            [_] => "= ?".to_owned(),
            _ => format!("IN ({})", vec!["?"; ids.len()].join(", ")),
        };
        let captures: Vec<i64>;
        let capture_cond: String;
        if let Some(text) = &f.capture {
            let mut q = c.prepare_cached("SELECT id FROM captures WHERE instr(name, ?1) > 0 ORDER BY id")?;
            captures = q.query_map([text], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            capture_cond = if captures.is_empty() { "0".to_owned() } else { format!("capture {}", in_list(&captures)) };
            conds.push(&capture_cond);
            params.extend(captures.iter().map(|id| Value::Integer(*id)));
        }
        if let Some(k) = f.kind {
            conds.push("kind = ?");
            params.push(Value::Text(k.name().to_owned()));
        }
        if let Some(ip) = f.ip {
            conds.push("n IN (SELECT n FROM hosts WHERE ip = ?)");
            params.push(Value::Blob(ip_bytes(ip)));
        }
        if let Some(m) = f.min_score {
            conds.push("score >= ?");
            params.push(if m.is_nan() { Value::Null } else { Value::Real(m) });
        }
        if let Some(name) = &f.sensor {
            let mut q = c.prepare_cached("SELECT id FROM sensors WHERE name = ?1")?;
            let id: Option<i64> = q.query_map([name], |r| r.get(0))?.next().transpose()?;
            match id {
                Some(id) => {
                    conds.push("sensor = ?");
                    params.push(Value::Integer(id));
                }
                None => conds.push("0"),
            }
        }
        let sql = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
        Ok(Where { sql, params })
    }
}

/// The `ORDER BY` of an order (the file order last: ties stay as the store has them).
pub(super) fn order_by(o: Order) -> &'static str {
    match o {
        Order::Time => "start_ns, id, n",
        Order::Severity => "severity DESC, score0 DESC, abs_z0 DESC, start_ns, id, n",
    }
}

/// The line at `at` of `len` bytes.
pub(super) fn read_line(file: &File, at: i64, len: i64) -> Result<Vec<u8>, std::io::Error> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "the index names a line outside the store");
    let at = u64::try_from(at).map_err(|_| bad())?;
    let len = usize::try_from(len).ok().filter(|l| *l <= MAX_LINE_BYTES).ok_or_else(bad)?;
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, at)?;
    Ok(buf)
}

impl StoreIndex {
    /// The record of the line at `at`, which the index says has `id`.
    pub(super) fn record(&self, lines: &Lines, at: i64, len: i64, id: &str) -> Result<Anomaly, Error> {
        let line = read_line(lines, at, len).map_err(Error::io(self.store.path()))?;
        match serde_json::from_slice::<Anomaly>(&line) {
            Ok(a) if a.id == id => Ok(a),
            _ => Err(super::unavailable("the anomaly store changed while it was read: ask again")),
        }
    }

    /// The matching records in the filter's order, `limit` of them from `offset`.
    pub fn list(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Page, Error> {
        let Some((lines, total, rows)) = self.page_rows(filter, offset, limit)? else {
            return Ok(Page { total: 0, offset, items: Vec::new() });
        };
        let items = rows.iter().map(|r| self.record(&lines, r.at, r.len, &r.id)).collect::<Result<_, _>>()?;
        Ok(Page { total, offset, items })
    }

    /// The same page as JSON (`Page`'s form): the lines of the store as they are, when they are
    /// what this version writes for their records — nothing parsed or serialized again.
    pub fn list_json(&self, filter: &Filter, offset: usize, limit: usize) -> Result<JsonPage, Error> {
        let Some((lines, total, rows)) = self.page_rows(filter, offset, limit)? else {
            return JsonPage::of(&Page { total: 0, offset, items: Vec::new() });
        };
        let mut body = format!("{{\"total\":{total},\"offset\":{offset},\"items\":[").into_bytes();
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            let line = if r.canonical { read_line(&lines, r.at, r.len).ok() } else { None };
            // A line of this record, as written (its id first): sent as it is.
            match line.filter(|l| l.strip_prefix(b"{\"id\":\"").is_some_and(|t| t.starts_with(r.id.as_bytes()))) {
                Some(l) => body.extend_from_slice(&l),
                None => {
                    let a = self.record(&lines, r.at, r.len, &r.id)?;
                    serde_json::to_writer(&mut body, &a).map_err(|e| super::unavailable(&e.to_string()))?;
                }
            }
        }
        body.extend_from_slice(b"]}");
        Ok(JsonPage { total, offset, body })
    }

    /// The total and one page of rows of a listing; `None` without a store.
    fn page_rows(
        &self,
        filter: &Filter,
        offset: usize,
        limit: usize,
    ) -> Result<Option<(Lines, usize, Vec<PageRow>)>, Error> {
        let Some(lines) = self.refresh()? else { return Ok(None) };
        let sql = self.sql();
        let mut conn = self.reader()?;
        // One read transaction: the total and the page see the same rows.
        let tx = conn.transaction().map_err(&sql)?;
        let meta = Meta::read(&tx).map_err(&sql)?;
        let w = Where::of(&tx, filter, meta.max_window_ns).map_err(&sql)?;
        let total = match self.answers.total(meta.version(), filter) {
            Some(t) => t,
            None => {
                let t = count(&tx, &w).map_err(&sql)?;
                self.answers.keep_total(meta.version(), filter, t);
                t
            }
        };
        let mut params = w.params;
        params.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        params.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        let q = format!(
            "SELECT at, len, id, canonical FROM anomalies{} ORDER BY {} LIMIT ? OFFSET ?",
            w.sql,
            order_by(filter.order)
        );
        let rows: Vec<PageRow> = {
            let mut stmt = tx.prepare_cached(&q).map_err(&sql)?;
            let rows = stmt.query_map(params_from_iter(params.iter()), |r| {
                Ok(PageRow { at: r.get(0)?, len: r.get(1)?, id: r.get(2)?, canonical: r.get(3)? })
            });
            rows.and_then(Iterator::collect).map_err(&sql)?
        };
        tx.finish().map_err(&sql)?;
        Ok(Some((lines, total, rows)))
    }

    /// The record with this id (the first in time order if the store has it twice).
    pub fn get(&self, id: &str) -> Result<Option<Anomaly>, Error> {
        let Some(lines) = self.refresh()? else { return Ok(None) };
        let conn = self.reader()?;
        let row = conn
            .prepare_cached("SELECT at, len, id FROM anomalies WHERE id = ?1 ORDER BY start_ns, id, n LIMIT 1")
            .and_then(|mut s| {
                let mut rows = s.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))?;
                rows.next().transpose()
            })
            .map_err(self.sql())?;
        row.map(|(at, len, id)| self.record(&lines, at, len, &id)).transpose()
    }

    /// Records indexed.
    pub fn len(&self) -> Result<usize, Error> {
        Ok(self.meta()?.map_or(0, |m| usize::try_from(m.rows).unwrap_or(usize::MAX)))
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// Complete lines of the store that are not records, skipped.
    pub fn bad_lines(&self) -> Result<usize, Error> {
        Ok(self.meta()?.map_or(0, |m| usize::try_from(m.bad_lines).unwrap_or(usize::MAX)))
    }

    /// What the index holds, after following the store; `None` without a store.
    fn meta(&self) -> Result<Option<Meta>, Error> {
        if self.refresh()?.is_none() {
            return Ok(None);
        }
        let conn = self.reader()?;
        Meta::read(&conn).map(Some).map_err(self.sql())
    }

    /// Records by severity and kind, most first.
    pub fn counts_by_severity_and_kind(&self) -> Result<Vec<(Severity, AttackKind, usize)>, Error> {
        if self.refresh()?.is_none() {
            return Ok(Vec::new());
        }
        let sql = self.sql();
        let mut conn = self.reader()?;
        let tx = conn.transaction().map_err(&sql)?;
        let meta = Meta::read(&tx).map_err(&sql)?;
        if let Some(c) = self.answers.kinds(meta.version()) {
            return Ok((*c).clone());
        }
        let mut counts: Vec<(Severity, AttackKind, usize)> = {
            let mut stmt = tx.prepare_cached("SELECT severity, kind, n FROM kinds").map_err(&sql)?;
            let rows = stmt.query_map([], |r| {
                let n: i64 = r.get(2)?;
                Ok((severity_of_rank(r.get(0)?), kind_of(&r.get::<_, String>(1)?), usize::try_from(n).unwrap_or(0)))
            });
            rows.and_then(Iterator::collect).map_err(&sql)?
        };
        crate::records::sort_counts(&mut counts);
        self.answers.keep_kinds(meta.version(), std::sync::Arc::new(counts.clone()));
        Ok(counts)
    }
}

/// Rows matching `w`.
fn count(c: &Connection, w: &Where) -> rusqlite::Result<usize> {
    let q = format!("SELECT COUNT(*) FROM anomalies{}", w.sql);
    let n: i64 = c.prepare_cached(&q)?.query_row(params_from_iter(w.params.iter()), |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}
