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

/// Reads a `--from`/`--to` date: `YYYY-MM-DD` means the end of that day (UTC), an RFC 3339
/// date-time means that instant. Returns the stored form, or None when the text is neither.
pub(crate) fn selector_upper_bound(text: &str) -> Option<String> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(format(at));
    }
    let date = Date::parse(text, format_description!("[year]-[month]-[day]")).ok()?;
    let end_of_day = Time::from_hms(23, 59, 59).ok()?;
    Some(format(PrimitiveDateTime::new(date, end_of_day).assume_utc()))
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
        assert_eq!(selector_upper_bound("2024-03-01").as_deref(), Some("2024-03-01T23:59:59Z"));
        assert_eq!(selector_upper_bound("2024-03-01T08:00:00Z").as_deref(), Some("2024-03-01T08:00:00Z"));
        assert_eq!(selector_upper_bound("last week"), None);
        assert_eq!(selector_upper_bound("2024-13-01"), None);
    }
}
