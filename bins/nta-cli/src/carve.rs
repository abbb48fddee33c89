//! `nta-cli carve`: the packets of a time range (and host) copied to a new capture.

use anyhow::{Context, Result};
use nta_store::AtomicFile;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct CarveArgs {
    /// The capture
    #[arg(long)]
    pcap: PathBuf,
    /// First timestamp kept (RFC 3339, or ns since the epoch)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    from: Option<i64>,
    /// End of the range, exclusive (RFC 3339, or ns)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    to: Option<i64>,
    /// Only packets from or to this address
    #[arg(long)]
    host: Option<std::net::IpAddr>,
    /// Move the packets so that the first is at this time (to embed them in another capture)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    shift_to: Option<i64>,
    /// Output capture (nanosecond pcap)
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(args: &CarveArgs) -> Result<ExitCode> {
    let spec =
        nta_analysis::CarveSpec { from_ns: args.from, to_ns: args.to, host: args.host, shift_to_ns: args.shift_to };
    let file = AtomicFile::create(&args.out)?;
    let (stats, out) = nta_analysis::carve(&args.pcap, &spec, std::io::BufWriter::new(file.file()?))?;
    drop(out.into_inner().map_err(|e| e.into_error()).context("writing the evidence")?);
    file.commit()?;
    eprintln!(
        "{} of {} packets written to {}{}",
        stats.written,
        stats.read,
        args.out.display(),
        if stats.other_link_type > 0 {
            format!(" ({} of another link type skipped)", stats.other_link_type)
        } else {
            String::new()
        }
    );
    if let Some(e) = &stats.error {
        eprintln!("warning: {}: {e} (the packets before it were used)", args.pcap.display());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
