//! The JSON-lines format of window records: one object per line, `\n`-terminated.

use crate::Error;
use crate::record::WindowRecord;
use nta_capture::LineReader;
use std::io::{BufReader, Write};
use std::path::Path;

/// Writes one record as a line.
pub fn write_jsonl_record<W: Write, R: serde::Serialize>(out: &mut W, record: &R) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// The records of a JSON-lines file, and whether its last line was torn.
#[derive(Debug)]
pub struct JsonlRead {
    /// The records, in file order.
    pub records: Vec<WindowRecord>,
    /// The last line had no newline and did not parse (a writer was interrupted): skipped.
    pub torn_last_line: bool,
}

/// Reads a metrics file. Blank lines are skipped; a last line without a newline that does not
/// parse is reported as torn, not as an error; any other bad line, or one longer than
/// [`nta_capture::MAX_LINE_BYTES`], is an error with its number.
pub fn read_jsonl(path: &Path) -> Result<JsonlRead, Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let mut lines = LineReader::new(BufReader::new(file));
    let mut records = Vec::new();
    while let Some(line) = lines.next_line().map_err(|source| Error::Line { path: path.to_owned(), source })? {
        let text = line.text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<WindowRecord>(text) {
            Ok(r) => records.push(r),
            Err(_) if !line.complete => return Ok(JsonlRead { records, torn_last_line: true }),
            Err(source) => return Err(Error::Json { path: path.to_owned(), line: line.number, source }),
        }
    }
    Ok(JsonlRead { records, torn_last_line: false })
}
