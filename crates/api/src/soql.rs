//! SOQL string literals, escaped in one place.
//!
//! Every value that sfconn puts inside a SOQL string literal goes through [`quote`] (or
//! [`like_pattern_literal`] for the right-hand side of `LIKE`), so that no value can end the
//! literal early and change the query. Escapes follow the SOQL reference ("Quoted String Escape
//! Sequences"): `\'`, `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, and, inside `LIKE` only, `\%`
//! and `\_`.

/// The value as a quoted SOQL string literal: `O'Brien` becomes `'O\'Brien'`.
///
/// `%` and `_` are left alone: they are ordinary characters in `=` comparisons. For `LIKE`,
/// where they are wildcards, use [`like_pattern_literal`].
pub fn quote(value: &str) -> String {
    quote_with(value, false)
}

/// The value as a quoted `LIKE` pattern that matches the value literally: `%` and `_` are
/// escaped as well, so `50%_off` becomes `'50\%\_off'`. For a prefix, suffix or substring
/// match, build the pattern with [`like_pattern`].
pub fn like_pattern_literal(value: &str) -> String {
    quote_with(value, true)
}

/// A quoted `LIKE` pattern: `prefix` wildcard (if any), the value matched literally, then the
/// `suffix` wildcard. `like_pattern("", "acme.com", "")` equals [`like_pattern_literal`];
/// `like_pattern("%@", "acme.com", "")` matches every address ending in `@acme.com`.
/// Only `%` and `_` in the wildcard arguments act as wildcards; any other character in them
/// is escaped like the value.
pub fn like_pattern(prefix_wildcards: &str, value: &str, suffix_wildcards: &str) -> String {
    let mut out = String::with_capacity(value.len() + prefix_wildcards.len() + suffix_wildcards.len() + 2);
    out.push('\'');
    push_wildcards(&mut out, prefix_wildcards);
    push_escaped(&mut out, value, true);
    push_wildcards(&mut out, suffix_wildcards);
    out.push('\'');
    out
}

fn push_wildcards(out: &mut String, wildcards: &str) {
    for ch in wildcards.chars() {
        match ch {
            '%' | '_' => out.push(ch),
            // Anything that is not a wildcard is matched literally.
            other => push_escaped(out, other.encode_utf8(&mut [0; 4]), true),
        }
    }
}

fn quote_with(value: &str, like: bool) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    push_escaped(&mut out, value, like);
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, value: &str, like: bool) {
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '%' if like => out.push_str("\\%"),
            '_' if like => out.push_str("\\_"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads one SOQL string literal from the start of `soql` the way the SOQL lexer does.
    /// Returns the unescaped value and what follows the closing quote, or `None` when the
    /// text does not start with a well-formed literal.
    fn lex_literal(soql: &str, like: bool) -> Option<(String, &str)> {
        let rest = soql.strip_prefix('\'')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        while let Some((index, ch)) = chars.next() {
            match ch {
                '\'' => return Some((value, &rest[index + 1..])),
                '\\' => {
                    let (_, escaped) = chars.next()?;
                    value.push(match escaped {
                        '\\' => '\\',
                        '\'' => '\'',
                        '"' => '"',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        '%' | '_' if like => escaped,
                        _ => return None,
                    });
                }
                // An unescaped wildcard in a literal-match pattern would widen the match.
                '%' | '_' if like => return None,
                other => value.push(other),
            }
        }
        None
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(quote("O'Brien"), r"'O\'Brien'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
        assert_eq!(quote("say \"hi\""), r#"'say \"hi\"'"#);
        assert_eq!(quote("line\nbreak\ttab"), r"'line\nbreak\ttab'");
        assert_eq!(quote("50%_off"), "'50%_off'");
    }

    #[test]
    fn like_escapes_wildcards_too() {
        assert_eq!(like_pattern_literal("50%_off"), r"'50\%\_off'");
        assert_eq!(like_pattern_literal(r"x\' OR Id != '"), r"'x\\\' OR Id != \''");
    }

    #[test]
    fn like_pattern_keeps_only_the_given_wildcards() {
        assert_eq!(like_pattern("%@", "ac_me.com", ""), r"'%@ac\_me.com'");
        assert_eq!(like_pattern("", "x", "%"), "'x%'");
        assert_eq!(like_pattern("%", "it's", "%"), r"'%it\'s%'");
    }

    #[test]
    fn an_injection_attempt_stays_inside_the_literal() {
        let hostile = "' OR Name != '";
        let soql = format!("SELECT Id FROM User WHERE Email = {}", quote(hostile));
        assert_eq!(soql, r"SELECT Id FROM User WHERE Email = '\' OR Name != \''");
    }

    proptest! {
        #[test]
        fn quoted_value_never_breaks_out(value in any::<String>()) {
            let quoted = quote(&value);
            let (unescaped, rest) = lex_literal(&quoted, false).expect("well-formed literal");
            prop_assert_eq!(unescaped, value);
            prop_assert_eq!(rest, "");
        }

        #[test]
        fn like_literal_never_breaks_out_nor_wildcards(value in "[a-z%_'\\\\\"@. \n]{0,40}") {
            let quoted = like_pattern_literal(&value);
            let (unescaped, rest) = lex_literal(&quoted, true).expect("well-formed literal without bare wildcards");
            prop_assert_eq!(unescaped, value);
            prop_assert_eq!(rest, "");
        }

        #[test]
        fn like_literal_never_breaks_out_any_text(value in any::<String>()) {
            let quoted = like_pattern_literal(&value);
            let (unescaped, rest) = lex_literal(&quoted, true).expect("well-formed");
            prop_assert_eq!(unescaped, value);
            prop_assert_eq!(rest, "");
        }
    }
}
