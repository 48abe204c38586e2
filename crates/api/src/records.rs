//! Typed records for the objects sfconn reads, decoded from REST query results.
//!
//! Field names are Salesforce's (`#[serde(rename = "...")]`). Every field except `Id` has a
//! default, so a field left out of the `SELECT` (because describe said it is not visible,
//! see [`crate::select_fields`]) decodes as `None` (or `false`/empty) instead of failing. An
//! explicit JSON `null` decodes the same way. The `attributes` object Salesforce adds to every
//! record is ignored. Numbers are kept as sent (integers as `i64`, `-1` included).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

/// A Salesforce datetime. REST sends `2024-01-15T10:30:00.000+0000` (offset without a colon,
/// which is not RFC 3339); Bulk API CSV sends `2024-01-15T10:30:00.000Z`. Both are accepted.
/// Written back out only as RFC 3339 UTC ([`SfDateTime::to_rfc3339_utc`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SfDateTime(pub OffsetDateTime);

impl SfDateTime {
    /// Parses Salesforce's REST form, or RFC 3339.
    pub fn parse(text: &str) -> Result<Self, InvalidDateTime> {
        let salesforce = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
        );
        let without_fraction = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
        );
        OffsetDateTime::parse(text, salesforce)
            .or_else(|_| OffsetDateTime::parse(text, without_fraction))
            .or_else(|_| OffsetDateTime::parse(text, &Rfc3339))
            .map(SfDateTime)
            .map_err(|_| InvalidDateTime { text: text.to_owned(), expected: "2024-01-15T10:30:00.000+0000" })
    }

    /// The instant as RFC 3339 in UTC, e.g. `2024-01-15T10:30:00Z` (fractional seconds only
    /// when there are any).
    pub fn to_rfc3339_utc(&self) -> String {
        let utc = self.0.to_offset(UtcOffset::UTC);
        // Formatting a valid OffsetDateTime in UTC as RFC 3339 cannot fail for years 0..=9999,
        // the only years Salesforce stores; fall back to the Debug form rather than panic.
        utc.format(&Rfc3339).unwrap_or_else(|_| format!("{utc:?}"))
    }

    /// The wrapped instant.
    pub fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }
}

impl fmt::Display for SfDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_utc())
    }
}

impl<'de> Deserialize<'de> for SfDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        SfDateTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for SfDateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339_utc())
    }
}

/// A Salesforce date, `2024-01-15`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SfDate(pub Date);

impl SfDate {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Self, InvalidDateTime> {
        Date::parse(text, format_description!("[year]-[month]-[day]"))
            .map(SfDate)
            .map_err(|_| InvalidDateTime { text: text.to_owned(), expected: "2024-01-15" })
    }

    /// The date as `YYYY-MM-DD`.
    pub fn to_iso(&self) -> String {
        let date = self.0;
        format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
    }
}

impl fmt::Display for SfDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl<'de> Deserialize<'de> for SfDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        SfDate::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for SfDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso())
    }
}

/// A date or datetime text that is not in the form Salesforce sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a Salesforce date/time like `{expected}`")]
pub struct InvalidDateTime {
    text: String,
    expected: &'static str,
}

/// `null` and absent both become the type's default (for non-`Option` fields such as `Name`).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `Organization` (one row).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Organization {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name", default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Edition text, e.g. `Enterprise Edition`.
    #[serde(rename = "OrganizationType", default)]
    pub organization_type: Option<String>,
    #[serde(rename = "IsSandbox", default, deserialize_with = "null_as_default")]
    pub is_sandbox: bool,
    #[serde(rename = "InstanceName", default)]
    pub instance_name: Option<String>,
}

/// `UserLicense`: a seat pool (Salesforce, Salesforce Platform, Chatter Free, ...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserLicense {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name", default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(rename = "MasterLabel", default)]
    pub master_label: Option<String>,
    #[serde(rename = "LicenseDefinitionKey", default)]
    pub license_definition_key: Option<String>,
    #[serde(rename = "Status", default)]
    pub status: Option<String>,
    #[serde(rename = "TotalLicenses", default)]
    pub total_licenses: Option<i64>,
    #[serde(rename = "UsedLicenses", default)]
    pub used_licenses: Option<i64>,
}

/// `Profile`: links a user to a `UserLicense`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Profile {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name", default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(rename = "UserType", default)]
    pub user_type: Option<String>,
    #[serde(rename = "UserLicenseId", default)]
    pub user_license_id: Option<String>,
    #[serde(rename = "Description", default)]
    pub description: Option<String>,
}

/// `PermissionSetLicense`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PermissionSetLicense {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "DeveloperName", default, deserialize_with = "null_as_default")]
    pub developer_name: String,
    #[serde(rename = "MasterLabel", default)]
    pub master_label: Option<String>,
    #[serde(rename = "PermissionSetLicenseKey", default)]
    pub permission_set_license_key: Option<String>,
    #[serde(rename = "Status", default)]
    pub status: Option<String>,
    /// A date, not a datetime.
    #[serde(rename = "ExpirationDate", default)]
    pub expiration_date: Option<SfDate>,
    #[serde(rename = "TotalLicenses", default)]
    pub total_licenses: Option<i64>,
    #[serde(rename = "UsedLicenses", default)]
    pub used_licenses: Option<i64>,
}

/// `PermissionSetLicenseAssign`: one user holding one permission set licence.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PermissionSetLicenseAssign {
    #[serde(rename = "AssigneeId", default, deserialize_with = "null_as_default")]
    pub assignee_id: String,
    #[serde(rename = "PermissionSetLicenseId", default, deserialize_with = "null_as_default")]
    pub permission_set_license_id: String,
}

/// `PermissionSetAssignment`: one user holding one permission set, or one permission set
/// group (then `PermissionSetGroupId` is set and `PermissionSetId` is the group's aggregate
/// permission set). The profile's own permission set (`PermissionSet.IsOwnedByProfile`) is
/// listed here too, one row per user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PermissionSetAssignment {
    #[serde(rename = "AssigneeId", default, deserialize_with = "null_as_default")]
    pub assignee_id: String,
    #[serde(rename = "PermissionSetId", default, deserialize_with = "null_as_default")]
    pub permission_set_id: String,
    #[serde(rename = "PermissionSetGroupId", default)]
    pub permission_set_group_id: Option<String>,
}

/// `PermissionSet`: sfconn reads only which licence a permission set needs (`LicenseId`: a
/// `PermissionSetLicense` or a `UserLicense` id) and whether a profile owns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PermissionSet {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "LicenseId", default)]
    pub license_id: Option<String>,
    #[serde(rename = "IsOwnedByProfile", default)]
    pub is_owned_by_profile: Option<bool>,
    /// The profile that owns the permission set (`IsOwnedByProfile`), else `None`.
    #[serde(rename = "ProfileId", default)]
    pub profile_id: Option<String>,
}

/// `PermissionSetGroupComponent`: one permission set in one permission set group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PermissionSetGroupComponent {
    #[serde(rename = "PermissionSetGroupId", default, deserialize_with = "null_as_default")]
    pub permission_set_group_id: String,
    #[serde(rename = "PermissionSetId", default, deserialize_with = "null_as_default")]
    pub permission_set_id: String,
}

/// `UserLogin`: a user's login settings; sfconn reads only the frozen ones
/// (`WHERE IsFrozen = true`), so a row means the user is frozen.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserLogin {
    #[serde(rename = "Id", default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(rename = "UserId", default, deserialize_with = "null_as_default")]
    pub user_id: String,
}

/// The prefix of the `User` checkboxes that grant a feature licence (`UserPermissionsMarketingUser`,
/// `UserPermissionsKnowledgeUser`, …): Setup's "Feature Licenses".
pub const FEATURE_LICENCE_PREFIX: &str = "UserPermissions";

/// The feature licences a `User` row holds: the names, without [`FEATURE_LICENCE_PREFIX`], of
/// its `UserPermissions*` fields that are `true`, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureLicences(pub Vec<String>);

/// `PackageLicense`: seats of a managed package. `AllowedLicenses = -1` is a site licence.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PackageLicense {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "NamespacePrefix", default)]
    pub namespace_prefix: Option<String>,
    #[serde(rename = "AllowedLicenses", default)]
    pub allowed_licenses: Option<i64>,
    #[serde(rename = "UsedLicenses", default)]
    pub used_licenses: Option<i64>,
    #[serde(rename = "Status", default)]
    pub status: Option<String>,
    /// A datetime; `null` means the licence does not expire.
    #[serde(rename = "ExpirationDate", default)]
    pub expiration_date: Option<SfDateTime>,
}

/// `UserPackageLicense`: one user holding one package seat.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserPackageLicense {
    #[serde(rename = "UserId", default, deserialize_with = "null_as_default")]
    pub user_id: String,
    #[serde(rename = "PackageLicenseId", default, deserialize_with = "null_as_default")]
    pub package_license_id: String,
}

/// The `Profile` relationship on a `User` row (`Profile.UserLicenseId`); `null` for users
/// without a visible profile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct UserProfileRef {
    #[serde(rename = "UserLicenseId", default)]
    pub user_license_id: Option<String>,
}

/// `User`: every kind, internal and external.
///
/// Decoded by hand rather than derived: the `UserPermissions*` checkboxes (the feature
/// licences) are named by describe at run time, and a derived `#[serde(flatten)]` for them
/// would buffer every row and cost about a third more CPU per user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub alias: Option<String>,
    pub is_active: bool,
    pub user_type: Option<String>,
    pub profile_id: Option<String>,
    pub profile: Option<UserProfileRef>,
    /// `null` when the user never logged in.
    pub last_login_date: Option<SfDateTime>,
    pub created_date: Option<SfDateTime>,
    pub company_name: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
    pub federation_identifier: Option<String>,
    /// The `UserPermissions*` checkboxes selected (those that describe lists) that are `true`.
    pub feature_licences: FeatureLicences,
}

/// A key of a `User` row, told apart without allocating: a feature licence's name is borrowed
/// from the page when it can be, and copied only for a checkbox that is `true`.
enum UserKey<'de> {
    Id,
    Username,
    Email,
    Name,
    FirstName,
    LastName,
    Alias,
    IsActive,
    UserType,
    ProfileId,
    Profile,
    LastLoginDate,
    CreatedDate,
    CompanyName,
    Department,
    Title,
    City,
    Country,
    CountryCode,
    FederationIdentifier,
    /// A `UserPermissions*` checkbox: the name without the prefix.
    Feature(Cow<'de, str>),
    /// `attributes`, and fields sfconn does not read.
    Other,
}

impl<'de> UserKey<'de> {
    /// The key named `key`; `feature` makes a feature licence's name from the text after the
    /// prefix (borrowed or copied, as the deserializer allows).
    fn named(key: &str, feature: impl FnOnce(&str) -> Cow<'de, str>) -> UserKey<'de> {
        match key {
            "Id" => UserKey::Id,
            "Username" => UserKey::Username,
            "Email" => UserKey::Email,
            "Name" => UserKey::Name,
            "FirstName" => UserKey::FirstName,
            "LastName" => UserKey::LastName,
            "Alias" => UserKey::Alias,
            "IsActive" => UserKey::IsActive,
            "UserType" => UserKey::UserType,
            "ProfileId" => UserKey::ProfileId,
            "Profile" => UserKey::Profile,
            "LastLoginDate" => UserKey::LastLoginDate,
            "CreatedDate" => UserKey::CreatedDate,
            "CompanyName" => UserKey::CompanyName,
            "Department" => UserKey::Department,
            "Title" => UserKey::Title,
            "City" => UserKey::City,
            "Country" => UserKey::Country,
            "CountryCode" => UserKey::CountryCode,
            "FederationIdentifier" => UserKey::FederationIdentifier,
            other => match other.strip_prefix(FEATURE_LICENCE_PREFIX) {
                Some(name) if !name.is_empty() => UserKey::Feature(feature(name)),
                _ => UserKey::Other,
            },
        }
    }
}

impl<'de> Deserialize<'de> for UserKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UserKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<UserKey<'de>, E> {
                Ok(UserKey::named(key, |_| Cow::Borrowed(&key[FEATURE_LICENCE_PREFIX.len()..])))
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<UserKey<'de>, E> {
                Ok(UserKey::named(key, |name| Cow::Owned(name.to_owned())))
            }
        }
        deserializer.deserialize_identifier(Visitor)
    }
}

impl<'de> Deserialize<'de> for User {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = User;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a User record")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<User, A::Error> {
                let mut user = User::default();
                let mut id = None;
                while let Some(key) = map.next_key::<UserKey<'_>>()? {
                    match key {
                        UserKey::Id => id = Some(map.next_value::<String>()?),
                        UserKey::Username => {
                            user.username = map.next_value::<Option<String>>()?.unwrap_or_default();
                        }
                        UserKey::Email => user.email = map.next_value()?,
                        UserKey::Name => user.name = map.next_value()?,
                        UserKey::FirstName => user.first_name = map.next_value()?,
                        UserKey::LastName => user.last_name = map.next_value()?,
                        UserKey::Alias => user.alias = map.next_value()?,
                        UserKey::IsActive => {
                            user.is_active = map.next_value::<Option<bool>>()?.unwrap_or_default();
                        }
                        UserKey::UserType => user.user_type = map.next_value()?,
                        UserKey::ProfileId => user.profile_id = map.next_value()?,
                        UserKey::Profile => user.profile = map.next_value()?,
                        UserKey::LastLoginDate => user.last_login_date = map.next_value()?,
                        UserKey::CreatedDate => user.created_date = map.next_value()?,
                        UserKey::CompanyName => user.company_name = map.next_value()?,
                        UserKey::Department => user.department = map.next_value()?,
                        UserKey::Title => user.title = map.next_value()?,
                        UserKey::City => user.city = map.next_value()?,
                        UserKey::Country => user.country = map.next_value()?,
                        UserKey::CountryCode => user.country_code = map.next_value()?,
                        UserKey::FederationIdentifier => user.federation_identifier = map.next_value()?,
                        UserKey::Feature(name) => {
                            if map.next_value::<Option<bool>>()? == Some(true) {
                                user.feature_licences.0.push(name.into_owned());
                            }
                        }
                        UserKey::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                user.id = id.ok_or_else(|| serde::de::Error::missing_field("Id"))?;
                user.feature_licences.0.sort_unstable();
                Ok(user)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_row_names_its_feature_licences_and_skips_the_rest() {
        let user: User = serde_json::from_value(serde_json::json!({
            "attributes": {"type": "User", "url": "/services/data/v62.0/sobjects/User/0050X0000000001AAA"},
            "Id": "0050X0000000001AAA", "Username": "jo@acme.com", "IsActive": true,
            "UserPermissionsMarketingUser": true, "UserPermissionsKnowledgeUser": false,
            "UserPermissionsSupportUser": null, "UserPermissionsInteractionUser": true,
            "UserPreferencesHideS1BrowserUI": true, "UserPermissions": true
        }))
        .unwrap();
        assert_eq!(
            user.feature_licences,
            FeatureLicences(vec!["InteractionUser".into(), "MarketingUser".into()])
        );
        assert!(user.is_active);
        let without: User = serde_json::from_value(serde_json::json!({"Id": "0050X0000000002AAA"})).unwrap();
        assert_eq!(without.feature_licences, FeatureLicences::default());
    }

    #[test]
    fn feature_licence_names_are_the_same_borrowed_from_the_page_or_copied() {
        // Plain keys are borrowed from the text; an escaped key, and every key read from a
        // stream, are handed over as a transient copy: both give the same names.
        let plain = r#"{"Id":"005A","UserPermissionsSupportUser":true,"UserPermissionsMarketingUser":true,"UserPermissionsKnowledgeUser":false}"#;
        let escaped = r#"{"Id":"005A","UserPermissions\u0053upportUser":true,"UserPermissionsMarketingUser":true,"UserPermissionsKnowledgeUser":false}"#;
        let expected = FeatureLicences(vec!["MarketingUser".into(), "SupportUser".into()]);
        for text in [plain, escaped] {
            assert_eq!(serde_json::from_str::<User>(text).unwrap().feature_licences, expected, "{text}");
            let streamed: User = serde_json::from_reader(text.as_bytes()).unwrap();
            assert_eq!(streamed.feature_licences, expected, "{text}");
        }
    }

    #[test]
    fn a_feature_licence_field_that_is_not_a_checkbox_is_an_error() {
        let error = serde_json::from_value::<User>(serde_json::json!({
            "Id": "0050X0000000001AAA", "UserPermissionsMarketingUser": "yes"
        }))
        .unwrap_err();
        assert!(error.to_string().contains("boolean"), "{error}");
    }

    #[test]
    fn salesforce_datetime_becomes_rfc3339_utc() {
        let parsed = SfDateTime::parse("2024-01-15T10:30:00.000+0000").unwrap();
        assert_eq!(parsed.to_rfc3339_utc(), "2024-01-15T10:30:00Z");
    }

    #[test]
    fn other_offsets_are_converted_to_utc() {
        let parsed = SfDateTime::parse("2024-01-15T10:30:00.000+0130").unwrap();
        assert_eq!(parsed.to_rfc3339_utc(), "2024-01-15T09:00:00Z");
        let parsed = SfDateTime::parse("2024-01-01T00:15:00.000-0100").unwrap();
        assert_eq!(parsed.to_rfc3339_utc(), "2024-01-01T01:15:00Z");
    }

    #[test]
    fn bulk_and_rfc3339_forms_are_accepted() {
        assert_eq!(
            SfDateTime::parse("2023-10-22T06:25:12.000Z").unwrap().to_rfc3339_utc(),
            "2023-10-22T06:25:12Z"
        );
        assert_eq!(
            SfDateTime::parse("2023-10-22T06:25:12Z").unwrap().to_rfc3339_utc(),
            "2023-10-22T06:25:12Z"
        );
    }

    #[test]
    fn fractions_are_kept_when_present() {
        let parsed = SfDateTime::parse("2024-01-15T10:30:00.250+0000").unwrap();
        assert_eq!(parsed.to_rfc3339_utc(), "2024-01-15T10:30:00.25Z");
    }

    #[test]
    fn malformed_datetimes_are_rejected_with_the_text() {
        for text in ["2024-01-15", "2024-01-15 10:30:00", "2024-13-15T10:30:00.000+0000", "yesterday"] {
            let err = SfDateTime::parse(text).unwrap_err();
            assert!(err.to_string().contains(text), "{err}");
        }
    }

    #[test]
    fn dates_round_trip() {
        let date = SfDate::parse("2024-02-29").unwrap();
        assert_eq!(date.to_iso(), "2024-02-29");
        assert!(SfDate::parse("2023-02-29").is_err());
        assert!(SfDate::parse("2024-01-15T00:00:00.000+0000").is_err());
    }

    #[test]
    fn serialize_as_rfc3339() {
        let parsed = SfDateTime::parse("2024-01-15T10:30:00.000+0000").unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"2024-01-15T10:30:00Z\"");
        let date = SfDate::parse("2024-01-15").unwrap();
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2024-01-15\"");
    }

    #[test]
    fn absent_and_null_fields_decode_to_defaults() {
        let user: User = serde_json::from_str(r#"{"Id":"005xx0000000001AAA","Username":null}"#).unwrap();
        assert_eq!(user.username, "");
        assert!(!user.is_active);
        assert_eq!(user.profile, None);
        assert_eq!(user.email, None);
    }

    #[test]
    fn a_missing_id_is_an_error() {
        let err = serde_json::from_str::<Profile>(r#"{"Name":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("Id"), "{err}");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use time::{Month, PrimitiveDateTime, Time};

    use super::*;

    /// A valid instant with a Salesforce-style offset (whole quarter hours, -12:00..=+14:00).
    fn instant() -> impl Strategy<Value = (OffsetDateTime, String)> {
        (1i32..=9999, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60, 0u16..1000, -48i32..=56).prop_map(
            |(year, month, day, hour, minute, second, milli, quarters)| {
                let date = Date::from_calendar_date(year, Month::try_from(month).unwrap(), day).unwrap();
                let time = Time::from_hms_milli(hour, minute, second, milli).unwrap();
                let offset_minutes = quarters * 15;
                let offset = UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap();
                let instant = PrimitiveDateTime::new(date, time).assume_offset(offset);
                let sign = if offset_minutes < 0 { '-' } else { '+' };
                let text = format!(
                    "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}{sign}{:02}{:02}",
                    offset_minutes.abs() / 60,
                    offset_minutes.abs() % 60
                );
                (instant, text)
            },
        )
    }

    fn text_field() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(any::<String>())
    }

    proptest! {
        #[test]
        fn salesforce_datetimes_parse_to_the_same_instant_in_utc((instant, text) in instant()) {
            let parsed = SfDateTime::parse(&text).unwrap();
            prop_assert_eq!(parsed.0, instant);
            let written = parsed.to_rfc3339_utc();
            prop_assert!(written.ends_with('Z'), "{}", written);
            // What is written reads back as the same instant.
            prop_assert_eq!(SfDateTime::parse(&written).unwrap().0, instant);
        }

        #[test]
        fn any_text_either_parses_or_is_refused_naming_it(text in ".{0,40}") {
            match SfDateTime::parse(&text) {
                Ok(parsed) => prop_assert!(parsed.to_rfc3339_utc().ends_with('Z')),
                Err(error) => prop_assert_eq!(&error.text, &text),
            }
            let _ = SfDate::parse(&text);
        }

        #[test]
        fn user_records_keep_every_text_field_as_sent(
            id in "005[A-Za-z0-9]{15}",
            email in text_field(), title in text_field(), company in text_field(), federation in text_field(),
            active in proptest::option::of(any::<bool>()),
        ) {
            let mut record = json!({"attributes": {"type": "User"}, "Id": id, "Username": "u@x.test"});
            for (field, value) in [("Email", &email), ("Title", &title), ("CompanyName", &company), ("FederationIdentifier", &federation)] {
                record[field] = value.as_ref().map_or(Value::Null, |text| Value::from(text.as_str()));
            }
            record["IsActive"] = active.map_or(Value::Null, Value::from);
            let user: User = serde_json::from_value(record).unwrap();
            prop_assert_eq!(user.id, id);
            prop_assert_eq!(user.email, email);
            prop_assert_eq!(user.title, title);
            prop_assert_eq!(user.company_name, company);
            prop_assert_eq!(user.federation_identifier, federation);
            prop_assert_eq!(user.is_active, active.unwrap_or(false));
            prop_assert_eq!(user.last_login_date, None);
        }

        #[test]
        fn decoding_arbitrary_json_never_panics(json in arbitrary_json()) {
            let _ = serde_json::from_value::<User>(json.clone());
            let _ = serde_json::from_value::<PackageLicense>(json.clone());
            let _ = serde_json::from_value::<PermissionSetLicense>(json.clone());
            let _ = serde_json::from_value::<UserLicense>(json);
        }

        #[test]
        fn a_wrong_type_in_any_user_field_is_an_error_not_a_panic(
            field in prop::sample::select(vec!["Email", "IsActive", "LastLoginDate", "CreatedDate", "Profile", "Username"]),
            value in prop_oneof![Just(json!(17)), Just(json!([1])), Just(json!({"a": 1})), Just(json!("not a date"))],
        ) {
            let text_field = matches!(field, "Email" | "Username");
            let fits = (value.is_string() && text_field) || (value.is_object() && field == "Profile");
            let mut record = json!({"Id": "005000000000001AAA"});
            record[field] = value;
            prop_assert_eq!(serde_json::from_value::<User>(record).is_ok(), fits);
        }
    }

    /// JSON shaped like a record: an object with Salesforce-looking keys and any values.
    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
            ".{0,12}".prop_map(Value::from),
        ];
        let value = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[A-Za-z]{1,8}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        });
        let keys = prop::sample::select(vec![
            "Id",
            "Username",
            "Email",
            "IsActive",
            "LastLoginDate",
            "ExpirationDate",
            "AllowedLicenses",
            "UsedLicenses",
            "TotalLicenses",
            "Profile",
            "Name",
            "Status",
        ]);
        proptest::collection::btree_map(keys, value, 0..8)
            .prop_map(|map| Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
    }
}
