//! The sort order of the User and assignment queries, checked on each page as it arrives,
//! while its request still holds its concurrency permit ([`sfconn_api::PageCheck`]): rows out
//! of order stop the run before any other request leaves (docs/security.md, "A failure stops
//! the whole run"), not only when the merge reaches them. The merge keeps its own check
//! ([`crate::merge::AssignmentMerge`], [`IdOrder`]) on the rows it takes.

use serde::Deserialize;
use serde_json::{Map, Value};
use sfconn_api::PageCheck;

use crate::merge::IdOrder;

/// User pages: ids strictly ascending (`ORDER BY Id`).
pub(crate) fn users() -> PageCheck {
    let mut order = IdOrder::new("User", "Id", true);
    Box::new(move |rows| {
        for id in rows.ids.iter().flatten() {
            order.check(id).map_err(|error| error.to_string())?;
        }
        Ok(())
    })
}

/// Assignment pages: `user_field` never descending (`ORDER BY <user_field>, Id`).
pub(crate) fn assignments(object: &'static str, user_field: &'static str) -> PageCheck {
    let mut order = IdOrder::new(object, user_field, false);
    Box::new(move |rows| {
        // A page that cannot be read is reported by the page's own decoding, with its path.
        let Ok(page) = serde_json::from_str::<Rows>(rows.body) else {
            return Ok(());
        };
        for row in page.records.iter().skip(rows.first_kept) {
            if let Some(Value::String(user)) = row.get(user_field) {
                order.check(user).map_err(|error| error.to_string())?;
            }
        }
        Ok(())
    })
}

/// A query page's records as maps (assignment rows have three fields).
#[derive(Deserialize)]
struct Rows {
    records: Vec<Map<String, Value>>,
}

#[cfg(test)]
mod tests {
    use sfconn_api::PageRows;

    use super::*;

    fn rows<'a>(ids: &'a [Option<String>], body: &'a str, first_kept: usize) -> PageRows<'a> {
        PageRows { ids, body, first_kept }
    }

    #[test]
    fn user_ids_must_rise_across_pages() {
        let mut check = users();
        let ids = |list: &[&str]| list.iter().map(|id| Some((*id).to_owned())).collect::<Vec<_>>();
        assert!(check(&rows(&ids(&["005A", "005B"]), "", 0)).is_ok());
        let error = check(&rows(&ids(&["005C", "005B"]), "", 0)).unwrap_err();
        assert!(error.contains("User rows out of the order sfconn asked for (ORDER BY Id)"), "{error}");
        assert!(error.contains("`005B` came after `005C`"), "{error}");
    }

    #[test]
    fn assignment_rows_may_repeat_a_user_but_not_go_back_and_skip_rows_handed_out_before() {
        let mut check = assignments("UserPackageLicense", "UserId");
        let body = r#"{"records":[{"Id":"1","UserId":"005B"},{"Id":"2","UserId":"005B"},{"Id":"3","UserId":"005C"}]}"#;
        assert!(check(&rows(&[], body, 0)).is_ok());
        let back = r#"{"records":[{"Id":"1","UserId":"005A"},{"Id":"4","UserId":"005D"}]}"#;
        assert!(check(&rows(&[], back, 1)).is_ok(), "the first row was handed out before a restart");
        let error = check(&rows(&[], back, 0)).unwrap_err();
        assert!(error.contains("UserPackageLicense rows out of the order"), "{error}");
        assert!(check(&rows(&[], "not json", 0)).is_ok(), "left to the page's own decoding");
    }
}
