//! [`Baseline`]: per-metric statistics of normal windows, global and optionally seasonal,
//! built from window records and saved as versioned JSON.

use crate::Error;
use crate::stats::Stats;
use nta_capture::{Label, format_rfc3339_ns};
use nta_metrics::{Metric, WindowRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Version of the baseline file format.
pub const SCHEMA_VERSION: u32 = 1;

/// How windows are grouped into seasonal slots (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Seasonality {
    /// One global profile.
    #[default]
    None,
    /// 24 slots, by the hour (UTC) of the window start.
    HourOfDay,
    /// 7 slots, by the weekday (UTC, Monday = 0) of the window start.
    DayOfWeek,
}

impl Seasonality {
    /// The slot of a window starting at `ts_ns`.
    pub fn slot(self, ts_ns: i64) -> Option<u8> {
        let day_s = ts_ns.div_euclid(1_000_000_000);
        match self {
            Seasonality::None => None,
            Seasonality::HourOfDay => Some((day_s.rem_euclid(86_400) / 3600) as u8),
            // 1970-01-01 was a Thursday (3 with Monday = 0).
            Seasonality::DayOfWeek => Some(((day_s.div_euclid(86_400) + 3).rem_euclid(7)) as u8),
        }
    }

    /// Number of slots.
    pub fn slots(self) -> u8 {
        match self {
            Seasonality::None => 0,
            Seasonality::HourOfDay => 24,
            Seasonality::DayOfWeek => 7,
        }
    }
}

impl std::str::FromStr for Seasonality {
    type Err = Error;

    fn from_str(s: &str) -> Result<Seasonality, Error> {
        match s {
            "none" => Ok(Seasonality::None),
            "hour-of-day" => Ok(Seasonality::HourOfDay),
            "day-of-week" => Ok(Seasonality::DayOfWeek),
            _ => Err(Error::Options { reason: format!("--by {s:?}: expected hour-of-day, day-of-week or none") }),
        }
    }
}

/// Options of [`Baseline::build`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildOptions {
    /// Seasonal grouping.
    pub by: Seasonality,
    /// A slot with fewer windows uses the global profile.
    pub min_slot_windows: usize,
    /// Labels files whose intervals were excluded (recorded, not read here).
    pub exclude_labels: Vec<String>,
}

impl Default for BuildOptions {
    fn default() -> BuildOptions {
        BuildOptions { by: Seasonality::None, min_slot_windows: 30, exclude_labels: Vec::new() }
    }
}

/// The largest baseline file [`Baseline::load`] reads (one is ~100 KiB; 24 hourly slots ~2 MiB).
pub const MAX_BASELINE_BYTES: u64 = 64 << 20;

/// Per-metric statistics of one group of windows.
pub type Profile = BTreeMap<Metric, Stats>;

/// A seasonal slot's profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlotProfile {
    /// Slot number (hour 0–23 or weekday 0–6, Monday = 0).
    pub slot: u8,
    /// Windows in the slot.
    pub windows: usize,
    /// Statistics; `None` when the slot has fewer than `min_slot_windows` and uses the global
    /// profile instead.
    pub profile: Option<Profile>,
}

/// Seasonal profiles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seasonal {
    /// Grouping.
    pub by: Seasonality,
    /// Every slot, in order.
    pub slots: Vec<SlotProfile>,
    /// Slots that fall back to the global profile (too few windows).
    pub fallback_slots: Vec<u8>,
}

/// The time range the baseline was learnt on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeRange {
    /// First window start, ns.
    pub first_ns: i64,
    /// Last window end, ns.
    pub last_ns: i64,
    /// First window start, RFC 3339.
    pub first: String,
    /// Last window end, RFC 3339.
    pub last: String,
}

/// What normal traffic looks like.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Name.
    pub name: String,
    /// When it was built (wall clock, metadata only).
    pub created_at: String,
    /// Window length of the metrics, ns.
    pub window_ns: i64,
    /// The metrics files.
    pub sources: Vec<String>,
    /// Time covered.
    pub time_range: TimeRange,
    /// Windows used.
    pub windows: usize,
    /// Windows left out because a label interval overlaps them.
    pub excluded_windows: usize,
    /// Partial (`late`) records left out.
    pub skipped_late: usize,
    /// Options used.
    pub options: BuildOptions,
    /// Statistics over every window used.
    pub global: Profile,
    /// Per slot, when `options.by` is not `none`.
    pub seasonal: Option<Seasonal>,
}

fn profile(records: &[&WindowRecord]) -> Profile {
    let mut values = Vec::with_capacity(records.len());
    let mut out = Profile::new();
    for &m in Metric::ALL {
        values.clear();
        values.extend(records.iter().map(|r| r.get(m)).filter(|v| v.is_finite()));
        if let Some(s) = Stats::of(&mut values) {
            out.insert(m, s);
        }
    }
    out
}

impl Baseline {
    /// Learns a baseline from `records` (all of one window length), leaving out windows that
    /// overlap an `exclude` label and `late` supplements.
    pub fn build(
        name: &str,
        created_at: &str,
        records: &[WindowRecord],
        sources: Vec<String>,
        exclude: &[Label],
        options: BuildOptions,
    ) -> Result<Baseline, Error> {
        let window_ns = records.first().map(|r| r.window_ns).ok_or(Error::NoData)?;
        if let Some(r) = records.iter().find(|r| r.window_ns != window_ns) {
            return Err(Error::Options {
                reason: format!(
                    "mixed window lengths ({window_ns} ns and {} ns): build one baseline per length",
                    r.window_ns
                ),
            });
        }
        let skipped_late = records.iter().filter(|r| r.late).count();
        let overlaps = |r: &WindowRecord| exclude.iter().any(|l| l.overlaps(r.window_start_ns, r.window_end_ns()));
        let usable: Vec<&WindowRecord> = records.iter().filter(|r| !r.late).collect();
        let used: Vec<&WindowRecord> = usable.iter().copied().filter(|r| !overlaps(r)).collect();
        if used.is_empty() {
            return Err(Error::NoData);
        }
        let first_ns = used.iter().map(|r| r.window_start_ns).min().unwrap_or(0);
        let last_ns = used.iter().map(|r| r.window_end_ns()).max().unwrap_or(0);
        let seasonal = (options.by != Seasonality::None).then(|| {
            let mut slots = Vec::new();
            let mut fallback_slots = Vec::new();
            for slot in 0..options.by.slots() {
                let in_slot: Vec<&WindowRecord> =
                    used.iter().copied().filter(|r| options.by.slot(r.window_start_ns) == Some(slot)).collect();
                let enough = in_slot.len() >= options.min_slot_windows.max(1);
                if !enough {
                    fallback_slots.push(slot);
                }
                slots.push(SlotProfile { slot, windows: in_slot.len(), profile: enough.then(|| profile(&in_slot)) });
            }
            Seasonal { by: options.by, slots, fallback_slots }
        });
        Ok(Baseline {
            schema_version: SCHEMA_VERSION,
            name: name.to_owned(),
            created_at: created_at.to_owned(),
            window_ns,
            sources,
            time_range: TimeRange {
                first_ns,
                last_ns,
                first: format_rfc3339_ns(first_ns),
                last: format_rfc3339_ns(last_ns),
            },
            windows: used.len(),
            excluded_windows: usable.len() - used.len(),
            skipped_late,
            options,
            global: profile(&used),
            seasonal,
        })
    }

    /// The profile that applies to a window starting at `ts_ns`, and its slot (`None`: global).
    pub fn profile_for(&self, ts_ns: i64) -> (&Profile, Option<u8>) {
        if let Some(s) = &self.seasonal
            && let Some(slot) = s.by.slot(ts_ns)
            && let Some(p) = s.slots.get(usize::from(slot)).and_then(|sp| sp.profile.as_ref())
        {
            return (p, Some(slot));
        }
        (&self.global, None)
    }

    /// The baseline file's bytes (pretty JSON, what [`Baseline::load`] reads back). Where it
    /// is written, and how atomically, is the caller's business (nta-store).
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Format { path: std::path::PathBuf::new(), reason: e.to_string() })
    }

    /// Loads a baseline file (at most [`MAX_BASELINE_BYTES`]), refusing another schema version
    /// and contents that statistics cannot have (see [`Baseline::check`]).
    pub fn load(path: &Path) -> Result<Baseline, Error> {
        let bad = |reason: String| Error::Format { path: path.to_owned(), reason };
        let io = |source| Error::Io { path: path.to_owned(), source };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_BASELINE_BYTES {
            return Err(bad(format!("{size} bytes (at most {MAX_BASELINE_BYTES})")));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let version = value.get("schema_version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(SCHEMA_VERSION)) {
            return Err(bad(format!(
                "schema version {version:?}, this build reads {SCHEMA_VERSION}: rebuild the baseline"
            )));
        }
        let b: Baseline = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        b.check().map_err(bad)?;
        Ok(b)
    }

    /// Checks a baseline read from a file: a window of at least 1 ms, every profile's
    /// statistics sound ([`Stats::check`]), slots in range.
    pub fn check(&self) -> Result<(), String> {
        if self.window_ns < nta_metrics::MIN_WINDOW_NS {
            return Err(format!("window_ns {} (at least {})", self.window_ns, nta_metrics::MIN_WINDOW_NS));
        }
        let profile = |what: &str, p: &Profile| {
            p.iter().try_for_each(|(m, s)| s.check().map_err(|e| format!("{what}: {m}: {e}")))
        };
        profile("global", &self.global)?;
        if let Some(seasonal) = &self.seasonal {
            let slots = match seasonal.by {
                Seasonality::HourOfDay => 24,
                Seasonality::DayOfWeek => 7,
                Seasonality::None => 0,
            };
            for slot in &seasonal.slots {
                if slot.slot >= slots {
                    return Err(format!("slot {} out of range for {:?}", slot.slot, seasonal.by));
                }
                if let Some(p) = &slot.profile {
                    profile(&format!("slot {}", slot.slot), p)?;
                }
            }
        }
        Ok(())
    }
}
