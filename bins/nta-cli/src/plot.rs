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
    let pps_max = records.iter().map(|r| r.packets_per_s).fold(1.0, f64::max) * 1.1;

    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", args.out.display());
    let root = SVGBackend::new(&args.out, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (top, bottom) = root.split_vertically(h * 3 / 5);
    let title = format!(
        "{} — {} windows of {} s from {}",
        records.first().map_or("", |r| r.capture.as_str()),
        records.len(),
        window_ns as f64 / 1e9,
        records.first().map_or("", |r| r.window_start.as_str())
    );
    let mut traffic = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(25)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..pps_max)
        .map_err(|e| err(&e))?;
    traffic
        .configure_mesh()
        .y_desc("packets/s")
        .x_desc("minutes")
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| err(&e))?;
    // True attacks (labels) in blue, incidents in red, under the traffic line.
    for (k, l) in labels.iter().enumerate() {
        let (a, b) = (minutes(l.start_ns).max(0.0), minutes(l.end_ns).min(x_max));
        let band = traffic
            .draw_series(std::iter::once(Rectangle::new(
                [(a, 0.0), (b, pps_max)],
                RGBColor(158, 202, 225).mix(0.5).filled(),
            )))
            .map_err(|e| err(&e))?;
        if k == 0 {
            band.label("attack (label)")
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], RGBColor(158, 202, 225).filled()));
        }
        traffic
            .draw_series(std::iter::once(Text::new(l.kind.name(), (a, pps_max * 0.97), ("sans-serif", 12))))
            .map_err(|e| err(&e))?;
    }
    for (k, i) in groups.iter().enumerate() {
        let (a, b) = (minutes(i.start_ns), minutes(i.end_ns));
        let bar = traffic
            .draw_series(std::iter::once(Rectangle::new(
                [(a, pps_max * 0.85), (b, pps_max * 0.9)],
                severity_color(i.severity).filled(),
            )))
            .map_err(|e| err(&e))?;
        if k == 0 {
            bar.label("incident (by severity)").legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 15, y + 5)], severity_color(Severity::High).filled())
            });
        }
    }
    traffic
        .draw_series(LineSeries::new(
            records.iter().map(|r| (minutes(r.window_start_ns), r.packets_per_s)),
            RGBColor(30, 30, 30).stroke_width(1),
        ))
        .map_err(|e| err(&e))?
        .label("packets/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLACK));
    traffic
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| err(&e))?;

    // Anomaly scores: the model's paper score of each abnormal window, coloured by severity.
    let mut scores = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..1f64)
        .map_err(|e| err(&e))?;
    scores
        .configure_mesh()
        .y_desc("anomaly score")
        .x_desc("minutes (bars: abnormal windows, by severity; line: threshold)")
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| err(&e))?;
    for l in &labels {
        let (a, b) = (minutes(l.start_ns).max(0.0), minutes(l.end_ns).min(x_max));
        scores
            .draw_series(std::iter::once(Rectangle::new(
                [(a, 0.0), (b, 1.0)],
                RGBColor(158, 202, 225).mix(0.5).filled(),
            )))
            .map_err(|e| err(&e))?;
    }
    for a in &anomalies {
        let height = a.score.unwrap_or(0.5);
        scores
            .draw_series(std::iter::once(Rectangle::new(
                [(minutes(a.window_start_ns), 0.0), (minutes(a.window_end_ns), height)],
                severity_color(a.severity).filled(),
            )))
            .map_err(|e| err(&e))?;
    }
    if let Some(t) = anomalies.iter().find_map(|a| a.score_threshold) {
        scores.draw_series(LineSeries::new([(0.0, t), (x_max, t)], BLACK.stroke_width(1))).map_err(|e| err(&e))?;
    }
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
