//! Escaping for the three places text from the org lands in the HTML report: element text,
//! a quoted attribute value and SVG text (which the HTML parser reads like element text).
//! Every escaper also neutralises the characters that could reorder or hide what surrounds
//! the value: bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069, and the
//! marks U+200E, U+200F, U+061C) and control characters. They become U+FFFD, so a reader
//! sees that something was there. The report never puts text from the org into a URL, a
//! script or a style, so no escaper for those exists.

use std::fmt::Write;

/// What a neutralised character is shown as.
const REPLACEMENT: char = '\u{FFFD}';

/// True for a character that must not reach the page as it is: bidi controls that could make
/// the text around the value read in another order, and control characters other than tab
/// and newline.
fn neutralised(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
        || (c.is_control() && c != '\t' && c != '\n')
}

/// Appends `value` to `out`, escaped for element text, a double- or single-quoted attribute
/// value, or SVG `<text>`/`<title>`: `& < > " '` become character references, and the
/// characters of [`neutralised`] become U+FFFD.
pub(crate) fn push(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if neutralised(c) => out.push(REPLACEMENT),
            c => out.push(c),
        }
    }
}

/// `value` escaped as [`push`] does.
pub(crate) fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push(&mut out, value);
    out
}

/// `value` cut to at most `max` characters (an ellipsis marks the cut), then escaped.
pub(crate) fn truncated(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        return text(value);
    }
    let mut cut: String = value.chars().take(max.saturating_sub(1)).collect();
    cut.push('\u{2026}');
    text(&cut)
}

/// Appends `format_args` (numbers and fixed text written by the report itself) to `out`.
/// Writing to a `String` cannot fail.
pub(crate) fn fmt(out: &mut String, args: std::fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_become_references() {
        assert_eq!(
            text(r#"<script>alert("x")</script> & 'y' "><img src=x onerror=alert(1)>"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39; &quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
    }

    #[test]
    fn bidi_controls_and_control_characters_are_neutralised() {
        let hostile = "a\u{202E}gnp.exe\u{2066}b\u{2069}\u{200F}\u{0}\u{1b}[31m\tc\n";
        assert_eq!(text(hostile), "a\u{FFFD}gnp.exe\u{FFFD}b\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}[31m\tc\n");
        for c in
            ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{2067}', '\u{2068}', '\u{061C}', '\u{200E}']
        {
            assert_eq!(text(&c.to_string()), "\u{FFFD}", "{:?}", c);
        }
    }

    #[test]
    fn other_text_is_kept_as_it_is() {
        assert_eq!(text("Zoë Müller — 株式会社 عربي"), "Zoë Müller — 株式会社 عربي");
    }

    #[test]
    fn truncation_cuts_characters_not_bytes_and_escapes_after_cutting() {
        assert_eq!(truncated("ééééé", 5), "ééééé");
        assert_eq!(truncated("éééééé", 5), "éééé\u{2026}");
        // The cut never leaves half a character reference behind.
        assert_eq!(truncated("a&b<c>d", 4), "a&amp;b\u{2026}");
    }
}
