//! Date-times as the store keeps them: RFC 3339 UTC with whole seconds, so that text order is
//! time order in SQL.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::StoreError;

const STORED: &[time::format_description::BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Parses an RFC 3339 date-time (any offset, optional fraction).
pub(crate) fn parse(field: &'static str, value: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|source| StoreError::InvalidTimestamp {
        field,
        value: value.to_owned(),
        source,
    })
}

/// Formats as stored: UTC, whole seconds.
pub(crate) fn format(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC).replace_nanosecond(0).unwrap_or(at);
    utc.format(STORED).unwrap_or_else(|_| utc.to_string())
}

/// Normalises an RFC 3339 date-time to the stored form.
pub(crate) fn normalise(field: &'static str, value: &str) -> Result<String, StoreError> {
    parse(field, value).map(format)
}

/// Normalises an optional date-time.
pub(crate) fn normalise_opt(field: &'static str, value: Option<&str>) -> Result<Option<String>, StoreError> {
    value.map(|value| normalise(field, value)).transpose()
}

/// Milliseconds since the Unix epoch: how the store orders snapshots and tells them apart.
pub(crate) fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A snapshot's `collected_at` as shown: UTC, whole seconds, with milliseconds only when there
/// are some (as `sfconn collect` writes it).
pub(crate) fn format_collected(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    match utc.millisecond() {
        0 => format(utc),
        ms => format!("{}.{ms:03}Z", format(utc).trim_end_matches('Z')),
    }
}

/// Reads a `--from`/`--to` date: `YYYY-MM-DD` means up to the end of that day (UTC), an
/// RFC 3339 date-time means up to that instant. Returns the inclusive bound in Unix
/// milliseconds, or None when the text is neither.
pub(crate) fn selector_upper_bound(text: &str) -> Option<i64> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(unix_ms(at));
    }
    let date = Date::parse(text, format_description!("[year]-[month]-[day]")).ok()?;
    let next_day = date.next_day()?;
    Some(unix_ms(PrimitiveDateTime::new(next_day, Time::MIDNIGHT).assume_utc()) - 1)
}

/// Now, in the stored form.
pub(crate) fn now() -> String {
    format(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_is_utc_whole_seconds() {
        assert_eq!(normalise("t", "2024-01-15T10:30:00.123Z").unwrap(), "2024-01-15T10:30:00Z");
        assert_eq!(normalise("t", "2024-01-15T12:30:00+02:00").unwrap(), "2024-01-15T10:30:00Z");
    }

    #[test]
    fn bad_timestamp_names_the_field() {
        let err = normalise("collected_at", "15/01/2024").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the snapshot's collected_at is not an RFC 3339 date-time: \"15/01/2024\""
        );
    }

    #[test]
    fn selector_dates_mean_end_of_day() {
        let ms = |text: &str| unix_ms(parse("t", text).unwrap());
        assert_eq!(selector_upper_bound("2024-03-01"), Some(ms("2024-03-01T23:59:59.999Z")));
        assert_eq!(selector_upper_bound("2024-03-01T08:00:00Z"), Some(ms("2024-03-01T08:00:00Z")));
        assert_eq!(selector_upper_bound("last week"), None);
        assert_eq!(selector_upper_bound("2024-13-01"), None);
    }

    #[test]
    fn collected_at_keeps_milliseconds_only_when_there_are_some() {
        let shown = |text: &str| format_collected(parse("t", text).unwrap());
        assert_eq!(shown("2024-01-15T10:30:00Z"), "2024-01-15T10:30:00Z");
        assert_eq!(shown("2024-01-15T10:30:00.25Z"), "2024-01-15T10:30:00.250Z");
        assert_eq!(shown("2024-01-15T12:30:00.0004+02:00"), "2024-01-15T10:30:00Z");
    }
}
