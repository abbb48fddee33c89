//! Caches over the directories, each keyed by [`FileKey`]: a file is read again only when
//! it changed (a new inode, size or modification time).

use crate::Error;
use crate::identity::FileKey;
use nta_metrics::WindowRecord;
use nta_ml::ModelInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The records of a metrics file (replaced whole by an atomic rename), as last read.
#[derive(Debug, Default)]
pub(crate) struct MetricsCache {
    last: Mutex<Option<(FileKey, Arc<Vec<WindowRecord>>)>>,
}

impl MetricsCache {
    /// The file's records (none when it does not exist).
    pub(crate) fn records(&self, path: &Path) -> Result<Arc<Vec<WindowRecord>>, Error> {
        let Some(key) = FileKey::read(path) else { return Ok(Arc::default()) };
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((k, records)) = last.as_ref()
            && *k == key
        {
            return Ok(records.clone());
        }
        let records = Arc::new(nta_metrics::read_jsonl(path)?.records);
        *last = Some((key, records.clone()));
        Ok(records)
    }
}

/// The model list of a directory: a file is loaded again only when it changed.
#[derive(Debug, Default)]
pub(crate) struct ModelsCache {
    known: Mutex<HashMap<PathBuf, (FileKey, ModelInfo)>>,
}

impl ModelsCache {
    /// The models in `dir`, sorted by name.
    pub(crate) fn list(&self, dir: &Path) -> Result<Vec<ModelInfo>, Error> {
        let files = nta_ml::model_files(dir)?;
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.retain(|p, _| files.contains(p));
        let mut out = Vec::with_capacity(files.len());
        for path in files {
            let key = FileKey::read(&path);
            match (key, known.get(&path)) {
                (Some(k), Some((cached, info))) if *cached == k => out.push(info.clone()),
                _ => {
                    let info = ModelInfo::read(&path);
                    if let Some(k) = key {
                        known.insert(path, (k, info.clone()));
                    }
                    out.push(info);
                }
            }
        }
        Ok(out)
    }
}
