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
        feature_licences: Vec::new(),
        login_activity: None,
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
/// domain; `user_license_id` comes through the profile; `frozen` is what `UserLogin` said
/// (`None`: unreadable).
pub fn user(
    record: records::User,
    context: &UserContext,
    licences: UserLicences,
    frozen: Option<bool>,
) -> User {
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
        frozen,
        feature_licences: record.feature_licences.0,
        logins_in_window: None,
        last_login_application: None,
        last_login_type: None,
        unused_permission_set_license_ids: None,
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
                "Profile": {"attributes": {"type": "Profile"}, "UserLicenseId": "1000X0000000001AAA"},
                "UserPermissionsSupportUser": true, "UserPermissionsMarketingUser": false
            })),
            &context,
            UserLicences::default(),
            Some(true),
        );
        assert_eq!(mapped.frozen, Some(true));
        assert_eq!(mapped.feature_licences, ["SupportUser"]);
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
            None,
        );
        assert_eq!(mapped.account_kind, AccountKind::Other);
        assert_eq!(mapped.user_type.as_deref(), Some("Einstein"));
    }

    #[test]
    fn blank_or_missing_email_is_null_and_never_logged_in_is_null() {
        for email in [json!(null), json!(""), json!("  ")] {
            let mapped = user(
                user_record(&json!({"Email": email})),
                &UserContext::default(),
                UserLicences::default(),
                None,
            );
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
        let mapped = user(user_record(&json!({})), &context, UserLicences::default(), Some(false));
        assert_eq!(mapped.user_license_id.as_deref(), Some("1000X0000000009AAA"));
        let mapped =
            user(user_record(&json!({"ProfileId": null})), &context, UserLicences::default(), Some(false));
        assert_eq!(mapped.user_license_id, None);
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
