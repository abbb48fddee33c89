//! Following the store: the lines appended since the last call, parsed and inserted.

use super::schema::{self, Inserter, Row, SCHEMA_VERSION};
use super::{Lines, StoreIndex, lock};
use crate::Error;
use crate::identity::FileKey;
use nta_analysis::Anomaly;
use nta_capture::MAX_LINE_BYTES;
use rayon::prelude::*;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Bytes of the store parsed and inserted in one transaction.
const BLOCK_BYTES: usize = 32 << 20;

/// The file as last indexed.
#[derive(Debug)]
pub(super) struct Seen {
    key: FileKey,
    pub(super) lines: Lines,
}

/// What the index's `meta` table says it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Meta {
    version: i64,
    dev: u64,
    ino: u64,
    /// Bytes of the file indexed (up to and including the last complete line).
    pub(super) consumed: u64,
    /// Complete lines that were not anomalies.
    pub(super) bad_lines: u64,
    /// Rows.
    pub(super) rows: u64,
    /// The longest window indexed, ns (bounds a time filter's range on `by_time`).
    pub(super) max_window_ns: i64,
}

impl Meta {
    pub(super) fn read(c: &Connection) -> rusqlite::Result<Meta> {
        let mut m = Meta::default();
        let mut q = c.prepare_cached("SELECT key, value FROM meta")?;
        let mut rows = q.query([])?;
        while let Some(r) = rows.next()? {
            let (k, v): (String, i64) = (r.get(0)?, r.get(1)?);
            let u = u64::try_from(v).unwrap_or(0);
            match k.as_str() {
                "version" => m.version = v,
                "dev" => m.dev = u,
                "ino" => m.ino = u,
                "consumed" => m.consumed = u,
                "bad_lines" => m.bad_lines = u,
                "rows" => m.rows = u,
                "max_window_ns" => m.max_window_ns = v,
                _ => {}
            }
        }
        Ok(m)
    }

    fn write(&self, c: &Connection) -> rusqlite::Result<()> {
        let mut q = c.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?;
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for (k, v) in [
            ("version", self.version),
            ("dev", i(self.dev)),
            ("ino", i(self.ino)),
            ("consumed", i(self.consumed)),
            ("bad_lines", i(self.bad_lines)),
            ("rows", i(self.rows)),
            ("max_window_ns", self.max_window_ns),
        ] {
            q.execute(params![k, v])?;
        }
        Ok(())
    }

    /// The version of the tables.
    pub(super) fn schema(&self) -> i64 {
        self.version
    }

    /// The version key of cached answers: the file and how much of it is indexed.
    pub(super) fn version(&self) -> (u64, u64, u64) {
        (self.dev, self.ino, self.consumed)
    }
}

impl StoreIndex {
    /// Indexes what was appended since the last call; returns the store's lines, or `None`
    /// when there is no store.
    pub(super) fn refresh(&self) -> Result<Option<Lines>, Error> {
        let path = self.store.path();
        let key = match std::fs::metadata(path) {
            // A device or a pipe has no lines to find again by offset: not indexed.
            Ok(m) if !m.is_file() => {
                return Err(super::unavailable(&format!("{}: not a regular file", path.display())));
            }
            Ok(m) => FileKey::of(&m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // No store: nothing to answer. The index is left as it is (another follower
                // may be indexing a store that appeared since); a store that appears is
                // another file, indexed afresh.
                *lock(&self.seen) = None;
                return Ok(None);
            }
            Err(e) => return Err(Error::io(path)(e)),
        };
        if let Some(seen) = lock(&self.seen).as_ref()
            && seen.key == key
        {
            return Ok(Some(seen.lines.clone()));
        }
        let mut w = self.writer()?;
        let Some(conn) = w.as_mut() else { return Err(super::unavailable("no connection")) };
        let lines: Lines = {
            let seen = lock(&self.seen);
            match seen.as_ref() {
                Some(s) if s.key.same_file(&key) => s.lines.clone(),
                _ => Arc::new(File::open(path).map_err(Error::io(path))?),
            }
        };
        self.catch_up(conn, &lines)?;
        *lock(&self.seen) = Some(Seen { key, lines: lines.clone() });
        Ok(Some(lines))
    }

    /// Inserts the complete lines between what the index holds and the end of `file`: a thread
    /// reads and parses the next block while this one inserts the last.
    fn catch_up(&self, conn: &mut Connection, file: &File) -> Result<(), Error> {
        let sql = self.sql();
        // Judged and reset in one write transaction: another process that indexed this file
        // meanwhile is seen, never undone.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        // The file as it is now, under the lock: another follower may have indexed beyond
        // what the caller saw, which is no reason to start afresh.
        let key = FileKey::of(&file.metadata().map_err(Error::io(self.store.path()))?);
        let mut meta = Meta::read(&tx).map_err(&sql)?;
        let same = meta.version == SCHEMA_VERSION
            && (meta.dev, meta.ino) == (key.dev, key.ino)
            && meta.consumed <= key.len
            && last_line_reads_the_same(&tx, file).map_err(&sql)?;
        if !same {
            meta = Meta { version: SCHEMA_VERSION, dev: key.dev, ino: key.ino, ..Meta::default() };
            reset(&tx, &meta).map_err(&sql)?;
        }
        tx.commit().map_err(&sql)?;
        'restart: while meta.consumed < key.len {
            let from = meta.consumed;
            let (blocks, next) = std::sync::mpsc::sync_channel::<std::io::Result<Block>>(1);
            let restarted = std::thread::scope(|s| -> Result<bool, Error> {
                s.spawn(move || read_blocks(file, from, key.len, &blocks));
                for block in next {
                    let block = block.map_err(Error::io(self.store.path()))?;
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
                    let now = Meta::read(&tx).map_err(&sql)?;
                    if now != meta {
                        // Another process indexed this block meanwhile: go on from where it is.
                        if (now.dev, now.ino) != (key.dev, key.ino) || now.version != SCHEMA_VERSION {
                            return Err(super::unavailable("another process indexes another store here"));
                        }
                        meta = now;
                        return Ok(true);
                    }
                    {
                        let mut ins = Inserter::new(&tx).map_err(&sql)?;
                        for p in &block.lines {
                            match p {
                                Parsed::Row(row, at, len) => {
                                    ins.insert(row, *at, *len).map_err(&sql)?;
                                    meta.rows += 1;
                                    meta.max_window_ns =
                                        meta.max_window_ns.max(row.end_ns.saturating_sub(row.start_ns));
                                }
                                Parsed::Bad => meta.bad_lines += 1,
                            }
                        }
                        ins.finish().map_err(&sql)?;
                    }
                    meta.consumed = block.end;
                    meta.write(&tx).map_err(&sql)?;
                    tx.commit().map_err(&sql)?;
                }
                Ok(false)
            })?;
            if !restarted {
                break 'restart;
            }
        }
        // Made once, after the first load (sorting on two threads); kept up by inserts afterwards.
        conn.execute_batch("PRAGMA threads = 2;").map_err(&sql)?;
        conn.execute_batch(schema::CREATE_INDEXES).map_err(&sql)?;
        Ok(())
    }
}

/// Complete lines of the store, parsed.
struct Block {
    lines: Vec<Parsed>,
    /// The offset after its last line.
    end: u64,
}

/// Reads the complete lines from `from` to `len` block by block, parses them and sends them,
/// until done or the receiver hangs up. An incomplete last line is left.
fn read_blocks(file: &File, from: u64, len: u64, out: &std::sync::mpsc::SyncSender<std::io::Result<Block>>) {
    let mut at = from;
    let mut buf = Vec::new();
    while at < len {
        let want = usize::try_from(len - at).unwrap_or(usize::MAX).min(BLOCK_BYTES);
        buf.resize(want, 0);
        if let Err(e) = file.read_exact_at(&mut buf, at) {
            let _ = out.send(Err(e));
            return;
        }
        let block = match buf.iter().rposition(|b| *b == b'\n').map(|i| i + 1) {
            Some(complete) => {
                let lines = parse_block(buf.get(..complete).unwrap_or_default(), at);
                Block { lines, end: at + complete as u64 }
            }
            // An incomplete last line: a writer may be in the middle of it.
            None if want < BLOCK_BYTES => return,
            // A line longer than a block (so than MAX_LINE_BYTES): skipped, counted.
            None => match skip_line(file, at, len) {
                Ok(Some(end)) => Block { lines: vec![Parsed::Bad], end },
                Ok(None) => return,
                Err(e) => {
                    let _ = out.send(Err(e));
                    return;
                }
            },
        };
        at = block.end;
        if out.send(Ok(block)).is_err() {
            return;
        }
    }
}

/// Empties the index (in the caller's write transaction): its tables made again (as this
/// version makes them), the secondary indexes left to be made after the next load.
fn reset(c: &Connection, meta: &Meta) -> rusqlite::Result<()> {
    c.execute_batch(
        "DROP TABLE IF EXISTS anomalies; DROP TABLE IF EXISTS hosts; DROP TABLE IF EXISTS captures;
         DROP TABLE IF EXISTS sensors; DROP TABLE IF EXISTS kinds; DELETE FROM meta;",
    )?;
    c.execute_batch(schema::CREATE_TABLES)?;
    meta.write(c)
}

/// Whether the last line indexed is still where the index says, with the same id (a store
/// rewritten in place to at least its old length is not the store indexed).
pub(super) fn last_line_reads_the_same(c: &Connection, file: &File) -> rusqlite::Result<bool> {
    let last: Option<(i64, i64, String)> = c
        .query_row("SELECT at, len, id FROM anomalies ORDER BY n DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((at, len, id)) = last else { return Ok(true) };
    Ok(super::query::read_line(file, at, len).ok().and_then(|l| id_of(&l)).is_some_and(|found| found == id))
}

/// The id of a line, if it is a record.
pub(super) fn id_of(line: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    serde_json::from_slice::<IdOnly>(line).ok().map(|r| r.id)
}

/// The offset after the newline ending the line at `from`, if one has been written.
fn skip_line(file: &File, from: u64, len: u64) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0; 1 << 20];
    let mut at = from;
    while at < len {
        let n = usize::try_from(len - at).unwrap_or(usize::MAX).min(buf.len());
        let chunk = buf.get_mut(..n).unwrap_or_default();
        file.read_exact_at(chunk, at)?;
        if let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            return Ok(Some(at + i as u64 + 1));
        }
        at += n as u64;
    }
    Ok(None)
}

/// One line of a block.
enum Parsed {
    /// A record, the offset and length of its line.
    Row(Row, u64, u64),
    /// A complete line that is not a record (or longer than `MAX_LINE_BYTES`).
    Bad,
}

/// The lines of `block` (complete lines, starting at byte `base` of the file), parsed in
/// parallel; blank lines are left out.
fn parse_block(block: &[u8], base: u64) -> Vec<Parsed> {
    let mut lines = Vec::new();
    let mut at = 0usize;
    for line in block.split(|b| *b == b'\n') {
        let start = at;
        at += line.len() + 1;
        if start >= block.len() {
            break; // the empty piece after the last newline
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines.push((start, line));
    }
    // Text checked once for the whole block (then no string is checked again as it is read).
    let text = std::str::from_utf8(block).is_ok();
    lines
        .par_iter()
        .with_min_len(256)
        .map(|(start, line)| {
            if line.len() > MAX_LINE_BYTES {
                return Parsed::Bad;
            }
            let parsed = match std::str::from_utf8(line) {
                Ok(s) if text => serde_json::from_str::<Anomaly>(s),
                _ => serde_json::from_slice::<Anomaly>(line),
            };
            match parsed {
                Ok(a) => Parsed::Row(Row::of(&a, canonical(&a, line)), base + *start as u64, line.len() as u64),
                Err(_) => Parsed::Bad,
            }
        })
        .collect()
}

/// Whether `line` is exactly what this version writes for `a`: then a listing sends the line
/// as it is, without parsing it again (lines of older versions or other writers are sent as
/// their records serialize now).
fn canonical(a: &Anomaly, line: &[u8]) -> bool {
    /// Compares what is written with the line, byte by byte, without keeping it.
    struct Same<'a> {
        rest: &'a [u8],
        same: bool,
    }
    impl std::io::Write for Same<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match self.rest.strip_prefix(buf) {
                Some(rest) if self.same => self.rest = rest,
                _ => self.same = false,
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = Same { rest: line, same: true };
    serde_json::to_writer(&mut w, a).is_ok() && w.same && w.rest.is_empty()
}
