//! `sfconn report`: seat use per subscription, reclaim candidates, the third-party footprint and
//! over-assigned licences of one stored snapshot. Every figure is explained in docs/report.md.

use std::collections::BTreeMap;
use std::io::Write;

use rusqlite::params;
use serde::Serialize;
use sfconn_filter::CompanyFilter;
use time::Duration;

use crate::paid::{LicenceFacts, is_paid};
use crate::table::{Table, opt};
use crate::{SnapshotId, SnapshotInfo, Store, StoreError, SubscriptionSource, timefmt};

/// The default of `--inactive-days`.
pub const DEFAULT_INACTIVE_DAYS: u32 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    /// A user who has not logged in within this many days before the snapshot was collected is
    /// inactive.
    pub inactive_days: u32,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { inactive_days: DEFAULT_INACTIVE_DAYS }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub snapshot: SnapshotInfo,
    pub inactive_days: u32,
    /// `collected_at` minus `inactive_days`: a last login before this is too old.
    pub inactive_before: String,
    pub subscriptions: Vec<SubscriptionUse>,
    pub reclaim_candidates: Vec<ReclaimCandidate>,
    pub third_party: ThirdPartyFootprint,
    pub over_assigned: Vec<OverAssigned>,
}

/// One subscription's seats.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionUse {
    pub source: SubscriptionSource,
    pub id: String,
    pub name: String,
    pub label: Option<String>,
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
    /// Reclaim candidates holding it: seats that could be freed.
    pub reclaimable: i64,
}

/// An active user holding at least one paid licence with no recent login.
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
    /// `never_logged_in` or `inactive`.
    pub reason: &'static str,
    /// The paid licences the user holds: what reclaiming frees.
    pub paid_licences: Vec<HeldLicence>,
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

const KIND_ORDER: &[&str] = &["partner", "customer", "chatter", "guest", "system", "other"];

struct StoredSubscription {
    source: SubscriptionSource,
    id: String,
    name: String,
    label: Option<String>,
    key: Option<String>,
    status: Option<String>,
    total: Option<i64>,
    used: Option<i64>,
    unlimited: bool,
}

impl StoredSubscription {
    fn paid(&self) -> bool {
        is_paid(&LicenceFacts {
            source: self.source,
            name: &self.name,
            label: self.label.as_deref(),
            key: self.key.as_deref(),
            status: self.status.as_deref(),
            unlimited: self.unlimited,
        })
    }

    fn display_name(&self) -> String {
        self.label.clone().unwrap_or_else(|| self.name.clone())
    }
}

fn utilisation(used: Option<i64>, total: Option<i64>) -> Option<f64> {
    let (used, total) = (used?, total?);
    if total <= 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // seat counts are far below 2^52
    let percent = used as f64 * 100.0 / total as f64;
    Some((percent * 10.0).round() / 10.0)
}

impl Store {
    /// Subscriptions of a snapshot, by source then id (the snapshot's own order).
    fn stored_subscriptions(&self, snapshot: SnapshotId) -> Result<Vec<StoredSubscription>, StoreError> {
        let context = "reading subscriptions";
        let mut statement = self
            .conn
            .prepare(
                "SELECT source, id, name, label, key, status, total, used, unlimited FROM subscriptions
                 WHERE snapshot_id = ?1
                 ORDER BY CASE source WHEN 'UserLicense' THEN 0 WHEN 'PermissionSetLicense' THEN 1 ELSE 2 END, id",
            )
            .map_err(StoreError::sqlite(context))?;
        let rows = statement
            .query_map(params![snapshot.0], |row| {
                let source: String = row.get(0)?;
                Ok(StoredSubscription {
                    source: SubscriptionSource::parse(&source).unwrap_or(SubscriptionSource::UserLicense),
                    id: row.get(1)?,
                    name: row.get(2)?,
                    label: row.get(3)?,
                    key: row.get(4)?,
                    status: row.get(5)?,
                    total: row.get(6)?,
                    used: row.get(7)?,
                    unlimited: row.get(8)?,
                })
            })
            .map_err(StoreError::sqlite(context))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::sqlite(context))
    }

    /// The licence report of one stored snapshot.
    pub fn report(&self, snapshot: &SnapshotInfo, options: ReportOptions) -> Result<Report, StoreError> {
        let collected_at = timefmt::parse("collected_at", &snapshot.collected_at)?;
        // A window reaching before year -9999 means: since the beginning of time.
        let cutoff = collected_at
            .checked_sub(Duration::days(i64::from(options.inactive_days)))
            .unwrap_or(time::PrimitiveDateTime::MIN.assume_utc());
        let inactive_before = timefmt::format(cutoff);
        let subscriptions = self.stored_subscriptions(snapshot.id)?;
        let by_id: BTreeMap<&str, &StoredSubscription> =
            subscriptions.iter().map(|s| (s.id.as_str(), s)).collect();

        let reclaim_candidates = self.reclaim_candidates(snapshot, &inactive_before, &by_id)?;
        let mut reclaimable: BTreeMap<&str, i64> = BTreeMap::new();
        for candidate in &reclaim_candidates {
            for licence in &candidate.paid_licences {
                *reclaimable.entry(licence.id.as_str()).or_default() += 1;
            }
        }

        let uses = subscriptions
            .iter()
            .map(|s| {
                let bounded = !s.unlimited;
                SubscriptionUse {
                    source: s.source,
                    id: s.id.clone(),
                    name: s.name.clone(),
                    label: s.label.clone(),
                    status: s.status.clone(),
                    total: s.total.filter(|_| bounded),
                    // A site licence may report -1 used: unknown, not a count.
                    used: s.used.filter(|used| *used >= 0 || !s.unlimited),
                    free: match (s.total, s.used) {
                        (Some(total), Some(used)) if bounded => Some((total - used).max(0)),
                        _ => None,
                    },
                    utilisation_percent: if bounded { utilisation(s.used, s.total) } else { None },
                    unlimited: s.unlimited,
                    paid: s.paid(),
                    reclaimable: reclaimable.get(s.id.as_str()).copied().unwrap_or(0),
                }
            })
            .collect();

        let over_assigned = subscriptions
            .iter()
            .filter_map(|s| match (s.total, s.used) {
                (Some(total), Some(used)) if !s.unlimited && used > total => Some(OverAssigned {
                    source: s.source,
                    id: s.id.clone(),
                    name: s.display_name(),
                    total,
                    used,
                    over_by: used - total,
                }),
                _ => None,
            })
            .collect();

        Ok(Report {
            snapshot: snapshot.clone(),
            inactive_days: options.inactive_days,
            inactive_before,
            subscriptions: uses,
            reclaim_candidates,
            third_party: self.third_party(snapshot)?,
            over_assigned,
        })
    }

    fn reclaim_candidates(
        &self,
        snapshot: &SnapshotInfo,
        inactive_before: &str,
        subscriptions: &BTreeMap<&str, &StoredSubscription>,
    ) -> Result<Vec<ReclaimCandidate>, StoreError> {
        let context = "finding reclaim candidates";
        let collected_at = timefmt::parse("collected_at", &snapshot.collected_at)?;
        // Active people (not guest or system accounts) whose last login is older than the
        // threshold, or who never logged in although their account is older than it.
        let mut statement = self
            .conn
            .prepare(
                "SELECT u.id, u.username, u.email, u.name, u.account_kind, p.name, u.last_login_at, u.created_at,
                        l.subscription_id
                 FROM users u
                 JOIN user_licences l ON l.snapshot_id = u.snapshot_id AND l.user_id = u.id
                 LEFT JOIN profiles p ON p.snapshot_id = u.snapshot_id AND p.id = u.profile_id
                 WHERE u.snapshot_id = ?1 AND u.active = 1 AND u.account_kind NOT IN ('guest', 'system')
                   AND (u.last_login_at < ?2
                        OR (u.last_login_at IS NULL AND (u.created_at IS NULL OR u.created_at < ?2)))
                 ORDER BY u.id, CASE l.source WHEN 'UserLicense' THEN 0 WHEN 'PermissionSetLicense' THEN 1 ELSE 2 END,
                          l.subscription_id",
            )
            .map_err(StoreError::sqlite(context))?;
        let mut rows =
            statement.query(params![snapshot.id.0, inactive_before]).map_err(StoreError::sqlite(context))?;
        let mut candidates: Vec<ReclaimCandidate> = Vec::new();
        while let Some(row) = rows.next().map_err(StoreError::sqlite(context))? {
            let read = || -> rusqlite::Result<(ReclaimCandidate, String)> {
                let last_login_at: Option<String> = row.get(6)?;
                Ok((
                    ReclaimCandidate {
                        user_id: row.get(0)?,
                        username: row.get(1)?,
                        email: row.get(2)?,
                        name: row.get(3)?,
                        account_kind: row.get(4)?,
                        profile: row.get(5)?,
                        days_since_login: None,
                        reason: if last_login_at.is_some() { "inactive" } else { "never_logged_in" },
                        last_login_at,
                        created_at: row.get(7)?,
                        paid_licences: Vec::new(),
                    },
                    row.get(8)?,
                ))
            };
            let (mut candidate, subscription_id) = read().map_err(StoreError::sqlite(context))?;
            // A licence the snapshot has no subscription for is unknown, so not counted as paid.
            let Some(subscription) = subscriptions.get(subscription_id.as_str()).filter(|s| s.paid()) else {
                continue;
            };
            let held = HeldLicence {
                source: subscription.source,
                id: subscription.id.clone(),
                name: subscription.display_name(),
            };
            match candidates.last_mut() {
                Some(last) if last.user_id == candidate.user_id => last.paid_licences.push(held),
                _ => {
                    if let Some(last_login) = &candidate.last_login_at {
                        let last_login = timefmt::parse("last_login_at", last_login)?;
                        candidate.days_since_login = Some((collected_at - last_login).whole_days());
                    }
                    candidate.paid_licences.push(held);
                    candidates.push(candidate);
                }
            }
        }
        Ok(candidates)
    }

    fn third_party(&self, snapshot: &SnapshotInfo) -> Result<ThirdPartyFootprint, StoreError> {
        let context = "counting users by domain and kind";
        let company = if snapshot.filter_all {
            CompanyFilter::Everyone
        } else {
            // The names were validated when the snapshot was collected; if they no longer
            // parse, treat them as no company domain at all (every domain is shown).
            CompanyFilter::parse(&snapshot.company_names).unwrap_or(CompanyFilter::Everyone)
        };
        let mut statement = self
            .conn
            .prepare(
                "SELECT email_domain, COUNT(*), SUM(active) FROM users WHERE snapshot_id = ?1
                 GROUP BY email_domain ORDER BY COUNT(*) DESC, email_domain IS NULL, email_domain",
            )
            .map_err(StoreError::sqlite(context))?;
        let domains = statement
            .query_map(params![snapshot.id.0], |row| {
                Ok(DomainCount { domain: row.get(0)?, users: row.get(1)?, active: row.get(2)? })
            })
            .map_err(StoreError::sqlite(context))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::sqlite(context))?;
        let all_domains_shown = company.is_everyone();
        let domains = domains
            .into_iter()
            .filter(|count| {
                all_domains_shown
                    || !company
                        .matches(count.domain.as_deref().map(|domain| format!("user@{domain}")).as_deref())
            })
            .collect();

        let mut statement = self
            .conn
            .prepare(
                "SELECT account_kind, COUNT(*), SUM(active) FROM users
                 WHERE snapshot_id = ?1 AND account_kind <> 'internal' GROUP BY account_kind",
            )
            .map_err(StoreError::sqlite(context))?;
        let mut kinds = statement
            .query_map(params![snapshot.id.0], |row| {
                Ok(KindCount { account_kind: row.get(0)?, users: row.get(1)?, active: row.get(2)? })
            })
            .map_err(StoreError::sqlite(context))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::sqlite(context))?;
        kinds.sort_by_key(|kind| {
            (
                KIND_ORDER.iter().position(|k| *k == kind.account_kind).unwrap_or(KIND_ORDER.len()),
                kind.account_kind.clone(),
            )
        });

        Ok(ThirdPartyFootprint {
            company_names: snapshot.company_names.clone(),
            all_domains_shown,
            domains,
            external_by_kind: kinds,
        })
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}%"))
}

fn seats(value: Option<i64>, unlimited: bool) -> String {
    if unlimited { "unlimited".to_owned() } else { opt(value) }
}

impl Report {
    /// The human summary (`-f table`).
    pub fn write_table(&self, out: &mut dyn Write) -> Result<(), StoreError> {
        self.table(out).map_err(|source| StoreError::Write { what: "report", source })
    }

    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let s = &self.snapshot;
        writeln!(
            out,
            "Licence report: {} ({}), snapshot {} collected {}",
            s.org_name, s.org_id, s.id, s.collected_at
        )?;
        writeln!(out)?;

        let mut table = Table::new(&[
            "SOURCE",
            "NAME",
            "#TOTAL",
            "#USED",
            "#FREE",
            "#UTILISATION",
            "PAID",
            "#RECLAIMABLE",
        ]);
        let mut hidden = 0;
        for sub in &self.subscriptions {
            if !sub.unlimited && sub.total == Some(0) && sub.used.unwrap_or(0) == 0 {
                hidden += 1;
                continue;
            }
            table.row(vec![
                sub.source.to_string(),
                sub.label.clone().unwrap_or_else(|| sub.name.clone()),
                seats(sub.total, sub.unlimited),
                opt(sub.used),
                opt(sub.free),
                percent(sub.utilisation_percent),
                if sub.paid { "yes" } else { "no" }.to_owned(),
                sub.reclaimable.to_string(),
            ]);
        }
        writeln!(out, "Subscriptions ({})", self.subscriptions.len())?;
        table.write(out, "  ")?;
        if hidden > 0 {
            writeln!(out, "  ({hidden} with no seats bought or used not shown; see -f json)")?;
        }
        writeln!(out)?;

        writeln!(
            out,
            "Reclaim candidates ({}): active users holding a paid licence, no login since {} ({} days)",
            self.reclaim_candidates.len(),
            self.inactive_before,
            self.inactive_days
        )?;
        let mut table = Table::new(&["USERNAME", "KIND", "LAST LOGIN", "#DAYS", "PROFILE", "PAID LICENCES"]);
        for candidate in &self.reclaim_candidates {
            table.row(vec![
                candidate.username.clone(),
                candidate.account_kind.clone(),
                candidate.last_login_at.clone().unwrap_or_else(|| "never".to_owned()),
                opt(candidate.days_since_login),
                opt(candidate.profile.as_deref()),
                candidate.paid_licences.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
            ]);
        }
        if table.is_empty() {
            writeln!(out, "  none")?;
        } else {
            table.write(out, "  ")?;
        }
        writeln!(out)?;

        let footprint = &self.third_party;
        if footprint.all_domains_shown {
            writeln!(
                out,
                "Users by email domain ({}): company names were `*`, so every domain is shown",
                footprint.domains.len()
            )?;
        } else {
            writeln!(
                out,
                "Users by email domain outside {} ({})",
                footprint.company_names.join(", "),
                footprint.domains.len()
            )?;
        }
        let mut table = Table::new(&["DOMAIN", "#USERS", "#ACTIVE"]);
        for domain in &footprint.domains {
            table.row(vec![
                domain.domain.clone().unwrap_or_else(|| "(no email)".to_owned()),
                domain.users.to_string(),
                domain.active.to_string(),
            ]);
        }
        if table.is_empty() {
            writeln!(out, "  none")?;
        } else {
            table.write(out, "  ")?;
        }
        writeln!(out)?;

        writeln!(
            out,
            "External users by kind ({})",
            footprint.external_by_kind.iter().map(|k| k.users).sum::<i64>()
        )?;
        let mut table = Table::new(&["KIND", "#USERS", "#ACTIVE"]);
        for kind in &footprint.external_by_kind {
            table.row(vec![kind.account_kind.clone(), kind.users.to_string(), kind.active.to_string()]);
        }
        if table.is_empty() {
            writeln!(out, "  none")?;
        } else {
            table.write(out, "  ")?;
        }
        writeln!(out)?;

        writeln!(out, "Over-assigned licences ({}): more seats used than bought", self.over_assigned.len())?;
        let mut table = Table::new(&["SOURCE", "NAME", "#TOTAL", "#USED", "#OVER BY"]);
        for over in &self.over_assigned {
            table.row(vec![
                over.source.to_string(),
                over.name.clone(),
                over.total.to_string(),
                over.used.to_string(),
                over.over_by.to_string(),
            ]);
        }
        if table.is_empty() {
            writeln!(out, "  none")?;
        } else {
            table.write(out, "  ")?;
        }
        Ok(())
    }

    /// `-f json`: the report as one JSON document.
    pub fn write_json(&self, out: &mut dyn Write) -> Result<(), StoreError> {
        serde_json::to_writer_pretty(&mut *out, self)
            .map_err(|source| StoreError::Write { what: "report", source: source.into() })?;
        writeln!(out).map_err(|source| StoreError::Write { what: "report", source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilisation_rounds_to_one_decimal_and_skips_empty_pools() {
        assert_eq!(utilisation(Some(2), Some(3)), Some(66.7));
        assert_eq!(utilisation(Some(6), Some(5)), Some(120.0));
        assert_eq!(utilisation(Some(0), Some(0)), None);
        assert_eq!(utilisation(None, Some(5)), None);
    }
}
