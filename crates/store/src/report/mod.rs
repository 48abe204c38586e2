//! `sfconn report`: seat use per subscription, reclaim candidates, the third-party footprint and
//! over-assigned licences of one stored snapshot. Every figure is explained in docs/report.md.
//!
//! Computing and rendering are apart: [`Store::report`](crate::Store::report) (`read`: the SQL,
//! `compute`: the rules) builds a [`Report`] (`model`: plain, serialisable data), and each
//! format renders that model and nothing else (`table`, `csv`, `html`, and `-f json` below).
//! `html` also shows a [`ReportContext`] (`context`: the snapshot's details and seat history).

mod compute;
mod context;
mod cross_org;
mod csv;
mod html;
mod model;
mod read;
mod table;

use std::io::Write;

pub use html::{HTML_MAX_CANDIDATES, HTML_MAX_DOMAINS, HtmlOptions};
pub use model::{
    Activity, ApiUsage, ClassCount, CrossOrgReport, DomainCount, DuplicatePerson, FeatureLicenceUse,
    HeldLicence, KindCount, LOGIN_BUCKETS, LoginActivityReport, LoginBucket, MatchedBy, MoneySummary,
    OrgAccount, OrgRef, OrgSubscriptions, OverAssigned, ReclaimCandidate, ReclaimClass, Report,
    ReportContext, SnapshotWarning, SubscriptionUse, ThirdPartyFootprint, UnusedAssignment, UsagePoint,
    UsageSeries,
};

use crate::{PaidRules, Prices, StoreError, render};

/// The default of `--inactive-days`.
pub const DEFAULT_INACTIVE_DAYS: u32 = 90;

/// The default of `--min-logins` (setting `report.min_logins`): fewer successful logins than
/// this in the login-activity window is low activity (docs/report.md).
pub const DEFAULT_MIN_LOGINS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// A user who has not logged in within this many days before the snapshot was collected is
    /// inactive.
    pub inactive_days: u32,
    /// A user holding a paid licence with fewer successful logins than this in the snapshot's
    /// login-activity window is of the `low_activity` class.
    pub min_logins: u32,
    /// Which licences are paid beyond the built-in table (`report.paid_keys`,
    /// `report.free_keys`).
    pub paid: PaidRules,
    /// Prices per seat per month (`[prices]` or `report --prices FILE`); None: the report is in
    /// seats only.
    pub prices: Option<Prices>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            inactive_days: DEFAULT_INACTIVE_DAYS,
            min_logins: DEFAULT_MIN_LOGINS,
            paid: PaidRules::default(),
            prices: None,
        }
    }
}

impl Report {
    /// `-f json`: the report as one JSON document.
    pub fn write_json(&self, out: &mut dyn Write) -> Result<(), StoreError> {
        render::json("report", self, out)
    }
}

impl CrossOrgReport {
    /// `-f json`: the cross-org view as one JSON document (its shape is in docs/report.md).
    pub fn write_json(&self, out: &mut dyn Write) -> Result<(), StoreError> {
        render::json("cross-org report", self, out)
    }
}
