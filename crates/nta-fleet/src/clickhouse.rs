//! [`ClickHouse`]: a client of ClickHouse's HTTP interface — queries, JSONEachRow inserts and
//! the tables of the records. Blocking (`ureq`): the ingester calls it from a blocking task,
//! the API from its blocking pool. Only SQL that ClickHouse 18.16 (Debian 12's) accepts is
//! sent; current releases read it the same.

use crate::Error;
use crate::names::RecordKind;
use std::time::Duration;

/// Largest answer read from ClickHouse, bytes (an answer beyond it is an error, not memory
/// exhaustion): 256 MiB.
pub const MAX_ANSWER_BYTES: u64 = 256 << 20;

/// A ClickHouse server and the database of nta's tables.
#[derive(Clone)]
pub struct ClickHouse {
    agent: ureq::Agent,
    /// `http://HOST:PORT/` (credentials removed).
    base: String,
    /// `user` and `password` from the URL's userinfo, sent as parameters.
    credentials: Option<(String, String)>,
    database: String,
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouse").field("base", &self.base).field("database", &self.database).finish()
    }
}

impl ClickHouse {
    /// The server at `url` (`http://[USER[:PASSWORD]@]HOST:PORT`), nta's tables in `database`
    /// (letters, digits and `_`).
    pub fn new(url: &str, database: &str) -> Result<ClickHouse, Error> {
        let bad = |reason: &str| Error::Address { what: "ClickHouse", url: url.to_owned(), reason: reason.to_owned() };
        let rest = url.strip_prefix("http://").ok_or_else(|| bad("expected http://HOST:PORT"))?;
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('?') {
            return Err(bad("expected http://HOST:PORT without a path"));
        }
        let (credentials, host) = match rest.rsplit_once('@') {
            Some((user, host)) => {
                let (u, p) = user.split_once(':').unwrap_or((user, ""));
                (Some((u.to_owned(), p.to_owned())), host)
            }
            None => (None, rest),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if database.is_empty() || !database.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Error::Address {
                what: "ClickHouse",
                url: url.to_owned(),
                reason: format!("database {database:?}: letters, digits and _ only"),
            });
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .timeout_connect(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(ClickHouse { agent, base: format!("http://{host}/"), credentials, database: database.to_owned() })
    }

    /// The database of nta's tables.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// `database.table`.
    pub fn table(&self, kind: RecordKind) -> String {
        format!("{}.{}", self.database, kind.name())
    }

    fn post(&self, query: Option<&str>) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let mut req = self.agent.post(&self.base);
        if let Some((u, p)) = &self.credentials {
            req = req.query("user", u).query("password", p);
        }
        if let Some(q) = query {
            req = req.query("query", q);
        }
        req
    }

    fn answer(context: &str, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<String, Error> {
        let fail = |reason: String, status| Error::ClickHouse { context: context.to_owned(), reason, status };
        let mut resp = r.map_err(|e| fail(e.to_string(), None))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| fail(e.to_string(), Some(status)))?;
        if status != 200 {
            let first = text.lines().next().unwrap_or_default().chars().take(500).collect();
            return Err(fail(first, Some(status)));
        }
        Ok(text)
    }

    /// Runs `sql` and returns what it printed (in the format the query names).
    pub fn query(&self, sql: &str) -> Result<String, Error> {
        let context: String = sql.chars().take(60).collect();
        ClickHouse::answer(&context, self.post(None).send(sql))
    }

    /// Inserts `rows` (JSONEachRow: one JSON object a line) into `table` of the database.
    pub fn insert(&self, kind: RecordKind, rows: &[u8]) -> Result<(), Error> {
        let q = format!("INSERT INTO {} FORMAT JSONEachRow", self.table(kind));
        ClickHouse::answer(&format!("inserting into {}", self.table(kind)), self.post(Some(&q)).send(rows)).map(drop)
    }

    /// Whether the server answers.
    pub fn ping(&self) -> Result<(), Error> {
        self.query("SELECT 1").map(drop)
    }

    /// Creates the database and the three tables when missing.
    pub fn create_tables(&self) -> Result<(), Error> {
        self.query(&format!("CREATE DATABASE IF NOT EXISTS {}", self.database))?;
        for kind in RecordKind::ALL {
            self.query(&crate::schema::create_table(&self.table(kind), kind))?;
        }
        Ok(())
    }
}

/// `s` as a ClickHouse string literal, quoted.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_literals() {
        let c = ClickHouse::new("http://u:p@127.0.0.1:8123/", "nta").unwrap();
        assert_eq!(c.base, "http://127.0.0.1:8123/");
        assert_eq!(c.credentials, Some(("u".to_owned(), "p".to_owned())));
        assert_eq!(c.table(RecordKind::Flows), "nta.flows");
        for bad in ["127.0.0.1:8123", "https://h:1", "http://h:1/x", "http://"] {
            assert!(ClickHouse::new(bad, "nta").is_err(), "{bad}");
        }
        assert!(ClickHouse::new("http://h:1", "a.b").is_err());
        assert_eq!(quote(r"it's a \ test"), r"'it\'s a \\ test'");
    }
}
