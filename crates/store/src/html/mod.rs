//! The frame of a self-contained HTML page: the Content-Security-Policy, the inline style and
//! the optional inline script, and helpers that write tables. Text from the org goes through
//! [`escape`] only; [`svg`] draws the charts. No URL of any kind is written: the page fetches
//! nothing, and its policy forbids every fetch (`default-src 'none'`), admitting only its own
//! style and script by their SHA-256 hashes and images from `data:`.

pub(crate) mod escape;
pub(crate) mod svg;

use base64::Engine;
use sha2::{Digest, Sha256};

use escape::fmt;

/// The page's style sheet (light and dark palettes, print rules).
pub(crate) const STYLE: &str = include_str!("style.css");

/// The page's only script: makes the tables of class `sortable` sortable by a click on a
/// column header. The page is complete without it.
pub(crate) const SCRIPT: &str = include_str!("sort.js");

/// `'sha256-…'` of `source`, as a Content-Security-Policy source expression.
fn csp_hash(source: &str) -> String {
    let digest = Sha256::digest(source.as_bytes());
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
}

/// The page's Content-Security-Policy: nothing may be fetched, framed or submitted; only the
/// page's own style and script run.
pub(crate) fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

/// Writes `<!DOCTYPE html>` up to the opening `<body>`.
pub(crate) fn open_page(out: &mut String, title: &str) {
    fmt(
        out,
        format_args!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"color-scheme\" content=\"light dark\">\n<meta name=\"referrer\" content=\"no-referrer\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{}\n",
            content_security_policy(),
            escape::text(title),
            svg::DEFS
        ),
    );
}

/// Writes the script and closes the page.
pub(crate) fn close_page(out: &mut String) {
    fmt(out, format_args!("<script>{SCRIPT}</script>\n</body>\n</html>\n"));
}

/// A table cell: its text (escaped here) and how it is aligned and sorted.
pub(crate) enum Cell<'a> {
    /// Text from the org or the report.
    Text(&'a str),
    /// A number: right-aligned, named by `data-field` so tests and scripts can find it.
    Num { field: &'static str, value: Option<String> },
    /// Text shown, sorted by a number (`data-sort`).
    Sorted { text: String, sort: i64 },
}

/// Writes a table with a caption, column headers (`#NAME` is a numeric column) and rows; a
/// `sortable` table gets the script's sort buttons.
pub(crate) struct TableWriter<'o> {
    out: &'o mut String,
}

impl<'o> TableWriter<'o> {
    pub(crate) fn open(out: &'o mut String, caption: &str, headers: &[&str], sortable: bool) -> Self {
        fmt(
            out,
            format_args!(
                "<div class=\"wide\"><table{}><caption class=\"note\">{}</caption><thead><tr>",
                if sortable { " class=\"sortable\"" } else { "" },
                escape::text(caption)
            ),
        );
        for header in headers {
            match header.strip_prefix('#') {
                Some(name) => {
                    fmt(out, format_args!("<th scope=\"col\" class=\"num\">{}</th>", escape::text(name)));
                }
                None => fmt(out, format_args!("<th scope=\"col\">{}</th>", escape::text(header))),
            }
        }
        out.push_str("</tr></thead><tbody>\n");
        TableWriter { out }
    }

    /// One row; `id` (escaped) becomes the row's `data-id`.
    pub(crate) fn row(&mut self, id: Option<&str>, cells: &[Cell<'_>]) {
        match id {
            Some(id) => fmt(self.out, format_args!("<tr data-id=\"{}\">", escape::text(id))),
            None => self.out.push_str("<tr>"),
        }
        for cell in cells {
            match cell {
                Cell::Text(text) => fmt(self.out, format_args!("<td>{}</td>", escape::text(text))),
                Cell::Num { field, value } => fmt(
                    self.out,
                    format_args!(
                        "<td class=\"num\" data-field=\"{field}\">{}</td>",
                        escape::text(value.as_deref().unwrap_or("-"))
                    ),
                ),
                Cell::Sorted { text, sort } => {
                    fmt(self.out, format_args!("<td data-sort=\"{sort}\">{}</td>", escape::text(text)));
                }
            }
        }
        self.out.push_str("</tr>\n");
    }

    pub(crate) fn close(self) {
        self.out.push_str("</tbody></table></div>\n");
    }
}

/// A numeric cell.
pub(crate) fn num(field: &'static str, value: Option<impl ToString>) -> Cell<'static> {
    Cell::Num { field, value: value.map(|v| v.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_forbids_fetching_and_names_the_exact_style_and_script() {
        let policy = content_security_policy();
        assert!(policy.starts_with("default-src 'none';"), "{policy}");
        assert!(policy.contains(&csp_hash(STYLE)) && policy.contains(&csp_hash(SCRIPT)), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        // The hash of the empty string, as every CSP implementation computes it.
        assert_eq!(csp_hash(""), "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
    }

    #[test]
    fn the_page_refers_to_no_url() {
        let mut page = String::new();
        open_page(&mut page, "t");
        close_page(&mut page);
        for needle in ["http:", "https:", "//", "@import", "src="] {
            let without_namespace = page.replace("http-equiv", "");
            assert!(!without_namespace.contains(needle), "{needle} in {page}");
        }
    }
}
