//! Small helpers shared by the commands: atomic file writes, duration and size parsing.

use anyhow::{Context, Result};
use std::fs::File;
use std::path::{Path, PathBuf};

/// A file written under a temporary name beside its destination and renamed into place by
/// [`AtomicFile::commit`]: a crash never leaves a half-written file under the real name.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    pub(crate) fn create(dest: &Path) -> Result<AtomicFile> {
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let name = dest.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(AtomicFile { tmp, dest: dest.to_owned(), file: Some(file) })
    }

    /// The open file to write (a second handle to the same file).
    pub(crate) fn file(&self) -> Result<File> {
        self.file.as_ref().context("file already committed")?.try_clone().context("duplicating a file handle")
    }

    /// Syncs and renames into place.
    pub(crate) fn commit(mut self) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all().with_context(|| format!("syncing {}", self.tmp.display()))?;
        }
        std::fs::rename(&self.tmp, &self.dest)
            .with_context(|| format!("renaming {} to {}", self.tmp.display(), self.dest.display()))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The wall-clock time as RFC 3339 (for metadata such as a model's `created_at`; capture
/// time is never taken from here).
pub(crate) fn now_rfc3339() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    nta_capture::format_rfc3339_ns(ns)
}

/// `10m`, `1s`, `100ms`, `1h 30m` into nanoseconds.
pub(crate) fn parse_duration_ns(s: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 100ms, 1s, 10m, 2h)"))?;
    let ns = i64::try_from(d.as_nanos()).map_err(|_| "too long".to_owned())?;
    if ns == 0 {
        return Err("must be positive".into());
    }
    Ok(ns)
}

/// `1500`, `64KB`, `500MB`, `1GiB`, `2G` into bytes (K/M/G are powers of 1000, Ki/Mi/Gi of 1024).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{s:?}: expected a number with an optional unit (KB, MB, GiB...)"))?;
    let mult = match unit.trim().to_ascii_lowercase().trim_end_matches('b') {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024.0 * 1024.0,
        "gi" => 1024.0 * 1024.0 * 1024.0,
        "ti" => 1024.0f64.powi(4),
        _ => return Err(format!("{s:?}: unknown unit {unit:?}")),
    };
    let bytes = n * mult;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("{s:?}: must be at least 1 byte"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("64KB"), Ok(64_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2G"), Ok(2_000_000_000));
        assert_eq!(parse_size("1.5MB"), Ok(1_500_000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert_eq!(parse_duration_ns("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration_ns("10m"), Ok(600_000_000_000));
        assert!(parse_duration_ns("0s").is_err());
        assert!(parse_duration_ns("soon").is_err());
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let dir = std::env::temp_dir().join(format!("nta-atomic-{}", std::process::id()));
        let dest = dir.join("x.json");
        let f = AtomicFile::create(&dest).unwrap();
        std::io::Write::write_all(&mut f.file().unwrap(), b"{}").unwrap();
        assert!(!dest.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"{}");
        let g = AtomicFile::create(&dest).unwrap();
        drop(g);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "the abandoned temporary file is removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
