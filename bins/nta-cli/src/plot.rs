//! `nta-cli plot`: a timeline of traffic and anomalies (SVG, plotters).

use crate::metrics_files::read_metrics;
use anyhow::{Context, Result, anyhow};
use nta_analysis::{Severity, incidents};
use nta_capture::read_labels;
use nta_store::AnomalyStore;
use plotters::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Window metrics (repeatable)
    #[arg(long = "metrics", value_name = "FILE", required = true)]
    metrics: Vec<PathBuf>,
    /// Anomaly store
    #[arg(long, default_value = "logs/anomalies.jsonl")]
    anomalies: PathBuf,
    /// True attack intervals to mark (JSON lines with kind, start_ns, end_ns)
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Output SVG
    #[arg(long, default_value = "timeline.svg")]
    out: PathBuf,
    /// Width and height in pixels
    #[arg(long, default_value = "1400x700")]
    size: String,
    /// The metric drawn (any field of the window records: tcp_syn, unique_src_ips, ...)
    #[arg(long, default_value = "packets_per_s")]
    metric: nta_metrics::Metric,
}

/// Width of the key column, pixels.
const KEY_WIDTH: u32 = 200;

/// The key, in a column of its own: the line, labels, incident severities, score marks.
fn draw_key<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    metric: nta_metrics::Metric,
    labels: bool,
    threshold: Option<f64>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", 12).into_font();
    let mut y = 40;
    let line = |area: &DrawingArea<DB, plotters::coord::Shift>, text: &str, y: &mut i32| {
        let r = area.draw(&Text::new(text.to_owned(), (30, *y - 6), font.clone()));
        *y += 20;
        r
    };
    area.draw(&Text::new("Key", (8, 14), ("sans-serif", 13).into_font()))?;
    area.draw(&PathElement::new(vec![(8, y), (24, y)], RGBColor(30, 30, 30)))?;
    line(area, metric.name(), &mut y)?;
    if labels {
        area.draw(&Rectangle::new([(8, y - 6), (24, y + 4)], RGBColor(158, 202, 225).filled()))?;
        line(area, "attack (label)", &mut y)?;
    }
    y += 6;
    area.draw(&Text::new("incidents and anomalies:", (8, y - 6), font.clone()))?;
    y += 20;
    for s in Severity::ALL.iter().rev() {
        area.draw(&Rectangle::new([(8, y - 6), (24, y + 4)], severity_color(*s).filled()))?;
        line(area, s.name(), &mut y)?;
    }
    y += 6;
    area.draw(&Rectangle::new([(12, y - 6), (20, y + 4)], severity_color(Severity::High).filled()))?;
    line(area, "model score (bar)", &mut y)?;
    area.draw(&TriangleMarker::new((16, y - 1), 5, severity_color(Severity::High).filled()))?;
    line(area, "no model score", &mut y)?;
    if let Some(t) = threshold {
        area.draw(&PathElement::new(vec![(8, y), (24, y)], BLACK))?;
        line(area, &format!("model threshold {t:.2}"), &mut y)?;
    }
    Ok(())
}

fn severity_color(s: Severity) -> RGBColor {
    match s {
        Severity::Low => RGBColor(253, 174, 97),
        Severity::Medium => RGBColor(244, 109, 67),
        Severity::High => RGBColor(215, 48, 39),
        Severity::Critical => RGBColor(140, 0, 40),
    }
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let (w, h) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|(w, h)| *w >= 300 && *h >= 200)
        .context("--size WIDTHxHEIGHT, at least 300x200")?;
    let mut records = read_metrics(&args.metrics)?;
    records.retain(|r| !r.late);
    records.sort_by_key(|r| r.window_start_ns);
    let t0 = records.first().map(|r| r.window_start_ns).context("no windows")?;
    let t_end = records.iter().map(|r| r.window_end_ns()).max().unwrap_or(t0 + 1);
    let minutes = |t: i64| (t - t0) as f64 / 60e9;
    let store = AnomalyStore::new(&args.anomalies);
    let mut anomalies: Vec<_> =
        store.read()?.anomalies.into_iter().filter(|a| a.window_end_ns > t0 && a.window_start_ns < t_end).collect();
    anomalies.sort_by_key(|a| a.window_start_ns);
    let window_ns = records.first().map_or(1, |r| r.window_ns);
    let groups = incidents(&anomalies);
    let labels = args.labels.as_deref().map(read_labels).transpose()?.unwrap_or_default();
    let x_max = minutes(t_end).max(1e-6);
    // Headroom above the highest window for the incident bars and names.
    let value = |r: &nta_metrics::WindowRecord| Some(r.get(args.metric)).filter(|v| v.is_finite());
    let pps_max = records.iter().filter_map(value).fold(1.0, f64::max) * 1.3;

    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", args.out.display());
    let root = SVGBackend::new(&args.out, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    // The key has a column of its own: it never covers data.
    let (plots, key) = root.split_horizontally(w.saturating_sub(KEY_WIDTH).max(w / 2));
    let (top, bottom) = plots.split_vertically(h * 3 / 5);
    let title = format!(
        "{} — {} windows of {} s from {}",
        records.first().map_or("", |r| r.capture.as_str()),
        records.len(),
        window_ns as f64 / 1e9,
        records.first().map_or("", |r| r.window_start.as_str())
    );
    // The x axis in clock time (UTC), from minutes since the first window.
    let clock = |m: &f64| nta_capture::format_rfc3339_ns(t0 + (*m * 60e9) as i64).get(11..19).unwrap_or("").to_owned();
    let mut traffic = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..pps_max)
        .map_err(|e| err(&e))?;
    traffic
        .configure_mesh()
        .y_desc(args.metric.name())
        .x_desc("time (UTC)")
        .x_label_formatter(&clock)
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| err(&e))?;
    // True attacks (labels) in blue, under the traffic line.
    for l in &labels {
        let (a, b) = (minutes(l.start_ns).max(0.0), minutes(l.end_ns).min(x_max));
        traffic
            .draw_series(std::iter::once(Rectangle::new(
                [(a, 0.0), (b, pps_max)],
                RGBColor(158, 202, 225).mix(0.5).filled(),
            )))
            .map_err(|e| err(&e))?;
        traffic
            .draw_series(std::iter::once(Text::new(l.kind.name(), (a, pps_max * 0.99), ("sans-serif", 11))))
            .map_err(|e| err(&e))?;
    }
    // Incidents: a bar by severity, named by kind (a name that would overlap the one before
    // it is left out).
    let mut named_until = f64::NEG_INFINITY;
    for i in &groups {
        let (a, b) = (minutes(i.start_ns), minutes(i.end_ns));
        traffic
            .draw_series(std::iter::once(Rectangle::new(
                [(a, pps_max * 0.86), (b, pps_max * 0.9)],
                severity_color(i.severity).filled(),
            )))
            .map_err(|e| err(&e))?;
        if nta_analysis::names_attack(i.kind) && a >= named_until {
            let name = i.kind.name().replace('_', " ");
            traffic
                .draw_series(std::iter::once(Text::new(name.clone(), (a, pps_max * 0.84), ("sans-serif", 11))))
                .map_err(|e| err(&e))?;
            named_until = a + x_max * (name.len() as f64 * 7.0) / f64::from(w.saturating_sub(KEY_WIDTH + 80).max(1));
        }
    }
    traffic
        .draw_series(LineSeries::new(
            records.iter().filter_map(|r| Some((minutes(r.window_start_ns), value(r)?))),
            RGBColor(30, 30, 30).stroke_width(1),
        ))
        .map_err(|e| err(&e))?;

    // Anomaly scores: the model's paper score of each abnormal window, coloured by severity;
    // an anomaly without a model score (baseline or rules only) is a triangle at the top, not
    // a bar that would read as a low score.
    let mut scores = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..1.08f64)
        .map_err(|e| err(&e))?;
    scores
        .configure_mesh()
        .y_desc("anomaly score")
        .x_desc("time (UTC)")
        .x_label_formatter(&clock)
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| err(&e))?;
    for l in &labels {
        let (a, b) = (minutes(l.start_ns).max(0.0), minutes(l.end_ns).min(x_max));
        scores
            .draw_series(std::iter::once(Rectangle::new(
                [(a, 0.0), (b, 1.08)],
                RGBColor(158, 202, 225).mix(0.5).filled(),
            )))
            .map_err(|e| err(&e))?;
    }
    for a in &anomalies {
        let colour = severity_color(a.severity);
        match a.score {
            Some(score) => {
                scores
                    .draw_series(std::iter::once(Rectangle::new(
                        [(minutes(a.window_start_ns), 0.0), (minutes(a.window_end_ns), score)],
                        colour.filled(),
                    )))
                    .map_err(|e| err(&e))?;
            }
            None => {
                let x = (minutes(a.window_start_ns) + minutes(a.window_end_ns)) / 2.0;
                scores
                    .draw_series(std::iter::once(TriangleMarker::new((x, 1.03), 5, colour.filled())))
                    .map_err(|e| err(&e))?;
            }
        }
    }
    let threshold = anomalies.iter().find_map(|a| a.score_threshold);
    if let Some(t) = threshold {
        scores.draw_series(LineSeries::new([(0.0, t), (x_max, t)], BLACK.stroke_width(1))).map_err(|e| err(&e))?;
    }
    draw_key(&key, args.metric, !labels.is_empty(), threshold).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    eprintln!(
        "{}: {} windows, {} anomalies in {} incidents, {} labels",
        args.out.display(),
        records.len(),
        anomalies.len(),
        groups.len(),
        labels.len()
    );
    Ok(ExitCode::SUCCESS)
}
