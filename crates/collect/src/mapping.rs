//! From Salesforce records (`sfconn_api::records`) to the snapshot model. Pure functions; the
//! rules are in `docs/data.md`.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

use sfconn_api::records;

use crate::snapshot::{AccountKind, Organization, Profile, Subscription, SubscriptionSource, User};

/// `Organization` row to `organization`.
pub fn organization(record: records::Organization) -> Organization {
    Organization {
        id: record.id,
        name: record.name,
        edition: record.organization_type,
        is_sandbox: record.is_sandbox,
        instance_name: record.instance_name,
    }
}

/// `UserLicense` row to a subscription. User licences do not expire.
pub fn user_license(record: records::UserLicense) -> Subscription {
    Subscription {
        id: record.id,
        source: SubscriptionSource::UserLicense,
        name: record.name,
        label: record.master_label,
        key: record.license_definition_key,
        status: record.status,
        total: record.total_licenses,
        used: record.used_licenses,
        unlimited: false,
        expires_at: None,
    }
}

/// `PermissionSetLicense` row to a subscription; `ExpirationDate` is a date (`2025-12-31`).
pub fn permission_set_license(record: records::PermissionSetLicense) -> Subscription {
    Subscription {
        id: record.id,
        source: SubscriptionSource::PermissionSetLicense,
        name: record.developer_name,
        label: record.master_label,
        key: record.permission_set_license_key,
        status: record.status,
        total: record.total_licenses,
        used: record.used_licenses,
        unlimited: false,
        expires_at: record.expiration_date.map(|date| date.to_iso()),
    }
}

/// `PackageLicense` row to a subscription. `AllowedLicenses = -1` is a site licence:
/// `unlimited` true and `total` null; `UsedLicenses = -1` is written as null.
pub fn package_license(record: records::PackageLicense) -> Subscription {
    let unlimited = record.allowed_licenses == Some(-1);
    Subscription {
        id: record.id,
        source: SubscriptionSource::PackageLicense,
        name: record.namespace_prefix.unwrap_or_default(),
        label: None,
        key: None,
        status: record.status,
        total: if unlimited { None } else { record.allowed_licenses },
        used: record.used_licenses.filter(|used| *used != -1),
        unlimited,
        expires_at: record.expiration_date.map(|at| at.to_rfc3339_utc()),
    }
}

/// `Profile` row to a profile.
pub fn profile(record: records::Profile) -> Profile {
    Profile {
        id: record.id,
        name: record.name,
        user_type: record.user_type,
        user_license_id: record.user_license_id,
        description: record.description,
    }
}

/// Compares two Salesforce ids (or user ids of assignment rows) byte by byte. The one
/// comparator of the merge join: the order guards ([`IdOrder`]) and the merge
/// ([`AssignmentMerge::take`]) both use it, so a stream the merge would mis-join is a stream the
/// guard refuses. Salesforce ids are ASCII (`0-9A-Za-z`), and `ORDER BY Id` sorts them in this
/// order (docs/architecture.md, "the collector's invariants").
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

/// A stream that came back in an order the merge join cannot use: Salesforce sorted it
/// differently from [`compare_ids`]. The run stops rather than write users with assignments
/// silently missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Salesforce returned {object} rows out of the order sfconn asked for (ORDER BY {field}): `{next}` came \
     after `{previous}`. sfconn joins licence assignments to users by merging streams sorted by id and stops \
     rather than risk dropping assignments; nothing was written. Please report this, with the two ids, as \
     an sfconn bug"
)]
pub struct OutOfOrder {
    /// The queried object (`User`, `PermissionSetLicenseAssign`, `UserPackageLicense`).
    pub object: &'static str,
    /// The field the stream is sorted by.
    pub field: &'static str,
    /// The value before.
    pub previous: String,
    /// The value after it that sorts lower (or, for unique ids, equal).
    pub next: String,
}

/// Checks that a stream's sort key never goes down ([`compare_ids`]); with `unique`, that it
/// always goes up.
#[derive(Debug, Clone)]
pub struct IdOrder {
    object: &'static str,
    field: &'static str,
    unique: bool,
    last: Option<String>,
}

impl IdOrder {
    /// A guard for `object` sorted by `field`.
    pub fn new(object: &'static str, field: &'static str, unique: bool) -> Self {
        Self { object, field, unique, last: None }
    }

    /// Accepts the next key of the stream, or says why it is out of order.
    pub fn check(&mut self, next: &str) -> Result<(), OutOfOrder> {
        if let Some(previous) = &self.last {
            let order = compare_ids(previous, next);
            if order == Ordering::Greater || (self.unique && order == Ordering::Equal) {
                return Err(OutOfOrder {
                    object: self.object,
                    field: self.field,
                    previous: previous.clone(),
                    next: next.to_owned(),
                });
            }
            if order == Ordering::Equal {
                return Ok(());
            }
        }
        // Reuses the buffer: this runs once per user and per assignment row.
        match &mut self.last {
            Some(last) => next.clone_into(last),
            None => self.last = Some(next.to_owned()),
        }
        Ok(())
    }
}

/// What [`AssignmentMerge::take`] needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Every assignment of the user has been taken.
    Done,
    /// The buffered rows end at or before the user: push the stream's next page (or end it).
    NeedPage,
}

/// One side of the merge join of users with their licence assignments
/// (`PermissionSetLicenseAssign` by `AssigneeId`, `UserPackageLicense` by `UserId`), read
/// sorted by user: the users, in ascending id, take their rows as the pages arrive. Rows of
/// users that were not fetched (filtered out by the pushed-down email filter) are skipped.
/// Memory: the rows of about one page, whatever the org's size.
#[derive(Debug)]
pub struct AssignmentMerge {
    order: IdOrder,
    /// `(user id, licence id)` rows pushed and not yet passed.
    rows: VecDeque<(String, String)>,
    ended: bool,
}

impl AssignmentMerge {
    /// A merge over `object`, whose rows are sorted by `user_field`.
    pub fn new(object: &'static str, user_field: &'static str) -> Self {
        Self { order: IdOrder::new(object, user_field, false), rows: VecDeque::new(), ended: false }
    }

    /// Adds the stream's next page of `(user id, licence id)` rows, checking that the user ids
    /// never go down.
    pub fn push_page(&mut self, rows: impl IntoIterator<Item = (String, String)>) -> Result<(), OutOfOrder> {
        for (user, license) in rows {
            self.order.check(&user)?;
            self.rows.push_back((user, license));
        }
        Ok(())
    }

    /// The stream has no more pages.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Whether the stream has no more pages.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Drops the buffered rows (after the last user: nobody will take them).
    pub fn discard(&mut self) {
        self.rows.clear();
    }

    /// Moves the licence ids of `user_id` into `ids`, skipping rows of lower user ids. Users
    /// must come in ascending order (the run checks that with [`IdOrder`]); when the buffered
    /// rows may not hold all of the user's, the ones found so far are in `ids` and the answer
    /// is [`Merge::NeedPage`]: push a page, or end, and call again with the same `ids`.
    pub fn take(&mut self, user_id: &str, ids: &mut Vec<String>) -> Merge {
        while let Some((user, _)) = self.rows.front() {
            match compare_ids(user, user_id) {
                Ordering::Less => {
                    self.rows.pop_front();
                }
                Ordering::Equal => {
                    if let Some((_, license)) = self.rows.pop_front()
                        && !license.is_empty()
                    {
                        ids.push(license);
                    }
                }
                Ordering::Greater => return Merge::Done,
            }
        }
        if self.ended { Merge::Done } else { Merge::NeedPage }
    }
}

/// What a user row needs from the rest of the org.
#[derive(Debug, Default)]
pub struct UserContext {
    /// Profile id to the profile's `UserLicenseId` (the fallback when `Profile.UserLicenseId`
    /// is not on the user row).
    pub profile_licenses: HashMap<String, Option<String>>,
}

impl UserContext {
    /// Builds the profile-to-licence lookup from the profile list.
    pub fn with_profiles(profiles: &[Profile]) -> Self {
        let profile_licenses = profiles.iter().map(|p| (p.id.clone(), p.user_license_id.clone())).collect();
        Self { profile_licenses }
    }
}

/// The licence ids assigned to one user, each list sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserLicences {
    /// From `PermissionSetLicenseAssign`.
    pub permission_set_license_ids: Vec<String>,
    /// From `UserPackageLicense`.
    pub package_license_ids: Vec<String>,
}

impl UserLicences {
    /// Sorts each list and drops duplicates.
    pub fn new(mut permission_set_license_ids: Vec<String>, mut package_license_ids: Vec<String>) -> Self {
        for ids in [&mut permission_set_license_ids, &mut package_license_ids] {
            ids.sort_unstable();
            ids.dedup();
        }
        Self { permission_set_license_ids, package_license_ids }
    }
}

/// `User` row to a user. A blank `Email` is written as null; `email_domain` is its lower-case
/// domain; `user_license_id` comes through the profile.
pub fn user(record: records::User, context: &UserContext, licences: UserLicences) -> User {
    let email = record.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    let email_domain = email.as_deref().and_then(sfconn_filter::email_domain);
    let user_license_id = record.profile.and_then(|profile| profile.user_license_id).or_else(|| {
        let profile_id = record.profile_id.as_ref()?;
        context.profile_licenses.get(profile_id).cloned().flatten()
    });
    let account_kind = AccountKind::from_user_type(record.user_type.as_deref());
    User {
        permission_set_license_ids: licences.permission_set_license_ids,
        package_license_ids: licences.package_license_ids,
        id: record.id,
        username: record.username,
        email,
        email_domain,
        name: record.name,
        first_name: record.first_name,
        last_name: record.last_name,
        alias: record.alias,
        active: record.is_active,
        user_type: record.user_type,
        account_kind,
        profile_id: record.profile_id,
        user_license_id,
        last_login_at: record.last_login_date.map(|at| at.to_rfc3339_utc()),
        created_at: record.created_date.map(|at| at.to_rfc3339_utc()),
        company_name: record.company_name,
        department: record.department,
        title: record.title,
        city: record.city,
        country: record.country,
        country_code: record.country_code,
        federation_id: record.federation_identifier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn user_license_maps_name_label_key_and_seats() {
        let subscription = user_license(decode(json!({
            "attributes": {"type": "UserLicense"},
            "Id": "1004W000001gXv2QAE", "Name": "Salesforce", "MasterLabel": "Salesforce",
            "LicenseDefinitionKey": "SFDC", "Status": "Active",
            "TotalLicenses": 20, "UsedLicenses": 12
        })));
        assert_eq!(subscription.source, SubscriptionSource::UserLicense);
        assert_eq!(subscription.name, "Salesforce");
        assert_eq!(subscription.label.as_deref(), Some("Salesforce"));
        assert_eq!(subscription.key.as_deref(), Some("SFDC"));
        assert_eq!((subscription.total, subscription.used), (Some(20), Some(12)));
        assert!(!subscription.unlimited);
        assert_eq!(subscription.expires_at, None);
    }

    #[test]
    fn permission_set_license_expires_on_a_date() {
        let subscription = permission_set_license(decode(json!({
            "Id": "0PL4W0000012s4lWAA", "DeveloperName": "SalesforceCPQ_CPQAAPerm",
            "MasterLabel": "Salesforce CPQ AA License", "PermissionSetLicenseKey": "SalesforceCPQ_CPQAAPerm",
            "Status": "Active", "ExpirationDate": "2025-12-31", "TotalLicenses": 5, "UsedLicenses": 2
        })));
        assert_eq!(subscription.source, SubscriptionSource::PermissionSetLicense);
        assert_eq!(subscription.name, "SalesforceCPQ_CPQAAPerm");
        assert_eq!(subscription.label.as_deref(), Some("Salesforce CPQ AA License"));
        assert_eq!(subscription.key.as_deref(), Some("SalesforceCPQ_CPQAAPerm"));
        assert_eq!(subscription.expires_at.as_deref(), Some("2025-12-31"));
    }

    #[test]
    fn site_package_licence_is_unlimited_without_total_or_negative_used() {
        let subscription = package_license(decode(json!({
            "Id": "0500X0000000001AAA", "NamespacePrefix": "acmepkg", "AllowedLicenses": -1,
            "UsedLicenses": -1, "Status": "Active", "ExpirationDate": null
        })));
        assert!(subscription.unlimited);
        assert_eq!(subscription.total, None);
        assert_eq!(subscription.used, None);
        assert_eq!(subscription.name, "acmepkg");
        assert_eq!((subscription.label, subscription.key), (None, None));
        assert_eq!(subscription.expires_at, None);
    }

    #[test]
    fn seat_package_licence_keeps_counts_and_expiry_in_utc() {
        let subscription = package_license(decode(json!({
            "Id": "0500X0000000002AAA", "NamespacePrefix": "seats", "AllowedLicenses": 25,
            "UsedLicenses": 7, "Status": "Trial", "ExpirationDate": "2026-06-30T22:00:00.000-0200"
        })));
        assert!(!subscription.unlimited);
        assert_eq!((subscription.total, subscription.used), (Some(25), Some(7)));
        assert_eq!(subscription.expires_at.as_deref(), Some("2026-07-01T00:00:00Z"));
        assert_eq!(subscription.free(), Some(18));
    }

    fn user_record(extra: &serde_json::Value) -> records::User {
        let mut value = json!({
            "attributes": {"type": "User"},
            "Id": "0050X0000000001AAA", "Username": "jo@acme.com.prod", "IsActive": true,
            "UserType": "Standard", "ProfileId": "00e0X0000000001AAA"
        });
        for (key, field) in extra.as_object().unwrap() {
            value[key] = field.clone();
        }
        decode(value)
    }

    #[test]
    fn user_fields_dates_and_domain() {
        let context = UserContext::default();
        let mapped = user(
            user_record(&json!({
                "Email": "Jo.Smith@EU.Acme.COM", "Name": "Jo Smith", "FirstName": "Jo", "LastName": "Smith",
                "Alias": "jsmith", "LastLoginDate": "2024-01-15T10:30:00.000+0000",
                "CreatedDate": "2020-02-29T23:59:59.000+0100", "CompanyName": "Acme",
                "FederationIdentifier": "jo-123", "CountryCode": "DE",
                "Profile": {"attributes": {"type": "Profile"}, "UserLicenseId": "1000X0000000001AAA"}
            })),
            &context,
            UserLicences::default(),
        );
        assert_eq!(mapped.email.as_deref(), Some("Jo.Smith@EU.Acme.COM"));
        assert_eq!(mapped.email_domain.as_deref(), Some("eu.acme.com"));
        assert_eq!(mapped.account_kind, AccountKind::Internal);
        assert_eq!(mapped.user_type.as_deref(), Some("Standard"));
        assert_eq!(mapped.user_license_id.as_deref(), Some("1000X0000000001AAA"));
        assert_eq!(mapped.last_login_at.as_deref(), Some("2024-01-15T10:30:00Z"));
        assert_eq!(mapped.created_at.as_deref(), Some("2020-02-29T22:59:59Z"));
        assert_eq!(mapped.federation_id.as_deref(), Some("jo-123"));
        assert_eq!(mapped.country_code.as_deref(), Some("DE"));
        assert!(mapped.active);
    }

    #[test]
    fn unknown_user_type_is_other_and_kept_raw() {
        let mapped = user(
            user_record(&json!({"UserType": "Einstein"})),
            &UserContext::default(),
            UserLicences::default(),
        );
        assert_eq!(mapped.account_kind, AccountKind::Other);
        assert_eq!(mapped.user_type.as_deref(), Some("Einstein"));
    }

    #[test]
    fn blank_or_missing_email_is_null_and_never_logged_in_is_null() {
        for email in [json!(null), json!(""), json!("  ")] {
            let mapped =
                user(user_record(&json!({"Email": email})), &UserContext::default(), UserLicences::default());
            assert_eq!((mapped.email, mapped.email_domain), (None, None));
            assert_eq!(mapped.last_login_at, None);
        }
    }

    #[test]
    fn user_licence_falls_back_to_the_profile_list() {
        let profiles = [Profile {
            id: "00e0X0000000001AAA".into(),
            name: "Standard User".into(),
            user_type: Some("Standard".into()),
            user_license_id: Some("1000X0000000009AAA".into()),
            description: None,
        }];
        let context = UserContext::with_profiles(&profiles);
        let mapped = user(user_record(&json!({})), &context, UserLicences::default());
        assert_eq!(mapped.user_license_id.as_deref(), Some("1000X0000000009AAA"));
        let mapped = user(user_record(&json!({"ProfileId": null})), &context, UserLicences::default());
        assert_eq!(mapped.user_license_id, None);
    }

    fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(user, license)| ((*user).to_owned(), (*license).to_owned())).collect()
    }

    /// Takes the licences of `user`, pushing pages from `pages` as the merge asks for them.
    fn take_all(
        merge: &mut AssignmentMerge,
        pages: &mut Vec<Vec<(String, String)>>,
        user: &str,
    ) -> Vec<String> {
        let mut ids = Vec::new();
        while merge.take(user, &mut ids) == Merge::NeedPage {
            if pages.is_empty() {
                merge.end();
            } else {
                merge.push_page(pages.remove(0)).unwrap();
            }
        }
        UserLicences::new(ids, Vec::new()).permission_set_license_ids
    }

    #[test]
    fn the_merge_gives_each_user_exactly_its_rows_across_pages() {
        let mut merge = AssignmentMerge::new("PermissionSetLicenseAssign", "AssigneeId");
        // Sorted by user; user 2 was filtered out of the User query, user 3 holds three
        // licences (one twice) split over a page boundary, user 4 holds none, rows past the
        // last user are never needed.
        let mut pages = vec![
            rows(&[("", "0PL0X0000000009AAA"), ("0050X0000000001AAA", "0PL0X0000000002AAA")]),
            rows(&[
                ("0050X0000000001AAA", "0PL0X0000000001AAA"),
                ("0050X0000000002AAA", "0PL0X0000000001AAA"),
            ]),
            rows(&[
                ("0050X0000000003AAA", "0PL0X0000000003AAA"),
                ("0050X0000000003AAA", "0PL0X0000000001AAA"),
            ]),
            rows(&[
                ("0050X0000000003AAA", "0PL0X0000000003AAA"),
                ("0050X0000000005AAA", "0PL0X0000000002AAA"),
            ]),
            rows(&[("0050X0000000009AAA", "0PL0X0000000002AAA")]),
        ];
        assert_eq!(
            take_all(&mut merge, &mut pages, "0050X0000000001AAA"),
            ["0PL0X0000000001AAA", "0PL0X0000000002AAA"]
        );
        assert_eq!(
            take_all(&mut merge, &mut pages, "0050X0000000003AAA"),
            ["0PL0X0000000001AAA", "0PL0X0000000003AAA"]
        );
        assert_eq!(take_all(&mut merge, &mut pages, "0050X0000000004AAA"), Vec::<String>::new());
        assert_eq!(take_all(&mut merge, &mut pages, "0050X0000000005AAA"), ["0PL0X0000000002AAA"]);
        // User 5's row ends page 4, so only the next page can tell that it has no more.
        assert!(pages.is_empty());
        assert_eq!(take_all(&mut merge, &mut pages, "0050X0000000010AAA"), Vec::<String>::new());
        assert!(merge.is_ended());
    }

    #[test]
    fn a_user_with_no_rows_at_the_end_of_the_stream_gets_none() {
        let mut merge = AssignmentMerge::new("UserPackageLicense", "UserId");
        let mut pages = vec![];
        assert_eq!(take_all(&mut merge, &mut pages, "0050X0000000001AAA"), Vec::<String>::new());
        assert!(merge.is_ended());
    }

    #[test]
    fn the_merge_follows_byte_order_like_the_guard() {
        // Upper case sorts before lower case in byte order ('Z' < 'a'); the guard and the
        // merge agree on it.
        let mut merge = AssignmentMerge::new("UserPackageLicense", "UserId");
        merge.push_page(rows(&[("005Z", "050A"), ("005a", "050B")])).unwrap();
        merge.end();
        let mut ids = Vec::new();
        assert_eq!(merge.take("005Z", &mut ids), Merge::Done);
        assert_eq!(ids, ["050A"]);
        ids.clear();
        assert_eq!(merge.take("005a", &mut ids), Merge::Done);
        assert_eq!(ids, ["050B"]);
        assert_eq!(compare_ids("005Z", "005a"), Ordering::Less);
    }

    #[test]
    fn rows_out_of_order_are_refused_naming_the_object_and_both_ids() {
        let mut merge = AssignmentMerge::new("PermissionSetLicenseAssign", "AssigneeId");
        merge.push_page(rows(&[("0050X0000000002AAA", "0PL1"), ("0050X0000000002AAA", "0PL2")])).unwrap();
        // Across a page boundary, as within a page.
        let error = merge.push_page(rows(&[("0050X0000000001AAA", "0PL1")])).unwrap_err();
        assert_eq!(
            error,
            OutOfOrder {
                object: "PermissionSetLicenseAssign",
                field: "AssigneeId",
                previous: "0050X0000000002AAA".into(),
                next: "0050X0000000001AAA".into(),
            }
        );
        let message = error.to_string();
        assert!(message.contains("PermissionSetLicenseAssign"), "{message}");
        assert!(message.contains("`0050X0000000001AAA` came after `0050X0000000002AAA`"), "{message}");
    }

    #[test]
    fn unique_ids_must_go_up() {
        let mut users = IdOrder::new("User", "Id", true);
        users.check("0050X0000000001AAA").unwrap();
        users.check("0050X0000000002AAA").unwrap();
        assert!(users.check("0050X0000000002AAA").is_err(), "a repeated user id");
        let mut users = IdOrder::new("User", "Id", true);
        users.check("0050X0000000002AAA").unwrap();
        let error = users.check("0050X0000000001AAA").unwrap_err();
        assert_eq!((error.object, error.field), ("User", "Id"));
        let mut assignees = IdOrder::new("UserPackageLicense", "UserId", false);
        for id in ["a", "a", "b", "b"] {
            assignees.check(id).unwrap();
        }
        assert!(assignees.check("a").is_err());
    }

    #[test]
    fn licence_lists_are_sorted_and_deduplicated() {
        let licences = UserLicences::new(
            vec!["0PL2".into(), "0PL1".into(), "0PL2".into()],
            vec!["0502".into(), "0501".into()],
        );
        assert_eq!(licences.permission_set_license_ids, ["0PL1", "0PL2"]);
        assert_eq!(licences.package_license_ids, ["0501", "0502"]);
    }
}
