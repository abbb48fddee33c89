//! Capture time as text: RFC 3339 with nanoseconds both ways, without a calendar dependency.

/// Formats nanoseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (proleptic
/// Gregorian calendar, UTC).
pub fn format_rfc3339_ns(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let nanos = ts_ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z", sod / 3600, (sod % 3600) / 60, sod % 60)
}

/// Why [`parse_timestamp_ns`] refused its input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{input:?}: {reason} (expected nanoseconds since the epoch or RFC 3339, e.g. 2026-03-02T09:00:00Z)")]
pub struct TimeParseError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a point in time to nanoseconds since the epoch: an integer (nanoseconds, the
/// pipeline's unit, negative allowed) or RFC 3339 — `YYYY-MM-DD`, then `T` or a space and
/// `HH:MM:SS`, optional fraction of up to 9 digits, then `Z`, `±HH:MM` or nothing (UTC).
/// A date alone means its midnight UTC. The inverse of [`format_rfc3339_ns`].
pub fn parse_timestamp_ns(s: &str) -> Result<i64, TimeParseError> {
    let err = |reason| TimeParseError { input: s.to_owned(), reason };
    let t = s.trim();
    if let Ok(ns) = t.parse::<i64>() {
        return Ok(ns);
    }
    let b = t.as_bytes();
    let num = |from: usize, len: usize, what: &'static str| -> Result<i64, TimeParseError> {
        let part = b.get(from..from + len).ok_or_else(|| err(what))?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(err(what));
        }
        Ok(part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, ok: &[u8], what: &'static str| match b.get(at) {
        Some(c) if ok.contains(c) => Ok(()),
        _ => Err(err(what)),
    };
    let year = num(0, 4, "bad year")?;
    sep(4, b"-", "expected '-' after the year")?;
    let month = num(5, 2, "bad month")?;
    sep(7, b"-", "expected '-' after the month")?;
    let day = num(8, 2, "bad day")?;
    if !(1..=12).contains(&month) {
        return Err(err("month out of range"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(err("day out of range"));
    }
    let days = days_from_civil(year, month, day);
    let mut secs = days * 86_400;
    let mut nanos = 0i64;
    let mut at = 10;
    if b.len() > 10 {
        sep(10, b"Tt ", "expected 'T' between date and time")?;
        let (h, m, sec) = (num(11, 2, "bad hour")?, num(14, 2, "bad minute")?, num(17, 2, "bad second")?);
        sep(13, b":", "expected ':' after the hour")?;
        sep(16, b":", "expected ':' after the minute")?;
        if h > 23 || m > 59 || sec > 60 {
            return Err(err("time of day out of range"));
        }
        secs += h * 3600 + m * 60 + sec;
        at = 19;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            let digits = at - start;
            if digits == 0 || digits > 9 {
                return Err(err("fraction of a second needs 1 to 9 digits"));
            }
            nanos = num(start, digits, "bad fraction")? * 10i64.pow(9 - digits as u32);
        }
        match b.get(at) {
            None => {}
            Some(b'Z' | b'z') => at += 1,
            Some(c @ (b'+' | b'-')) => {
                let sign = if *c == b'+' { 1 } else { -1 };
                let (oh, om) = (num(at + 1, 2, "bad offset hour")?, num(at + 4, 2, "bad offset minute")?);
                sep(at + 3, b":", "expected ':' in the offset")?;
                if oh > 23 || om > 59 {
                    return Err(err("offset out of range"));
                }
                secs -= sign * (oh * 3600 + om * 60);
                at += 6;
            }
            Some(_) => return Err(err("expected 'Z' or an offset after the time")),
        }
    }
    if at != b.len() {
        return Err(err("unexpected text after the time"));
    }
    // In i128: the earliest instants (1677) need secs · 10⁹ below i64::MIN before the fraction.
    i64::try_from(i128::from(secs) * 1_000_000_000 + i128::from(nanos)).map_err(|_| err("out of range"))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::{format_rfc3339_ns, parse_timestamp_ns};

    #[track_caller]
    fn check(ns: i64, expected: &str) {
        assert_eq!(format_rfc3339_ns(ns), expected);
    }

    #[test]
    fn known_instants() {
        check(0, "1970-01-01T00:00:00.000000000Z");
        check(1, "1970-01-01T00:00:00.000000001Z");
        check(-1, "1969-12-31T23:59:59.999999999Z");
        check(951_782_400_000_000_000, "2000-02-29T00:00:00.000000000Z");
        check(1_418_145_369_123_456_789, "2014-12-09T17:16:09.123456789Z");
        check(4_102_444_799_000_000_000, "2099-12-31T23:59:59.000000000Z");
    }

    #[test]
    fn parses_what_it_formats() {
        // Every day from 1900 to 2100 at a varying time of day, and the edges of i64's range.
        let mut ns = -2_208_988_800_000_000_000i64;
        while ns < 4_102_444_800_000_000_000 {
            let text = format_rfc3339_ns(ns);
            assert_eq!(parse_timestamp_ns(&text), Ok(ns), "{text}");
            ns += 86_400_000_000_000 + 3_723_000_000_007;
        }
        for ns in [i64::MIN + 1_000_000_000, i64::MAX - 1_000_000_000, -1, 0, 1] {
            assert_eq!(parse_timestamp_ns(&format_rfc3339_ns(ns)), Ok(ns));
        }
    }

    #[test]
    fn forms_and_errors() {
        let base = 1_772_442_000_000_000_000; // 2026-03-02T09:00:00Z
        assert_eq!(parse_timestamp_ns("2026-03-02T09:00:00Z"), Ok(base));
        assert_eq!(parse_timestamp_ns("2026-03-02 09:00:00"), Ok(base));
        assert_eq!(parse_timestamp_ns("2026-03-02T10:30:00+01:30"), Ok(base));
        assert_eq!(parse_timestamp_ns("2026-03-02T08:00:00-01:00"), Ok(base));
        assert_eq!(parse_timestamp_ns("2026-03-02T09:00:00.5Z"), Ok(base + 500_000_000));
        assert_eq!(parse_timestamp_ns("2026-03-02T09:00:00.000000001Z"), Ok(base + 1));
        assert_eq!(parse_timestamp_ns("2026-03-02"), Ok(base - 9 * 3_600_000_000_000));
        assert_eq!(parse_timestamp_ns(" 1772442000000000000 "), Ok(base));
        assert_eq!(parse_timestamp_ns("-5"), Ok(-5));
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-29",
            "2026-03-02T24:00:00Z",
            "2026-03-02T09:00Z",
            "2026-03-02T09:00:00.Z",
            "2026-03-02T09:00:00.1234567891Z",
            "2026-03-02T09:00:00+0100",
            "2026-03-02T09:00:00Zjunk",
            "9999999-01-01",
            "2026-03-02T09:00:00é",
        ] {
            let r = parse_timestamp_ns(bad);
            assert!(r.as_ref().is_err_and(|e| e.input == bad && e.to_string().contains("RFC 3339")), "{bad}: {r:?}");
        }
        assert_eq!(parse_timestamp_ns("2024-02-29"), Ok(1_709_164_800_000_000_000));
    }
}
