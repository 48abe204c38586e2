//! The licence report as data: what [`Store::report`](crate::Store::report) computes and every
//! renderer (`table`, `json`, `csv`) reads. Plain values only, so that a new format (HTML is
//! next) needs nothing but these types. docs/report.md defines every figure.

use serde::Serialize;

use crate::{Money, SnapshotInfo, SubscriptionSource};

/// The licence report of one stored snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub snapshot: SnapshotInfo,
    pub inactive_days: u32,
    /// `collected_at` minus `inactive_days`: a last login before this is too old.
    pub inactive_before: String,
    /// Fewer successful logins than this in the login-activity window is low activity.
    pub min_logins: u32,
    /// The seats reclaiming frees, and what they cost when prices are given.
    pub money: MoneySummary,
    pub subscriptions: Vec<SubscriptionUse>,
    /// Each reclaim class: whether it could be computed and how many candidates it has.
    pub classes: Vec<ClassCount>,
    /// By class ([`ReclaimClass`] order), then user id: the users of the user-level classes.
    pub reclaim_candidates: Vec<ReclaimCandidate>,
    /// The `unused_assignment` class: one per (user, permission set licence) assignment that
    /// none of the user's permission sets uses, by user id then licence; users of
    /// `reclaim_candidates` are not listed again. Empty when the class was not computed.
    pub unused_assignments: Vec<UnusedAssignment>,
    /// How the snapshot's login activity was collected, and the users by logins in the window.
    pub login_activity: LoginActivityReport,
    /// The org's feature licences (`organization.feature_licences`); None when the snapshot
    /// does not list them.
    pub feature_licences: Option<Vec<FeatureLicenceUse>>,
    pub third_party: ThirdPartyFootprint,
    pub over_assigned: Vec<OverAssigned>,
}

/// Why a user, or one licence assignment, is a reclaim candidate. The first four are
/// user-level (they reclaim every paid licence the user holds): a user in several of them is
/// listed once, under the first: `frozen`, then `never_logged_in` / `inactive`, then
/// `low_activity`. `unused_assignment` is per assignment ([`UnusedAssignment`]) and leaves out
/// the users of the user-level classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReclaimClass {
    /// Active, frozen (cannot log in) and holding a paid licence.
    Frozen,
    /// Never logged in, and the account is older than the window.
    NeverLoggedIn,
    /// Last login before the window.
    Inactive,
    /// Fewer than `min_logins` successful logins in the login-activity window.
    LowActivity,
    /// A permission set licence assigned to the user that none of the user's permission sets
    /// uses: the assignment, not the user, is reclaimed.
    UnusedAssignment,
}

impl ReclaimClass {
    pub const ALL: [ReclaimClass; 5] = [
        ReclaimClass::Frozen,
        ReclaimClass::NeverLoggedIn,
        ReclaimClass::Inactive,
        ReclaimClass::LowActivity,
        ReclaimClass::UnusedAssignment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReclaimClass::Frozen => "frozen",
            ReclaimClass::NeverLoggedIn => "never_logged_in",
            ReclaimClass::Inactive => "inactive",
            ReclaimClass::LowActivity => "low_activity",
            ReclaimClass::UnusedAssignment => "unused_assignment",
        }
    }

    /// The order candidates are listed in: `never_logged_in` and `inactive` share a rank (both
    /// are "no recent login"), so they stay in user id order among themselves.
    pub fn rank(self) -> u8 {
        match self {
            ReclaimClass::Frozen => 0,
            ReclaimClass::NeverLoggedIn | ReclaimClass::Inactive => 1,
            ReclaimClass::LowActivity => 2,
            ReclaimClass::UnusedAssignment => 3,
        }
    }

    /// What the class means, for people.
    pub fn describe(self) -> &'static str {
        match self {
            ReclaimClass::Frozen => "frozen but licensed",
            ReclaimClass::NeverLoggedIn => "never logged in",
            ReclaimClass::Inactive => "no recent login",
            ReclaimClass::LowActivity => "low activity",
            ReclaimClass::UnusedAssignment => "unused permission set licence assignment",
        }
    }
}

impl std::fmt::Display for ReclaimClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reclaim class of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ClassCount {
    pub class: ReclaimClass,
    /// False when the snapshot lacks what the class needs (no `frozen` for `frozen`, no login
    /// activity for `low_activity`): then `candidates` is null, not 0.
    pub computed: bool,
    pub candidates: Option<i64>,
    /// Why the class was not computed, for people; None when it was.
    pub not_computed_because: Option<&'static str>,
}

/// The snapshot's login activity and the distribution of logins in its window.
#[derive(Debug, Clone, Serialize)]
pub struct LoginActivityReport {
    /// `collected`; `not_collected` (the run did not ask for it); `unreadable` (LoginHistory
    /// could not be read); `unknown` (stored before sfconn kept it).
    pub state: &'static str,
    /// The window in days before `collected_at`, when collected.
    pub days: Option<i64>,
    /// `rest` or `bulk`, when collected.
    pub path: Option<String>,
    /// LoginHistory rows read, when collected.
    pub rows: Option<i64>,
    /// Active users who are people (not guest or system accounts) by successful logins in the
    /// window ([`LOGIN_BUCKETS`]); empty when not collected.
    pub distribution: Vec<LoginBucket>,
}

impl LoginActivityReport {
    pub fn collected(&self) -> bool {
        self.state == "collected"
    }
}

/// The buckets of the login distribution: (label, fewest logins, most logins or None).
pub const LOGIN_BUCKETS: [(&str, i64, Option<i64>); 4] =
    [("0", 0, Some(0)), ("1-4", 1, Some(4)), ("5-19", 5, Some(19)), ("20+", 20, None)];

/// Users whose logins in the window fall within `min..=max` (no upper bound when `max` is None).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginBucket {
    pub label: &'static str,
    pub min: i64,
    pub max: Option<i64>,
    pub users: i64,
    /// Of them, users holding a paid licence.
    pub paid_users: i64,
}

/// One feature licence of the org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureLicenceUse {
    /// The checkbox without `UserPermissions`: `MarketingUser`.
    pub name: String,
    pub label: Option<String>,
    /// Active users with the checkbox on, org-wide.
    pub used: i64,
    /// Seats bought; None when the org does not report it.
    pub total: Option<i64>,
}

/// The report's money view (docs/report.md, "Money"): the paid seats reclaiming frees, and with
/// prices their cost. Amounts are per month unless named `_yearly` (12 months).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MoneySummary {
    /// The prices' currency (ISO 4217); None when no prices were given: then every amount is
    /// None and the report is in seats.
    pub currency: Option<String>,
    /// Reclaimable seats of every subscription (paid ones only hold any).
    pub reclaimable_seats: i64,
    /// Of them, seats in subscriptions without a price (not in the amounts).
    pub unpriced_reclaimable_seats: i64,
    /// What the reclaimable seats cost per month: the sum of the subscriptions'
    /// `reclaimable_monthly`.
    pub reclaimable_monthly: Option<Money>,
    pub reclaimable_yearly: Option<Money>,
    /// What the priced subscriptions' seats bought cost per month (`bought_monthly` summed).
    pub bought_monthly: Option<Money>,
}

impl MoneySummary {
    /// The sum of several summaries in one currency (`report --all-orgs`).
    pub fn sum<'a>(
        summaries: impl IntoIterator<Item = &'a MoneySummary>,
        currency: Option<&str>,
    ) -> MoneySummary {
        let add = |a: Option<Money>, b: Option<Money>| match (a, b) {
            (Some(a), Some(b)) => Some(a.plus(b)),
            (a, b) => a.or(b),
        };
        let mut total = MoneySummary { currency: currency.map(str::to_owned), ..MoneySummary::default() };
        let priced = currency.is_some();
        for summary in summaries {
            total.reclaimable_seats += summary.reclaimable_seats;
            total.unpriced_reclaimable_seats += summary.unpriced_reclaimable_seats;
            if priced {
                total.reclaimable_monthly = add(total.reclaimable_monthly, summary.reclaimable_monthly);
                total.reclaimable_yearly = add(total.reclaimable_yearly, summary.reclaimable_yearly);
                total.bought_monthly = add(total.bought_monthly, summary.bought_monthly);
            }
        }
        if priced {
            total.reclaimable_monthly.get_or_insert(Money::ZERO);
            total.reclaimable_yearly.get_or_insert(Money::ZERO);
            total.bought_monthly.get_or_insert(Money::ZERO);
        }
        total
    }
}

impl MoneySummary {
    /// The report's top line: "About N CUR/month reclaimable (about N CUR/year): M paid seats
    /// held by reclaim candidates", or without prices the seats and how to add prices.
    pub fn headline(&self) -> String {
        self.line(true)
    }

    /// [`MoneySummary::headline`], without the hint when `hint` is false (an org of
    /// `report --all-orgs`, whose total line has it).
    pub fn line(&self, hint: bool) -> String {
        let seats = format!(
            "{} paid seat{} held by reclaim candidates",
            self.reclaimable_seats,
            if self.reclaimable_seats == 1 { "" } else { "s" }
        );
        let (Some(currency), Some(monthly), Some(yearly)) =
            (&self.currency, self.reclaimable_monthly, self.reclaimable_yearly)
        else {
            return if hint {
                format!("Reclaimable: {seats}; {PRICES_HINT}")
            } else {
                format!("Reclaimable: {seats}")
            };
        };
        let mut line = format!(
            "About {} {currency}/month reclaimable (about {} {currency}/year): {seats}",
            monthly.rounded_grouped(),
            yearly.rounded_grouped()
        );
        if self.unpriced_reclaimable_seats > 0 {
            line.push_str(&format!(", {} of them without a price", self.unpriced_reclaimable_seats));
        }
        line
    }
}

/// The one-line hint of a report without prices.
pub const PRICES_HINT: &str = "add prices to see this in money: a [prices] table in the config file, or report --prices FILE (docs/configuration.md)";

/// One subscription's seats.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionUse {
    pub source: SubscriptionSource,
    pub id: String,
    pub name: String,
    pub label: Option<String>,
    /// `LicenseDefinitionKey` or `PermissionSetLicenseKey`, when the snapshot has one.
    pub key: Option<String>,
    pub status: Option<String>,
    /// Seats bought; None when unlimited or unknown.
    pub total: Option<i64>,
    pub used: Option<i64>,
    /// `total - used`, never below 0 (see `over_assigned`); None when unlimited or unknown.
    pub free: Option<i64>,
    /// `used / total` in percent, one decimal; None when unlimited, unknown or `total` is 0.
    pub utilisation_percent: Option<f64>,
    pub unlimited: bool,
    /// Whether holding it counts as paid (see docs/report.md).
    pub paid: bool,
    /// Seats that could be freed: the reclaim candidates holding it, but for the Salesforce
    /// Integration licence no more than the seats used beyond `included_seats`.
    pub reclaimable: i64,
    /// Seats the edition includes at no cost (the Salesforce Integration licence only).
    pub included_seats: Option<i64>,
    /// Price per seat per month, when the prices name this subscription.
    pub price_per_seat: Option<Money>,
    /// Seats bought (beyond `included_seats`) times the price, per month; None without a price
    /// or a seat limit.
    pub bought_monthly: Option<Money>,
    /// `reclaimable` times the price, per month and per year (12 months).
    pub reclaimable_monthly: Option<Money>,
    pub reclaimable_yearly: Option<Money>,
    /// Of them, seats held by candidates of the `frozen` class; None when the snapshot does
    /// not say who is frozen.
    pub frozen_seats: Option<i64>,
    /// Of them, seats held by candidates of the `low_activity` class; None when the snapshot
    /// has no login activity.
    pub low_activity_seats: Option<i64>,
    /// Seats held by unused assignments (the `unused_assignment` class) of this permission set
    /// licence. For a paid licence they are part of `reclaimable`; a free one's are listed
    /// but neither reclaimable nor costed. None when the snapshot does not say which
    /// assignments are unused; 0 for a subscription that is not a permission set licence.
    pub unused_assignment_seats: Option<i64>,
}

/// An active user holding at least one paid licence who is frozen, has not logged in recently,
/// or logs in rarely.
#[derive(Debug, Clone, Serialize)]
pub struct ReclaimCandidate {
    pub user_id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub account_kind: String,
    pub profile: Option<String>,
    pub last_login_at: Option<String>,
    /// Whole days between the last login and `collected_at`; None when never logged in.
    pub days_since_login: Option<i64>,
    pub created_at: Option<String>,
    /// The user's first class: `frozen`, `never_logged_in`, `inactive` or `low_activity`.
    pub reason: ReclaimClass,
    /// `UserLogin.IsFrozen`; None when unknown.
    pub frozen: Option<bool>,
    /// Successful logins in the login-activity window; None when not collected.
    pub logins_in_window: Option<i64>,
    /// The paid licences the user holds: what reclaiming frees.
    pub paid_licences: Vec<HeldLicence>,
}

/// One permission set licence assignment that none of the user's permission sets uses (the
/// `unused_assignment` class): removing the `PermissionSetLicenseAssign` row frees the seat.
#[derive(Debug, Clone, Serialize)]
pub struct UnusedAssignment {
    pub user_id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub account_kind: String,
    pub profile: Option<String>,
    pub last_login_at: Option<String>,
    /// Successful logins in the login-activity window; None when not collected.
    pub logins_in_window: Option<i64>,
    /// The `PermissionSetLicense` id.
    pub licence_id: String,
    /// The licence's label, else its name.
    pub licence: String,
    /// `PermissionSetLicenseKey`, when the snapshot has it.
    pub key: Option<String>,
    /// Whether the licence is paid: a free one is listed, never costed nor reclaimable.
    pub paid: bool,
    /// The licence's price per seat per month when it is paid and priced: what removing the
    /// assignment saves.
    pub monthly: Option<Money>,
    /// What to do, for people: "remove the PermissionSetLicenseAssign of USERNAME for
    /// LICENCE (KEY)".
    pub action: String,
}

impl UnusedAssignment {
    /// The [`UnusedAssignment::action`] text.
    pub fn action_text(username: &str, licence: &str, key: Option<&str>) -> String {
        match key {
            Some(key) => format!("remove the PermissionSetLicenseAssign of {username} for {licence} ({key})"),
            None => format!("remove the PermissionSetLicenseAssign of {username} for {licence}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldLicence {
    pub source: SubscriptionSource,
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThirdPartyFootprint {
    /// The snapshot's company names.
    pub company_names: Vec<String>,
    /// True when the snapshot was collected with `*`: there are no company domains to leave
    /// out, so every domain is listed.
    pub all_domains_shown: bool,
    /// Users by email domain outside the company names, most users first. Users without an
    /// email are counted under `domain: null`.
    pub domains: Vec<DomainCount>,
    /// Users whose `account_kind` is not `internal`.
    pub external_by_kind: Vec<KindCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DomainCount {
    pub domain: Option<String>,
    pub users: i64,
    pub active: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KindCount {
    pub account_kind: String,
    pub users: i64,
    pub active: i64,
}

/// A subscription with more seats used than bought.
#[derive(Debug, Clone, Serialize)]
pub struct OverAssigned {
    pub source: SubscriptionSource,
    pub id: String,
    pub name: String,
    pub total: i64,
    pub used: i64,
    pub over_by: i64,
}

/// What the HTML report shows beyond [`Report`] (whose figures it shows unchanged): details of
/// the snapshot the store keeps, and each paid subscription's seats over time. Kept apart from
/// [`Report`] so that `-f json`, `-f table` and `-f csv` stay as they are.
#[derive(Debug, Clone, Serialize)]
pub struct ReportContext {
    pub edition: Option<String>,
    pub instance_name: Option<String>,
    /// Name and version of the program that collected the snapshot (`sfconn 0.1.0`).
    pub collected_by: String,
    pub api_version: String,
    /// HTTP requests the collecting run sent (the snapshot's `summary.api_requests`).
    pub api_requests: Option<i64>,
    pub api_usage_before: Option<ApiUsage>,
    pub api_usage_after: Option<ApiUsage>,
    /// The snapshot's warnings (company-name mismatch, skipped sources, ...).
    pub warnings: Vec<SnapshotWarning>,
    /// One series per paid subscription with a seat limit in the reported snapshot: its seats in
    /// every snapshot of the same org collected up to the reported one, oldest first.
    pub history: Vec<UsageSeries>,
    /// Snapshots of the org up to the reported one (1 when it is the only one).
    pub snapshots_in_history: usize,
}

/// The org's daily API requests: `used` of `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ApiUsage {
    pub used: i64,
    pub max: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SnapshotWarning {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub source: Option<String>,
}

/// One subscription's seats over time.
#[derive(Debug, Clone, Serialize)]
pub struct UsageSeries {
    pub source: SubscriptionSource,
    pub id: String,
    /// The label, else the name, as in the reported snapshot.
    pub name: String,
    pub points: Vec<UsagePoint>,
}

/// A subscription's seats in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsagePoint {
    pub snapshot: crate::SnapshotId,
    pub collected_at: String,
    pub used: Option<i64>,
    pub total: Option<i64>,
}

/// `sfconn report --all-orgs`: the latest snapshot of every org in the store, each org's seats,
/// and the people who hold a paid licence in more than one org (docs/report.md, "Cross-org
/// view").
#[derive(Debug, Clone, Serialize)]
pub struct CrossOrgReport {
    pub inactive_days: u32,
    /// Every org's money view summed, in the one currency of the prices.
    pub money: MoneySummary,
    /// One per org (told apart by organization id), by org name then id.
    pub orgs: Vec<OrgSubscriptions>,
    /// People holding a paid licence in two orgs or more, by `key` (ignoring case).
    pub duplicates: Vec<DuplicatePerson>,
}

/// One org's latest snapshot and its subscriptions, with the figures of the single-org report.
#[derive(Debug, Clone, Serialize)]
pub struct OrgSubscriptions {
    pub snapshot: SnapshotInfo,
    /// This snapshot's `collected_at` minus `inactive_days`.
    pub inactive_before: String,
    /// This org's money view.
    pub money: MoneySummary,
    pub subscriptions: Vec<SubscriptionUse>,
}

/// An org as the cross-org view names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OrgRef {
    pub org_id: String,
    pub org_name: String,
}

/// How the accounts of one person were recognised as the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The same `federation_id`.
    FederationId,
    /// No `federation_id` on this account: the same email, ignoring case.
    Email,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::FederationId => "federation_id",
            MatchedBy::Email => "email",
        }
    }
}

/// Whether an account's last login is within the window (`inactive_days` before its snapshot
/// was collected): the rule of the reclaim candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Logged in within the window.
    Active,
    /// Last login before the window.
    Inactive,
    /// Never logged in, and the account is older than the window (or of unknown age).
    NeverLoggedIn,
    /// Never logged in, created within the window: not a waste yet.
    New,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Active => "active",
            Activity::Inactive => "inactive",
            Activity::NeverLoggedIn => "never_logged_in",
            Activity::New => "new",
        }
    }
}

/// One person's paid accounts in two orgs or more: the seats a company pays for twice.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicatePerson {
    /// What the accounts share: `federation_id` when the person has one, else `email`.
    pub matched_by: MatchedBy,
    /// The federation id, or the email in lower case.
    pub key: String,
    /// The orgs in which the person has an `active` account (logged in within the window).
    pub active_in: Vec<OrgRef>,
    /// Every paid account of the person, by org name, org id, username.
    pub accounts: Vec<OrgAccount>,
}

/// One active account holding at least one paid licence, in one org's latest snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct OrgAccount {
    pub org_id: String,
    pub org_name: String,
    pub snapshot: crate::SnapshotId,
    pub user_id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub federation_id: Option<String>,
    /// How this account was matched to the person's `key`.
    pub matched_by: MatchedBy,
    pub last_login_at: Option<String>,
    /// Whole days between the last login and the snapshot's `collected_at`.
    pub days_since_login: Option<i64>,
    pub activity: Activity,
    /// No login within the window here (`inactive` or `never_logged_in`) while the person is
    /// `active` in another org: the seat to reclaim.
    pub reclaim_candidate: bool,
    /// The paid licences the account holds.
    pub paid_licences: Vec<HeldLicence>,
}
