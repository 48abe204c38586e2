//! Plain-text tables for people: the one renderer behind every `table` format (`sfconn collect
//! -f table`, `sfconn report`, `sfconn history list` and `history diff`).
//!
//! Owns: laying out a header row and data rows in aligned columns — each column as wide as its
//! widest cell (counted in characters), two spaces between columns, numbers aligned right, an
//! optional indent before every line, no trailing spaces.
//! Must not: know what is in the cells. It sits below `collect` and `store` so that both render
//! tables the same way without `store` depending on `collect`'s types (docs/architecture.md).

use std::fmt::Display;
use std::io::{self, Write};

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    /// For numbers.
    Right,
}

/// A table under construction: headers, then rows, then [`Table::render`] or [`Table::write`].
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Column headers; a header starting with `#` marks a right-aligned (numeric) column and the
    /// `#` is not printed.
    pub fn new(headers: &[&str]) -> Table {
        let (headers, align) = headers
            .iter()
            .map(|header| match header.strip_prefix('#') {
                Some(numeric) => (numeric.to_owned(), Align::Right),
                None => ((*header).to_owned(), Align::Left),
            })
            .unzip();
        Table { headers, align, rows: Vec::new() }
    }

    /// Adds a row: one cell per column. Cells beyond the last column are not shown.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// True when no row has been added (the header alone does not count).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The header row and the rows, one line each, every line starting with `indent` and
    /// ending with `\n`.
    pub fn render(&self, indent: &str) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|header| header.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut text = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::from(indent);
            for (index, ((cell, width), align)) in row.iter().zip(&widths).zip(&self.align).enumerate() {
                if index > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(width - cell.chars().count());
                match align {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&pad);
                    }
                    Align::Right => {
                        line.push_str(&pad);
                        line.push_str(cell);
                    }
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    /// Writes [`Table::render`]`(indent)`.
    pub fn write(&self, out: &mut dyn Write, indent: &str) -> io::Result<()> {
        out.write_all(self.render(indent).as_bytes())
    }

    /// Writes the table, or `{indent}{instead}` on one line when it has no rows.
    pub fn write_or(&self, out: &mut dyn Write, indent: &str, instead: &str) -> io::Result<()> {
        if self.is_empty() { writeln!(out, "{indent}{instead}") } else { self.write(out, indent) }
    }
}

/// A cell for an optional value: `-` when absent.
pub fn opt<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut table = Table::new(&["NAME", "#USED"]);
        table.row(vec!["Salesforce".into(), "9".into()]);
        table.row(vec!["Chatter Free".into(), "1200".into()]);
        assert_eq!(table.render("  "), "  NAME          USED\n  Salesforce       9\n  Chatter Free  1200\n");
    }

    #[test]
    fn widths_count_characters_not_bytes_and_lines_have_no_trailing_spaces() {
        let mut table = Table::new(&["NAME", "STATUS"]);
        table.row(vec!["Müller".into(), String::new()]);
        table.row(vec!["Li".into(), "ok".into()]);
        assert_eq!(table.render(""), "NAME    STATUS\nMüller\nLi      ok\n");
    }

    #[test]
    fn a_header_wider_than_every_cell_sets_the_width() {
        let mut table = Table::new(&["#RECLAIMABLE", "PAID"]);
        table.row(vec!["3".into(), "yes".into()]);
        assert_eq!(table.render(""), "RECLAIMABLE  PAID\n          3  yes\n");
    }

    #[test]
    fn cells_beyond_the_last_column_are_not_shown() {
        let mut table = Table::new(&["A"]);
        table.row(vec!["x".into(), "extra".into()]);
        assert_eq!(table.render(""), "A\nx\n");
    }

    #[test]
    fn an_empty_table_writes_the_replacement_line_instead() {
        let table = Table::new(&["A", "#B"]);
        assert!(table.is_empty());
        let mut out = Vec::new();
        table.write_or(&mut out, "  ", "none").unwrap();
        assert_eq!(out, b"  none\n");
        assert_eq!(table.render(""), "A  B\n");
    }

    #[test]
    fn absent_values_show_as_a_dash() {
        assert_eq!(opt(Some(12)), "12");
        assert_eq!(opt(None::<&str>), "-");
    }
}
