//! `nta-cli`: the command-line front end. `main` parses, dispatches and maps exit codes; each
//! command is a module of its own, `config` turns flags into library configs, and the library
//! crates (nta-store for everything on disk) do the work.

mod analyze;
mod anomalies;
mod baselines;
mod carve;
mod config;
mod detect;
mod evaluate;
mod export;
mod extract;
mod fleet;
mod inspect;
mod live;
mod metrics_files;
mod models;
mod plot;
mod report;
mod score;
mod synth;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// nta — network traffic analyzer
#[derive(Debug, Parser)]
#[command(name = "nta-cli", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: extract → baseline → train → detect, and a readable report [default capture: the bundled sample]
    Analyze(analyze::Args),
    /// Detect abnormal windows with a model and/or a baseline; append them to the anomaly store
    Detect(detect::Args),
    /// Read the anomaly store
    #[command(subcommand)]
    Anomalies(anomalies::AnomaliesCmd),
    /// Window-level precision and recall of stored anomalies against attack labels
    Evaluate(evaluate::EvaluateArgs),
    /// Draw a timeline of traffic, anomalies, incidents and (optionally) true attacks, as SVG
    Plot(plot::Args),
    /// Copy the packets of a time range (and host) to a new capture, for Wireshark
    Carve(carve::CarveArgs),
    /// Describe captures: format, link types, packets, time span, protocol census, errors
    Inspect(inspect::Args),
    /// Per-window traffic metrics of captures, as JSON lines
    Extract(extract::Args),
    /// One record per flow (connection) as it ends, with its Community ID, as JSON lines
    Flows(extract::FlowsArgs),
    /// Learn what normal traffic looks like from window metrics (or `baselines score`)
    Baselines(baselines::Args),
    /// Train an Isolation Forest on window metrics (or any numeric CSV table)
    Train(train::Args),
    /// Score window metrics (or a CSV table) with a model
    Score(score::Args),
    /// List the models
    Models(models::Args),
    /// Write a synthetic capture with labelled attacks (and its labels file)
    Synth(synth::Args),
    /// The fleet's streams on NATS JetStream (`fleet init`); docs/DEPLOY.md
    #[command(subcommand)]
    Fleet(fleet::FleetCmd),
    /// Load the fleet's records from NATS JetStream into ClickHouse; docs/DEPLOY.md
    Ingest(fleet::IngestArgs),
    /// Interfaces to capture on (`--list`); extract and detect capture with `--interface`
    Capture(live::CaptureArgs),
}

/// Exit codes: 0 success, 1 some input could not be read, 2 usage or internal error.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Detect(args) => detect::run(&args),
        Command::Anomalies(cmd) => anomalies::run(&cmd),
        Command::Evaluate(args) => evaluate::run(&args),
        Command::Carve(args) => carve::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Extract(args) => extract::run(&args),
        Command::Flows(args) => extract::run_flows(&args),
        Command::Baselines(args) => baselines::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Score(args) => score::run(&args),
        Command::Models(args) => models::run(&args),
        Command::Capture(args) => live::run_capture(&args),
        Command::Fleet(cmd) => fleet::run(&cmd),
        Command::Ingest(args) => fleet::run_ingest(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("nta-cli: {}", nta_store::error_chain(err.as_ref()));
            ExitCode::from(2)
        }
    }
}
