//! Describe-driven field selection: which of the wanted fields can go into the `SELECT`.
//!
//! Describe lists only the fields the user can see (field-level security included), so a
//! field that is absent from describe would fail the query with `INVALID_FIELD`. Optional
//! fields that are absent are left out of the `SELECT` and reported, so the collector writes
//! `null` plus a `field_unavailable` warning; required fields that are absent are an error
//! that names the permission to grant.

use serde::Deserialize;

use crate::ApiError;

/// The part of `GET /sobjects/{name}/describe` that sfconn uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SObjectDescribe {
    /// API name, e.g. `User`.
    pub name: String,
    /// The fields visible to the user.
    #[serde(default)]
    pub fields: Vec<FieldDescribe>,
}

/// One field of a describe result.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FieldDescribe {
    /// API name, e.g. `ProfileId`.
    pub name: String,
    /// Field type, e.g. `id`, `string`, `reference`, `datetime`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The label Setup shows, e.g. `Marketing User`.
    #[serde(default)]
    pub label: Option<String>,
    /// Whether the field can be null.
    #[serde(default)]
    pub nillable: bool,
    /// For lookups: the relationship name used in SOQL paths (`Profile` for `ProfileId`).
    #[serde(rename = "relationshipName", default)]
    pub relationship_name: Option<String>,
    /// For lookups: the object(s) it points to.
    #[serde(rename = "referenceTo", default)]
    pub reference_to: Vec<String>,
}

impl SObjectDescribe {
    /// The checkbox fields whose names start with `prefix` (e.g. `UserPermissions` on `User`,
    /// the feature licences), in describe's order.
    pub fn checkboxes_starting_with(&self, prefix: &str) -> Vec<&FieldDescribe> {
        self.fields
            .iter()
            .filter(|field| field.type_ == "boolean" && field.name.len() > prefix.len())
            .filter(|field| field.name.starts_with(prefix))
            .collect()
    }

    /// Whether `path` can be selected: a field listed by describe (compared ignoring case, as
    /// SOQL does), or a relationship path such as `Profile.UserLicenseId` whose relationship
    /// (`Profile`) is listed. The part after the relationship belongs to another object and
    /// is not checked here.
    pub fn has(&self, path: &str) -> bool {
        match path.split_once('.') {
            None => self.fields.iter().any(|field| field.name.eq_ignore_ascii_case(path)),
            Some((relationship, _)) => self.fields.iter().any(|field| {
                field.relationship_name.as_deref().is_some_and(|name| name.eq_ignore_ascii_case(relationship))
            }),
        }
    }
}

/// The outcome of [`select_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSelection {
    /// Fields to put in the `SELECT`, in the order asked (required first, then optional).
    pub fields: Vec<String>,
    /// Wanted optional fields that describe does not list: decode them as `null` and warn.
    pub missing_optional: Vec<String>,
}

impl FieldSelection {
    /// The fields joined for a `SELECT` clause: `Id, Name, ...`.
    pub fn select_list(&self) -> String {
        self.fields.join(", ")
    }
}

/// Chooses the fields of a query from describe. Missing required fields are one error naming
/// all of them and the permission; missing optional ones are reported in
/// [`FieldSelection::missing_optional`]. Duplicates (ignoring case) are selected once.
pub fn select_fields(
    describe: &SObjectDescribe,
    required: &[&str],
    optional: &[&str],
) -> Result<FieldSelection, ApiError> {
    let missing_required: Vec<String> =
        required.iter().filter(|field| !describe.has(field)).map(|field| (*field).to_owned()).collect();
    if !missing_required.is_empty() {
        return Err(ApiError::RequiredFieldsMissing {
            object: describe.name.clone(),
            fields: missing_required,
        });
    }
    let mut selection = FieldSelection { fields: Vec::new(), missing_optional: Vec::new() };
    for (field, is_required) in required.iter().map(|f| (f, true)).chain(optional.iter().map(|f| (f, false)))
    {
        if selection.fields.iter().any(|chosen| chosen.eq_ignore_ascii_case(field)) {
            continue;
        }
        if is_required || describe.has(field) {
            selection.fields.push((*field).to_owned());
        } else if !selection.missing_optional.iter().any(|missing| missing.eq_ignore_ascii_case(field)) {
            selection.missing_optional.push((*field).to_owned());
        }
    }
    Ok(selection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfconn_errors::{Classify, ErrorClass};

    fn user_describe() -> SObjectDescribe {
        serde_json::from_str(
            r#"{"name":"User","custom":false,"fields":[
              {"name":"Id","type":"id","nillable":false,"relationshipName":null,"referenceTo":[]},
              {"name":"Username","type":"string","nillable":false},
              {"name":"Email","type":"email","nillable":false},
              {"name":"ProfileId","type":"reference","nillable":false,"relationshipName":"Profile","referenceTo":["Profile"]},
              {"name":"LastLoginDate","type":"datetime","nillable":true}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn optional_fields_missing_from_describe_are_reported_not_selected() {
        let selection = select_fields(
            &user_describe(),
            &["Id", "Username"],
            &["Email", "FederationIdentifier", "Profile.UserLicenseId", "lastlogindate"],
        )
        .unwrap();
        assert_eq!(selection.fields, ["Id", "Username", "Email", "Profile.UserLicenseId", "lastlogindate"]);
        assert_eq!(selection.missing_optional, ["FederationIdentifier"]);
        assert_eq!(selection.select_list(), "Id, Username, Email, Profile.UserLicenseId, lastlogindate");
    }

    #[test]
    fn missing_required_fields_name_the_permission() {
        let error = select_fields(&user_describe(), &["Id", "IsActive", "UserType"], &[]).unwrap_err();
        assert_eq!(error.class(), ErrorClass::Unavailable);
        let message = error.to_string();
        assert!(message.contains("IsActive, UserType"), "{message}");
        assert!(message.contains("View All Users"), "{message}");
        assert!(message.contains("field-level security"), "{message}");
    }

    #[test]
    fn relationship_paths_need_the_relationship() {
        let describe = user_describe();
        assert!(describe.has("Profile.UserLicenseId"));
        assert!(describe.has("profile.Name"));
        assert!(!describe.has("Manager.Email"));
        assert!(!describe.has("ProfileId.Name"));
    }

    #[test]
    fn duplicates_are_selected_once() {
        let selection =
            select_fields(&user_describe(), &["Id"], &["id", "Email", "EMAIL", "Nope", "nope"]).unwrap();
        assert_eq!(selection.fields, ["Id", "Email"]);
        assert_eq!(selection.missing_optional, ["Nope"]);
    }
}
