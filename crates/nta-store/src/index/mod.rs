//! [`StoreIndex`]: the anomaly store indexed on disk for a server, following appends.
//!
//! The JSON lines file stays the store (appended by any process, read by any tool); beside it
//! `<store>.index` is a SQLite database (rusqlite, SQLite built in) holding one small row per
//! line — where the line is, and what the filters, the two orders and the incident rule read —
//! and the addresses of its hosts. A listing asks the index for one page of offsets and reads
//! only those lines; a summary streams the small rows in time order and reads only the
//! records of the incidents it shows. Memory does not grow with the store: the server holds
//! SQLite's page caches (bounded), a few cached answers, and one page at a time.
//!
//! Each call compares the file's identity and size with what was indexed; lines appended
//! since are parsed (in parallel, in blocks) and inserted, a block per transaction, so a
//! killed server resumes where it stopped. A store that shrank, was replaced (another inode)
//! or whose last indexed line no longer reads the same is indexed afresh. An incomplete last
//! line is left for the next call (a writer may be in the middle of it). Several processes
//! may follow one store: a block is inserted by whichever takes SQLite's write lock first.

mod answers;
mod follow;
mod ids;
mod query;
mod schema;
mod summary;

use crate::Error;
use crate::anomalies::AnomalyStore;
use answers::Answers;
pub(crate) use ids::KnownIds;
use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
pub use summary::MAX_INCIDENT_OFFSET;

/// SQLite's page size for a new index: large pages make the first load and its index sorts
/// faster (a million rows: 9.6 s with 4 KiB pages, 8.9 s with 16 KiB, 8.1 s with 64 KiB), larger
/// ones make each record a listing looks up cost more (64 KiB: p99 twice as long, 240 MB RSS).
const PAGE_BYTES: u32 = 16_384;
/// Page cache of the connection that inserts, KiB.
const WRITER_CACHE_KIB: i64 = 32 << 10;
/// Page cache of each reading connection, KiB.
const READER_CACHE_KIB: i64 = 8 << 10;
/// Reading connections at most: a request beyond waits for one (they are kept open — opening
/// one costs more than most queries).
const READERS: usize = 8;
/// How long a call waits for another process's write lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The anomaly store indexed on disk (module docs); shareable between threads.
#[derive(Debug)]
pub struct StoreIndex {
    store: AnomalyStore,
    path: PathBuf,
    /// The connection that inserts (opened on first use).
    writer: Mutex<Option<Connection>>,
    /// Idle reading connections, and how many are open in all.
    readers: Mutex<(Vec<Connection>, usize)>,
    /// Signalled when a reading connection is given back.
    reader_back: std::sync::Condvar,
    /// The file as last indexed, and an open handle to read its lines.
    seen: Mutex<Option<follow::Seen>>,
    answers: Answers,
}

impl StoreIndex {
    /// The index of `store`, kept in `<store>.index` (created on first use).
    pub fn new(store: AnomalyStore) -> StoreIndex {
        let path = index_path(store.path());
        StoreIndex::with_path(store, path)
    }

    /// The index of `store` kept at `path`.
    pub fn with_path(store: AnomalyStore, path: impl Into<PathBuf>) -> StoreIndex {
        StoreIndex {
            store,
            path: path.into(),
            writer: Mutex::default(),
            readers: Mutex::default(),
            reader_back: std::sync::Condvar::new(),
            seen: Mutex::default(),
            answers: Answers::default(),
        }
    }

    /// The index's database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store it indexes.
    pub fn store(&self) -> &AnomalyStore {
        &self.store
    }

    /// A connection to the index; an index file that is not a database (damaged, or some
    /// other file) is removed and made again — it holds nothing the store does not.
    fn open(&self, cache_kib: i64) -> Result<Connection, Error> {
        match self.try_open(cache_kib) {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::NotADatabase => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = self.path.as_os_str().to_owned();
                    p.push(suffix);
                    match std::fs::remove_file(PathBuf::from(p)) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&self.path)(e)),
                        _ => {}
                    }
                }
                self.try_open(cache_kib).map_err(self.sql())
            }
            r => r.map_err(self.sql()),
        }
    }

    fn try_open(&self, cache_kib: i64) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = Connection::open_with_flags(&self.path, flags)?;
        c.busy_timeout(BUSY_TIMEOUT)?;
        // WAL: readers never wait for the writer; NORMAL: a crash may lose the last blocks
        // (indexed again from the store), never corrupt the index.
        let setup = format!(
            "PRAGMA page_size = {PAGE_BYTES}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             PRAGMA cache_size = -{cache_kib}; PRAGMA temp_store = FILE; PRAGMA mmap_size = 0;"
        );
        // Two connections making a new index at once: one may be told the database is busy
        // without waiting (switching to WAL, creating the tables): it tries again.
        let mut tries = 0;
        loop {
            let done = c.execute_batch(&setup).and_then(|()| {
                let tx = c.unchecked_transaction()?;
                tx.execute_batch(schema::CREATE_TABLES)?;
                tx.commit()
            });
            match done {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 500 =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => break r?,
            }
        }
        Ok(c)
    }

    /// The inserting connection.
    fn writer(&self) -> Result<MutexGuard<'_, Option<Connection>>, Error> {
        let mut w = lock(&self.writer);
        if w.is_none() {
            *w = Some(self.open(WRITER_CACHE_KIB)?);
        }
        Ok(w)
    }

    /// A reading connection, back to the pool when dropped: an idle one, a new one while
    /// fewer than `READERS` are open, else the next one given back.
    fn reader(&self) -> Result<Reader<'_>, Error> {
        let mut pool = lock(&self.readers);
        loop {
            if let Some(c) = pool.0.pop() {
                return Ok(Reader { conn: Some(c), index: self });
            }
            if pool.1 < READERS {
                pool.1 += 1;
                drop(pool);
                return match self.open(READER_CACHE_KIB) {
                    Ok(c) => Ok(Reader { conn: Some(c), index: self }),
                    Err(e) => {
                        lock(&self.readers).1 -= 1;
                        self.reader_back.notify_one();
                        Err(e)
                    }
                };
            }
            pool = self.reader_back.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// An SQLite error as the crate's.
    fn sql(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| unavailable(&format!("{}: {e}", self.path.display()))
    }
}

/// A pooled reading connection.
struct Reader<'a> {
    conn: Option<Connection>,
    index: &'a StoreIndex,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Present until dropped.
        self.conn.as_ref().unwrap_or_else(|| unreachable!("a reader is used after its drop"))
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("a reader is used after its drop"))
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            lock(&self.index.readers).0.push(c);
            self.index.reader_back.notify_one();
        }
    }
}

/// The index cannot answer now (its file cannot be written — a full disk —, a lock held too
/// long, the store changed mid-read): `Error::Backend`, which a server answers with 503.
fn unavailable(reason: &str) -> Error {
    Error::Backend { backend: "anomaly index", reason: reason.to_owned() }
}

/// Where the index of the store at `store` is kept: `<store>.index`.
pub(crate) fn index_path(store: &Path) -> PathBuf {
    let mut path = store.as_os_str().to_owned();
    path.push(".index");
    PathBuf::from(path)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The JSON lines file open for reading lines by offset.
type Lines = Arc<File>;
