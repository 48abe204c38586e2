//! The sort order of the User and assignment queries, checked on each page as it arrives,
//! while its request still holds its concurrency permit ([`sfconn_api::PageCheck`]): rows out
//! of order stop the run before any other request leaves (docs/security.md, "A failure stops
//! the whole run"), not only when the merge reaches them. The merge keeps its own check
//! ([`crate::merge::AssignmentMerge`], [`IdOrder`]) on the rows it takes.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
        let Ok(users) = user_fields(rows.body, user_field) else {
            return Ok(());
        };
        for user in users.iter().skip(rows.first_kept).flatten() {
            order.check(user).map_err(|error| error.to_string())?;
        }
        Ok(())
    })
}

/// The `field` of each record of a query page: its text when it is a string, `None` otherwise
/// (absent, `null`, a number, …). Borrowed from the page unless the JSON escapes it: this runs on
/// every assignment page, and building each row as a map of owned values cost about as much as
/// decoding the rows themselves.
fn user_fields<'de>(body: &'de str, field: &str) -> Result<Vec<Option<Cow<'de, str>>>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let users = Page { field }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(users)
}

/// A page: `records` is read with [`Records`], every other member skipped.
struct Page<'f> {
    field: &'f str,
}

/// `records`: each one a map ([`Record`]).
struct Records<'f> {
    field: &'f str,
}

/// One record: the value of `field` if it is a string, every other member skipped.
struct Record<'f> {
    field: &'f str,
}

/// A string, borrowed when it can be; anything else is `None`.
struct Text<'de>(Option<Cow<'de, str>>);

impl<'de> DeserializeSeed<'de> for Page<'_> {
    type Value = Vec<Option<Cow<'de, str>>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Page<'_> {
    type Value = Vec<Option<Cow<'de, str>>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a query page")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut records = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "records" {
                if records.is_some() {
                    return Err(serde::de::Error::duplicate_field("records"));
                }
                records = Some(map.next_value_seed(Records { field: self.field })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        records.ok_or_else(|| serde::de::Error::missing_field("records"))
    }
}

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = Vec<Option<Cow<'de, str>>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = Vec<Option<Cow<'de, str>>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(value) = seq.next_element_seed(Record { field: self.field })? {
            values.push(value);
        }
        Ok(values)
    }
}

impl<'de> DeserializeSeed<'de> for Record<'_> {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Record<'_> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut value = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == self.field {
                value = map.next_value::<Text<'de>>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(value)
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(text))))
            }
            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(text.to_owned()))))
            }
            fn visit_unit<E>(self) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        deserializer.deserialize_any(Any)
    }
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

    #[test]
    fn the_user_field_of_each_record_is_read_as_sent_and_anything_but_text_is_none() {
        let body = r#"{"totalSize":5,"done":true,"records":[
            {"attributes":{"type":"UserPackageLicense","url":"/x"},"Id":"1","UserId":"005A","PackageLicenseId":"050A"},
            {"Id":"2","UserId":"005\u0042"},
            {"Id":"3","UserId":null},
            {"Id":"4","UserId":17,"Extra":[1,{"UserId":"no"}]},
            {"Id":"5"}
        ]}"#;
        let users = user_fields(body, "UserId").unwrap();
        assert_eq!(users, [Some("005A".into()), Some("005B".into()), None, None, None]);
        assert!(matches!(users[0], Some(Cow::Borrowed(_))), "plain text is not copied");
        assert_eq!(user_fields(body, "AssigneeId").unwrap(), [None, None, None, None, None]);
        // What the page's own decoding refuses is not read here either.
        assert!(user_fields(r#"{"records":[["005A"]]}"#, "UserId").is_err());
        assert!(user_fields(r#"{"records":{"UserId":"005A"}}"#, "UserId").is_err());
        assert!(user_fields(r#"{"done":true}"#, "UserId").is_err());
        assert!(user_fields(r#"{"records":[],"records":[]}"#, "UserId").is_err());
        assert!(user_fields(r#"{"records":[]} and more"#, "UserId").is_err());
    }

    #[test]
    fn a_user_field_that_is_not_text_is_passed_over_by_the_order_check() {
        let mut check = assignments("PermissionSetLicenseAssign", "AssigneeId");
        let body = r#"{"records":[{"AssigneeId":"005C"},{"AssigneeId":null},{"AssigneeId":"005D"}]}"#;
        assert!(check(&rows(&[], body, 0)).is_ok());
        let back = r#"{"records":[{"AssigneeId":5},{"AssigneeId":"005\u0041"}]}"#;
        let error = check(&rows(&[], back, 0)).unwrap_err();
        assert!(error.contains("`005A` came after `005D`"), "escaped text is compared as text: {error}");
    }
}
