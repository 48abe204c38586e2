//! The snapshot model: what one run writes, field for field as in `snapshot.schema.json`
//! (`schema_version` "1"). Field order here is the order in the JSON output.
//!
//! The model is split the way it is streamed: a [`SnapshotHeader`] (everything known before the
//! first user), the [`User`]s one at a time, then the [`Summary`] and [`Warning`]s.
//! [`Snapshot`] holds all of it at once, for tests and small tools.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The only `schema_version` this crate writes.
pub const SCHEMA_VERSION: &str = "1";

/// The `generator.name` this crate writes.
pub const GENERATOR_NAME: &str = "sfconn";

/// Everything in a snapshot except the users, the summary and the warnings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// The program that wrote the snapshot.
    pub generator: Generator,
    /// When the run started, RFC 3339 UTC.
    pub collected_at: String,
    /// Where the data came from.
    pub source: Source,
    /// The org.
    pub organization: Organization,
    /// The company-name filter that decided which users were written.
    pub filter: Filter,
    /// Org-wide subscriptions, grouped by source then sorted by id.
    pub subscriptions: Vec<Subscription>,
    /// Profiles, sorted by id.
    pub profiles: Vec<Profile>,
}

impl SnapshotHeader {
    /// A header with `schema_version` and `generator` filled in, `collected_at` formatted as
    /// RFC 3339 UTC, and subscriptions and profiles put in their output order.
    pub fn new(
        collected_at: OffsetDateTime,
        source: Source,
        organization: Organization,
        filter: Filter,
        mut subscriptions: Vec<Subscription>,
        mut profiles: Vec<Profile>,
    ) -> Self {
        sort_subscriptions(&mut subscriptions);
        profiles.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            schema_version: SCHEMA_VERSION.to_owned(),
            generator: Generator::current(),
            collected_at: rfc3339_utc(collected_at),
            source,
            organization,
            filter,
            subscriptions,
            profiles,
        }
    }
}

/// The program that wrote a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generator {
    /// Always [`GENERATOR_NAME`].
    pub name: String,
    /// The sfconn version.
    pub version: String,
}

impl Generator {
    /// This build of sfconn.
    pub fn current() -> Self {
        Self { name: GENERATOR_NAME.to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() }
    }
}

/// Where the data came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The authorization server the run logged in through.
    pub login_url: String,
    /// The instance the data was read from (from the token response).
    pub instance_url: String,
    /// The REST API version used, e.g. `62.0`.
    pub api_version: String,
}

/// The org (Salesforce `Organization`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// `Organization.Id`.
    pub id: String,
    /// `Organization.Name`.
    pub name: String,
    /// `Organization.OrganizationType`, e.g. `Enterprise Edition`.
    pub edition: Option<String>,
    /// `Organization.IsSandbox`.
    pub is_sandbox: bool,
    /// `Organization.InstanceName`, e.g. `NA224`.
    pub instance_name: Option<String>,
    /// The org's feature licences (Setup → Company Information → Feature Licenses), by
    /// `field`; empty when `User` has no `UserPermissions*` checkbox the run can see. Kept here,
    /// not in `subscriptions`, whose `source` and `id` the contract fixes (docs/data.md,
    /// "Feature licences").
    #[serde(default)]
    pub feature_licences: Vec<FeatureLicence>,
    /// Login activity as collected (`login_activity_days`): absent when off, `null` when
    /// `LoginHistory` could not be read. Kept here, not at the top level, whose properties the
    /// contract's schema fixes (docs/data.md, "Login activity").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_activity: Option<Option<LoginActivitySummary>>,
}

/// How the login activity of a snapshot was collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginActivitySummary {
    /// `login_activity_days`: the window, `LoginTime = LAST_N_DAYS:days`.
    pub days: u32,
    /// `rest` (query paging) or `bulk` (a Bulk API 2.0 query job).
    pub path: String,
    /// `LoginHistory` rows read: every login attempt in the window (`Status` cannot be
    /// filtered on).
    pub rows: u64,
    /// Of those, the successful logins (`Status` = `Success`): the sum of the users'
    /// `logins_in_window`, users the company filter left out included.
    pub successful: u64,
}

/// A feature licence: a `User.UserPermissions*` checkbox, its seats used and, where the org
/// reports it, bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureLicence {
    /// The checkbox without `UserPermissions`, as in `users[].feature_licences`: `MarketingUser`.
    pub name: String,
    /// The `User` checkbox: `UserPermissionsMarketingUser`.
    pub field: String,
    /// Its label in describe: `Marketing User`.
    pub label: Option<String>,
    /// Active users with the checkbox on (`SELECT COUNT() FROM User WHERE IsActive = true AND
    /// <field> = true`), over the whole org whatever the company filter.
    pub used: u64,
    /// Seats bought (`ActiveFeatureLicenseMetric.TotalLicenseCount` of the newest day), `None`
    /// when the org does not report it.
    pub total: Option<i64>,
}

/// The company-name filter as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// True when every user was written (`*`).
    pub all: bool,
    /// The company names as configured.
    pub company_names: Vec<String>,
}

/// Which Salesforce object a subscription comes from. The declaration order is the output
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SubscriptionSource {
    /// A seat pool (`UserLicense`).
    UserLicense,
    /// A permission set licence (`PermissionSetLicense`).
    PermissionSetLicense,
    /// Managed-package seats (`PackageLicense`).
    PackageLicense,
}

impl SubscriptionSource {
    /// The Salesforce object name, as written in `source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserLicense => "UserLicense",
            Self::PermissionSetLicense => "PermissionSetLicense",
            Self::PackageLicense => "PackageLicense",
        }
    }
}

/// One subscription: a `UserLicense`, `PermissionSetLicense` or `PackageLicense` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The record id.
    pub id: String,
    /// The object it comes from.
    pub source: SubscriptionSource,
    /// `Name`, `DeveloperName` or `NamespacePrefix`.
    pub name: String,
    /// `MasterLabel` where the object has one.
    pub label: Option<String>,
    /// `LicenseDefinitionKey` or `PermissionSetLicenseKey`.
    pub key: Option<String>,
    /// `Status`.
    pub status: Option<String>,
    /// `TotalLicenses` or `AllowedLicenses`; `None` when unlimited or unreadable.
    pub total: Option<i64>,
    /// `UsedLicenses`.
    pub used: Option<i64>,
    /// True for a site licence (`AllowedLicenses = -1`).
    pub unlimited: bool,
    /// RFC 3339 date (`PermissionSetLicense`) or date-time (`PackageLicense`).
    pub expires_at: Option<String>,
}

impl Subscription {
    /// Seats left: `total - used` when both are known and the subscription is not unlimited.
    pub fn free(&self) -> Option<i64> {
        if self.unlimited {
            return None;
        }
        Some(self.total? - self.used?)
    }
}

/// Sorts subscriptions into output order: by source, then by id.
pub fn sort_subscriptions(subscriptions: &mut [Subscription]) {
    subscriptions.sort_by(|a, b| (a.source, &a.id).cmp(&(b.source, &b.id)));
}

/// One profile (Salesforce `Profile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// `Profile.Id`.
    pub id: String,
    /// `Profile.Name`.
    pub name: String,
    /// `Profile.UserType`.
    pub user_type: Option<String>,
    /// `Profile.UserLicenseId`.
    pub user_license_id: Option<String>,
    /// `Profile.Description`.
    pub description: Option<String>,
}

/// What kind of account a user is, derived from `UserType` (docs/contract.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// `Standard`.
    Internal,
    /// `PowerPartner`.
    Partner,
    /// `PowerCustomerSuccess`, `CustomerSuccess`, `CspLitePortal`, `SelfService`.
    Customer,
    /// `CsnOnly`.
    Chatter,
    /// `Guest`.
    Guest,
    /// `AutomatedProcess`, `CloudIntegrationUser`, `LicenseManager`.
    System,
    /// Anything else, including a missing `UserType`.
    Other,
}

impl AccountKind {
    /// Every kind, in output order.
    pub const ALL: [AccountKind; 7] = [
        Self::Internal,
        Self::Partner,
        Self::Customer,
        Self::Chatter,
        Self::Guest,
        Self::System,
        Self::Other,
    ];

    /// The kind for a `UserType` value, compared ignoring case and surrounding white space.
    pub fn from_user_type(user_type: Option<&str>) -> Self {
        let Some(raw) = user_type else { return Self::Other };
        let value = raw.trim().to_ascii_lowercase();
        match value.as_str() {
            "standard" => Self::Internal,
            "powerpartner" => Self::Partner,
            "powercustomersuccess" | "customersuccess" | "cspliteportal" | "selfservice" => Self::Customer,
            "csnonly" => Self::Chatter,
            "guest" => Self::Guest,
            "automatedprocess" | "cloudintegrationuser" | "licensemanager" => Self::System,
            _ => Self::Other,
        }
    }

    /// The name written in `account_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Partner => "partner",
            Self::Customer => "customer",
            Self::Chatter => "chatter",
            Self::Guest => "guest",
            Self::System => "system",
            Self::Other => "other",
        }
    }
}

/// One user (Salesforce `User`), with the licences assigned to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// `User.Id`.
    pub id: String,
    /// `User.Username`.
    pub username: String,
    /// `User.Email`; `None` when empty.
    pub email: Option<String>,
    /// Lower-case domain of `email`.
    pub email_domain: Option<String>,
    /// `User.Name`.
    pub name: Option<String>,
    /// `User.FirstName`.
    pub first_name: Option<String>,
    /// `User.LastName`.
    pub last_name: Option<String>,
    /// `User.Alias`.
    pub alias: Option<String>,
    /// `User.IsActive`.
    pub active: bool,
    /// `User.UserType`, as Salesforce spells it.
    pub user_type: Option<String>,
    /// Derived from `user_type`.
    pub account_kind: AccountKind,
    /// `User.ProfileId`.
    pub profile_id: Option<String>,
    /// `User.Profile.UserLicenseId`, else the profile list's licence for `profile_id`.
    pub user_license_id: Option<String>,
    /// `PermissionSetLicenseAssign.PermissionSetLicenseId` of this user's assignments, sorted.
    pub permission_set_license_ids: Vec<String>,
    /// `UserPackageLicense.PackageLicenseId` of this user's assignments, sorted.
    pub package_license_ids: Vec<String>,
    /// `User.LastLoginDate`, RFC 3339 UTC; `None` if the user never logged in.
    pub last_login_at: Option<String>,
    /// `User.CreatedDate`, RFC 3339 UTC.
    pub created_at: Option<String>,
    /// `User.CompanyName`.
    pub company_name: Option<String>,
    /// `User.Department`.
    pub department: Option<String>,
    /// `User.Title`.
    pub title: Option<String>,
    /// `User.City`.
    pub city: Option<String>,
    /// `User.Country`.
    pub country: Option<String>,
    /// `User.CountryCode`.
    pub country_code: Option<String>,
    /// `User.FederationIdentifier`.
    pub federation_id: Option<String>,
    /// Whether the user is frozen (`UserLogin.IsFrozen`): a frozen user cannot log in but still
    /// holds its licences. `None` when `UserLogin` could not be read (`source_skipped`).
    #[serde(default)]
    pub frozen: Option<bool>,
    /// The feature licences the user holds (Setup's "Feature Licenses"): the `User.UserPermissions*`
    /// checkboxes that are on, named without the prefix (`MarketingUser`, `KnowledgeUser`), sorted.
    #[serde(default)]
    pub feature_licences: Vec<String>,
    /// Successful logins in the login-activity window (`LoginHistory`); `None` when login
    /// activity was not collected (off, or `LoginHistory` unreadable).
    #[serde(default)]
    pub logins_in_window: Option<u64>,
    /// The application of the user's latest successful login in the window.
    #[serde(default)]
    pub last_login_application: Option<String>,
    /// The login type of the user's latest successful login in the window.
    #[serde(default)]
    pub last_login_type: Option<String>,
    /// The ids among `permission_set_license_ids` whose assignment is unused: no permission
    /// set of the user (direct, through a group, or the profile's own) needs the licence, and
    /// it is not a known exception (docs/unused-assignments.md). Sorted. `None` when not
    /// computed: a source the rule needs could not be read (`source_skipped`).
    #[serde(default)]
    pub unused_permission_set_license_ids: Option<Vec<String>>,
}

/// The org's daily API request figures (`DailyApiRequests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsageFigures {
    /// Requests used in the last 24 hours.
    pub used: u64,
    /// The org's daily allowance.
    pub max: u64,
}

/// Counts over the users written, and what the run cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Users written to this snapshot.
    pub users_total: u64,
    /// Written users with `active` true.
    pub users_active: u64,
    /// Written users without an email address.
    pub users_without_email: u64,
    /// Users read from Salesforce that the company filter left out.
    pub users_excluded_by_filter: u64,
    /// Written users per `account_kind`; every kind is present, zeros included.
    pub users_by_kind: BTreeMap<String, u64>,
    /// Written users per `email_domain`; `""` for users without one.
    pub users_by_domain: BTreeMap<String, u64>,
    /// Subscriptions written.
    pub subscriptions_total: u64,
    /// HTTP requests this run sent to Salesforce, token requests and retries included.
    pub api_requests: u64,
    /// Daily API usage before the run, when known.
    pub api_usage_before: Option<ApiUsageFigures>,
    /// Daily API usage after the run, when known.
    pub api_usage_after: Option<ApiUsageFigures>,
}

/// Tallies the written users into the user counts of a [`Summary`]. Memory grows with the
/// number of distinct email domains, not with the number of users.
#[derive(Debug, Clone, Default)]
pub struct UserTally {
    total: u64,
    active: u64,
    without_email: u64,
    excluded_by_filter: u64,
    by_kind: BTreeMap<AccountKind, u64>,
    by_domain: BTreeMap<String, u64>,
}

impl UserTally {
    /// Counts one written user.
    pub fn count_written(&mut self, user: &User) {
        self.total += 1;
        if user.active {
            self.active += 1;
        }
        if user.email.is_none() {
            self.without_email += 1;
        }
        *self.by_kind.entry(user.account_kind).or_default() += 1;
        let domain = user.email_domain.clone().unwrap_or_default();
        *self.by_domain.entry(domain).or_default() += 1;
    }

    /// Counts one user that the company filter left out.
    pub fn count_excluded(&mut self) {
        self.excluded_by_filter += 1;
    }

    /// Users counted as written so far.
    pub fn written(&self) -> u64 {
        self.total
    }

    /// The summary for these users and the run's other figures.
    pub fn summary(
        &self,
        subscriptions_total: u64,
        api_requests: u64,
        api_usage_before: Option<ApiUsageFigures>,
        api_usage_after: Option<ApiUsageFigures>,
    ) -> Summary {
        let users_by_kind = AccountKind::ALL
            .iter()
            .map(|kind| (kind.as_str().to_owned(), self.by_kind.get(kind).copied().unwrap_or_default()))
            .collect();
        Summary {
            users_total: self.total,
            users_active: self.active,
            users_without_email: self.without_email,
            users_excluded_by_filter: self.excluded_by_filter,
            users_by_kind,
            users_by_domain: self.by_domain.clone(),
            subscriptions_total,
            api_requests,
            api_usage_before,
            api_usage_after,
        }
    }
}

/// Something the reader of a snapshot should know: data left out, counts that may not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Stable code, one of the `WARNING_*` constants.
    pub code: String,
    /// What happened and what to do, for a person.
    pub message: String,
    /// The Salesforce object (or `Object.Field`) concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Company names were given: user counts may not match the org-wide subscription counts.
pub const WARNING_COMPANY_FILTER_MISMATCH: &str = "company_filter_mismatch";
/// An optional source could not be read; its data is missing.
pub const WARNING_SOURCE_SKIPPED: &str = "source_skipped";
/// An optional field could not be read; it is written as null.
pub const WARNING_FIELD_UNAVAILABLE: &str = "field_unavailable";
/// Salesforce rotated the refresh token and there is no file to keep it in.
pub const WARNING_REFRESH_TOKEN_ROTATED: &str = "refresh_token_rotated";

impl Warning {
    /// A warning without a source.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into(), source: None }
    }

    /// A warning about one Salesforce object or field.
    pub fn about(code: &str, source: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into(), source: Some(source.into()) }
    }
}

/// A whole snapshot in memory, as the `json` format writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// See [`SnapshotHeader::schema_version`].
    pub schema_version: String,
    /// See [`SnapshotHeader::generator`].
    pub generator: Generator,
    /// See [`SnapshotHeader::collected_at`].
    pub collected_at: String,
    /// See [`SnapshotHeader::source`].
    pub source: Source,
    /// See [`SnapshotHeader::organization`].
    pub organization: Organization,
    /// See [`SnapshotHeader::filter`].
    pub filter: Filter,
    /// See [`SnapshotHeader::subscriptions`].
    pub subscriptions: Vec<Subscription>,
    /// See [`SnapshotHeader::profiles`].
    pub profiles: Vec<Profile>,
    /// The users written, in ascending id order.
    pub users: Vec<User>,
    /// Counts and costs.
    pub summary: Summary,
    /// Warnings, in the order they arose.
    pub warnings: Vec<Warning>,
}

impl Snapshot {
    /// Puts the streamed parts back together.
    pub fn from_parts(
        header: SnapshotHeader,
        users: Vec<User>,
        summary: Summary,
        warnings: Vec<Warning>,
    ) -> Self {
        Self {
            schema_version: header.schema_version,
            generator: header.generator,
            collected_at: header.collected_at,
            source: header.source,
            organization: header.organization,
            filter: header.filter,
            subscriptions: header.subscriptions,
            profiles: header.profiles,
            users,
            summary,
            warnings,
        }
    }

    /// The header part of this snapshot.
    pub fn header(&self) -> SnapshotHeader {
        SnapshotHeader {
            schema_version: self.schema_version.clone(),
            generator: self.generator.clone(),
            collected_at: self.collected_at.clone(),
            source: self.source.clone(),
            organization: self.organization.clone(),
            filter: self.filter.clone(),
            subscriptions: self.subscriptions.clone(),
            profiles: self.profiles.clone(),
        }
    }
}

/// Formats a point in time as RFC 3339 in UTC with a `Z`, whole seconds unless there are
/// milliseconds (`2024-01-15T10:30:00Z`, `2024-01-15T10:30:00.25Z`).
pub fn rfc3339_utc(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    // Salesforce keeps milliseconds; anything finer is dropped, and `.000` is not written.
    let chosen = utc.replace_millisecond(utc.millisecond()).unwrap_or(utc);
    // Formatting a UTC date-time between years 0 and 9999 with Rfc3339 cannot fail; fall back
    // to the Debug form rather than panicking on an absurd year.
    chosen.format(&Rfc3339).unwrap_or_else(|_| format!("{chosen:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_user_type_maps_to_its_account_kind_ignoring_case() {
        let cases = [
            ("Standard", AccountKind::Internal),
            ("PowerPartner", AccountKind::Partner),
            ("PowerCustomerSuccess", AccountKind::Customer),
            ("CustomerSuccess", AccountKind::Customer),
            ("CspLitePortal", AccountKind::Customer),
            ("CSPLitePortal", AccountKind::Customer),
            ("SelfService", AccountKind::Customer),
            ("CsnOnly", AccountKind::Chatter),
            ("CSNOnly", AccountKind::Chatter),
            ("Guest", AccountKind::Guest),
            ("AutomatedProcess", AccountKind::System),
            ("CloudIntegrationUser", AccountKind::System),
            ("LicenseManager", AccountKind::System),
            ("standard", AccountKind::Internal),
            (" GUEST ", AccountKind::Guest),
            ("SomethingNew", AccountKind::Other),
            ("", AccountKind::Other),
        ];
        for (user_type, kind) in cases {
            assert_eq!(AccountKind::from_user_type(Some(user_type)), kind, "{user_type:?}");
        }
        assert_eq!(AccountKind::from_user_type(None), AccountKind::Other);
    }

    #[test]
    fn account_kind_serializes_as_its_name() {
        for kind in AccountKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn times_are_utc_with_z_and_whole_seconds() {
        assert_eq!(rfc3339_utc(datetime!(2024-01-15 10:30:00 UTC)), "2024-01-15T10:30:00Z");
        assert_eq!(rfc3339_utc(datetime!(2024-01-15 12:30:00 +02:00)), "2024-01-15T10:30:00Z");
        assert_eq!(rfc3339_utc(datetime!(2024-01-15 10:30:00.250 UTC)), "2024-01-15T10:30:00.25Z");
        assert_eq!(rfc3339_utc(datetime!(2024-01-15 10:30:00.000_4 UTC)), "2024-01-15T10:30:00Z");
    }

    #[test]
    fn subscriptions_sort_by_source_then_id() {
        let make = |source, id: &str| Subscription {
            id: id.to_owned(),
            source,
            name: id.to_owned(),
            label: None,
            key: None,
            status: None,
            total: None,
            used: None,
            unlimited: false,
            expires_at: None,
        };
        let mut subscriptions = vec![
            make(SubscriptionSource::PackageLicense, "050A"),
            make(SubscriptionSource::UserLicense, "100B"),
            make(SubscriptionSource::PermissionSetLicense, "0PLA"),
            make(SubscriptionSource::UserLicense, "100A"),
        ];
        sort_subscriptions(&mut subscriptions);
        let ids: Vec<_> = subscriptions.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["100A", "100B", "0PLA", "050A"]);
    }

    #[test]
    fn free_seats_need_both_figures_and_a_limit() {
        let mut subscription = Subscription {
            id: "100000000000001".into(),
            source: SubscriptionSource::UserLicense,
            name: "Salesforce".into(),
            label: None,
            key: None,
            status: None,
            total: Some(10),
            used: Some(7),
            unlimited: false,
            expires_at: None,
        };
        assert_eq!(subscription.free(), Some(3));
        subscription.used = None;
        assert_eq!(subscription.free(), None);
        subscription.used = Some(7);
        subscription.unlimited = true;
        assert_eq!(subscription.free(), None);
    }

    #[test]
    fn tally_counts_written_users_by_kind_and_domain() {
        let user = |id: &str, email: Option<&str>, kind, active| User {
            id: id.into(),
            username: format!("{id}@example"),
            email: email.map(str::to_owned),
            email_domain: email.and_then(|e| e.split('@').nth(1)).map(str::to_ascii_lowercase),
            name: None,
            first_name: None,
            last_name: None,
            alias: None,
            active,
            user_type: None,
            account_kind: kind,
            profile_id: None,
            user_license_id: None,
            permission_set_license_ids: vec![],
            package_license_ids: vec![],
            last_login_at: None,
            created_at: None,
            company_name: None,
            department: None,
            title: None,
            city: None,
            country: None,
            country_code: None,
            federation_id: None,
            frozen: None,
            feature_licences: vec![],
            logins_in_window: None,
            last_login_application: None,
            last_login_type: None,
            unused_permission_set_license_ids: None,
        };
        let mut tally = UserTally::default();
        tally.count_written(&user("1", Some("a@Acme.com"), AccountKind::Internal, true));
        tally.count_written(&user("2", Some("b@acme.com"), AccountKind::Partner, false));
        tally.count_written(&user("3", None, AccountKind::Guest, true));
        tally.count_excluded();
        let summary = tally.summary(4, 12, Some(ApiUsageFigures { used: 1, max: 2 }), None);
        assert_eq!(summary.users_total, 3);
        assert_eq!(summary.users_active, 2);
        assert_eq!(summary.users_without_email, 1);
        assert_eq!(summary.users_excluded_by_filter, 1);
        assert_eq!(summary.users_by_kind.len(), 7);
        assert_eq!(summary.users_by_kind["internal"], 1);
        assert_eq!(summary.users_by_kind["partner"], 1);
        assert_eq!(summary.users_by_kind["guest"], 1);
        assert_eq!(summary.users_by_kind["system"], 0);
        assert_eq!(summary.users_by_domain["acme.com"], 2);
        assert_eq!(summary.users_by_domain[""], 1);
        assert_eq!(summary.subscriptions_total, 4);
        assert_eq!(summary.api_requests, 12);
    }
}
