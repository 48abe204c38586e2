//! The simulated org's data: a small fixed catalogue (organization, licences, profiles,
//! permission set licences, packages) plus users generated on demand from their index, so an org
//! of a million users costs no more memory than one of forty.
//!
//! Everything is deterministic in [`OrgSpec`](crate::OrgSpec): the same spec always yields the
//! same records, ids and dates.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use time::OffsetDateTime;

use crate::ids::{make_id, parse_id};

/// The moment the simulated org lives in (2025-06-01T12:00:00Z); all dates are relative to it.
pub const REFERENCE_TIME: i64 = 1_748_779_200;
const FIRST_USER_CREATED: i64 = 1_451_606_400; // 2016-01-01T00:00:00Z
const DAY: i64 = 86_400;

/// A Salesforce datetime (UTC, second precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SfDateTime(pub i64);

impl SfDateTime {
    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    fn parts(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Salesforce's REST form: `2024-01-15T10:30:00.000+0000`.
    pub fn salesforce(self) -> String {
        let t = self.parts();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000+0000",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// RFC 3339 UTC as sfconn writes it: `2024-01-15T10:30:00Z`.
    pub fn rfc3339(self) -> String {
        let t = self.parts();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl fmt::Display for SfDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.salesforce())
    }
}

/// A Salesforce date (`2024-01-15`), stored as the Unix time of its midnight UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SfDate(pub i64);

impl SfDate {
    /// `2024-01-15`, the same text in Salesforce's JSON and in sfconn's output.
    pub fn iso(self) -> String {
        let t = SfDateTime(self.0).parts();
        format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
    }
}

impl fmt::Display for SfDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}

/// The `Organization` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub organization_type: String,
    pub is_sandbox: bool,
    pub instance_name: String,
    pub country: String,
    pub created_date: SfDateTime,
}

/// A `UserLicense` row (a seat pool).
#[derive(Debug, Clone, PartialEq)]
pub struct UserLicense {
    pub id: String,
    pub name: String,
    pub master_label: String,
    pub license_definition_key: String,
    pub status: String,
    pub total_licenses: i64,
    /// Active users whose profile uses this licence.
    pub used_licenses: i64,
    pub created_date: SfDateTime,
}

/// A `Profile` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub user_type: String,
    pub user_license_id: String,
    pub description: Option<String>,
    pub created_date: SfDateTime,
}

/// A `PermissionSetLicense` row.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionSetLicense {
    pub id: String,
    pub developer_name: String,
    pub master_label: String,
    pub permission_set_license_key: String,
    pub status: String,
    pub expiration_date: Option<SfDate>,
    pub total_licenses: i64,
    /// Assignments (`PermissionSetLicenseAssign` rows) of this licence.
    pub used_licenses: i64,
    pub created_date: SfDateTime,
}

/// A `PermissionSetLicenseAssign` row.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionSetLicenseAssign {
    pub id: String,
    pub assignee_id: String,
    pub permission_set_license_id: String,
    pub created_date: SfDateTime,
}

/// A `PackageLicense` row. `allowed_licenses == -1` is a site licence.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageLicense {
    pub id: String,
    pub namespace_prefix: String,
    pub allowed_licenses: i64,
    pub used_licenses: i64,
    pub status: String,
    pub expiration_date: Option<SfDateTime>,
    pub created_date: SfDateTime,
}

/// A `UserPackageLicense` row (a package seat given to a user).
#[derive(Debug, Clone, PartialEq)]
pub struct UserPackageLicense {
    pub id: String,
    pub user_id: String,
    pub package_license_id: String,
    pub created_date: SfDateTime,
}

/// A `PermissionSet` row. `license_id` is a `PermissionSetLicense` id, the user licence of a
/// profile's own permission set, or `None` (no licence needed).
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionSet {
    pub id: String,
    pub name: String,
    pub license_id: Option<String>,
    pub is_owned_by_profile: bool,
    pub profile_id: Option<String>,
    pub created_date: SfDateTime,
}

/// A `PermissionSetGroupComponent` row: one permission set in one permission set group.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionSetGroupComponent {
    pub id: String,
    pub permission_set_group_id: String,
    pub permission_set_id: String,
    pub created_date: SfDateTime,
}

/// A `PermissionSetAssignment` row: a user holding a permission set, or a permission set group
/// (then `permission_set_group_id` is set and `permission_set_id` is the group's aggregate
/// permission set, as in Salesforce).
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionSetAssignment {
    pub id: String,
    pub assignee_id: String,
    pub permission_set_id: String,
    pub permission_set_group_id: Option<String>,
    pub system_modstamp: SfDateTime,
}

/// A `UserLogin` row: one per user; `IsFrozen` says whether an admin froze the user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserLogin {
    pub id: String,
    pub user_id: String,
    pub is_frozen: bool,
    pub last_modified_date: SfDateTime,
}

/// A `LoginHistory` row: one login attempt of a user (successful or not).
#[derive(Debug, Clone, PartialEq)]
pub struct LoginHistory {
    pub id: String,
    pub user_id: String,
    pub login_time: SfDateTime,
    /// `Success`, or why the login failed (`Invalid Password`, `User is Frozen`).
    pub status: &'static str,
    pub application: &'static str,
    pub login_type: &'static str,
}

/// How long Salesforce keeps `LoginHistory` (six months): the simulated org has rows this far
/// back and no further.
pub const LOGIN_HISTORY_DAYS: i64 = 180;

/// The applications a login comes from; one holds a comma and quotes, so that CSV quoting is
/// exercised by every Bulk result.
const LOGIN_APPLICATIONS: &[&str] =
    &["Browser", "Salesforce for iOS", "Salesforce for Android", "Acme Field App, \"Beta\"", "Data Loader"];
/// `LoginHistory.LoginType` values, paired with the application above by the same hash.
const LOGIN_TYPES: &[&str] =
    &["Application", "Remote Access 2.0", "SAML Sfdc Initiated SSO", "Remote Access 2.0", "Partner Product"];

/// The feature licences the simulated org has, as `User.UserPermissions*` checkboxes (name
/// without the prefix), and the percentage of internal (`Standard`) users holding each.
pub const FEATURE_LICENCES: [(&str, u64); 4] =
    [("MarketingUser", 20), ("KnowledgeUser", 15), ("SupportUser", 25), ("InteractionUser", 10)];

/// A `User` row, generated from its index.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Position in generation order (also `ORDER BY Id` order).
    pub index: usize,
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: String,
    pub name: String,
    pub alias: String,
    pub is_active: bool,
    pub user_type: String,
    pub profile_id: Option<String>,
    pub last_login_date: Option<SfDateTime>,
    pub created_date: SfDateTime,
    pub last_modified_date: SfDateTime,
    pub company_name: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
    pub federation_identifier: Option<String>,
    pub employee_number: Option<String>,
    pub is_portal_enabled: bool,
    /// `UserLogin.IsFrozen` of this user.
    pub is_frozen: bool,
    /// The `UserPermissions*` checkboxes that are on (names of [`FEATURE_LICENCES`]).
    pub feature_licences: Vec<&'static str>,
}

struct LicenseDef {
    name: &'static str,
    key: &'static str,
    status: &'static str,
    min_total: i64,
}

#[rustfmt::skip]
const LICENSES: &[LicenseDef] = &[
    LicenseDef { name: "Salesforce", key: "SFDC", status: "Active", min_total: 25 },
    LicenseDef { name: "Salesforce Platform", key: "AUL", status: "Active", min_total: 10 },
    LicenseDef { name: "Customer Community", key: "PID_Customer_Community", status: "Active", min_total: 100 },
    LicenseDef { name: "Customer Community Plus", key: "PID_Customer_Community_Plus", status: "Active", min_total: 20 },
    LicenseDef { name: "Partner Community", key: "PID_Partner_Community", status: "Active", min_total: 20 },
    LicenseDef { name: "Customer Portal Manager Standard", key: "PID_Customer_Portal_Standard", status: "Active", min_total: 10 },
    LicenseDef { name: "Chatter Free", key: "CSN_User", status: "Active", min_total: 5000 },
    LicenseDef { name: "Guest User License", key: "PID_Guest_User", status: "Active", min_total: 25 },
    LicenseDef { name: "Salesforce Integration", key: "CLOUD_INTEGRATION_USER", status: "Active", min_total: 5 },
    LicenseDef { name: "High Volume Customer Portal", key: "High Volume Customer Portal_User", status: "Active", min_total: 0 },
    LicenseDef { name: "Identity", key: "PID_Identity", status: "Active", min_total: 10 },
    LicenseDef { name: "Work.com Only", key: "PID_Work_com_Only", status: "Disabled", min_total: 0 },
];

struct ProfileDef {
    name: &'static str,
    user_type: &'static str,
    license: usize,
    description: Option<&'static str>,
}

#[rustfmt::skip]
const PROFILES: &[ProfileDef] = &[
    ProfileDef { name: "System Administrator", user_type: "Standard", license: 0, description: None },
    ProfileDef { name: "Standard User", user_type: "Standard", license: 0, description: None },
    ProfileDef { name: "Standard Platform User", user_type: "Standard", license: 1, description: None },
    ProfileDef { name: "Partner Community User", user_type: "PowerPartner", license: 4, description: None },
    ProfileDef { name: "Customer Community Plus User", user_type: "PowerCustomerSuccess", license: 3, description: None },
    ProfileDef { name: "Customer Portal User", user_type: "CustomerSuccess", license: 5, description: None },
    ProfileDef { name: "Customer Community User", user_type: "CspLitePortal", license: 2, description: None },
    ProfileDef { name: "Chatter Free User", user_type: "CsnOnly", license: 6, description: None },
    ProfileDef { name: "Acme Help Site Profile", user_type: "Guest", license: 7, description: Some("Guest user profile of the Acme help site") },
    ProfileDef { name: "Minimum Access - API Only Integrations", user_type: "CloudIntegrationUser", license: 8, description: Some("Platform integration user") },
    ProfileDef { name: "Legacy Self-Service User", user_type: "SelfService", license: 9, description: None },
    ProfileDef { name: "Identity User", user_type: "SomethingNew", license: 10, description: Some("A user type this connector has never seen") },
];

const P_ADMIN: usize = 0;
const P_STANDARD: usize = 1;
const P_PLATFORM: usize = 2;
const P_PARTNER: usize = 3;
const P_CC_PLUS: usize = 4;
const P_PORTAL: usize = 5;
const P_COMMUNITY: usize = 6;
const P_CHATTER: usize = 7;
const P_GUEST: usize = 8;
const P_INTEGRATION: usize = 9;
const P_SELF_SERVICE: usize = 10;
const P_NEW_KIND: usize = 11;

struct PslDef {
    developer_name: &'static str,
    label: &'static str,
    status: &'static str,
    expiration: Option<i64>,
    /// Percent of internal users holding it.
    percent: u64,
}

#[rustfmt::skip]
const PSLS: &[PslDef] = &[
    PslDef { developer_name: "SalesforceCPQ_CPQStandardPerm", label: "Salesforce CPQ License", status: "Active", expiration: None, percent: 35 },
    PslDef { developer_name: "SalesConsoleUser", label: "Sales Console User", status: "Active", expiration: None, percent: 20 },
    PslDef { developer_name: "IdentityConnect", label: "Identity Connect", status: "Active", expiration: Some(1_774_915_200), percent: 10 }, // 2026-03-31
    PslDef { developer_name: "EinsteinAnalyticsPlusPsl", label: "Einstein Analytics Plus", status: "Disabled", expiration: None, percent: 0 },
];

struct PackageDef {
    namespace: &'static str,
    status: &'static str,
    site_licence: bool,
    expiration: Option<i64>,
    percent: u64,
}

#[rustfmt::skip]
const PACKAGES: &[PackageDef] = &[
    PackageDef { namespace: "SBQQ", status: "Active", site_licence: false, expiration: Some(1_798_675_200), percent: 30 }, // 2026-12-31
    PackageDef { namespace: "dlrs", status: "Free", site_licence: true, expiration: None, percent: 3 },
    PackageDef { namespace: "et4ae5", status: "Expired", site_licence: false, expiration: Some(1_719_705_600), percent: 5 }, // 2024-06-30
    PackageDef { namespace: "FinServ", status: "Trial", site_licence: false, expiration: Some(1_759_190_400), percent: 15 }, // 2025-09-30
];

/// Assignment rows are indexed `user_index * SLOTS + k`, so their ids sort by user.
const PSL_SLOTS: u64 = 4;
const PACKAGE_SLOTS: u64 = 4;
/// `PermissionSetAssignment` slots per user: the profile's own permission set and one more.
const SET_SLOTS: u64 = 2;

/// The permission sets besides the profiles' own (those come first, one per profile, with the
/// profile's user licence as `LicenseId`): name and the index in [`PSLS`] of the licence each
/// needs. They follow in this order, ids `0PS` numbered after the profiles' sets.
#[rustfmt::skip]
const PERMISSION_SETS: &[(&str, Option<usize>)] = &[
    ("CPQ_User", Some(0)),
    ("Sales_Console_Agent", Some(1)),
    ("Report_Builder", None),
    ("Einstein_Analytics_Plus_User", Some(3)),
    // The aggregate permission set of the group `Sales_Team` (what a group assignment's
    // `PermissionSetId` points at); it needs no licence of its own.
    ("Sales_Team_Aggregate", None),
];
const PS_CPQ: usize = 0;
const PS_CONSOLE: usize = 1;
const PS_REPORTS: usize = 2;
const PS_GROUP_AGGREGATE: usize = 4;
/// The one permission set group, `0PG…1` (`Sales_Team`), and its components (indexes in
/// [`PERMISSION_SETS`]): the Sales Console licence comes with it.
const GROUP_COMPONENTS: &[usize] = &[PS_CONSOLE, PS_REPORTS];

/// The special users whose second `PermissionSetAssignment` row is pinned
/// ([`OrgData::second_assignment`]): Ana Lopez (2) gets the group `Sales_Team`, Olga Ivanova (5)
/// `Sales_Console_Agent` directly, Oscar Evil (32) `Report_Builder` although he holds the
/// Sales Console licence. Sam Admin (0) gets `CPQ_User` by the general rule.
const SPECIAL_SECOND: &[(usize, u64)] = &[(2, 6), (5, 8), (32, 9)];

/// What a user's second `PermissionSetAssignment` row assigns ([`OrgData::second_assignment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Granted {
    /// A permission set of [`PERMISSION_SETS`], directly.
    Set(usize),
    /// The group `Sales_Team`.
    Group,
}

struct SpecialUser {
    first: Option<&'static str>,
    last: &'static str,
    email: Option<&'static str>,
    user_type: &'static str,
    profile: Option<usize>,
    active: bool,
    last_login_days: Option<i64>,
    company: Option<&'static str>,
    federation: Option<&'static str>,
}

#[allow(clippy::too_many_arguments)] // a compact row constructor for the table below
const fn su(
    first: Option<&'static str>,
    last: &'static str,
    email: Option<&'static str>,
    user_type: &'static str,
    profile: Option<usize>,
    active: bool,
    last_login_days: Option<i64>,
    company: Option<&'static str>,
) -> SpecialUser {
    SpecialUser { first, last, email, user_type, profile, active, last_login_days, company, federation: None }
}

/// Users 0.. of every org: each edge case at least once. User 0 is the integration user that
/// the connected app's refresh token belongs to.
// su(FirstName, LastName, Email, UserType, profile, IsActive, last login (days ago), CompanyName)
#[rustfmt::skip]
const SPECIAL_USERS: &[SpecialUser] = &[
    su(Some("Sam"), "Admin", Some("sam.admin@acme.com"), "Standard", Some(P_ADMIN), true, Some(0), Some("Acme")),
    su(Some("Jo"), "Bloggs", Some("Jo@ACME.com"), "Standard", Some(P_STANDARD), true, Some(1), Some("Acme")),
    su(Some("Ana"), "Lopez", Some("ana.lopez@eu.acme.com"), "Standard", Some(P_STANDARD), true, Some(3), Some("Acme Europe")),
    su(Some("Raj"), "Patel", Some("raj.patel@acme.io"), "Standard", Some(P_PLATFORM), true, Some(7), Some("Acme")),
    su(Some("Wei"), "Chen", Some("wei.chen@acme.com"), "Standard", Some(P_STANDARD), false, Some(400), Some("Acme")),
    su(Some("Olga"), "Ivanova", Some("olga.ivanova@acme.com"), "Standard", Some(P_STANDARD), true, None, Some("Acme")),
    su(Some("Tom"), "Consultant", Some("tom@partnerco.com"), "Standard", Some(P_STANDARD), true, Some(2), Some("PartnerCo")),
    su(Some("Lisa"), "Freelance", Some("lisa.freelance@gmail.com"), "Standard", Some(P_STANDARD), true, Some(12), None),
    su(Some("Eve"), "Lookalike", Some("eve@notacme.com"), "Standard", Some(P_STANDARD), true, Some(5), Some("NotAcme")),
    su(Some("Mal"), "Suffix", Some("mal@acme.com.evil.io"), "Standard", Some(P_STANDARD), true, Some(9), None),
    su(Some("Paula"), "Partner", Some("paula@partnerco.com"), "PowerPartner", Some(P_PARTNER), true, Some(4), Some("PartnerCo")),
    su(Some("Pete"), "Reseller", Some("pete@resellers.example"), "PowerPartner", Some(P_PARTNER), false, Some(200), Some("Resellers Ltd")),
    su(Some("Carla"), "Customer", Some("carla@customer-corp.com"), "PowerCustomerSuccess", Some(P_CC_PLUS), true, Some(6), Some("Customer Corp")),
    su(Some("Cody"), "Portal", Some("cody@portal-client.com"), "CustomerSuccess", Some(P_PORTAL), true, Some(30), Some("Portal Client")),
    su(Some("Hank"), "Volume", Some("hank@bigretail.example"), "CspLitePortal", Some(P_COMMUNITY), true, Some(8), Some("Big Retail")),
    su(Some("Kim"), "Community", Some("kim@acme.com"), "CspLitePortal", Some(P_COMMUNITY), true, Some(10), Some("Acme")),
    su(Some("Chad"), "Chatter", Some("chad@acme.com"), "CsnOnly", Some(P_CHATTER), true, Some(11), Some("Acme")),
    su(Some("Chris"), "External", Some("chris@vendor.example"), "CsnOnly", Some(P_CHATTER), true, None, Some("Vendor")),
    su(None, "Site Guest User", None, "Guest", Some(P_GUEST), true, None, None),
    su(Some("Sally"), "Selfservice", Some("sally@oldportal.example"), "SelfService", Some(P_SELF_SERVICE), false, Some(900), None),
    su(None, "Automated Process", None, "AutomatedProcess", None, true, None, None),
    su(Some("Platform"), "Integration", Some("integration@acme.com"), "CloudIntegrationUser", Some(P_INTEGRATION), true, Some(0), Some("Acme")),
    su(Some("License"), "Manager", Some("noreply@salesforce.com"), "LicenseManager", None, true, None, None),
    su(Some("Nova"), "Newkind", Some("nova.newkind@acme.com"), "SomethingNew", Some(P_NEW_KIND), true, Some(15), Some("Acme")),
    su(Some("Dana"), "Upper", Some("DANA.UPPER@ACME.COM"), "Standard", Some(P_STANDARD), true, Some(2), Some("Acme")),
    su(Some("Ben"), "Deep", Some("ben.deep@a.b.eu.acme.com"), "Standard", Some(P_STANDARD), true, Some(4), Some("Acme Europe")),
    su(Some("Zed"), "Nodot", Some("zed@acmecom.net"), "Standard", Some(P_STANDARD), true, Some(21), None),
    SpecialUser { federation: Some("frank.federated@idp.acme.com"), ..su(Some("Frank"), "Federated", Some("frank.federated@acme.com"), "Standard", Some(P_STANDARD), true, Some(1), Some("Acme")) },
    su(Some("Gina"), "Platform", Some("gina.platform@acme.io"), "Standard", Some(P_PLATFORM), false, None, Some("Acme")),
    su(Some("Lee"), "Mixedcase", Some("lee@Acme.Io"), "Standard", Some(P_STANDARD), true, Some(3), Some("Acme")),
    su(Some("Max"), "O'Neil", Some("max_o'neil@acme.com"), "Standard", Some(P_STANDARD), true, Some(5), Some("Acme")),
    su(Some("Nora"), "Percent", Some("nora%sales@acme.com"), "Standard", Some(P_STANDARD), true, Some(6), Some("Acme")),
    su(Some("Oscar"), "Evil", Some("oscar@ACME.COM.evil.io"), "Standard", Some(P_STANDARD), true, Some(40), None),
    su(Some("Quinn"), "Partner", Some("quinn@acme.com"), "PowerPartner", Some(P_PARTNER), true, Some(13), Some("Acme")),
    su(Some("Rita"), "Neverlogged", Some("rita@customer-corp.com"), "CspLitePortal", Some(P_COMMUNITY), false, None, Some("Customer Corp")),
    su(Some("Uma"), "Chatter", Some("uma@acme.com"), "CsnOnly", Some(P_CHATTER), false, Some(365), Some("Acme")),
    su(Some("Victor"), "Vendor", Some("victor@vendor.example"), "PowerCustomerSuccess", Some(P_CC_PLUS), false, None, Some("Vendor")),
    su(Some("Wendy"), "Guest", Some("help-site@acme.com"), "Guest", Some(P_GUEST), true, None, None),
    su(Some("Xia"), "Admin", Some("xia.admin@acme.com"), "Standard", Some(P_ADMIN), true, Some(0), Some("Acme")),
    su(Some("Yuri"), "Inactive", Some("yuri@gmail.com"), "Standard", Some(P_STANDARD), false, Some(700), None),
];

/// How many users every org starts with (the edge cases); `OrgSpec::small()` has exactly these.
pub const SPECIAL_USER_COUNT: usize = SPECIAL_USERS.len();

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Alex",
    "Maria",
    "John",
    "Aisha",
    "Kenji",
    "Laura",
    "Mateo",
    "Priya",
    "Noah",
    "Fatima",
    "Lukas",
    "Chloe",
    "Omar",
    "Sofia",
    "Ethan",
    "Mei",
    "Jonas",
    "Amara",
    "Leo",
    "Ingrid",
];
#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Garcia",
    "Müller",
    "Nakamura",
    "Okafor",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Silva",
    "Haddad",
    "Jensen",
    "Kim",
    "Novak",
    "Costa",
    "Singh",
    "Larsen",
    "Moreau",
    "Ahmed",
    "Fischer",
    "Brown",
];
#[rustfmt::skip]
const CITIES: &[(&str, &str, &str)] = &[
    ("San Francisco", "United States", "US"),
    ("London", "United Kingdom", "GB"),
    ("Berlin", "Germany", "DE"),
    ("Tokyo", "Japan", "JP"),
    ("Paris", "France", "FR"),
    ("Toronto", "Canada", "CA"),
];
const DEPARTMENTS: &[&str] = &["Sales", "Support", "Finance", "Engineering", "Marketing", "Operations"];
const TITLES: &[&str] =
    &["Account Executive", "Support Engineer", "Analyst", "Manager", "Director", "Consultant"];

/// The cheap, string-free part of a user: enough to count licences.
#[derive(Debug, Clone, Copy)]
struct Shape {
    profile: Option<usize>,
    user_type: &'static str,
    active: bool,
}

pub(crate) fn mix(seed: u64, index: u64, salt: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(list: &[T], h: u64) -> T {
    list[usize::try_from(h % list.len() as u64).unwrap_or(0)]
}

/// Generic (non-special) users: which profile and which email domain, by bucket of 1000.
fn generic_kind(h: u64) -> (Option<usize>, &'static str, Option<&'static str>) {
    let alt = h >> 32;
    match h % 1000 {
        0..600 => (Some(P_STANDARD), "Standard", Some("acme.com")),
        600..650 => (Some(P_PLATFORM), "Standard", Some("acme.com")),
        650..700 => (Some(P_STANDARD), "Standard", Some("eu.acme.com")),
        700..740 => (Some(P_PLATFORM), "Standard", Some("acme.io")),
        740..760 => (Some(P_STANDARD), "Standard", Some(pick(&["partnerco.com", "gmail.com"], alt))),
        760..810 => {
            (Some(P_PARTNER), "PowerPartner", Some(pick(&["partnerco.com", "resellers.example"], alt)))
        }
        810..870 => (
            Some(P_COMMUNITY),
            "CspLitePortal",
            Some(pick(&["customer-corp.com", "bigretail.example", "gmail.com"], alt)),
        ),
        870..890 => (Some(P_CC_PLUS), "PowerCustomerSuccess", Some("customer-corp.com")),
        890..910 => (Some(P_PORTAL), "CustomerSuccess", Some("portal-client.com")),
        910..960 => (Some(P_CHATTER), "CsnOnly", Some(pick(&["acme.com", "vendor.example"], alt))),
        960..970 => (Some(P_GUEST), "Guest", None),
        970..980 => (Some(P_INTEGRATION), "CloudIntegrationUser", Some("acme.com")),
        980..985 => (Some(P_SELF_SERVICE), "SelfService", Some("oldportal.example")),
        985..990 => (Some(P_NEW_KIND), "SomethingNew", Some("acme.com")),
        990..995 => (Some(P_STANDARD), "Standard", Some("notacme.com")),
        _ => (Some(P_ADMIN), "Standard", Some("acme.com")),
    }
}

/// Changes to the generated users, to model the same org at a later run (add users by raising
/// `OrgSpec::users`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    /// Indexes of users deleted from the org: gone from queries and seat counts, ids not reused.
    pub removed: BTreeSet<usize>,
    /// Indexes of users deactivated since (`IsActive` false; they stop counting as used seats).
    pub deactivated: BTreeSet<usize>,
}

/// The generated ground truth of a simulated org.
#[derive(Debug, Clone)]
pub struct OrgData {
    seed: u64,
    user_slots: usize,
    /// `LoginHistory` rows before each user's first one (`user_slots + 1` entries; empty when
    /// the org has no login history): row slots are numbered user by user.
    login_offsets: Vec<u64>,
    logins_per_month: u32,
    changes: UserChanges,
    company_domains: Vec<String>,
    pub organization: Organization,
    pub user_licenses: Vec<UserLicense>,
    pub profiles: Vec<Profile>,
    pub permission_set_licenses: Vec<PermissionSetLicense>,
    pub package_licenses: Vec<PackageLicense>,
    /// The profiles' own permission sets (in profile order), then [`PERMISSION_SETS`].
    pub permission_sets: Vec<PermissionSet>,
    pub permission_set_group_components: Vec<PermissionSetGroupComponent>,
}

impl OrgData {
    /// Generates the org described by `spec` (scans the users once to count seats).
    pub fn generate(spec: &crate::OrgSpec) -> Self {
        let created = SfDateTime(FIRST_USER_CREATED - 30 * DAY);
        let organization = Organization {
            id: make_id("00D", spec.org_number),
            name: spec.org_name.clone(),
            organization_type: "Enterprise Edition".into(),
            is_sandbox: false,
            instance_name: "USA123".into(),
            country: "US".into(),
            created_date: created,
        };
        let mut data = OrgData {
            seed: spec.seed,
            user_slots: spec.users,
            login_offsets: Vec::new(),
            logins_per_month: spec.logins_per_month,
            changes: spec.user_changes.clone(),
            company_domains: spec.company_domains.clone(),
            organization,
            user_licenses: Vec::new(),
            profiles: Vec::new(),
            permission_set_licenses: Vec::new(),
            package_licenses: Vec::new(),
            permission_sets: Vec::new(),
            permission_set_group_components: Vec::new(),
        };
        let mut license_used = vec![0i64; LICENSES.len()];
        let mut psl_used = vec![0i64; PSLS.len()];
        let mut package_used = vec![0i64; PACKAGES.len()];
        for i in (0..spec.users).filter(|i| !spec.user_changes.removed.contains(i)) {
            let shape = data.shape(i);
            if let Some(p) = shape.profile
                && shape.active
            {
                license_used[PROFILES[p].license] += 1;
            }
            for (k, used) in psl_used.iter_mut().enumerate() {
                if data.has_psl(i, shape, k) {
                    *used += 1;
                }
            }
            for (k, used) in package_used.iter_mut().enumerate() {
                if data.has_package(i, shape, k) {
                    *used += 1;
                }
            }
        }
        if spec.logins_per_month > 0 {
            let mut offsets = Vec::with_capacity(spec.users + 1);
            let mut total = 0u64;
            offsets.push(0);
            for i in 0..spec.users {
                total += data.logins_of(i);
                offsets.push(total);
            }
            data.login_offsets = offsets;
        }
        data.user_licenses = LICENSES
            .iter()
            .enumerate()
            .map(|(k, def)| {
                let disabled = def.status == "Disabled";
                let used = if disabled { 0 } else { license_used[k] };
                let total =
                    if disabled { 0 } else { def.min_total.max(used + used / 5 + 2 * i64::from(used > 0)) };
                UserLicense {
                    id: make_id("100", k as u64 + 1),
                    name: def.name.into(),
                    master_label: def.name.into(),
                    license_definition_key: def.key.into(),
                    status: def.status.into(),
                    total_licenses: total,
                    used_licenses: used,
                    created_date: created,
                }
            })
            .collect();
        data.profiles = PROFILES
            .iter()
            .enumerate()
            .map(|(k, def)| Profile {
                id: make_id("00e", k as u64 + 1),
                name: def.name.into(),
                user_type: def.user_type.into(),
                user_license_id: make_id("100", def.license as u64 + 1),
                description: def.description.map(Into::into),
                created_date: created,
            })
            .collect();
        data.permission_set_licenses = PSLS
            .iter()
            .enumerate()
            .map(|(k, def)| {
                let used = psl_used[k];
                PermissionSetLicense {
                    id: make_id("0PL", k as u64 + 1),
                    developer_name: def.developer_name.into(),
                    master_label: def.label.into(),
                    permission_set_license_key: def.developer_name.into(),
                    status: def.status.into(),
                    expiration_date: def.expiration.map(SfDate),
                    total_licenses: if def.status == "Disabled" { 0 } else { used + used / 10 + 5 },
                    used_licenses: used,
                    created_date: created,
                }
            })
            .collect();
        let profile_sets = data.profiles.iter().map(|profile| PermissionSet {
            id: String::new(),
            name: format!("X{}", profile.id),
            license_id: Some(profile.user_license_id.clone()),
            is_owned_by_profile: true,
            profile_id: Some(profile.id.clone()),
            created_date: created,
        });
        let other_sets = PERMISSION_SETS.iter().map(|(name, licence)| PermissionSet {
            id: String::new(),
            name: (*name).into(),
            license_id: licence.map(|k| make_id("0PL", k as u64 + 1)),
            is_owned_by_profile: false,
            profile_id: None,
            created_date: created,
        });
        data.permission_sets = profile_sets
            .chain(other_sets)
            .enumerate()
            .map(|(k, set)| PermissionSet { id: make_id("0PS", k as u64 + 1), ..set })
            .collect();
        data.permission_set_group_components = GROUP_COMPONENTS
            .iter()
            .enumerate()
            .map(|(k, set)| PermissionSetGroupComponent {
                id: make_id("0PR", k as u64 + 1),
                permission_set_group_id: make_id("0PG", 1),
                permission_set_id: data.other_set_id(*set),
                created_date: created,
            })
            .collect();
        data.package_licenses = PACKAGES
            .iter()
            .enumerate()
            .map(|(k, def)| PackageLicense {
                id: make_id("050", k as u64 + 1),
                namespace_prefix: def.namespace.into(),
                allowed_licenses: if def.site_licence {
                    -1
                } else {
                    package_used[k] + package_used[k] / 4 + 5
                },
                used_licenses: if def.site_licence { -1 } else { package_used[k] },
                status: def.status.into(),
                expiration_date: def.expiration.map(SfDateTime),
                created_date: created,
            })
            .collect();
        data
    }

    /// Number of users (removed ones not counted).
    pub fn user_count(&self) -> usize {
        self.user_slots - self.changes.removed.range(..self.user_slots).count()
    }

    /// Size of the user index space: `OrgSpec::users`, removed users included. Valid indexes
    /// for [`OrgData::user`] are `0..user_slots()`.
    pub fn user_slots(&self) -> usize {
        self.user_slots
    }

    /// Whether no user has been removed (then every index is a user).
    pub(crate) fn users_are_dense(&self) -> bool {
        self.changes.removed.range(..self.user_slots).next().is_none()
    }

    fn exists(&self, index: usize) -> bool {
        index < self.user_slots && !self.changes.removed.contains(&index)
    }

    /// The company domains the org's own staff use (e.g. `acme.com`, `acme.io`).
    pub fn company_domains(&self) -> &[String] {
        &self.company_domains
    }

    fn shape(&self, index: usize) -> Shape {
        if let Some(s) = SPECIAL_USERS.get(index) {
            let active = s.active && !self.changes.deactivated.contains(&index);
            return Shape { profile: s.profile, user_type: s.user_type, active };
        }
        let (profile, user_type, _) = generic_kind(mix(self.seed, index as u64, 1));
        let active =
            !mix(self.seed, index as u64, 2).is_multiple_of(10) && !self.changes.deactivated.contains(&index);
        Shape { profile, user_type, active }
    }

    fn has_psl(&self, index: usize, shape: Shape, k: usize) -> bool {
        if shape.user_type != "Standard" || PSLS[k].percent == 0 {
            return false;
        }
        index == 0 || mix(self.seed, index as u64, 10 + k as u64) % 100 < PSLS[k].percent
    }

    fn has_package(&self, index: usize, shape: Shape, k: usize) -> bool {
        if shape.user_type != "Standard" {
            return false;
        }
        index == 0 || mix(self.seed, index as u64, 20 + k as u64) % 100 < PACKAGES[k].percent
    }

    /// User number `index` (`0..user_slots()`), or `None` past the end or when removed.
    pub fn user(&self, index: usize) -> Option<User> {
        self.exists(index).then(|| self.build_user(index))
    }

    fn build_user(&self, index: usize) -> User {
        let i = index as u64;
        let h = mix(self.seed, i, 3);
        let created = SfDateTime(FIRST_USER_CREATED + (i as i64) * 60);
        let (first, last, email, user_type, profile, active, last_login_days, company, federation) =
            match SPECIAL_USERS.get(index) {
                Some(s) => (
                    s.first.map(String::from),
                    s.last.to_string(),
                    s.email.map(String::from),
                    s.user_type,
                    s.profile,
                    s.active && !self.changes.deactivated.contains(&index),
                    s.last_login_days,
                    s.company.map(String::from),
                    s.federation.map(String::from),
                ),
                None => {
                    let shape = self.shape(index);
                    let (_, _, domain) = generic_kind(mix(self.seed, i, 1));
                    let first = pick(FIRST_NAMES, h).to_string();
                    let last = pick(LAST_NAMES, h >> 16).to_string();
                    let email = domain.map(|d| {
                        format!(
                            "{}.{}{}@{}",
                            first.to_lowercase(),
                            ascii_fold(&last).to_lowercase(),
                            index,
                            d
                        )
                    });
                    let login = mix(self.seed, i, 4);
                    let last_login = (!login.is_multiple_of(8)).then_some(((login >> 8) % 400) as i64);
                    let company = domain.map(company_of);
                    (
                        Some(first),
                        last,
                        email,
                        shape.user_type,
                        shape.profile,
                        shape.active,
                        last_login,
                        company,
                        None,
                    )
                }
            };
        let name = match &first {
            Some(f) => format!("{f} {last}"),
            None => last.clone(),
        };
        let username = match &email {
            Some(e) => format!("{}.sim", e.to_lowercase()),
            None => {
                format!("{}.{}@acme-sim.force.com", ascii_fold(&last).to_lowercase().replace(' ', ""), index)
            }
        };
        let alias: String = format!(
            "{}{}",
            first.as_deref().and_then(|f| f.chars().next()).unwrap_or('x'),
            ascii_fold(&last).replace([' ', '\''], "")
        )
        .to_lowercase()
        .chars()
        .take(8)
        .collect();
        let last_login_date =
            last_login_days.map(|d| SfDateTime(REFERENCE_TIME - d * DAY - (h % 36_000) as i64));
        let external =
            !matches!(user_type, "Standard" | "AutomatedProcess" | "CloudIntegrationUser" | "LicenseManager");
        let (city, country, country_code) = pick(CITIES, h >> 24);
        let people = email.is_some() && user_type != "Guest";
        User {
            index,
            id: make_id("005", i + 1),
            username,
            email,
            first_name: first,
            last_name: last,
            name,
            alias,
            is_active: active,
            user_type: user_type.to_string(),
            profile_id: profile.map(|p| make_id("00e", p as u64 + 1)),
            last_login_date,
            created_date: created,
            last_modified_date: SfDateTime(created.0 + ((h >> 8) % 300) as i64 * DAY),
            company_name: company,
            department: people.then(|| pick(DEPARTMENTS, h >> 32).to_string()),
            title: people.then(|| pick(TITLES, h >> 40).to_string()),
            city: people.then(|| city.to_string()),
            country: people.then(|| country.to_string()),
            country_code: people.then(|| country_code.to_string()),
            federation_identifier: federation,
            employee_number: (user_type == "Standard").then(|| format!("E{:06}", index)),
            is_portal_enabled: external && user_type != "Guest" && user_type != "CsnOnly",
            is_frozen: self.is_frozen(index),
            feature_licences: self.feature_licences(index, user_type),
        }
    }

    /// Whether user `index` is frozen: about 8 % of the active internal users, and user 3 of
    /// the special users (an active licensed admin-style account), so every org has one.
    fn is_frozen(&self, index: usize) -> bool {
        let shape = self.shape(index);
        shape.active
            && shape.user_type == "Standard"
            && (index == 3 || mix(self.seed, index as u64, 30) % 100 < 8)
    }

    /// The feature licences of user `index` (internal users only, as in Salesforce).
    fn feature_licences(&self, index: usize, user_type: &str) -> Vec<&'static str> {
        if user_type != "Standard" {
            return Vec::new();
        }
        (0u64..)
            .zip(FEATURE_LICENCES)
            .filter(|(k, (_, percent))| index == 0 || mix(self.seed, index as u64, 31 + k) % 100 < *percent)
            .map(|(_, (name, _))| name)
            .collect()
    }

    /// The `UserLogin` row of user slot `slot` (one per user, in user order).
    pub(crate) fn user_login_at(&self, slot: u64) -> Option<UserLogin> {
        let index = usize::try_from(slot).ok()?;
        if !self.exists(index) {
            return None;
        }
        let created = FIRST_USER_CREATED + index as i64 * 60;
        Some(UserLogin {
            id: make_id("0Yw", slot + 1),
            user_id: make_id("005", slot + 1),
            is_frozen: self.is_frozen(index),
            last_modified_date: SfDateTime(created + 3 * DAY),
        })
    }

    /// How many `LoginHistory` rows user `index` has over the six months kept: none for
    /// removed, inactive, guest and automated users; frozen users only have failed attempts;
    /// the others log in `OrgSpec::logins_per_month` times a month, times a factor of their
    /// own (0 for one in five: zero activity; a quarter for one in five: low activity; 1 or 2
    /// for the rest).
    fn logins_of(&self, index: usize) -> u64 {
        if !self.exists(index) {
            return 0;
        }
        let shape = self.shape(index);
        if !shape.active || matches!(shape.user_type, "Guest" | "AutomatedProcess") {
            return 0;
        }
        let months = (LOGIN_HISTORY_DAYS / 30) as u64;
        let monthly = u64::from(self.logins_per_month);
        if self.is_frozen(index) {
            return mix(self.seed, index as u64, 40) % 3;
        }
        match (index, mix(self.seed, index as u64, 41) % 10) {
            (0, _) => monthly * months,
            (_, 0 | 1) => 0,
            (_, 2 | 3) => (monthly * months).div_ceil(4),
            (_, 9) => 2 * monthly * months,
            _ => monthly * months,
        }
    }

    /// Number of `LoginHistory` slots (every slot holds a row).
    pub(crate) fn login_history_slots(&self) -> u64 {
        self.login_offsets.last().copied().unwrap_or(0)
    }

    /// The `LoginHistory` row in slot `slot`: rows are numbered user by user (so `Id` order is
    /// also `UserId` order), each user's newest first, spread over the six months kept.
    pub(crate) fn login_history_at(&self, slot: u64) -> Option<LoginHistory> {
        if slot >= self.login_history_slots() {
            return None;
        }
        let user = self.login_offsets.partition_point(|first| *first <= slot).checked_sub(1)?;
        let k = slot - self.login_offsets[user];
        let count = self.login_offsets[user + 1] - self.login_offsets[user];
        let h = mix(self.seed, slot, 42);
        let span = LOGIN_HISTORY_DAYS * DAY - 3_600;
        let spacing = span / i64::try_from(count.max(1)).unwrap_or(1);
        let at =
            i64::try_from(k).unwrap_or(0) * spacing + i64::try_from(h % spacing.max(1) as u64).unwrap_or(0);
        let frozen = self.is_frozen(user);
        let status = if frozen {
            "User is Frozen"
        } else if h.is_multiple_of(13) {
            "Invalid Password"
        } else {
            "Success"
        };
        let kind = usize::try_from((h >> 20) % LOGIN_APPLICATIONS.len() as u64).unwrap_or(0);
        Some(LoginHistory {
            id: make_id("0Ya", slot + 1),
            user_id: make_id("005", user as u64 + 1),
            login_time: SfDateTime(REFERENCE_TIME - 60 - at),
            status,
            application: LOGIN_APPLICATIONS[kind],
            login_type: LOGIN_TYPES[kind],
        })
    }

    /// Every `LoginHistory` row of user `index`, newest first.
    pub fn login_history_of(&self, index: usize) -> impl Iterator<Item = LoginHistory> + '_ {
        let range = match (self.login_offsets.get(index), self.login_offsets.get(index + 1)) {
            (Some(first), Some(end)) => *first..*end,
            _ => 0..0,
        };
        range.filter_map(|slot| self.login_history_at(slot))
    }

    /// The first moment of SOQL's `LAST_N_DAYS:days` in the simulated org: midnight (UTC) of
    /// its current day ([`REFERENCE_TIME`]) minus `days` days.
    pub fn last_n_days_start(days: u32) -> SfDateTime {
        SfDateTime(REFERENCE_TIME - REFERENCE_TIME.rem_euclid(DAY) - i64::from(days) * DAY)
    }

    /// All `UserLogin` rows, in id order.
    pub fn user_logins(&self) -> impl Iterator<Item = UserLogin> + '_ {
        (0..self.user_slots as u64).filter_map(|s| self.user_login_at(s))
    }

    /// All users in id order, generated one at a time.
    pub fn users(&self) -> impl Iterator<Item = User> + '_ {
        (0..self.user_slots).filter_map(|i| self.user(i))
    }

    /// Active users holding each feature licence, by the lower-case name of its checkbox
    /// (`userpermissionsmarketinguser`); every checkbox of [`FEATURE_LICENCES`] is there.
    pub fn active_feature_holders(&self) -> HashMap<String, u64> {
        let mut counts: HashMap<&str, u64> = FEATURE_LICENCES.iter().map(|(name, _)| (*name, 0)).collect();
        for user in self.users().filter(|user| user.is_active) {
            for name in &user.feature_licences {
                *counts.entry(name).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|(name, count)| (format!("userpermissions{}", name.to_ascii_lowercase()), count))
            .collect()
    }

    /// The index of the user with this 15- or 18-character id.
    pub fn user_index(&self, id: &str) -> Option<usize> {
        let n = usize::try_from(parse_id("005", id)?).ok()?;
        let index = n.checked_sub(1)?;
        self.exists(index).then_some(index)
    }

    /// The user the connected app's tokens belong to (user 0, a System Administrator; it exists
    /// even in an org generated with zero users).
    pub fn integration_user(&self) -> User {
        self.build_user(0)
    }

    /// The profile with this id.
    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.id == id || p.id.get(..15) == Some(id))
    }

    /// The permission set licence with this `PermissionSetLicenseKey`.
    pub fn permission_set_license_by_key(&self, key: &str) -> Option<&PermissionSetLicense> {
        self.permission_set_licenses.iter().find(|licence| licence.permission_set_license_key == key)
    }

    /// The user licence with this id.
    pub fn user_license(&self, id: &str) -> Option<&UserLicense> {
        self.user_licenses.iter().find(|l| l.id == id || l.id.get(..15) == Some(id))
    }

    /// The user licence a user's profile points at (`None` for users without a profile).
    pub fn license_of(&self, user: &User) -> Option<&UserLicense> {
        let profile = self.profile(user.profile_id.as_deref()?)?;
        self.user_license(&profile.user_license_id)
    }

    /// The id of [`PERMISSION_SETS`]`[k]` (numbered after the profiles' own sets).
    fn other_set_id(&self, k: usize) -> String {
        make_id("0PS", (PROFILES.len() + k) as u64 + 1)
    }

    /// What the second `PermissionSetAssignment` row of user `index` assigns. The rule (every
    /// user with a profile has exactly two rows; the first is the profile's own permission
    /// set): by `mix(seed, index, 50) % 10` (for the special users, which every org has, the
    /// value of [`SPECIAL_SECOND`], else `index % 10`, so that each case is in the smallest org):
    /// - 0–5, when the user holds the CPQ licence: `CPQ_User` (which needs it);
    /// - 6–7, when the user holds the Sales Console licence: the group `Sales_Team` (whose
    ///   `Sales_Console_Agent` needs it);
    /// - 8, when the user holds the Sales Console licence: `Sales_Console_Agent` directly;
    /// - anything else: `Report_Builder`, which needs no licence.
    ///
    /// So a licence is used when that row grants it, and unused otherwise: CPQ or Sales
    /// Console held but not granted, and Identity Connect always (no permission set needs it;
    /// sfconn lists it as a known exception). The profiles' own permission sets need user
    /// licences only.
    fn second_assignment(&self, index: usize, shape: Shape) -> Granted {
        let h = match SPECIAL_SECOND.iter().find(|(special, _)| *special == index) {
            Some((_, h)) => *h,
            None if index < SPECIAL_USERS.len() => index as u64 % 10,
            None => mix(self.seed, index as u64, 50) % 10,
        };
        match h {
            0..=5 if self.has_psl(index, shape, 0) => Granted::Set(PS_CPQ),
            6 | 7 if self.has_psl(index, shape, 1) => Granted::Group,
            8 if self.has_psl(index, shape, 1) => Granted::Set(PS_CONSOLE),
            _ => Granted::Set(PS_REPORTS),
        }
    }

    /// Size of the index space of `PermissionSetAssignment` rows.
    pub(crate) fn set_assignment_slots(&self) -> u64 {
        self.user_slots as u64 * SET_SLOTS
    }

    /// The `PermissionSetAssignment` in slot `slot`, if that slot holds one.
    pub(crate) fn set_assignment_at(&self, slot: u64) -> Option<PermissionSetAssignment> {
        let index = usize::try_from(slot / SET_SLOTS).ok()?;
        if !self.exists(index) {
            return None;
        }
        let shape = self.shape(index);
        let profile = shape.profile?;
        let (permission_set_id, permission_set_group_id) =
            match (slot % SET_SLOTS, self.second_assignment(index, shape)) {
                (0, _) => (self.permission_sets[profile].id.clone(), None),
                (_, Granted::Set(k)) => (self.other_set_id(k), None),
                (_, Granted::Group) => (self.other_set_id(PS_GROUP_AGGREGATE), Some(make_id("0PG", 1))),
            };
        Some(PermissionSetAssignment {
            id: make_id("0Pa", slot + 1),
            assignee_id: make_id("005", index as u64 + 1),
            permission_set_id,
            permission_set_group_id,
            system_modstamp: SfDateTime(FIRST_USER_CREATED + index as i64 * 60 + DAY),
        })
    }

    /// All `PermissionSetAssignment` rows, in id order (which is also user order).
    pub fn set_assignments(&self) -> impl Iterator<Item = PermissionSetAssignment> + '_ {
        (0..self.set_assignment_slots()).filter_map(|s| self.set_assignment_at(s))
    }

    /// The `PermissionSetAssignment` rows sfconn asks for (`WHERE PermissionSet.IsOwnedByProfile
    /// = false AND (PermissionSet.LicenseId != null OR PermissionSetGroupId != null)`): those
    /// that can grant a permission set licence. In id order.
    pub fn licence_granting_set_assignments(&self) -> impl Iterator<Item = PermissionSetAssignment> + '_ {
        self.set_assignments().filter(|row| {
            row.permission_set_group_id.is_some()
                || self.permission_sets.iter().any(|set| {
                    set.id == row.permission_set_id && !set.is_owned_by_profile && set.license_id.is_some()
                })
        })
    }

    /// The permission set licences user `index` holds that its permission sets grant (directly,
    /// through the group, or through the profile's own set), as this org's data says: the
    /// ground truth for the unused-assignment rule (before its exceptions). Sorted.
    pub fn granted_permission_set_licences(&self, index: usize) -> Vec<String> {
        let licence_of = |set_id: &str| {
            self.permission_sets.iter().find(|set| set.id == set_id).and_then(|set| set.license_id.clone())
        };
        let first = index as u64 * SET_SLOTS;
        let mut granted: Vec<String> = (first..first + SET_SLOTS)
            .filter_map(|slot| self.set_assignment_at(slot))
            .flat_map(|row| match &row.permission_set_group_id {
                Some(group) => self
                    .permission_set_group_components
                    .iter()
                    .filter(|component| &component.permission_set_group_id == group)
                    .filter_map(|component| licence_of(&component.permission_set_id))
                    .collect::<Vec<_>>(),
                None => licence_of(&row.permission_set_id).into_iter().collect(),
            })
            .filter(|licence| licence.starts_with("0PL"))
            .collect();
        granted.sort_unstable();
        granted.dedup();
        granted
    }

    /// Size of the index space of `PermissionSetLicenseAssign` rows (most slots are empty).
    pub(crate) fn psl_assignment_slots(&self) -> u64 {
        self.user_slots as u64 * PSL_SLOTS
    }

    /// The assignment in slot `slot`, if that slot holds one.
    pub(crate) fn psl_assignment_at(&self, slot: u64) -> Option<PermissionSetLicenseAssign> {
        let index = usize::try_from(slot / PSL_SLOTS).ok()?;
        let k = (slot % PSL_SLOTS) as usize;
        if !self.exists(index) || k >= PSLS.len() || !self.has_psl(index, self.shape(index), k) {
            return None;
        }
        Some(PermissionSetLicenseAssign {
            id: make_id("2LA", slot + 1),
            assignee_id: make_id("005", index as u64 + 1),
            permission_set_license_id: make_id("0PL", k as u64 + 1),
            created_date: SfDateTime(FIRST_USER_CREATED + index as i64 * 60 + DAY),
        })
    }

    /// All `PermissionSetLicenseAssign` rows, in id order.
    pub fn psl_assignments(&self) -> impl Iterator<Item = PermissionSetLicenseAssign> + '_ {
        (0..self.psl_assignment_slots()).filter_map(|s| self.psl_assignment_at(s))
    }

    pub(crate) fn package_assignment_slots(&self) -> u64 {
        self.user_slots as u64 * PACKAGE_SLOTS
    }

    pub(crate) fn user_package_license_at(&self, slot: u64) -> Option<UserPackageLicense> {
        let index = usize::try_from(slot / PACKAGE_SLOTS).ok()?;
        let k = (slot % PACKAGE_SLOTS) as usize;
        if !self.exists(index) || k >= PACKAGES.len() || !self.has_package(index, self.shape(index), k) {
            return None;
        }
        Some(UserPackageLicense {
            id: make_id("051", slot + 1),
            user_id: make_id("005", index as u64 + 1),
            package_license_id: make_id("050", k as u64 + 1),
            created_date: SfDateTime(FIRST_USER_CREATED + index as i64 * 60 + 2 * DAY),
        })
    }

    /// All `UserPackageLicense` rows, in id order.
    pub fn user_package_licenses(&self) -> impl Iterator<Item = UserPackageLicense> + '_ {
        (0..self.package_assignment_slots()).filter_map(|s| self.user_package_license_at(s))
    }
}

fn company_of(domain: &str) -> String {
    match domain {
        "acme.com" | "acme.io" => "Acme".into(),
        "eu.acme.com" => "Acme Europe".into(),
        "gmail.com" => "Freelance".into(),
        other => {
            let base = other.split('.').next().unwrap_or(other);
            let mut c = base.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        }
    }
}

fn ascii_fold(s: &str) -> String {
    s.chars().map(|c| if c == 'ü' { 'u' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrgSpec;

    #[test]
    fn small_org_covers_every_user_type_and_edge_case() {
        let data = OrgData::generate(&OrgSpec::small());
        let users: Vec<User> = data.users().collect();
        assert_eq!(users.len(), SPECIAL_USER_COUNT);
        for ty in [
            "Standard",
            "PowerPartner",
            "PowerCustomerSuccess",
            "CustomerSuccess",
            "CspLitePortal",
            "CsnOnly",
            "Guest",
            "SelfService",
            "AutomatedProcess",
            "CloudIntegrationUser",
            "LicenseManager",
            "SomethingNew",
        ] {
            assert!(users.iter().any(|u| u.user_type == ty), "no user of type {ty}");
        }
        assert!(users.iter().any(|u| u.email.is_none()));
        assert!(users.iter().any(|u| !u.is_active));
        assert!(users.iter().any(|u| u.last_login_date.is_none()));
        assert!(users.iter().any(|u| u.profile_id.is_none()));
        assert!(users.iter().any(|u| u.email.as_deref() == Some("Jo@ACME.com")));
        assert!(users.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn seat_counts_match_the_generated_users() {
        let data = OrgData::generate(&OrgSpec::with_users(3_000));
        for licence in &data.user_licenses {
            let active = data
                .users()
                .filter(|u| u.is_active && data.license_of(u).map(|l| &l.id) == Some(&licence.id))
                .count() as i64;
            assert_eq!(licence.used_licenses, active, "{}", licence.name);
            assert!(licence.used_licenses <= licence.total_licenses || licence.status == "Disabled");
        }
        for psl in &data.permission_set_licenses {
            let n = data.psl_assignments().filter(|a| a.permission_set_license_id == psl.id).count() as i64;
            assert_eq!(psl.used_licenses, n);
        }
        let site = data.package_licenses.iter().find(|p| p.allowed_licenses == -1);
        assert!(site.is_some_and(|p| p.expiration_date.is_none()));
        assert!(data.user_licenses.iter().any(|l| l.status == "Disabled" && l.total_licenses == 0));
    }

    #[test]
    fn generation_is_deterministic_and_seed_dependent() {
        let a = OrgData::generate(&OrgSpec::with_users(500));
        let b = OrgData::generate(&OrgSpec::with_users(500));
        let c = OrgData::generate(&OrgSpec { seed: 99, ..OrgSpec::with_users(500) });
        assert_eq!(a.user(450), b.user(450));
        assert_ne!(a.user(450), c.user(450));
        assert_eq!(a.user_index(&a.user(450).map(|u| u.id).unwrap_or_default()), Some(450));
    }

    /// The small org holds every case of the unused-assignment rule at least once: a licence
    /// granted directly, one granted through the group, one held and granted by nothing, the
    /// Identity Connect licence (granted by nothing) and every user with a profile has its
    /// profile's own permission set plus exactly one more.
    #[test]
    fn small_org_covers_every_case_of_the_unused_assignment_rule() {
        let data = OrgData::generate(&OrgSpec::small());
        let rows: Vec<PermissionSetAssignment> = data.set_assignments().collect();
        let with_profile = data.users().filter(|u| u.profile_id.is_some()).count();
        assert_eq!(rows.len(), 2 * with_profile);
        assert!(rows.windows(2).all(|w| w[0].assignee_id <= w[1].assignee_id && w[0].id < w[1].id));
        let profile_sets: Vec<&PermissionSet> =
            data.permission_sets.iter().filter(|s| s.is_owned_by_profile).collect();
        assert_eq!(profile_sets.len(), data.profiles.len());
        assert!(profile_sets.iter().all(|s| s.license_id.as_deref().is_some_and(|l| l.starts_with("100"))));
        assert!(rows.iter().any(|r| r.permission_set_group_id.is_some()), "a group assignment");
        let held = |index: usize| -> Vec<String> {
            let id = make_id("005", index as u64 + 1);
            data.psl_assignments()
                .filter(|a| a.assignee_id == id)
                .map(|a| a.permission_set_license_id)
                .collect()
        };
        let (cpq, console, identity) = (make_id("0PL", 1), make_id("0PL", 2), make_id("0PL", 3));
        let users: Vec<usize> = data.users().map(|u| u.index).collect();
        let granted_through_group = users.iter().any(|i| {
            let first = *i as u64 * SET_SLOTS + 1;
            data.set_assignment_at(first).is_some_and(|r| r.permission_set_group_id.is_some())
                && data.granted_permission_set_licences(*i) == [console.clone()]
        });
        assert!(granted_through_group, "Sales Console through the group");
        assert!(
            users.iter().any(|i| data.granted_permission_set_licences(*i).contains(&cpq)),
            "CPQ directly"
        );
        assert!(
            users.iter().any(|i| held(*i)
                .iter()
                .any(|l| !data.granted_permission_set_licences(*i).contains(l) && *l != identity)),
            "a licence held and granted by nothing"
        );
        assert!(users.iter().any(|i| held(*i).contains(&identity)), "Identity Connect held");
        assert!(users.iter().all(|i| !data.granted_permission_set_licences(*i).contains(&identity)));
    }

    #[test]
    fn datetimes_use_salesforce_and_rfc3339_forms() {
        assert_eq!(SfDateTime(REFERENCE_TIME).salesforce(), "2025-06-01T12:00:00.000+0000");
        assert_eq!(SfDateTime(REFERENCE_TIME).rfc3339(), "2025-06-01T12:00:00Z");
        assert_eq!(SfDate(1_774_915_200).iso(), "2026-03-31");
    }

    #[test]
    fn removed_and_deactivated_users_change_rows_and_seat_counts() {
        let before = OrgData::generate(&OrgSpec::with_users(200));
        let mut spec = OrgSpec::with_users(210);
        spec.user_changes.removed.extend([1, 150]);
        spec.user_changes.deactivated.insert(0);
        let after = OrgData::generate(&spec);
        assert_eq!(after.user_count(), 208);
        assert_eq!(after.user_slots(), 210);
        assert!(after.user(1).is_none() && after.user(150).is_none());
        assert_eq!(after.users().count(), 208);
        let removed_id = before.user(1).map(|u| u.id).unwrap_or_default();
        assert_eq!(after.user_index(&removed_id), None);
        assert!(after.user(0).is_some_and(|u| !u.is_active));
        assert!(after.psl_assignments().all(|a| a.assignee_id != removed_id));
        for licence in &after.user_licenses {
            let active = after
                .users()
                .filter(|u| u.is_active && after.license_of(u).map(|l| &l.id) == Some(&licence.id))
                .count() as i64;
            assert_eq!(licence.used_licenses, active, "{}", licence.name);
        }
        assert_eq!(before.user(5), after.user(5), "untouched users stay identical");
    }
}
