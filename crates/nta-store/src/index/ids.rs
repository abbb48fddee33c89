//! The ids a store holds, for an append (which must not store an id twice): those the index
//! holds, asked one at a time, and those of the lines after what it indexed, read — so an
//! append to a large store costs its own records and the unindexed tail, not the whole file.

use super::follow::{Meta, last_line_reads_the_same};
use super::schema::SCHEMA_VERSION;
use crate::identity::FileKey;
use nta_capture::LineReader;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;

/// The ids of a store (see the module).
pub(crate) struct KnownIds {
    indexed: Option<Connection>,
    read: HashSet<String>,
}

impl KnownIds {
    /// The ids of `file` (the store, locked by the caller): through the index at `index`
    /// when it is an index of this very file with its indexes made, the rest by reading;
    /// and whether the file ends with a complete line (or is empty).
    pub(crate) fn of(file: &File, index: &Path) -> std::io::Result<(KnownIds, bool)> {
        let (indexed, from) = match usable_index(file, index) {
            Some((c, consumed)) => (Some(c), consumed),
            None => (None, 0),
        };
        let (read, ends_clean) = ids_from(file, from)?;
        Ok((KnownIds { indexed, read }, ends_clean))
    }

    /// Whether `id` is stored; if not, it is counted as stored from now on.
    pub(crate) fn insert(&mut self, id: &str) -> std::io::Result<bool> {
        if self.read.contains(id) {
            return Ok(false);
        }
        if let Some(c) = &self.indexed {
            let found: Option<i64> = c
                .prepare_cached("SELECT 1 FROM anomalies WHERE id = ?1 LIMIT 1")
                .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
                .map_err(std::io::Error::other)?;
            if found.is_some() {
                return Ok(false);
            }
        }
        Ok(self.read.insert(id.to_owned()))
    }
}

/// The index at `path` and the bytes of `file` it holds, if it is an index of this file (same
/// device and inode, its last line unchanged, this version's tables) whose id index is made.
fn usable_index(file: &File, path: &Path) -> Option<(Connection, u64)> {
    if !path.is_file() {
        return None;
    }
    let c =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).ok()?;
    c.busy_timeout(super::BUSY_TIMEOUT).ok()?;
    let meta = Meta::read(&c).ok()?;
    let key = FileKey::of(&file.metadata().ok()?);
    let by_id: Option<i64> = c
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'by_id'", [], |r| r.get(0))
        .optional()
        .ok()?;
    let usable = meta.version() == (key.dev, key.ino, meta.consumed)
        && meta.schema() == SCHEMA_VERSION
        && meta.consumed <= key.len
        && by_id.is_some()
        && last_line_reads_the_same(&c, file).ok()?;
    usable.then_some((c, meta.consumed))
}

/// The ids of the lines of `file` from `from` (a line start), and whether it ends with a
/// complete line (or nothing).
fn ids_from(file: &File, from: u64) -> std::io::Result<(HashSet<String>, bool)> {
    let mut reader = BufReader::new(file);
    reader.seek(SeekFrom::Start(from))?;
    let mut ids = HashSet::new();
    let mut ends_clean = true;
    let mut lines = LineReader::new(reader);
    while let Some(line) =
        lines.next_line().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?
    {
        ends_clean = line.complete;
        if let Some(id) = super::follow::id_of(line.text.as_bytes()) {
            ids.insert(id);
        }
    }
    Ok((ids, ends_clean))
}
