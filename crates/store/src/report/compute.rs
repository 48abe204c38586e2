//! The report's figures from what the store read: pure functions and a grouping of rows, no
//! SQL and no output, so each rule can be tested on its own.

use std::collections::{BTreeMap, BTreeSet};

use sfconn_filter::CompanyFilter;
use time::{Duration, OffsetDateTime};

use super::model::{
    ClassCount, DomainCount, HeldLicence, KindCount, LOGIN_BUCKETS, LoginBucket, MoneySummary, OverAssigned,
    ReclaimCandidate, ReclaimClass, SubscriptionUse, ThirdPartyFootprint, UnusedAssignment,
};
use crate::paid::{LicenceFacts, PaidRules, included_seats};
use crate::{Prices, SnapshotInfo, StoreError, SubscriptionSource, timefmt};

/// A subscription as the store holds it.
pub(super) struct StoredSubscription {
    pub(super) source: SubscriptionSource,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) label: Option<String>,
    pub(super) key: Option<String>,
    pub(super) status: Option<String>,
    pub(super) total: Option<i64>,
    pub(super) used: Option<i64>,
    pub(super) unlimited: bool,
    /// Whether holding it is paid, by the report's [`PaidRules`] ([`StoredSubscription::judged`]).
    pub(super) paid: bool,
}

impl StoredSubscription {
    /// The subscription with `paid` decided by `rules`.
    pub(super) fn judged(mut self, rules: &PaidRules) -> Self {
        self.paid = rules.is_paid(&LicenceFacts {
            source: self.source,
            name: &self.name,
            label: self.label.as_deref(),
            key: self.key.as_deref(),
            status: self.status.as_deref(),
            unlimited: self.unlimited,
        });
        self
    }

    fn paid(&self) -> bool {
        self.paid
    }

    fn display_name(&self) -> String {
        self.label.clone().unwrap_or_else(|| self.name.clone())
    }
}

/// `collected_at` minus `inactive_days`, in the stored form: a last login before it is too old.
pub(super) fn inactive_before(collected_at: OffsetDateTime, inactive_days: u32) -> String {
    // A window reaching before year -9999 means: since the beginning of time.
    let cutoff = collected_at
        .checked_sub(Duration::days(i64::from(inactive_days)))
        .unwrap_or(time::PrimitiveDateTime::MIN.assume_utc());
    timefmt::format(cutoff)
}

/// The rules of the reclaim classes for one report (docs/report.md, "Reclaim candidates").
/// Date-times are compared as the store keeps them (RFC 3339 UTC text, whole seconds), in byte
/// order, as the SQL that picks the rows does.
#[derive(Debug, Clone)]
pub(super) struct Classifier {
    /// A last login before this is too old (`inactive`; `never_logged_in` for an account
    /// created before it).
    pub(super) inactive_before: String,
    /// Low activity, when the snapshot has login activity: fewer logins than `min_logins` in
    /// the window, for an account created before the window started (`since`).
    pub(super) low_activity: Option<LowActivityRule>,
}

#[derive(Debug, Clone)]
pub(super) struct LowActivityRule {
    pub(super) min_logins: i64,
    pub(super) since: String,
}

/// What the classes look at in one user.
pub(super) struct UserFacts<'a> {
    pub(super) frozen: Option<bool>,
    pub(super) last_login_at: Option<&'a str>,
    pub(super) created_at: Option<&'a str>,
    pub(super) logins_in_window: Option<i64>,
}

impl Classifier {
    /// The first class the user is in, if any. The user is active, a person and (for the
    /// candidate to count) holds a paid licence: the caller sees to that.
    pub(super) fn class(&self, user: &UserFacts<'_>) -> Option<ReclaimClass> {
        let created_before = |cutoff: &str| user.created_at.is_none_or(|created| created < cutoff);
        if user.frozen == Some(true) {
            return Some(ReclaimClass::Frozen);
        }
        match user.last_login_at {
            Some(last) if last < self.inactive_before.as_str() => return Some(ReclaimClass::Inactive),
            None if created_before(&self.inactive_before) => return Some(ReclaimClass::NeverLoggedIn),
            _ => {}
        }
        let rule = self.low_activity.as_ref()?;
        let logins = user.logins_in_window?;
        (logins < rule.min_logins && created_before(&rule.since)).then_some(ReclaimClass::LowActivity)
    }
}

/// `collected_at` minus `days`, in the stored form (the start of the login-activity window).
pub(super) fn window_start(collected_at: OffsetDateTime, days: i64) -> String {
    let start =
        collected_at.checked_sub(Duration::days(days)).unwrap_or(time::PrimitiveDateTime::MIN.assume_utc());
    timefmt::format(start)
}

/// Builds the reclaim candidates from the rows of the candidate users' licences, in user order:
/// one candidate per user holding at least one paid licence, with the paid licences it holds.
pub(super) struct CandidateGrouper<'a> {
    collected_at: OffsetDateTime,
    paid: PaidLookup<'a>,
    candidates: Vec<ReclaimCandidate>,
}

/// Which licences of a snapshot are paid: a licence id to what the user holds.
pub(super) struct PaidLookup<'a> {
    subscriptions: BTreeMap<&'a str, &'a StoredSubscription>,
}

impl<'a> PaidLookup<'a> {
    pub(super) fn new(subscriptions: &'a [StoredSubscription]) -> Self {
        PaidLookup { subscriptions: subscriptions.iter().map(|s| (s.id.as_str(), s)).collect() }
    }

    /// Whether the licence `subscription_id` is paid (see [`PaidLookup::held`]).
    pub(super) fn is_paid(&self, subscription_id: &str) -> bool {
        self.subscriptions.get(subscription_id).is_some_and(|s| s.paid())
    }

    /// The licence `subscription_id` as held, when it is paid. A licence the snapshot has no
    /// subscription for is unknown, so not counted as paid.
    pub(super) fn held(&self, subscription_id: &str) -> Option<HeldLicence> {
        let subscription = self.subscriptions.get(subscription_id).filter(|s| s.paid())?;
        Some(HeldLicence {
            source: subscription.source,
            id: subscription.id.clone(),
            name: subscription.display_name(),
        })
    }
}

/// Whole days from `last_login_at` to `collected_at`; None when never logged in.
pub(super) fn days_since_login(
    collected_at: OffsetDateTime,
    last_login_at: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    last_login_at
        .map(|text| Ok((collected_at - timefmt::parse("last_login_at", text)?).whole_days()))
        .transpose()
}

impl<'a> CandidateGrouper<'a> {
    pub(super) fn new(collected_at: OffsetDateTime, subscriptions: &'a [StoredSubscription]) -> Self {
        CandidateGrouper { collected_at, paid: PaidLookup::new(subscriptions), candidates: Vec::new() }
    }

    /// One row: a user (with no licences yet) and one licence it holds. Rows of one user come
    /// together.
    pub(super) fn push(
        &mut self,
        mut candidate: ReclaimCandidate,
        subscription_id: &str,
    ) -> Result<(), StoreError> {
        let Some(held) = self.paid.held(subscription_id) else {
            return Ok(());
        };
        match self.candidates.last_mut() {
            Some(last) if last.user_id == candidate.user_id => last.paid_licences.push(held),
            _ => {
                candidate.days_since_login =
                    days_since_login(self.collected_at, candidate.last_login_at.as_deref())?;
                candidate.paid_licences.push(held);
                self.candidates.push(candidate);
            }
        }
        Ok(())
    }

    /// The candidates by class (frozen first), then user id.
    pub(super) fn finish(mut self) -> Vec<ReclaimCandidate> {
        // Stable: the rows came in user id order.
        self.candidates.sort_by_key(|candidate| candidate.reason.rank());
        self.candidates
    }
}

/// Builds the `unused_assignment` class from the users whose stored
/// `unused_permission_set_license_ids` lists something, in user order: one [`UnusedAssignment`]
/// per (user, permission set licence). A user who is a candidate of a user-level class is left
/// out (all the paid licences they hold are reclaimable already), and so is an id that is not a
/// permission set licence of the snapshot (nothing to name or price).
pub(super) struct UnusedFinder<'a> {
    licences: BTreeMap<&'a str, &'a StoredSubscription>,
    candidates: BTreeSet<&'a str>,
    prices: Option<&'a Prices>,
    found: Vec<UnusedAssignment>,
}

/// A user whose stored list of unused permission set licence ids is not empty.
pub(super) struct UserWithUnused {
    pub(super) user_id: String,
    pub(super) username: String,
    pub(super) email: Option<String>,
    pub(super) name: Option<String>,
    pub(super) account_kind: String,
    pub(super) profile: Option<String>,
    pub(super) last_login_at: Option<String>,
    pub(super) logins_in_window: Option<i64>,
    pub(super) unused_ids: Vec<String>,
}

impl<'a> UnusedFinder<'a> {
    pub(super) fn new(
        subscriptions: &'a [StoredSubscription],
        candidates: &'a [ReclaimCandidate],
        prices: Option<&'a Prices>,
    ) -> Self {
        UnusedFinder {
            licences: subscriptions
                .iter()
                .filter(|s| s.source == SubscriptionSource::PermissionSetLicense)
                .map(|s| (s.id.as_str(), s))
                .collect(),
            candidates: candidates.iter().map(|c| c.user_id.as_str()).collect(),
            prices,
            found: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, user: &UserWithUnused) {
        if self.candidates.contains(user.user_id.as_str()) {
            return;
        }
        // In the order of the licences' ids, each once.
        let ids: BTreeSet<&str> = user.unused_ids.iter().map(String::as_str).collect();
        for id in ids {
            let Some(licence) = self.licences.get(id) else {
                continue;
            };
            let name = licence.display_name();
            let monthly = self
                .prices
                .filter(|_| licence.paid())
                .and_then(|p| p.price_of(licence.key.as_deref(), &licence.name, licence.label.as_deref()));
            self.found.push(UnusedAssignment {
                user_id: user.user_id.clone(),
                username: user.username.clone(),
                email: user.email.clone(),
                name: user.name.clone(),
                account_kind: user.account_kind.clone(),
                profile: user.profile.clone(),
                last_login_at: user.last_login_at.clone(),
                logins_in_window: user.logins_in_window,
                licence_id: licence.id.clone(),
                action: UnusedAssignment::action_text(&user.username, &name, licence.key.as_deref()),
                licence: name,
                key: licence.key.clone(),
                paid: licence.paid(),
                monthly,
            });
        }
    }

    pub(super) fn finish(self) -> Vec<UnusedAssignment> {
        self.found
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

/// What the snapshot lets the report compute: who is frozen, logins in a window, and which
/// permission set licence assignments are unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Known {
    pub(super) frozen: bool,
    pub(super) login_activity: bool,
    pub(super) unused_assignments: bool,
}

/// Why a class could not be computed, for people.
pub(super) const NO_FROZEN: &str = "the snapshot does not say who is frozen (UserLogin was not read, or it was collected before sfconn read it)";
pub(super) const NO_LOGIN_ACTIVITY: &str =
    "the snapshot has no login activity (collect with --login-activity DAYS to count logins)";
pub(super) const NO_UNUSED_ASSIGNMENTS: &str = "the snapshot does not say which permission set licence assignments are unused (PermissionSetAssignment, PermissionSet, PermissionSetGroupComponent, PermissionSetLicenseAssign or PermissionSetLicense could not be read, see the snapshot's warnings; or it was collected before sfconn read them)";

/// Each class with its candidates (for `unused_assignment`, its assignments), or why it was
/// not computed.
pub(super) fn class_counts(
    candidates: &[ReclaimCandidate],
    unused: &[UnusedAssignment],
    known: Known,
) -> Vec<ClassCount> {
    ReclaimClass::ALL
        .iter()
        .map(|&class| {
            let missing = match class {
                ReclaimClass::Frozen if !known.frozen => Some(NO_FROZEN),
                ReclaimClass::LowActivity if !known.login_activity => Some(NO_LOGIN_ACTIVITY),
                ReclaimClass::UnusedAssignment if !known.unused_assignments => Some(NO_UNUSED_ASSIGNMENTS),
                _ => None,
            };
            let count = match class {
                ReclaimClass::UnusedAssignment => unused.len(),
                _ => candidates.iter().filter(|c| c.reason == class).count(),
            };
            ClassCount {
                class,
                computed: missing.is_none(),
                candidates: missing.is_none().then(|| i64::try_from(count).unwrap_or(i64::MAX)),
                not_computed_because: missing,
            }
        })
        .collect()
}

/// Counts users into [`LOGIN_BUCKETS`] by their logins in the window, one user at a time.
pub(super) struct LoginCounter {
    buckets: Vec<LoginBucket>,
}

impl LoginCounter {
    pub(super) fn new() -> Self {
        LoginCounter {
            buckets: LOGIN_BUCKETS
                .iter()
                .map(|&(label, min, max)| LoginBucket { label, min, max, users: 0, paid_users: 0 })
                .collect(),
        }
    }

    /// One user with `logins` in the window; `paid` when the user holds a paid licence.
    pub(super) fn add(&mut self, logins: i64, paid: bool) {
        if let Some(bucket) =
            self.buckets.iter_mut().find(|b| logins >= b.min && b.max.is_none_or(|max| logins <= max))
        {
            bucket.users += 1;
            bucket.paid_users += i64::from(paid);
        }
    }

    pub(super) fn finish(self) -> Vec<LoginBucket> {
        self.buckets
    }
}

/// What the money view needs beyond the seats: the org's edition (for the Salesforce
/// Integration licence's included seats) and the prices, if any.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Pricing<'a> {
    pub(super) edition: Option<&'a str>,
    pub(super) prices: Option<&'a Prices>,
}

/// Each subscription's seats, how many of them the reclaim candidates and the unused
/// assignments hold, and with a price what they cost (docs/report.md, "Money"). The unused
/// assignments never belong to a candidate ([`UnusedFinder`]), so no seat is counted twice.
pub(super) fn subscription_uses(
    subscriptions: &[StoredSubscription],
    candidates: &[ReclaimCandidate],
    unused_assignments: &[UnusedAssignment],
    known: Known,
    pricing: Pricing<'_>,
) -> Vec<SubscriptionUse> {
    let mut reclaimable: BTreeMap<&str, i64> = BTreeMap::new();
    let mut frozen: BTreeMap<&str, i64> = BTreeMap::new();
    let mut low: BTreeMap<&str, i64> = BTreeMap::new();
    let mut unused: BTreeMap<&str, i64> = BTreeMap::new();
    for candidate in candidates {
        for licence in &candidate.paid_licences {
            *reclaimable.entry(licence.id.as_str()).or_default() += 1;
            match candidate.reason {
                ReclaimClass::Frozen => *frozen.entry(licence.id.as_str()).or_default() += 1,
                ReclaimClass::LowActivity => *low.entry(licence.id.as_str()).or_default() += 1,
                ReclaimClass::NeverLoggedIn | ReclaimClass::Inactive | ReclaimClass::UnusedAssignment => {}
            }
        }
    }
    for assignment in unused_assignments {
        *unused.entry(assignment.licence_id.as_str()).or_default() += 1;
        if assignment.paid {
            *reclaimable.entry(assignment.licence_id.as_str()).or_default() += 1;
        }
    }
    let seats = |counts: &BTreeMap<&str, i64>, id: &str, known: bool| {
        known.then(|| counts.get(id).copied().unwrap_or(0))
    };
    subscriptions
        .iter()
        .map(|s| {
            let bounded = !s.unlimited;
            let used = s.used.filter(|used| *used >= 0 || !s.unlimited);
            let total = s.total.filter(|_| bounded);
            let included = included_seats(s.source, s.key.as_deref(), pricing.edition);
            let held = reclaimable.get(s.id.as_str()).copied().unwrap_or(0);
            // The included seats are not waste: only seats used beyond them can be given back.
            let reclaimable = match included {
                Some(included) => held.min((used.unwrap_or(0) - included).max(0)),
                None => held,
            };
            let price =
                pricing.prices.and_then(|p| p.price_of(s.key.as_deref(), &s.name, s.label.as_deref()));
            let reclaimable_monthly = price.map(|price| price.times(reclaimable));
            SubscriptionUse {
                source: s.source,
                id: s.id.clone(),
                name: s.name.clone(),
                label: s.label.clone(),
                key: s.key.clone(),
                status: s.status.clone(),
                total,
                // A site licence may report -1 used: unknown, not a count.
                used,
                free: match (s.total, s.used) {
                    (Some(total), Some(used)) if bounded => Some((total - used).max(0)),
                    _ => None,
                },
                utilisation_percent: if bounded { utilisation(s.used, s.total) } else { None },
                unlimited: s.unlimited,
                paid: s.paid(),
                reclaimable,
                included_seats: included,
                price_per_seat: price,
                bought_monthly: price
                    .zip(total)
                    .map(|(price, total)| price.times((total - included.unwrap_or(0)).max(0))),
                reclaimable_monthly,
                reclaimable_yearly: reclaimable_monthly.map(|monthly| monthly.times(12)),
                frozen_seats: seats(&frozen, &s.id, known.frozen),
                low_activity_seats: seats(&low, &s.id, known.login_activity),
                unused_assignment_seats: seats(&unused, &s.id, known.unused_assignments),
            }
        })
        .collect()
}

/// The report's money view from its subscriptions: seats, and amounts when there are prices.
pub(super) fn money_summary(uses: &[SubscriptionUse], prices: Option<&Prices>) -> MoneySummary {
    let seats = MoneySummary {
        currency: prices.map(|p| p.currency().to_owned()),
        reclaimable_seats: uses.iter().map(|u| u.reclaimable).sum(),
        unpriced_reclaimable_seats: uses
            .iter()
            .filter(|u| u.price_per_seat.is_none())
            .map(|u| u.reclaimable)
            .sum(),
        reclaimable_monthly: None,
        reclaimable_yearly: None,
        bought_monthly: None,
    };
    let Some(prices) = prices else {
        return seats;
    };
    let sum = |amount: fn(&SubscriptionUse) -> Option<crate::Money>| {
        Some(uses.iter().filter_map(amount).fold(crate::Money::ZERO, crate::Money::plus))
    };
    MoneySummary {
        currency: Some(prices.currency().to_owned()),
        reclaimable_monthly: sum(|u| u.reclaimable_monthly),
        reclaimable_yearly: sum(|u| u.reclaimable_yearly),
        bought_monthly: sum(|u| u.bought_monthly),
        ..seats
    }
}

/// Subscriptions with more seats used than bought.
pub(super) fn over_assigned(subscriptions: &[StoredSubscription]) -> Vec<OverAssigned> {
    subscriptions
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
        .collect()
}

const KIND_ORDER: &[&str] = &["partner", "customer", "chatter", "guest", "system", "other"];

/// The users outside the snapshot's company names: `domains` are all users by email domain
/// (most first), `kinds` the users of every kind but `internal`.
pub(super) fn third_party(
    snapshot: &SnapshotInfo,
    domains: Vec<DomainCount>,
    mut kinds: Vec<KindCount>,
) -> ThirdPartyFootprint {
    let company = if snapshot.filter_all {
        CompanyFilter::Everyone
    } else {
        // The names were validated when the snapshot was collected; if they no longer
        // parse, treat them as no company domain at all (every domain is shown).
        CompanyFilter::parse(&snapshot.company_names).unwrap_or(CompanyFilter::Everyone)
    };
    let all_domains_shown = company.is_everyone();
    let domains = domains
        .into_iter()
        .filter(|count| {
            all_domains_shown
                || !company.matches(count.domain.as_deref().map(|domain| format!("user@{domain}")).as_deref())
        })
        .collect();
    kinds.sort_by_key(|kind| {
        (
            KIND_ORDER.iter().position(|k| *k == kind.account_kind).unwrap_or(KIND_ORDER.len()),
            kind.account_kind.clone(),
        )
    });
    ThirdPartyFootprint {
        company_names: snapshot.company_names.clone(),
        all_domains_shown,
        domains,
        external_by_kind: kinds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SnapshotId;

    fn subscription(source: SubscriptionSource, id: &str, name: &str) -> StoredSubscription {
        StoredSubscription {
            source,
            id: id.to_owned(),
            name: name.to_owned(),
            label: None,
            key: None,
            status: Some("Active".to_owned()),
            total: Some(10),
            used: Some(4),
            unlimited: false,
            paid: false,
        }
        .judged(&PaidRules::default())
    }

    fn user(id: &str, last_login_at: Option<&str>) -> ReclaimCandidate {
        ReclaimCandidate {
            user_id: id.to_owned(),
            username: format!("{id}@acme.com"),
            email: None,
            name: None,
            account_kind: "internal".to_owned(),
            profile: None,
            last_login_at: last_login_at.map(str::to_owned),
            days_since_login: None,
            created_at: None,
            reason: if last_login_at.is_some() {
                ReclaimClass::Inactive
            } else {
                ReclaimClass::NeverLoggedIn
            },
            frozen: None,
            logins_in_window: None,
            paid_licences: Vec::new(),
        }
    }

    fn at(text: &str) -> OffsetDateTime {
        timefmt::parse("t", text).unwrap()
    }

    #[test]
    fn logins_fall_into_the_documented_buckets() {
        let mut counter = LoginCounter::new();
        for (logins, paid) in
            [(0, true), (1, false), (4, true), (5, true), (19, false), (20, true), (900, true), (-1, true)]
        {
            counter.add(logins, paid);
        }
        let buckets: Vec<(&str, i64, i64)> =
            counter.finish().iter().map(|b| (b.label, b.users, b.paid_users)).collect();
        // A negative count (not a count) goes nowhere.
        assert_eq!(buckets, [("0", 1, 1), ("1-4", 2, 1), ("5-19", 2, 1), ("20+", 2, 2)]);
    }

    #[test]
    fn the_first_class_wins_and_low_activity_needs_the_whole_window() {
        let classifier = Classifier {
            inactive_before: "2024-03-22T08:00:00Z".to_owned(),
            low_activity: Some(LowActivityRule { min_logins: 5, since: "2024-05-21T08:00:00Z".to_owned() }),
        };
        let facts = |frozen, last_login_at, created_at, logins_in_window| UserFacts {
            frozen,
            last_login_at,
            created_at,
            logins_in_window,
        };
        let old = Some("2023-01-01T00:00:00Z");
        let recent = Some("2024-06-19T00:00:00Z");
        assert_eq!(classifier.class(&facts(Some(true), recent, old, Some(40))), Some(ReclaimClass::Frozen));
        assert_eq!(classifier.class(&facts(Some(true), None, old, Some(0))), Some(ReclaimClass::Frozen));
        assert_eq!(
            classifier.class(&facts(Some(false), None, old, Some(0))),
            Some(ReclaimClass::NeverLoggedIn)
        );
        assert_eq!(
            classifier.class(&facts(None, Some("2024-01-01T00:00:00Z"), old, Some(0))),
            Some(ReclaimClass::Inactive)
        );
        assert_eq!(
            classifier.class(&facts(Some(false), recent, old, Some(4))),
            Some(ReclaimClass::LowActivity)
        );
        assert_eq!(classifier.class(&facts(Some(false), recent, old, Some(5))), None);
        assert_eq!(classifier.class(&facts(Some(false), recent, old, None)), None, "no count, no class");
        // Created within the login window: not low activity yet; of unknown age: it is.
        assert_eq!(
            classifier.class(&facts(Some(false), recent, Some("2024-06-01T00:00:00Z"), Some(1))),
            None
        );
        assert_eq!(
            classifier.class(&facts(Some(false), recent, None, Some(1))),
            Some(ReclaimClass::LowActivity)
        );
        let without = Classifier { low_activity: None, ..classifier };
        assert_eq!(without.class(&facts(Some(false), recent, old, Some(0))), None);
    }

    #[test]
    fn utilisation_rounds_to_one_decimal_and_skips_empty_pools() {
        assert_eq!(utilisation(Some(2), Some(3)), Some(66.7));
        assert_eq!(utilisation(Some(6), Some(5)), Some(120.0));
        assert_eq!(utilisation(Some(0), Some(0)), None);
        assert_eq!(utilisation(None, Some(5)), None);
    }

    #[test]
    fn inactive_before_counts_back_whole_days_and_stops_at_the_earliest_date() {
        assert_eq!(inactive_before(at("2024-03-31T12:00:00.250Z"), 90), "2024-01-01T12:00:00Z");
        assert_eq!(inactive_before(at("2024-03-31T12:00:00Z"), u32::MAX), "-9999-01-01T00:00:00Z");
    }

    #[test]
    fn candidates_keep_only_paid_licences_and_group_them_by_user() {
        let subscriptions = [
            subscription(SubscriptionSource::UserLicense, "100A", "Salesforce"),
            subscription(SubscriptionSource::UserLicense, "100B", "Chatter Free"),
            subscription(SubscriptionSource::PermissionSetLicense, "0PLA", "Sales Cloud Einstein"),
        ];
        let mut grouper = CandidateGrouper::new(at("2024-03-31T00:00:00Z"), &subscriptions);
        let rows = [
            (user("005A", Some("2023-12-01T00:00:00Z")), "100A"),
            (user("005A", Some("2023-12-01T00:00:00Z")), "0PLA"),
            (user("005B", None), "100B"),
            (user("005C", None), "100X"),
            (user("005C", None), "0PLA"),
        ];
        for (candidate, subscription_id) in rows {
            grouper.push(candidate, subscription_id).unwrap();
        }
        let candidates = grouper.finish();
        let summary: Vec<(&str, Option<i64>, Vec<&str>)> = candidates
            .iter()
            .map(|c| {
                (
                    c.user_id.as_str(),
                    c.days_since_login,
                    c.paid_licences.iter().map(|l| l.id.as_str()).collect(),
                )
            })
            .collect();
        // 005B holds only a free licence; 100X is not a subscription of the snapshot.
        assert_eq!(summary, [("005A", Some(121), vec!["100A", "0PLA"]), ("005C", None, vec!["0PLA"])]);
    }

    /// A permission set licence of status `Free`.
    fn free_licence(id: &str, name: &str) -> StoredSubscription {
        let mut free = subscription(SubscriptionSource::PermissionSetLicense, id, name);
        free.status = Some("Free".to_owned());
        free.judged(&PaidRules::default())
    }

    fn with_unused(id: &str, unused: &[&str]) -> UserWithUnused {
        UserWithUnused {
            user_id: id.to_owned(),
            username: format!("{id}@acme.com"),
            email: None,
            name: None,
            account_kind: "internal".to_owned(),
            profile: None,
            last_login_at: None,
            logins_in_window: None,
            unused_ids: unused.iter().map(|id| (*id).to_owned()).collect(),
        }
    }

    #[test]
    fn unused_assignments_skip_candidates_and_what_is_not_a_permission_set_licence() {
        let mut paid = subscription(SubscriptionSource::PermissionSetLicense, "0PLP", "PaidPsl");
        paid.key = Some("PaidKey".to_owned());
        paid.label = Some("Paid One".to_owned());
        let subscriptions = [
            subscription(SubscriptionSource::UserLicense, "100A", "Salesforce"),
            paid.judged(&PaidRules::default()),
            free_licence("0PLF", "Free One"),
        ];
        let candidates = [user("005A", None)];
        let prices = Prices::new(
            "EUR",
            [
                ("PaidKey".to_owned(), crate::Money::from_ten_thousandths(200_000)),
                ("Free One".to_owned(), crate::Money::from_ten_thousandths(10_000)),
            ],
        );
        let mut finder = UnusedFinder::new(&subscriptions, &candidates, Some(&prices));
        // 005A is a candidate already; 005B lists a user licence, an unknown id and the paid
        // licence twice; 005C a free one.
        finder.push(&with_unused("005A", &["0PLP"]));
        finder.push(&with_unused("005B", &["0PLP", "100A", "0PLX", "0PLP"]));
        finder.push(&with_unused("005C", &["0PLF"]));
        let unused = finder.finish();
        let found: Vec<(&str, &str, bool, Option<String>)> = unused
            .iter()
            .map(|u| (u.user_id.as_str(), u.licence_id.as_str(), u.paid, u.monthly.map(|m| m.to_string())))
            .collect();
        // The free licence's price is not used: it is never costed.
        assert_eq!(found, [("005B", "0PLP", true, Some("20.00".to_owned())), ("005C", "0PLF", false, None)]);
        assert_eq!(
            unused[0].action,
            "remove the PermissionSetLicenseAssign of 005B@acme.com for Paid One (PaidKey)"
        );
    }

    #[test]
    fn unused_paid_assignments_are_reclaimable_and_free_ones_only_counted() {
        let subscriptions = [
            subscription(SubscriptionSource::PermissionSetLicense, "0PLP", "Paid One"),
            free_licence("0PLF", "Free One"),
        ];
        let mut finder = UnusedFinder::new(&subscriptions, &[], None);
        finder.push(&with_unused("005B", &["0PLP", "0PLF"]));
        finder.push(&with_unused("005C", &["0PLP"]));
        let unused = finder.finish();
        let known = Known { frozen: true, login_activity: true, unused_assignments: true };
        let uses = subscription_uses(&subscriptions, &[], &unused, known, Pricing::default());
        let figures: Vec<_> =
            uses.iter().map(|u| (u.paid, u.reclaimable, u.unused_assignment_seats)).collect();
        assert_eq!(figures, [(true, 2, Some(2)), (false, 0, Some(1))]);
        let unknown = Known { unused_assignments: false, ..known };
        let uses = subscription_uses(&subscriptions, &[], &[], unknown, Pricing::default());
        assert!(uses.iter().all(|u| u.unused_assignment_seats.is_none()));
    }

    #[test]
    fn a_last_login_that_is_not_a_date_time_is_an_error_naming_the_field() {
        let subscriptions = [subscription(SubscriptionSource::UserLicense, "100A", "Salesforce")];
        let mut grouper = CandidateGrouper::new(at("2024-03-31T00:00:00Z"), &subscriptions);
        let error = grouper.push(user("005A", Some("yesterday")), "100A").unwrap_err();
        assert!(matches!(error, StoreError::InvalidTimestamp { field: "last_login_at", .. }), "{error:?}");
    }

    #[test]
    fn seats_free_reclaimable_and_over_assigned() {
        let mut over = subscription(SubscriptionSource::UserLicense, "100A", "Salesforce");
        over.label = Some("Salesforce Platform".to_owned());
        over.used = Some(12);
        let mut site = subscription(SubscriptionSource::PackageLicense, "050A", "acmepkg");
        site.unlimited = true;
        site.total = Some(-1);
        site.used = Some(-1);
        let subscriptions = [over, site.judged(&PaidRules::default())];
        let mut candidate = user("005A", None);
        candidate.paid_licences.push(HeldLicence {
            source: SubscriptionSource::UserLicense,
            id: "100A".to_owned(),
            name: "Salesforce".to_owned(),
        });

        let uses = subscription_uses(
            &subscriptions,
            &[candidate],
            &[],
            Known { frozen: false, login_activity: false, unused_assignments: false },
            Pricing::default(),
        );
        let figures: Vec<_> = uses
            .iter()
            .map(|u| (u.total, u.used, u.free, u.utilisation_percent, u.paid, u.reclaimable))
            .collect();
        assert_eq!(
            figures,
            [(Some(10), Some(12), Some(0), Some(120.0), true, 1), (None, None, None, None, false, 0)]
        );

        let over = over_assigned(&subscriptions);
        assert_eq!(over.len(), 1);
        assert_eq!(
            (over[0].name.as_str(), over[0].total, over[0].used, over[0].over_by),
            ("Salesforce Platform", 10, 12, 2)
        );
    }

    fn snapshot(filter_all: bool, company_names: &[&str]) -> SnapshotInfo {
        SnapshotInfo {
            id: SnapshotId(1),
            org_id: "00D".to_owned(),
            org_name: "Acme".to_owned(),
            is_sandbox: false,
            collected_at: "2024-03-31T00:00:00Z".to_owned(),
            collected_at_ms: 0,
            users: 0,
            subscriptions: 0,
            filter_all,
            company_names: company_names.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    fn domains() -> Vec<DomainCount> {
        [Some("acme.com"), Some("eu.acme.com"), None, Some("partner.io")]
            .into_iter()
            .map(|domain| DomainCount { domain: domain.map(str::to_owned), users: 1, active: 1 })
            .collect()
    }

    #[test]
    fn the_footprint_leaves_out_company_domains_and_orders_kinds() {
        let kinds = ["other", "guest", "partner", "zeta", "customer"]
            .map(|kind| KindCount { account_kind: kind.to_owned(), users: 1, active: 0 })
            .to_vec();
        let footprint = third_party(&snapshot(false, &["acme.com"]), domains(), kinds);
        assert!(!footprint.all_domains_shown);
        let shown: Vec<_> = footprint.domains.iter().map(|d| d.domain.as_deref()).collect();
        assert_eq!(shown, [None, Some("partner.io")]);
        let kinds: Vec<_> = footprint.external_by_kind.iter().map(|k| k.account_kind.as_str()).collect();
        assert_eq!(kinds, ["partner", "customer", "guest", "other", "zeta"]);

        let everyone = third_party(&snapshot(true, &["*"]), domains(), Vec::new());
        assert!(everyone.all_domains_shown);
        assert_eq!(everyone.domains.len(), 4);
    }

    #[test]
    fn the_integration_allocation_caps_what_is_reclaimable_and_bought() {
        let mut integration = subscription(SubscriptionSource::UserLicense, "100I", "Salesforce Integration");
        integration.key = Some("CLOUD_INTEGRATION_USER".to_owned());
        integration.total = Some(9);
        integration.used = Some(7);
        let subscriptions = [integration.judged(&PaidRules::default())];
        let holder = |id: &str| {
            let mut candidate = user(id, None);
            candidate.paid_licences.push(HeldLicence {
                source: SubscriptionSource::UserLicense,
                id: "100I".to_owned(),
                name: "Salesforce Integration".to_owned(),
            });
            candidate
        };
        let candidates = [holder("005A"), holder("005B"), holder("005C")];
        let prices = Prices::new(
            "EUR",
            [("cloud_integration_user".to_owned(), crate::Money::from_ten_thousandths(100_000))],
        );
        let figures = |edition: Option<&str>| {
            let uses = subscription_uses(
                &subscriptions,
                &candidates,
                &[],
                Known { frozen: false, login_activity: false, unused_assignments: false },
                Pricing { edition, prices: Some(&prices) },
            );
            let u = &uses[0];
            (
                u.included_seats,
                u.reclaimable,
                u.bought_monthly.map(|m| m.to_string()),
                money_summary(&uses, Some(&prices)),
            )
        };
        // 3 candidates, 7 used, 5 included: 2 seats are waste; 9 - 5 = 4 paid for at 10.00.
        let (included, reclaimable, bought, summary) = figures(Some("Unlimited Edition"));
        assert_eq!((included, reclaimable, bought.as_deref()), (Some(5), 2, Some("40.00")));
        assert_eq!(summary.reclaimable_monthly.map(|m| m.to_string()).as_deref(), Some("20.00"));
        assert_eq!(summary.reclaimable_yearly.map(|m| m.to_string()).as_deref(), Some("240.00"));
        // 1 included: all 3 candidates' seats.
        let (included, reclaimable, bought, _) = figures(Some("Developer Edition"));
        assert_eq!((included, reclaimable, bought.as_deref()), (Some(1), 3, Some("80.00")));
        let (included, reclaimable, ..) = figures(None);
        assert_eq!((included, reclaimable), (Some(5), 2), "unknown edition: as Enterprise");
    }
}
