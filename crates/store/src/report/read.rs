//! [`Store::report`]: reads what the report needs from the store and hands it to
//! [`compute`](super::compute). The SQL lives here; the rules live there.

use super::ReportOptions;
use super::compute::{
    self, CandidateGrouper, Classifier, Known, LowActivityRule, PaidLookup, Pricing, StoredSubscription,
    UnusedFinder, UserFacts, UserWithUnused,
};
use super::cross_org;
use super::model::{
    Activity, CrossOrgReport, DomainCount, FeatureLicenceUse, KindCount, LoginActivityReport, MatchedBy,
    MoneySummary, OrgAccount, OrgSubscriptions, ReclaimCandidate, ReclaimClass, Report,
};
use crate::db::{DbError, Row, values};
use crate::store::source_column;
use crate::{PaidRules, SnapshotId, SnapshotInfo, Store, StoreError, timefmt};

impl Store {
    /// The licence report of one stored snapshot.
    pub fn report(&self, snapshot: &SnapshotInfo, options: &ReportOptions) -> Result<Report, StoreError> {
        self.report_of(snapshot, options, Sections::All)
    }

    /// [`Store::report`], with the sections that only a single-org report shows (the login
    /// distribution, the third-party footprint, the feature licences) read or left empty.
    fn report_of(
        &self,
        snapshot: &SnapshotInfo,
        options: &ReportOptions,
        sections: Sections,
    ) -> Result<Report, StoreError> {
        let all = sections == Sections::All;
        let collected_at = timefmt::parse("collected_at", &snapshot.collected_at)?;
        let inactive_before = compute::inactive_before(collected_at, options.inactive_days);
        let subscriptions = self.stored_subscriptions(snapshot.id, &options.paid)?;
        let mut login_activity = self.login_activity(snapshot.id)?;
        let known = Known {
            frozen: self.frozen_known(snapshot.id)?,
            login_activity: login_activity.collected(),
            unused_assignments: self.unused_assignments_known(snapshot.id)?,
        };
        let classifier = Classifier {
            inactive_before: inactive_before.clone(),
            low_activity: login_activity.days.filter(|_| known.login_activity).map(|days| LowActivityRule {
                min_logins: i64::from(options.min_logins),
                since: compute::window_start(collected_at, days),
            }),
        };
        let mut grouper = CandidateGrouper::new(collected_at, &subscriptions);
        self.candidate_licence_rows(snapshot.id, &classifier, |candidate, subscription_id| {
            grouper.push(candidate, subscription_id)
        })?;
        let reclaim_candidates = grouper.finish();
        let mut finder = UnusedFinder::new(&subscriptions, &reclaim_candidates, options.prices.as_ref());
        if known.unused_assignments {
            self.users_with_unused(snapshot.id, |user| {
                finder.push(&user);
                Ok(())
            })?;
        }
        let unused_assignments = finder.finish();
        if known.login_activity && all {
            login_activity.distribution = self.login_distribution(snapshot.id, &subscriptions)?;
        }
        let third_party = if all {
            compute::third_party(snapshot, self.domain_counts(snapshot.id)?, self.kind_counts(snapshot.id)?)
        } else {
            compute::third_party(snapshot, Vec::new(), Vec::new())
        };
        let edition = self.edition(snapshot.id)?;
        let pricing = Pricing { edition: edition.as_deref(), prices: options.prices.as_ref() };
        let uses = compute::subscription_uses(
            &subscriptions,
            &reclaim_candidates,
            &unused_assignments,
            known,
            pricing,
        );
        Ok(Report {
            snapshot: snapshot.clone(),
            inactive_days: options.inactive_days,
            inactive_before,
            min_logins: options.min_logins,
            money: compute::money_summary(&uses, options.prices.as_ref()),
            subscriptions: uses,
            classes: compute::class_counts(&reclaim_candidates, &unused_assignments, known),
            reclaim_candidates,
            unused_assignments,
            login_activity,
            feature_licences: if all { self.feature_licences(snapshot.id)? } else { None },
            third_party,
            over_assigned: compute::over_assigned(&subscriptions),
        })
    }

    /// The org's edition (`organization.edition`), when the snapshot has it.
    fn edition(&self, snapshot: SnapshotId) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .row(
                "reading the edition",
                "SELECT edition FROM snapshots WHERE id = $1",
                &values![snapshot.0],
                |row| row.get::<Option<String>>(0),
            )?
            .flatten())
    }

    /// How the snapshot's login activity was collected (the distribution is filled later).
    fn login_activity(&self, snapshot: SnapshotId) -> Result<LoginActivityReport, StoreError> {
        let row = self.db.row(
            "reading the login activity",
            "SELECT login_activity_state, login_activity_days, login_activity_path, login_activity_rows
             FROM snapshots WHERE id = $1",
            &values![snapshot.0],
            |row| {
                Ok((
                    row.get::<Option<String>>(0)?,
                    row.get::<Option<i64>>(1)?,
                    row.get::<Option<String>>(2)?,
                    row.get::<Option<i64>>(3)?,
                ))
            },
        )?;
        let (state, days, path, rows) = row.unwrap_or_default();
        let state = match state.as_deref() {
            Some("collected") if days.is_some() => "collected",
            Some("not_collected") => "not_collected",
            Some("unreadable") => "unreadable",
            _ => "unknown",
        };
        let collected = state == "collected";
        Ok(LoginActivityReport {
            state,
            days: days.filter(|_| collected),
            path: path.filter(|_| collected),
            rows: rows.filter(|_| collected),
            distribution: Vec::new(),
        })
    }

    /// Whether the snapshot says who is frozen: some user has `frozen` true or false (all are
    /// NULL when `UserLogin` was not read, or the snapshot was stored before schema 3).
    fn frozen_known(&self, snapshot: SnapshotId) -> Result<bool, StoreError> {
        self.some_user_has(snapshot, "frozen", "reading who is frozen")
    }

    /// Whether some user of the snapshot has `column` (one of the users table's, named by
    /// the code) not NULL.
    fn some_user_has(
        &self,
        snapshot: SnapshotId,
        column: &'static str,
        context: &'static str,
    ) -> Result<bool, StoreError> {
        let sql = format!("SELECT 1 FROM users WHERE snapshot_id = $1 AND {column} IS NOT NULL LIMIT 1");
        Ok(self.db.row(context, &sql, &values![snapshot.0], |row| row.get::<i64>(0))?.is_some())
    }

    /// Whether the snapshot says which permission set licence assignments are unused: some user
    /// has a list, even an empty one (all are NULL when a source was unreadable, or the snapshot
    /// was collected before sfconn read permission sets, or stored before schema 4).
    fn unused_assignments_known(&self, snapshot: SnapshotId) -> Result<bool, StoreError> {
        self.some_user_has(
            snapshot,
            "unused_permission_set_license_ids",
            "reading which assignments are unused",
        )
    }

    /// Calls `each` with every active person (not a guest or system account) whose list of
    /// unused permission set licence ids is not empty, by user id: streamed, one user at a time.
    fn users_with_unused(
        &self,
        snapshot: SnapshotId,
        mut each: impl FnMut(UserWithUnused) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let context = "finding unused permission set licence assignments";
        self.db.each(
            context,
            "SELECT u.id, u.username, u.email, u.name, u.account_kind, p.name, u.last_login_at,
                    u.logins_in_window, u.unused_permission_set_license_ids
             FROM users u
             LEFT JOIN profiles p ON p.snapshot_id = u.snapshot_id AND p.id = u.profile_id
             WHERE u.snapshot_id = $1 AND u.active = 1 AND u.account_kind NOT IN ('guest', 'system')
               AND u.unused_permission_set_license_ids IS NOT NULL
               AND u.unused_permission_set_license_ids <> '[]'
             ORDER BY u.id",
            &values![snapshot.0],
            |row| {
                let read = || -> Result<(UserWithUnused, String), DbError> {
                    Ok((
                        UserWithUnused {
                            user_id: row.get(0)?,
                            username: row.get(1)?,
                            email: row.get(2)?,
                            name: row.get(3)?,
                            account_kind: row.get(4)?,
                            profile: row.get(5)?,
                            last_login_at: row.get(6)?,
                            logins_in_window: row.get(7)?,
                            unused_ids: Vec::new(),
                        },
                        row.get(8)?,
                    ))
                };
                let (mut user, ids) = read().map_err(StoreError::db(context))?;
                user.unused_ids = serde_json::from_str(&ids).map_err(|source| StoreError::CorruptColumn {
                    column: "users.unused_permission_set_license_ids",
                    source,
                })?;
                each(user)
            },
        )
    }

    /// The org's feature licences by name; None when the snapshot does not list them.
    fn feature_licences(&self, snapshot: SnapshotId) -> Result<Option<Vec<FeatureLicenceUse>>, StoreError> {
        let listed = self
            .db
            .row(
                "reading the feature licences",
                "SELECT feature_licences_listed FROM snapshots WHERE id = $1",
                &values![snapshot.0],
                |row| row.get::<Option<bool>>(0),
            )?
            .flatten()
            .unwrap_or(false);
        if !listed {
            return Ok(None);
        }
        self.db
            .rows(
                "reading the feature licences",
                "SELECT name, label, used, total FROM feature_licences WHERE snapshot_id = $1 ORDER BY name",
                &values![snapshot.0],
                |row| {
                    Ok(FeatureLicenceUse {
                        name: row.get(0)?,
                        label: row.get(1)?,
                        used: row.get(2)?,
                        total: row.get(3)?,
                    })
                },
            )
            .map(Some)
    }

    /// The active people (not guest or system accounts) with a login count, by logins in the
    /// window: streamed one (user, licence) row at a time, a user's rows together.
    fn login_distribution(
        &self,
        snapshot: SnapshotId,
        subscriptions: &[StoredSubscription],
    ) -> Result<Vec<super::model::LoginBucket>, StoreError> {
        let context = "counting logins in the window";
        let paid = PaidLookup::new(subscriptions);
        let mut counter = compute::LoginCounter::new();
        // The user being read: id, logins, whether a paid licence was seen yet.
        let mut current: Option<(String, i64, bool)> = None;
        self.db.each(
            context,
            "SELECT u.id, u.logins_in_window, l.subscription_id
             FROM users u
             LEFT JOIN user_licences l ON l.snapshot_id = u.snapshot_id AND l.user_id = u.id
             WHERE u.snapshot_id = $1 AND u.active = 1 AND u.account_kind NOT IN ('guest', 'system')
               AND u.logins_in_window IS NOT NULL
             ORDER BY u.id",
            &values![snapshot.0],
            |row| {
                let read = || -> Result<(String, i64, Option<String>), DbError> {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                };
                let (user_id, logins, subscription_id) = read().map_err(StoreError::db(context))?;
                let holds_paid = subscription_id.as_deref().is_some_and(|id| paid.is_paid(id));
                match current.as_mut() {
                    Some((id, _, paid_so_far)) if *id == user_id => *paid_so_far |= holds_paid,
                    _ => {
                        if let Some((_, logins, paid)) = current.replace((user_id, logins, holds_paid)) {
                            counter.add(logins, paid);
                        }
                    }
                }
                Ok(())
            },
        )?;
        if let Some((_, logins, paid)) = current {
            counter.add(logins, paid);
        }
        Ok(counter.finish())
    }

    /// Subscriptions of a snapshot, by source then id (the snapshot's own order).
    fn stored_subscriptions(
        &self,
        snapshot: SnapshotId,
        rules: &PaidRules,
    ) -> Result<Vec<StoredSubscription>, StoreError> {
        self.db.rows(
            "reading subscriptions",
            "SELECT source, id, name, label, key, status, total, used, unlimited FROM subscriptions
             WHERE snapshot_id = $1
             ORDER BY CASE source WHEN 'UserLicense' THEN 0 WHEN 'PermissionSetLicense' THEN 1 ELSE 2 END, id",
            &values![snapshot.0],
            |row| {
                Ok(StoredSubscription {
                    source: source_column(row, 0)?,
                    id: row.get(1)?,
                    name: row.get(2)?,
                    label: row.get(3)?,
                    key: row.get(4)?,
                    status: row.get(5)?,
                    total: row.get(6)?,
                    used: row.get(7)?,
                    unlimited: row.get(8)?,
                    paid: false,
                }
                .judged(rules))
            },
        )
    }

    /// Calls `each` with every licence of every active person (not a guest or system account)
    /// in a reclaim class ([`Classifier`]): frozen; last login before `inactive_before`, or
    /// never logged in although the account is older than that; fewer logins in the window
    /// than `min_logins`. One row per (user, licence), a user's rows together. The rows are
    /// streamed, not collected, so memory does not grow with the candidates' free licences.
    fn candidate_licence_rows(
        &self,
        snapshot: SnapshotId,
        classifier: &Classifier,
        mut each: impl FnMut(ReclaimCandidate, &str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let context = "finding reclaim candidates";
        // Without login activity no count is below 0: the low-activity condition picks nobody.
        let (min_logins, since) = match &classifier.low_activity {
            Some(rule) => (rule.min_logins, rule.since.as_str()),
            None => (0, ""),
        };
        self.db.each(
            context,
            "SELECT u.id, u.username, u.email, u.name, u.account_kind, p.name, u.last_login_at, u.created_at,
                    l.subscription_id, u.frozen, u.logins_in_window
             FROM users u
             JOIN user_licences l ON l.snapshot_id = u.snapshot_id AND l.user_id = u.id
             LEFT JOIN profiles p ON p.snapshot_id = u.snapshot_id AND p.id = u.profile_id
             WHERE u.snapshot_id = $1 AND u.active = 1 AND u.account_kind NOT IN ('guest', 'system')
               AND (u.frozen = 1
                    OR u.last_login_at < $2
                    OR (u.last_login_at IS NULL AND (u.created_at IS NULL OR u.created_at < $2))
                    OR (u.logins_in_window < $3 AND (u.created_at IS NULL OR u.created_at < $4)))
             ORDER BY u.id, CASE l.source WHEN 'UserLicense' THEN 0 WHEN 'PermissionSetLicense' THEN 1 ELSE 2 END,
                      l.subscription_id",
            &values![snapshot.0, classifier.inactive_before.as_str(), min_logins, since],
            |row| {
                let read = || -> Result<(ReclaimCandidate, String), DbError> {
                    let last_login_at: Option<String> = row.get(6)?;
                    let created_at: Option<String> = row.get(7)?;
                    let frozen: Option<bool> = row.get(9)?;
                    let logins_in_window: Option<i64> = row.get(10)?;
                    let reason = classifier
                        .class(&UserFacts {
                            frozen,
                            last_login_at: last_login_at.as_deref(),
                            created_at: created_at.as_deref(),
                            logins_in_window,
                        })
                        // The SQL above and the classifier say the same; should they not, the
                        // row is still a candidate, of the mildest class.
                        .unwrap_or(ReclaimClass::LowActivity);
                    Ok((
                        ReclaimCandidate {
                            user_id: row.get(0)?,
                            username: row.get(1)?,
                            email: row.get(2)?,
                            name: row.get(3)?,
                            account_kind: row.get(4)?,
                            profile: row.get(5)?,
                            days_since_login: None,
                            reason,
                            frozen,
                            logins_in_window,
                            last_login_at,
                            created_at,
                            paid_licences: Vec::new(),
                        },
                        row.get(8)?,
                    ))
                };
                let (candidate, subscription_id) = read().map_err(StoreError::db(context))?;
                each(candidate, &subscription_id)
            },
        )
    }

    /// All users by email domain, most users first (`domain: null` for users without email).
    fn domain_counts(&self, snapshot: SnapshotId) -> Result<Vec<DomainCount>, StoreError> {
        self.counts(
            "SELECT email_domain, COUNT(*), COUNT(CASE WHEN active = 1 THEN 1 END) FROM users WHERE snapshot_id = $1
             GROUP BY email_domain ORDER BY COUNT(*) DESC, email_domain IS NULL, email_domain",
            snapshot,
            |domain, users, active| DomainCount { domain, users, active },
        )
    }

    /// Users of every kind but `internal`, in no particular order.
    fn kind_counts(&self, snapshot: SnapshotId) -> Result<Vec<KindCount>, StoreError> {
        self.counts(
            "SELECT account_kind, COUNT(*), COUNT(CASE WHEN active = 1 THEN 1 END) FROM users
             WHERE snapshot_id = $1 AND account_kind <> 'internal' GROUP BY account_kind",
            snapshot,
            |account_kind, users, active| KindCount { account_kind, users, active },
        )
    }

    /// Rows of (group, users, active users) from `sql`.
    fn counts<K: crate::db::Cell, T>(
        &self,
        sql: &str,
        snapshot: SnapshotId,
        make: impl Fn(K, i64, i64) -> T,
    ) -> Result<Vec<T>, StoreError> {
        self.db.rows("counting users by domain and kind", sql, &values![snapshot.0], |row: &Row<'_>| {
            Ok(make(row.get(0)?, row.get(1)?, row.get(2)?))
        })
    }
}

impl Store {
    /// `sfconn report --all-orgs`: the latest snapshot of every org, each with the subscription
    /// figures of its single-org report ([`Store::report`]), and the people holding a paid
    /// licence in more than one of them. An empty store is [`StoreError::NoSnapshots`].
    ///
    /// Memory grows with the accounts that hold a paid licence (of every org), which the
    /// matching needs at once; never with the licence rows or the other users.
    pub fn cross_org_report(&self, options: &ReportOptions) -> Result<CrossOrgReport, StoreError> {
        let latest = self.latest_per_org()?;
        if latest.is_empty() {
            return Err(StoreError::NoSnapshots { store: self.location().clone(), org_id: None });
        }
        let mut orgs = Vec::with_capacity(latest.len());
        let mut accounts = Vec::new();
        for snapshot in latest {
            // Only the subscriptions and the money are kept of each org's report.
            let report = self.report_of(&snapshot, options, Sections::Subscriptions)?;
            self.paid_accounts(&snapshot, &report.inactive_before, &options.paid, &mut accounts)?;
            orgs.push(OrgSubscriptions {
                snapshot,
                inactive_before: report.inactive_before,
                money: report.money,
                subscriptions: report.subscriptions,
            });
        }
        let currency = options.prices.as_ref().map(crate::Prices::currency);
        Ok(CrossOrgReport {
            inactive_days: options.inactive_days,
            money: MoneySummary::sum(orgs.iter().map(|org| &org.money), currency),
            orgs,
            duplicates: cross_org::duplicates(accounts),
        })
    }

    /// Adds to `accounts` every active person's account (not a guest or system account) of
    /// `snapshot` that holds at least one paid licence, with those licences and its activity.
    /// The (user, licence) rows are streamed, a user's rows together.
    fn paid_accounts(
        &self,
        snapshot: &SnapshotInfo,
        inactive_before: &str,
        rules: &PaidRules,
        accounts: &mut Vec<OrgAccount>,
    ) -> Result<(), StoreError> {
        let context = "finding the paid accounts of each org";
        let collected_at = timefmt::parse("collected_at", &snapshot.collected_at)?;
        let subscriptions = self.stored_subscriptions(snapshot.id, rules)?;
        let paid = PaidLookup::new(&subscriptions);
        // The user being read: its account and whether it holds a paid licence yet.
        let mut current: Option<OrgAccount> = None;
        fn finish(account: Option<OrgAccount>, accounts: &mut Vec<OrgAccount>) {
            if let Some(account) = account.filter(|a| !a.paid_licences.is_empty()) {
                accounts.push(account);
            }
        }
        self.db.each(
            context,
            "SELECT u.id, u.username, u.email, u.name, u.federation_id, u.last_login_at, u.created_at,
                    l.subscription_id
             FROM users u
             JOIN user_licences l ON l.snapshot_id = u.snapshot_id AND l.user_id = u.id
             WHERE u.snapshot_id = $1 AND u.active = 1 AND u.account_kind NOT IN ('guest', 'system')
             ORDER BY u.id, CASE l.source WHEN 'UserLicense' THEN 0 WHEN 'PermissionSetLicense' THEN 1 ELSE 2 END,
                      l.subscription_id",
            &values![snapshot.id.0],
            |row| {
                let user_id: String = row.get(0).map_err(StoreError::db(context))?;
                if current.as_ref().is_none_or(|account| account.user_id != user_id) {
                    let read = || -> Result<(Option<String>, Option<String>, OrgAccount), DbError> {
                        let last_login_at: Option<String> = row.get(5)?;
                        let created_at: Option<String> = row.get(6)?;
                        let account = OrgAccount {
                            org_id: snapshot.org_id.clone(),
                            org_name: snapshot.org_name.clone(),
                            snapshot: snapshot.id,
                            user_id: user_id.clone(),
                            username: row.get(1)?,
                            email: row.get(2)?,
                            name: row.get(3)?,
                            federation_id: row.get(4)?,
                            matched_by: MatchedBy::Email,
                            last_login_at: None,
                            days_since_login: None,
                            activity: Activity::NeverLoggedIn,
                            reclaim_candidate: false,
                            paid_licences: Vec::new(),
                        };
                        Ok((last_login_at, created_at, account))
                    };
                    let (last_login_at, created_at, mut account) = read().map_err(StoreError::db(context))?;
                    account.activity =
                        cross_org::activity(last_login_at.as_deref(), created_at.as_deref(), inactive_before);
                    account.days_since_login = compute::days_since_login(collected_at, last_login_at.as_deref())?;
                    account.last_login_at = last_login_at;
                    finish(current.replace(account), accounts);
                }
                let subscription_id: String = row.get(7).map_err(StoreError::db(context))?;
                if let (Some(account), Some(held)) = (current.as_mut(), paid.held(&subscription_id)) {
                    account.paid_licences.push(held);
                }
                Ok(())
            },
        )?;
        finish(current, accounts);
        Ok(())
    }
}

/// What [`Store::report_of`] reads besides the subscriptions, the candidates and the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sections {
    /// Everything a single-org report shows.
    All,
    /// Only what `report --all-orgs` keeps of each org.
    Subscriptions,
}
