//! `nta-cli models`: the models of the data directory.

use crate::config::DirArgs;
use crate::train::layout;
use anyhow::Result;
use nta_ml::list_models;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    dirs: DirArgs,
    /// Directory of models [default: <data-dir>/models]
    #[arg(long)]
    models_dir: Option<PathBuf>,
    /// JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let layout = layout(&args.dirs, args.models_dir.as_ref());
    let list = list_models(layout.models_dir())?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        eprintln!("no models in {}", layout.models_dir().display());
    }
    for m in &list {
        match &m.error {
            Some(e) => writeln!(out, "{:<24} unreadable: {e}", m.name)?,
            None => writeln!(
                out,
                "{:<24} {} trees, {} features, {} rows, created {}",
                m.name,
                m.n_estimators.unwrap_or(0),
                m.features.unwrap_or(0),
                m.rows.unwrap_or(0),
                m.created_at.as_deref().unwrap_or("?")
            )?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
