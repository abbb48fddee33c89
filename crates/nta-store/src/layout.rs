//! [`Layout`]: where everything lives under the data and logs directories. The one place
//! that knows the file names; the binaries ask it.
//!
//! ```text
//! <data>/models/<name>.json       models (nta-ml)
//! <data>/baselines/<name>.json    baselines (nta-baselines), named as their model
//! <data>/uploads/<id>.pcap[ng]    uploads (16 hex digits, server-chosen)
//! <data>/uploads/.<id>.part       an upload being received (removed on failure and at start)
//! <logs>/metrics.jsonl            window records of the last capture processed
//! <logs>/anomalies.jsonl          the anomaly store (append-only)
//! <logs>/flows.jsonl              flow records of the last capture analysed (docs/FLOWS.md)
//! <logs>/app.log                  the server's request log
//! ```

use crate::Error;
use std::path::{Path, PathBuf};

/// The paths of a data directory and a logs directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    data: PathBuf,
    logs: PathBuf,
    models: PathBuf,
    metrics: PathBuf,
    anomalies: PathBuf,
    flows: PathBuf,
}

/// Capture file extensions of uploads, by preference.
const UPLOAD_EXTENSIONS: [&str; 2] = ["pcapng", "pcap"];

impl Layout {
    /// The layout of `data` and `logs` (nothing is created yet).
    pub fn new(data: impl Into<PathBuf>, logs: impl Into<PathBuf>) -> Layout {
        let (data, logs) = (data.into(), logs.into());
        Layout {
            models: data.join("models"),
            metrics: logs.join("metrics.jsonl"),
            anomalies: logs.join("anomalies.jsonl"),
            flows: logs.join("flows.jsonl"),
            data,
            logs,
        }
    }

    /// The same, with the models elsewhere.
    pub fn with_models_dir(mut self, dir: impl Into<PathBuf>) -> Layout {
        self.models = dir.into();
        self
    }

    /// The same, with the anomaly store elsewhere.
    pub fn with_anomalies(mut self, path: impl Into<PathBuf>) -> Layout {
        self.anomalies = path.into();
        self
    }

    /// The same, with the window metrics elsewhere.
    pub fn with_metrics(mut self, path: impl Into<PathBuf>) -> Layout {
        self.metrics = path.into();
        self
    }

    /// Creates the data and logs directories.
    pub fn create_dirs(&self) -> Result<(), Error> {
        for d in [&self.data, &self.logs] {
            std::fs::create_dir_all(d).map_err(Error::io(d))?;
        }
        Ok(())
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The logs directory.
    pub fn logs_dir(&self) -> &Path {
        &self.logs
    }

    /// `<data>/models` (or where [`Layout::with_models_dir`] put them).
    pub fn models_dir(&self) -> &Path {
        &self.models
    }

    /// `<data>/models/<name>.json`; the name must be a plain file stem.
    pub fn model_path(&self, name: &str) -> Result<PathBuf, Error> {
        check_name("model", name)?;
        Ok(self.models_dir().join(format!("{name}.json")))
    }

    /// A model given as a name in the models directory, or as a path to a `.json` file.
    pub fn resolve_model(&self, name_or_file: &str) -> Result<PathBuf, Error> {
        let path = if name_or_file.ends_with(".json") || name_or_file.contains(std::path::MAIN_SEPARATOR) {
            PathBuf::from(name_or_file)
        } else {
            self.model_path(name_or_file)?
        };
        if path.is_file() { Ok(path) } else { Err(Error::NotFound { what: "model", name: name_or_file.to_owned() }) }
    }

    /// `<data>/baselines`.
    pub fn baselines_dir(&self) -> PathBuf {
        self.data.join("baselines")
    }

    /// `<data>/baselines/<name>.json`: the baseline made with model `name`.
    pub fn baseline_path(&self, name: &str) -> Result<PathBuf, Error> {
        check_name("baseline", name)?;
        Ok(self.baselines_dir().join(format!("{name}.json")))
    }

    /// `<data>/uploads`.
    pub fn uploads_dir(&self) -> PathBuf {
        self.data.join("uploads")
    }

    /// The capture of upload `id` (16 hex digits).
    pub fn upload_path(&self, id: &str) -> Result<PathBuf, Error> {
        check_upload_id(id)?;
        UPLOAD_EXTENSIONS
            .iter()
            .map(|ext| self.uploads_dir().join(format!("{id}.{ext}")))
            .find(|p| p.is_file())
            .ok_or_else(|| Error::NotFound { what: "upload", name: id.to_owned() })
    }

    /// Where upload `id` is received before it is checked: `<data>/uploads/.<id>.part`.
    pub fn upload_part_path(&self, id: &str) -> Result<PathBuf, Error> {
        check_upload_id(id)?;
        Ok(self.uploads_dir().join(format!(".{id}.part")))
    }

    /// Where a checked upload is kept: `<data>/uploads/<id>.pcapng` or `.pcap`.
    pub fn upload_final_path(&self, id: &str, pcapng: bool) -> Result<PathBuf, Error> {
        check_upload_id(id)?;
        Ok(self.uploads_dir().join(format!("{id}.{}", if pcapng { "pcapng" } else { "pcap" })))
    }

    /// The uploads kept (not the partial ones).
    pub fn uploads(&self) -> usize {
        std::fs::read_dir(self.uploads_dir())
            .map(|d| d.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count())
            .unwrap_or(0)
    }

    /// Removes the `.part` files a crash left behind; returns how many.
    pub fn remove_partial_uploads(&self) -> Result<usize, Error> {
        let dir = self.uploads_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(&dir)(e)),
        };
        let mut n = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".part") {
                std::fs::remove_file(e.path()).map_err(Error::io(e.path()))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// `<logs>/metrics.jsonl` (or where [`Layout::with_metrics`] put it).
    pub fn metrics_path(&self) -> &Path {
        &self.metrics
    }

    /// `<logs>/flows.jsonl` (or where [`Layout::with_flows`] put it).
    pub fn flows_path(&self) -> &Path {
        &self.flows
    }

    /// The same, with the flow records elsewhere.
    pub fn with_flows(mut self, path: impl Into<PathBuf>) -> Layout {
        self.flows = path.into();
        self
    }

    /// `<logs>/anomalies.jsonl` (or where [`Layout::with_anomalies`] put it).
    pub fn anomalies_path(&self) -> &Path {
        &self.anomalies
    }

    /// `<logs>/app.log`.
    pub fn app_log_path(&self) -> PathBuf {
        self.logs.join("app.log")
    }
}

fn check_name(what: &'static str, name: &str) -> Result<(), Error> {
    nta_ml::check_name(name).map_err(|_| Error::Name {
        what,
        name: name.to_owned(),
        reason: "use 1 to 100 letters, digits, '-', '_', '.', not starting with '.'",
    })
}

fn check_upload_id(id: &str) -> Result<(), Error> {
    if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::Name { what: "upload id", name: id.to_owned(), reason: "16 hex digits expected" })
    }
}

/// A model name made from a capture's file name: its stem with every character that a name
/// may not hold replaced by `_` (`my capture.pcapng` → `my_capture`, `café` → `caf_`), cut to
/// 100 characters; `capture` when nothing is left.
pub fn name_for_capture(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .take(100)
        .collect();
    while name.starts_with('.') {
        name.remove(0);
    }
    if name.is_empty() { "capture".into() } else { name }
}

/// A server-chosen id (uploads, jobs): 16 hex digits, never derived from anything a client sent.
pub fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nta_analysis::stable_id(&[&t.to_le_bytes(), &n.to_le_bytes(), &std::process::id().to_le_bytes()])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn any_file_name_gives_a_valid_model_name() {
        for (file, name) in [
            ("my capture.pcapng", "my_capture"),
            ("a+b.pcapng", "a_b"),
            ("café.pcapng", "caf_"),
            (".hidden.pcap", "hidden"),
            ("...", "capture"),
            ("x/y/office.pcap", "office"),
        ] {
            let got = name_for_capture(Path::new(file));
            assert_eq!(got, name, "{file}");
            assert!(nta_ml::check_name(&got).is_ok(), "{got}");
        }
        let long = "x".repeat(300);
        assert_eq!(name_for_capture(Path::new(&long)).len(), 100);
    }

    #[test]
    fn names_that_are_paths_are_refused() {
        let l = Layout::new("d", "l");
        for bad in ["../x", "a/b", "", ".x"] {
            assert!(matches!(l.model_path(bad), Err(Error::Name { .. })), "{bad}");
        }
        assert_eq!(l.model_path("office").unwrap(), Path::new("d/models/office.json"));
        assert!(matches!(l.upload_path("../../etc/passwd"), Err(Error::Name { .. })));
        assert!(matches!(l.upload_path("0123456789abcdef"), Err(Error::NotFound { .. })));
    }
}
