//! The JSON-lines format of window records: one object per line, `\n`-terminated.

use crate::Error;
use crate::record::WindowRecord;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

/// Writes one record as a line.
pub fn write_jsonl_record<W: Write>(out: &mut W, record: &WindowRecord) -> std::io::Result<()> {
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
/// parse is reported as torn, not as an error; any other bad line is an error with its number.
pub fn read_jsonl(path: &Path) -> Result<JsonlRead, Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        if n == 0 {
            return Ok(JsonlRead { records, torn_last_line: false });
        }
        number += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<WindowRecord>(text) {
            Ok(r) => records.push(r),
            Err(_) if !line.ends_with('\n') => return Ok(JsonlRead { records, torn_last_line: true }),
            Err(source) => return Err(Error::Json { path: path.to_owned(), line: number, source }),
        }
    }
}
