//! [`FileKey`]: a file's identity and version (device, inode, size, modification time), the
//! key of every cache over the directories; and [`now_rfc3339`], the wall clock for metadata.

/// A file's identity and version: equal keys mean the same file, unchanged (files are
/// replaced by rename, which gives a new inode, or appended, which changes the size).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileKey {
    /// Device (unix; 0 elsewhere).
    pub dev: u64,
    /// Inode (unix; 0 elsewhere).
    pub ino: u64,
    /// Size in bytes.
    pub len: u64,
    /// Modification time, if the platform gives one.
    pub modified: Option<std::time::SystemTime>,
}

impl FileKey {
    /// The key of a file's metadata.
    pub fn of(m: &std::fs::Metadata) -> FileKey {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        FileKey { dev, ino, len: m.len(), modified: m.modified().ok() }
    }

    /// The key of the file at `path`, `None` if it cannot be read.
    pub fn read(path: &std::path::Path) -> Option<FileKey> {
        std::fs::metadata(path).ok().map(|m| FileKey::of(&m))
    }

    /// Whether `other` is the same file (device and inode), whatever its size or time.
    pub fn same_file(&self, other: &FileKey) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }
}

/// The wall-clock time as RFC 3339: for metadata such as a model's `created_at`, never for
/// capture time.
pub fn now_rfc3339() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    nta_capture::format_rfc3339_ns(ns)
}
