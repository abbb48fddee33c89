//! Atomic writes: [`AtomicFile`] and [`write_atomic`]. A file is written under a temporary
//! name beside its destination (unique per process and call, so concurrent writers of the
//! same name never collide), synced, renamed into place, and the directory is synced so the
//! rename itself survives a crash. A reader sees the old file or the new one, never half of
//! one; the last rename wins. A destination that exists and is not a regular file — a device
//! such as `/dev/null`, a FIFO, a socket — is written in place: renaming over it would replace
//! the device with a file (as root, `/dev/null` itself).

use crate::Error;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file that appears under its name only when [`AtomicFile::commit`] succeeds; dropped
/// uncommitted, its temporary file is removed.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
    /// The destination is not a regular file: written in place, never renamed over.
    direct: bool,
}

/// The directory of `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

impl AtomicFile {
    /// Starts writing `dest` (its directory is created when missing).
    pub fn create(dest: &Path) -> Result<AtomicFile, Error> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        if let Ok(meta) = std::fs::metadata(dest)
            && !meta.is_file()
            && !meta.is_dir()
        {
            let file = std::fs::OpenOptions::new().write(true).open(dest).map_err(Error::io(dest))?;
            return Ok(AtomicFile { tmp: dest.to_owned(), dest: dest.to_owned(), file: Some(file), direct: true });
        }
        let dir = parent_of(dest);
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let name = dest.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dest.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let file = File::create(&tmp).map_err(Error::io(&tmp))?;
        Ok(AtomicFile { tmp, dest: dest.to_owned(), file: Some(file), direct: false })
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.dest
    }

    /// A second handle to the open temporary file, to hand to a writer that owns it.
    pub fn file(&self) -> Result<File, Error> {
        let f = self
            .file
            .as_ref()
            .ok_or_else(|| Error::Format { path: self.dest.clone(), reason: "already committed".into() })?;
        f.try_clone().map_err(Error::io(&self.tmp))
    }

    /// Syncs the file, renames it into place and syncs the directory.
    pub fn commit(mut self) -> Result<(), Error> {
        if self.direct {
            // A device or a FIFO: nothing to rename (and it may not sync).
            return self.file.take().map_or(Ok(()), |mut f| f.flush().map_err(Error::io(&self.dest)));
        }
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(Error::io(&self.tmp))?;
        }
        if let Err(e) = std::fs::rename(&self.tmp, &self.dest) {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(Error::io(&self.dest)(e));
        }
        sync_dir(parent_of(&self.dest))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), File::flush)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.is_some() && !self.direct {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically (see the module's rules).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(Error::io(path))?;
    f.commit()
}

/// Makes a rename in `dir` durable (a no-op where directories cannot be opened).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn appears_only_on_commit_and_leaves_nothing_when_dropped() {
        let dir = std::env::temp_dir().join(format!("nta-atomic-{}", std::process::id()));
        let dest = dir.join("x.json");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"{}").unwrap();
        assert!(!dest.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"{}");
        drop(AtomicFile::create(&dest).unwrap());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "the abandoned temporary file is removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A FIFO (like a device such as /dev/null) is written in place, never renamed over.
    #[test]
    fn a_fifo_or_a_device_is_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = std::env::temp_dir().join(format!("nta-atomic-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipped a_fifo_or_a_device_is_written_in_place: mkfifo unavailable");
            return;
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(&fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_writers_of_one_name_never_collide() {
        let dir = std::env::temp_dir().join(format!("nta-atomic-race-{}", std::process::id()));
        let dest = dir.join("same.json");
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let dest = &dest;
                s.spawn(move || {
                    for _ in 0..50 {
                        write_atomic(dest, &[t; 4096]).unwrap();
                    }
                });
            }
        });
        let bytes = std::fs::read(&dest).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert!(bytes.iter().all(|b| *b == bytes[0]), "one writer's whole file");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
