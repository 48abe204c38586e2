//! From Salesforce records (`sfconn_api::records`) to the snapshot model. Pure functions; the
//! rules are in `docs/data.md`.

use std::collections::HashMap;

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

/// Licence assignments of users, from `PermissionSetLicenseAssign` or `UserPackageLicense`:
/// user id to licence ids.
///
/// Memory: an org has a handful of distinct licences but up to millions of assignments, so
/// each assignment is one 20-byte entry (the user id packed into 18 bytes, the licence as an
/// index into the list of distinct licence ids), not two heap strings in a map: about 20 MB for
/// a million assignments instead of about 200 MB. Entries are sorted by user on the first
/// [`Assignments::take`] and looked up by binary search.
#[derive(Debug, Default)]
pub struct Assignments {
    /// The distinct licence ids, in the order first seen.
    licenses: Vec<String>,
    license_index: HashMap<String, u16>,
    /// `(packed user id, licence index)`; sorted and deduplicated once taking starts.
    entries: Vec<(PackedId, u16)>,
    sorted: bool,
    /// Assignments whose user id does not pack (longer than 18 bytes), or beyond 65,536
    /// distinct licences: kept as strings. Salesforce ids never end up here.
    other: HashMap<String, Vec<String>>,
    /// Users with at least one assignment not yet taken (counted when sorting).
    users_left: usize,
}

/// A Salesforce id (15 or 18 characters) in a fixed array, zero-padded: no heap allocation.
type PackedId = [u8; 18];

/// Marks an entry that has been taken.
const TAKEN: u16 = u16::MAX;

fn pack(id: &str) -> Option<PackedId> {
    let bytes = id.as_bytes();
    if bytes.len() > 18 || bytes.contains(&0) {
        return None;
    }
    let mut packed = [0u8; 18];
    packed[..bytes.len()].copy_from_slice(bytes);
    Some(packed)
}

impl Assignments {
    /// Records that `user_id` holds `license_id`.
    pub fn add(&mut self, user_id: String, license_id: String) {
        if user_id.is_empty() || license_id.is_empty() {
            return;
        }
        let index = match self.license_index.get(&license_id) {
            Some(index) => Some(*index),
            None => u16::try_from(self.licenses.len()).ok().filter(|i| *i != TAKEN).inspect(|index| {
                self.license_index.insert(license_id.clone(), *index);
                self.licenses.push(license_id.clone());
            }),
        };
        match (pack(&user_id), index) {
            (Some(user), Some(index)) => {
                self.entries.push((user, index));
                self.sorted = false;
            }
            _ => {
                self.other.entry(user_id).or_default().push(license_id);
                self.sorted = false;
            }
        }
    }

    /// Sorts the entries by user (then licence) and drops duplicates, once.
    fn sort(&mut self) {
        if self.sorted {
            return;
        }
        self.entries.sort_unstable();
        self.entries.dedup();
        self.entries.shrink_to_fit();
        let mut users = 0;
        let mut previous = None;
        for (user, license) in &self.entries {
            if *license != TAKEN && previous != Some(user) {
                users += 1;
                previous = Some(user);
            }
        }
        self.users_left = users + self.other.len();
        self.sorted = true;
    }

    /// Takes the licence ids of one user, sorted and without duplicates (each user is written
    /// once, so the entry is not needed again).
    pub fn take(&mut self, user_id: &str) -> Vec<String> {
        self.sort();
        let mut ids: Vec<String> = Vec::new();
        if let Some(user) = pack(user_id) {
            let start = self.entries.partition_point(|(u, _)| *u < user);
            for (u, license) in &mut self.entries[start..] {
                if *u != user {
                    break;
                }
                if *license != TAKEN {
                    ids.extend(self.licenses.get(usize::from(*license)).cloned());
                    *license = TAKEN;
                }
            }
        }
        if let Some(more) = self.other.remove(user_id) {
            ids.extend(more);
        }
        if !ids.is_empty() {
            self.users_left = self.users_left.saturating_sub(1);
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Users with at least one assignment not yet taken.
    pub fn len(&mut self) -> usize {
        self.sort();
        self.users_left
    }

    /// Whether no assignment is left.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
}

/// What a user row needs from the rest of the org.
#[derive(Debug, Default)]
pub struct UserContext {
    /// Profile id to the profile's `UserLicenseId` (the fallback when `Profile.UserLicenseId`
    /// is not on the user row).
    pub profile_licenses: HashMap<String, Option<String>>,
    /// `PermissionSetLicenseAssign` by assignee.
    pub permission_set_licenses: Assignments,
    /// `UserPackageLicense` by user.
    pub package_licenses: Assignments,
}

impl UserContext {
    /// Builds the profile-to-licence lookup from the profile list.
    pub fn with_profiles(profiles: &[Profile]) -> Self {
        let profile_licenses = profiles.iter().map(|p| (p.id.clone(), p.user_license_id.clone())).collect();
        Self { profile_licenses, ..Self::default() }
    }
}

/// `User` row to a user. A blank `Email` is written as null; `email_domain` is its lower-case
/// domain; `user_license_id` comes through the profile.
pub fn user(record: records::User, context: &mut UserContext) -> User {
    let email = record.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    let email_domain = email.as_deref().and_then(sfconn_filter::email_domain);
    let user_license_id = record.profile.and_then(|profile| profile.user_license_id).or_else(|| {
        let profile_id = record.profile_id.as_ref()?;
        context.profile_licenses.get(profile_id).cloned().flatten()
    });
    let account_kind = AccountKind::from_user_type(record.user_type.as_deref());
    User {
        permission_set_license_ids: context.permission_set_licenses.take(&record.id),
        package_license_ids: context.package_licenses.take(&record.id),
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
        let mut context = UserContext::default();
        let mapped = user(
            user_record(&json!({
                "Email": "Jo.Smith@EU.Acme.COM", "Name": "Jo Smith", "FirstName": "Jo", "LastName": "Smith",
                "Alias": "jsmith", "LastLoginDate": "2024-01-15T10:30:00.000+0000",
                "CreatedDate": "2020-02-29T23:59:59.000+0100", "CompanyName": "Acme",
                "FederationIdentifier": "jo-123", "CountryCode": "DE",
                "Profile": {"attributes": {"type": "Profile"}, "UserLicenseId": "1000X0000000001AAA"}
            })),
            &mut context,
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
        let mapped = user(user_record(&json!({"UserType": "Einstein"})), &mut UserContext::default());
        assert_eq!(mapped.account_kind, AccountKind::Other);
        assert_eq!(mapped.user_type.as_deref(), Some("Einstein"));
    }

    #[test]
    fn blank_or_missing_email_is_null_and_never_logged_in_is_null() {
        for email in [json!(null), json!(""), json!("  ")] {
            let mapped = user(user_record(&json!({"Email": email})), &mut UserContext::default());
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
        let mut context = UserContext::with_profiles(&profiles);
        let mapped = user(user_record(&json!({})), &mut context);
        assert_eq!(mapped.user_license_id.as_deref(), Some("1000X0000000009AAA"));
        let mapped = user(user_record(&json!({"ProfileId": null})), &mut context);
        assert_eq!(mapped.user_license_id, None);
    }

    #[test]
    fn assignments_are_sorted_deduplicated_and_taken_once() {
        let mut context = UserContext::default();
        let user_id = "0050X0000000001AAA";
        context.permission_set_licenses.add(user_id.into(), "0PL0X0000000002AAA".into());
        context.permission_set_licenses.add(user_id.into(), "0PL0X0000000001AAA".into());
        context.permission_set_licenses.add(user_id.into(), "0PL0X0000000001AAA".into());
        context.package_licenses.add(user_id.into(), "0500X0000000001AAA".into());
        context.package_licenses.add("0050X0000000002AAA".into(), "0500X0000000001AAA".into());
        let mapped = user(user_record(&json!({})), &mut context);
        assert_eq!(mapped.permission_set_license_ids, ["0PL0X0000000001AAA", "0PL0X0000000002AAA"]);
        assert_eq!(mapped.package_license_ids, ["0500X0000000001AAA"]);
        assert!(context.permission_set_licenses.is_empty());
        assert_eq!(context.package_licenses.len(), 1);
    }

    #[test]
    fn assignments_cost_twenty_bytes_each_and_keep_every_id_shape() {
        assert_eq!(std::mem::size_of::<(PackedId, u16)>(), 20);
        let mut assignments = Assignments::default();
        // 18- and 15-character ids of the same record are different keys, as in Salesforce's
        // responses (always 18) they never mix; an id too long to pack still works.
        let long = "0050X0000000001AAA-not-a-salesforce-id";
        assignments.add("0050X0000000001AAA".into(), "0PL0X0000000002AAA".into());
        assignments.add("0050X0000000001".into(), "0PL0X0000000001AAA".into());
        assignments.add(long.into(), "0PL0X0000000003AAA".into());
        assignments.add("0050X0000000003AAA".into(), "0PL0X0000000001AAA".into());
        assignments.add("".into(), "0PL0X0000000001AAA".into());
        assert_eq!(assignments.len(), 4);
        assert_eq!(assignments.take("0050X0000000001AAA"), ["0PL0X0000000002AAA"]);
        assert_eq!(assignments.take("0050X0000000001"), ["0PL0X0000000001AAA"]);
        assert_eq!(assignments.take(long), ["0PL0X0000000003AAA"]);
        assert_eq!(assignments.take("0050X0000000002AAA"), Vec::<String>::new());
        assert_eq!(assignments.len(), 1);
        assert_eq!(assignments.take("0050X0000000003AAA"), ["0PL0X0000000001AAA"]);
        assert!(assignments.is_empty());
        assert_eq!(assignments.take("0050X0000000003AAA"), Vec::<String>::new(), "taken once");
    }

    #[test]
    fn many_users_each_get_exactly_their_licences_in_any_arrival_order() {
        let mut assignments = Assignments::default();
        let users = 5_000u32;
        // Arrival order is by assignment id, not by user: interleave users from both ends.
        for k in 0..3u32 {
            for n in 0..users {
                let user = if n % 2 == 0 { n } else { users - n };
                if (user + k) % 3 != 0 {
                    assignments.add(format!("005{user:015}"), format!("0PL{k:015}"));
                }
            }
        }
        for user in 0..users {
            let expected: Vec<String> =
                (0..3u32).filter(|k| (user + k) % 3 != 0).map(|k| format!("0PL{k:015}")).collect();
            assert_eq!(assignments.take(&format!("005{user:015}")), expected, "user {user}");
        }
        assert!(assignments.is_empty());
    }
}
