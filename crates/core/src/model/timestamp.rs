//! Timestamps as the Python server writes them (`datetime.isoformat()`).

use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};

/// Parses a Python `isoformat()` string: RFC 3339 (with an offset) first,
/// then the naive form, which the Python server writes in local time.
pub fn parse_py_datetime(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(aware) = DateTime::parse_from_rfc3339(raw) {
        return Some(aware.with_timezone(&Utc));
    }
    // `FromStr` is the `%Y-%m-%dT%H:%M:%S%.f` form with pre-built items:
    // much cheaper than a format string (10k users = 30k timestamps at start).
    let naive = raw
        .parse::<NaiveDateTime>()
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M"))
        .ok()?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a time the way the Python server itself writes it: naive local
/// time with microseconds. Python compares these fields with the naive
/// `datetime.now()` (`User._is_locked_out`), so an offset-aware value would
/// make the Python tools raise `TypeError` on the same database.
pub fn format_py_datetime(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&Local).naive_local();
    // Python's datetime stops at year 9999: clamp rather than write a date
    // the Python tools cannot read back.
    let local = local.min(python_max());
    local.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn python_max() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .unwrap_or(NaiveDateTime::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_naive_and_offset_forms() {
        let aware = parse_py_datetime("2026-01-29T17:19:13.313677+00:00").unwrap();
        assert_eq!(aware.timestamp(), 1769707153);
        assert!(parse_py_datetime("2026-01-29T17:19:13.313677").is_some());
        assert!(parse_py_datetime("2026-01-29T17:19:13").is_some());
        assert!(parse_py_datetime("yesterday").is_none());
    }

    #[test]
    fn dates_past_python_s_calendar_are_clamped() {
        let far = parse_py_datetime("9999-12-31T23:59:59-01:00").unwrap();
        let written = format_py_datetime(far);
        assert!(written.starts_with("9999-12-31T"), "{written}");
        assert!(parse_py_datetime(&written).is_some());
    }

    #[test]
    fn round_trips_to_the_microsecond() {
        let t = parse_py_datetime("2026-01-29T17:19:13.313677+00:00").unwrap();
        let written = format_py_datetime(t);
        assert_eq!(written.len(), "2026-01-29T17:19:13.313677".len());
        assert_eq!(parse_py_datetime(&written), Some(t));
    }
}
