//! [`SeriesQuery`] and [`Series`]: window metrics downsampled for charts — a week of 1 s
//! windows in one answer of bounded size. Each step holds the windows that start in it,
//! combined as the metric says ([`nta_metrics::Aggregate`]: counts add up, rates and means
//! average, distinct counts and peaks take the largest).

use crate::Error;
use nta_metrics::{Aggregate, Metric, WindowRecord};
use serde::Serialize;

/// Most points of one series (steps in a range).
pub const MAX_SERIES_POINTS: usize = 2_000;
/// Most metrics in one request.
pub const MAX_SERIES_METRICS: usize = 8;
/// Points aimed at when no step is given.
pub const DEFAULT_SERIES_POINTS: i64 = 1_000;

/// What to chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesQuery {
    /// The metrics (1 to [`MAX_SERIES_METRICS`]).
    pub metrics: Vec<Metric>,
    /// From (ns); default: the first window.
    pub since_ns: Option<i64>,
    /// Until (ns, exclusive); default: the end of the last window.
    pub until_ns: Option<i64>,
    /// The step (ns); default: about [`DEFAULT_SERIES_POINTS`] points, a whole number of windows.
    pub step_ns: Option<i64>,
    /// One sensor's windows.
    pub sensor: Option<String>,
}

/// One metric's points.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricSeries {
    /// The metric.
    pub metric: Metric,
    /// How its windows were combined into a step.
    pub aggregate: Aggregate,
    /// One value per step (`null`: no window with a value in that step).
    pub values: Vec<Option<f64>>,
}

/// Downsampled series, one point per step.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Series {
    /// The first step's start (ns).
    pub since_ns: i64,
    /// The end of the range (ns, exclusive).
    pub until_ns: i64,
    /// Step length (ns).
    pub step_ns: i64,
    /// The windows' length (ns; 0 when none matched).
    pub window_ns: i64,
    /// Each step's start (ns).
    pub t_ns: Vec<i64>,
    /// Windows in each step.
    pub windows: Vec<u32>,
    /// The metrics' points.
    pub series: Vec<MetricSeries>,
}

impl Series {
    /// The series of `metrics` over `points` steps of `step` from `since`, with `windows`
    /// and `values` (one vector per metric) per step: what every store answers with.
    pub fn from_steps(
        (since, until, step): (i64, i64, i64),
        window_ns: i64,
        metrics: &[Metric],
        windows: Vec<u32>,
        values: Vec<Vec<Option<f64>>>,
    ) -> Series {
        Series {
            since_ns: since,
            until_ns: until,
            step_ns: step,
            window_ns,
            t_ns: (0..windows.len() as i64).map(|i| since + i * step).collect(),
            windows,
            series: metrics
                .iter()
                .zip(values)
                .map(|(m, values)| MetricSeries { metric: *m, aggregate: m.aggregate(), values })
                .collect(),
        }
    }
}

/// The range and step a query resolves to over data spanning `extent` with windows of
/// `window_ns`: `(since, until, step, points)`, or why not.
pub fn resolve(q: &SeriesQuery, extent: Option<(i64, i64)>, window_ns: i64) -> Result<(i64, i64, i64, usize), String> {
    if q.metrics.is_empty() || q.metrics.len() > MAX_SERIES_METRICS {
        return Err(format!("give 1 to {MAX_SERIES_METRICS} metrics"));
    }
    let (lo, hi) = extent.unwrap_or((0, 0));
    let since = q.since_ns.unwrap_or(lo);
    let until = q.until_ns.unwrap_or(hi).max(since);
    let span = until.saturating_sub(since);
    let window = window_ns.max(1);
    let step = match q.step_ns {
        Some(s) if s <= 0 => return Err("step must be positive".into()),
        Some(s) => s,
        None => {
            let per_point = span.saturating_add(DEFAULT_SERIES_POINTS - 1) / DEFAULT_SERIES_POINTS;
            // A whole number of windows, at least one.
            ceil_div(per_point, window).max(1).saturating_mul(window)
        }
    };
    let points = usize::try_from(ceil_div(span, step)).unwrap_or(usize::MAX);
    if points > MAX_SERIES_POINTS {
        return Err(format!(
            "{points} points of {} s: at most {MAX_SERIES_POINTS} (a longer step, or a shorter range)",
            step as f64 / 1e9
        ));
    }
    Ok((since, until, step, points))
}

/// `a / b` rounded up, for `a >= 0`, `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}

/// Accumulates one metric's step.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    sum: f64,
    n: u32,
    max: f64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.max = if self.n == 0 { v } else { self.max.max(v) };
        self.sum += v;
        self.n += 1;
    }

    fn value(&self, a: Aggregate) -> Option<f64> {
        (self.n > 0).then(|| match a {
            Aggregate::Sum => self.sum,
            Aggregate::Mean => self.sum / f64::from(self.n),
            Aggregate::Max => self.max,
        })
    }
}

/// The series of `q` over `records` (any order; those outside the range or of another sensor
/// are skipped).
pub fn series_of<'a>(
    q: &SeriesQuery,
    records: impl Iterator<Item = &'a WindowRecord> + Clone,
) -> Result<Series, Error> {
    let matching = records.filter(|r| q.sensor.as_deref().is_none_or(|s| r.sensor.as_deref() == Some(s)));
    let mut extent: Option<(i64, i64)> = None;
    let mut window_ns = 0;
    for r in matching.clone() {
        let (a, b) = (r.window_start_ns, r.window_end_ns());
        extent = Some(extent.map_or((a, b), |(lo, hi)| (lo.min(a), hi.max(b))));
        window_ns = r.window_ns;
    }
    let (since, until, step, points) = resolve(q, extent, window_ns).map_err(|reason| Error::Query { reason })?;
    let mut windows = vec![0u32; points];
    let mut acc = vec![vec![Acc::default(); points]; q.metrics.len()];
    for r in matching.filter(|r| r.window_start_ns >= since && r.window_start_ns < until) {
        let Ok(i) = usize::try_from((r.window_start_ns - since) / step) else { continue };
        let Some(w) = windows.get_mut(i) else { continue };
        *w += 1;
        for (m, a) in q.metrics.iter().zip(acc.iter_mut()) {
            if let Some(cell) = a.get_mut(i) {
                cell.add(r.get(*m));
            }
        }
    }
    let values = q.metrics.iter().zip(acc).map(|(m, a)| a.iter().map(|c| c.value(m.aggregate())).collect()).collect();
    Ok(Series::from_steps((since, until, step), window_ns, &q.metrics, windows, values))
}
