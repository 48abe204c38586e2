//! Salesforce-style 18-character record ids that encode a generation index.
//!
//! Layout: 3-character key prefix, 2-character pod marker, 10 decimal digits of index and the
//! 3-character case-safe suffix computed like Salesforce does. Ids of one object therefore sort
//! (as strings) in index order, which makes `ORDER BY Id` and `Id > '…'` ranges natural.

const POD: &str = "4W";
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// Builds the 18-character id of record `index` of the object with `prefix`.
pub fn make_id(prefix: &str, index: u64) -> String {
    let mut id = format!("{prefix}{POD}{index:010}");
    let suffix = case_safe_suffix(&id);
    id.push_str(&suffix);
    id
}

/// Reads back the index of an id made by [`make_id`] (15 or 18 characters, with `prefix`).
pub fn parse_id(prefix: &str, id: &str) -> Option<u64> {
    if !(id.len() == 15 || id.len() == 18) || !id.is_ascii() {
        return None;
    }
    let rest = id.strip_prefix(prefix)?.strip_prefix(POD)?;
    let digits = rest.get(..10)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index = digits.parse().ok()?;
    if id.len() == 18 && make_id(prefix, index) != id {
        return None;
    }
    Some(index)
}

/// The 3-character suffix that turns a 15-character id into the case-safe 18-character one.
fn case_safe_suffix(id15: &str) -> String {
    id15.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let flags = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |acc, (bit, _)| acc | (1 << bit));
            char::from(SUFFIX_ALPHABET[flags & 31])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_18_chars_sort_by_index_and_round_trip() {
        let a = make_id("005", 9);
        let b = make_id("005", 10);
        let c = make_id("005", 123_456);
        assert_eq!(a.len(), 18);
        assert!(a < b && b < c);
        assert_eq!(parse_id("005", &c), Some(123_456));
        assert_eq!(parse_id("005", &c[..15]), Some(123_456));
        assert_eq!(parse_id("00e", &c), None);
    }

    #[test]
    fn suffix_follows_the_salesforce_case_rule() {
        // "0054W": only the 'W' (position 4) is upper case -> bit 4 -> 'Q'.
        assert_eq!(&make_id("005", 1)[15..], "QAA");
        // Known real pair: 001A0000006Vm9r -> 001A0000006Vm9rIAC.
        assert_eq!(case_safe_suffix("001A0000006Vm9r"), "IAC");
    }
}
