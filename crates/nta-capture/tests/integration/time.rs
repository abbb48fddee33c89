//! `parse_timestamp_ns` on any text: never a panic, and every instant it formats reads back.

use nta_capture::{format_rfc3339_ns, parse_timestamp_ns};
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_text_is_an_instant_or_an_error_naming_it(s in ".{0,40}") {
        if let Err(e) = parse_timestamp_ns(&s) {
            prop_assert_eq!(e.input, s);
        }
    }

    #[test]
    fn rfc3339_like_text_never_panics(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,11})?(Z|[+-][0-9]{2}:[0-9]{2})?)?") {
        let _ = parse_timestamp_ns(&s);
    }

    #[test]
    fn every_formatted_instant_reads_back(ns in any::<i64>()) {
        prop_assert_eq!(parse_timestamp_ns(&format_rfc3339_ns(ns)), Ok(ns));
    }

    #[test]
    fn offsets_shift_by_their_amount(ns in 0i64..4_000_000_000_000_000_000, h in 0i64..14, m in 0i64..60) {
        let utc = format_rfc3339_ns(ns);
        let base = utc.trim_end_matches('Z');
        let shift = (h * 3600 + m * 60) * 1_000_000_000;
        prop_assert_eq!(parse_timestamp_ns(&format!("{base}+{h:02}:{m:02}")), Ok(ns - shift));
        prop_assert_eq!(parse_timestamp_ns(&format!("{base}-{h:02}:{m:02}")), Ok(ns + shift));
    }
}

#[test]
fn the_ends_of_the_range_read_back() {
    for ns in [i64::MIN, i64::MIN + 1, -1_000_000_000, i64::MAX - 1, i64::MAX] {
        assert_eq!(parse_timestamp_ns(&format_rfc3339_ns(ns)), Ok(ns), "{}", format_rfc3339_ns(ns));
    }
}
