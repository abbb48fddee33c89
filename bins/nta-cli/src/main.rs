//! `nta-cli`: the command-line front end. `main` parses, dispatches and maps exit codes;
//! the work is done by the library crates.

mod analysis;
mod baselines;
mod extract;
mod inspect;
mod ml;
mod plot;
mod synth;
mod util;

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
    Analyze(analysis::AnalyzeArgs),
    /// Detect abnormal windows with a model and/or a baseline; append them to the anomaly store
    Detect(analysis::DetectArgs),
    /// Read the anomaly store
    #[command(subcommand)]
    Anomalies(analysis::AnomaliesCmd),
    /// Window-level precision and recall of stored anomalies against attack labels
    Evaluate(analysis::EvaluateArgs),
    /// Draw a timeline of traffic, anomalies, incidents and (optionally) true attacks, as SVG
    Plot(plot::Args),
    /// Copy the packets of a time range (and host) to a new capture, for Wireshark
    Carve(analysis::CarveArgs),
    /// Describe captures: format, link types, packets, time span, protocol census, errors
    Inspect(inspect::Args),
    /// Per-window traffic metrics of captures, as JSON lines
    Extract(extract::Args),
    /// Learn what normal traffic looks like from window metrics (or `baselines score`)
    Baselines(baselines::Args),
    /// Train an Isolation Forest on window metrics (or any numeric CSV table)
    Train(ml::TrainArgs),
    /// Score window metrics (or a CSV table) with a model
    Score(ml::ScoreArgs),
    /// List the models
    Models(ml::ModelsArgs),
    /// Write a synthetic capture with labelled attacks (and its labels file)
    Synth(synth::Args),
}

/// Exit codes: 0 success, 1 some input could not be read, 2 usage or internal error.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Analyze(args) => analysis::analyze_cmd(&args),
        Command::Detect(args) => analysis::detect_cmd(&args),
        Command::Anomalies(cmd) => analysis::anomalies_cmd(&cmd),
        Command::Evaluate(args) => analysis::evaluate_cmd(&args),
        Command::Carve(args) => analysis::carve_cmd(&args),
        Command::Plot(args) => plot::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Extract(args) => extract::run(&args),
        Command::Baselines(args) => baselines::run(&args),
        Command::Train(args) => ml::train(&args),
        Command::Score(args) => ml::score(&args),
        Command::Models(args) => ml::models(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("nta-cli: {err:#}");
            ExitCode::from(2)
        }
    }
}
