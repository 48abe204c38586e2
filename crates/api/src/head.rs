//! The paging fields of a query page read from the first bytes of its body, so that the next
//! page can be requested while the rest of this one is still arriving.
//!
//! Salesforce writes `totalSize`, `done` and `nextRecordsUrl` before `records`, but JSON does
//! not promise an order: when `records` (or the end of the object) comes first, or the start
//! cannot be read, the answer is [`Head::NotBefore`] and the page is handled whole, as any
//! other. What is read here is only a hint: the page's cursor is still taken from the whole
//! body, with every check, once it has arrived.

use struson::reader::{JsonReader, JsonStreamReader, ReaderError, ValueType};

/// What the first bytes of a page say about its successor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Head {
    /// Not enough has arrived to tell.
    NeedMore,
    /// The paging fields came before `records`: `done`, and the `nextRecordsUrl` if any.
    Found { done: bool, next: Option<String> },
    /// `records` came first, the object ended without them, or the start is not the start of
    /// a page: nothing can be said before the whole body is read.
    NotBefore,
}

/// Bytes after which a page that has not shown its paging fields is read whole: the fields
/// are the first three members of Salesforce's answer, so they arrive in the first few hundred.
const LOOK_AHEAD_BYTES: usize = 64 * 1024;

/// Reads the top-level members of `prefix` (the start of a body) up to `records`. A prefix
/// the reader cannot get through may just be cut in the middle of a token (the reader then
/// reports a missing colon or an invalid literal as well as an incomplete document), so any
/// failure means "not yet": a body that is broken is found out by the read of the whole page.
pub(crate) fn scan(prefix: &[u8]) -> Head {
    match prefix.iter().find(|byte| !byte.is_ascii_whitespace()) {
        None => return Head::NeedMore,
        Some(b'{') => {}
        Some(_) => return Head::NotBefore,
    }
    match read_members(prefix) {
        Ok(head) => head,
        Err(_) if prefix.len() < LOOK_AHEAD_BYTES => Head::NeedMore,
        Err(_) => Head::NotBefore,
    }
}

fn read_members(prefix: &[u8]) -> Result<Head, ReaderError> {
    let mut reader = JsonStreamReader::new(prefix);
    reader.begin_object()?;
    let mut done = None;
    let mut next = None;
    while reader.has_next()? {
        match reader.next_name()? {
            "records" => break,
            "done" => {
                if reader.peek()? != ValueType::Boolean {
                    return Ok(Head::NotBefore);
                }
                done = Some(reader.next_bool()?);
            }
            "nextRecordsUrl" => match reader.peek()? {
                ValueType::String => next = Some(reader.next_string()?),
                ValueType::Null => reader.next_null()?,
                _ => return Ok(Head::NotBefore),
            },
            _ => reader.skip_value()?,
        }
        match (done, &next) {
            (Some(true), _) => return Ok(Head::Found { done: true, next: None }),
            (Some(false), Some(next)) => return Ok(Head::Found { done: false, next: Some(next.clone()) }),
            _ => {}
        }
    }
    Ok(Head::NotBefore)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"{"totalSize":4,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01g-2","records":[{"Id":"a"}]}"#;

    #[test]
    fn the_paging_fields_are_read_from_the_first_bytes() {
        let found = Head::Found { done: false, next: Some("/services/data/v62.0/query/01g-2".to_owned()) };
        let end_of_url = PAGE.find("\",\"records").unwrap() + 1;
        // Until the closing quote of the URL has arrived nothing can be said; then everything.
        for cut in 0..end_of_url {
            assert_eq!(scan(&PAGE.as_bytes()[..cut]), Head::NeedMore, "cut at {cut}");
        }
        for cut in end_of_url..=PAGE.len() {
            assert_eq!(scan(&PAGE.as_bytes()[..cut]), found, "cut at {cut}");
        }
        assert_eq!(
            scan(br#"{"totalSize":1,"done":true,"records":["#),
            Head::Found { done: true, next: None }
        );
    }

    #[test]
    fn records_first_or_fields_missing_is_read_whole() {
        let records_first = r#"{"records":[{"Id":"a"}],"totalSize":4,"done":false,"nextRecordsUrl":"/x"}"#;
        assert_eq!(scan(records_first.as_bytes()), Head::NotBefore);
        assert_eq!(scan(br#"{"totalSize":4,"done":false,"records":[]}"#), Head::NotBefore);
        assert_eq!(scan(br#"{"totalSize":4,"done":false}"#), Head::NotBefore);
        assert_eq!(scan(br#"{"done":"no","records":[]}"#), Head::NotBefore);
        assert_eq!(scan(br#"{"done":false,"nextRecordsUrl":7,"records":[]}"#), Head::NotBefore);
        assert_eq!(scan(b"[1,2]"), Head::NotBefore);
        assert_eq!(scan(b"<html>"), Head::NotBefore);
    }

    #[test]
    fn a_broken_start_is_watched_no_further_than_the_look_ahead() {
        // It may be a token cut in two: the read of the whole page tells.
        assert_eq!(scan(b"{\"totalSize\":12,\"done\":tru<<not json>>"), Head::NeedMore);
        let mut broken = String::from("{\"totalSize\":12,\"done\":tru<<not json>>");
        broken.push_str(&" ".repeat(LOOK_AHEAD_BYTES));
        assert_eq!(scan(broken.as_bytes()), Head::NotBefore);
    }

    #[test]
    fn other_members_before_the_paging_fields_are_skipped() {
        let page =
            r#"{"extra":{"deep":[1,{"x":null}]},"done":false,"nextRecordsUrl":"/n\u0032","records":[]}"#;
        assert_eq!(scan(page.as_bytes()), Head::Found { done: false, next: Some("/n2".to_owned()) });
    }

    #[test]
    fn a_start_that_never_shows_the_fields_stops_being_watched() {
        let mut long = String::from(r#"{"padding":""#);
        long.push_str(&"x".repeat(LOOK_AHEAD_BYTES));
        assert_eq!(scan(long.as_bytes()), Head::NotBefore);
    }
}
