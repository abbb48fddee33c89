//! Capture-time formatting: RFC 3339 UTC with nanoseconds, without a calendar dependency.

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
    use super::format_rfc3339_ns;

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
}
