//! `sfconn report -f csv`: one block per section, separated by an empty line; each block has its
//! own header row and its first column, `section`, names the section on every row.
//!
//! Text that came from the org (names, labels, ids, usernames, domains…) goes through
//! [`CsvCells::text`]: by default a cell a spreadsheet would run as a formula gets a leading `'`
//! (`sfconn-csvcell`, docs/security.md). Figures sfconn computes (`free` may be negative,
//! `over_by`, `days_since_login`, percentages) and its own words (`section`, `source`, `reason`,
//! booleans) are written as they are.

use std::io::{self, Write};

use sfconn_csvcell::CsvCells;

use super::model::{CrossOrgReport, MoneySummary, PRICES_HINT, Report, SubscriptionUse};
use crate::render;
use crate::{Money, StoreError};

fn num(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A block's records: the header row (`section` and `columns`), then each row with `section`
/// in front.
fn block(section: &str, columns: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<Vec<String>> {
    let header = std::iter::once("section").chain(columns.iter().copied()).map(str::to_owned).collect();
    let rows = rows.map(|row| std::iter::once(section.to_owned()).chain(row).collect());
    std::iter::once(header).chain(rows).collect()
}

/// The columns of a `subscription` row, after `section`.
const SUBSCRIPTION_COLUMNS: &[&str] = &[
    "source",
    "id",
    "name",
    "label",
    "status",
    "total",
    "used",
    "free",
    "utilisation_percent",
    "unlimited",
    "paid",
    "reclaimable",
    "frozen_seats",
    "low_activity_seats",
    "key",
    "included_seats",
    "price_per_seat",
    "bought_monthly",
    "reclaimable_monthly",
    "reclaimable_yearly",
    "unused_assignment_seats",
];

fn amount(value: Option<Money>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The columns of the `money` row, after `section`.
const MONEY_COLUMNS: &[&str] = &[
    "currency",
    "reclaimable_seats",
    "unpriced_reclaimable_seats",
    "reclaimable_monthly",
    "reclaimable_yearly",
    "bought_monthly",
    "hint",
];

/// The `money` row: without prices its amounts are empty and `hint` says how to add them.
fn money_row(money: &MoneySummary) -> Vec<String> {
    vec![
        money.currency.clone().unwrap_or_default(),
        money.reclaimable_seats.to_string(),
        money.unpriced_reclaimable_seats.to_string(),
        amount(money.reclaimable_monthly),
        amount(money.reclaimable_yearly),
        amount(money.bought_monthly),
        if money.currency.is_none() { PRICES_HINT.to_owned() } else { String::new() },
    ]
}

fn subscription_row(sub: &SubscriptionUse, cells: CsvCells) -> Vec<String> {
    let text = |value: &str| cells.text(value).into_owned();
    let optional = |value: &Option<String>| cells.optional(value.as_deref());
    vec![
        sub.source.to_string(),
        text(&sub.id),
        text(&sub.name),
        optional(&sub.label),
        optional(&sub.status),
        num(sub.total),
        num(sub.used),
        num(sub.free),
        sub.utilisation_percent.map(|v| format!("{v:.1}")).unwrap_or_default(),
        sub.unlimited.to_string(),
        sub.paid.to_string(),
        sub.reclaimable.to_string(),
        num(sub.frozen_seats),
        num(sub.low_activity_seats),
        optional(&sub.key),
        num(sub.included_seats),
        amount(sub.price_per_seat),
        amount(sub.bought_monthly),
        amount(sub.reclaimable_monthly),
        amount(sub.reclaimable_yearly),
        num(sub.unused_assignment_seats),
    ]
}

/// Writes the blocks, an empty line between two.
fn write_blocks(out: &mut dyn Write, blocks: &[Vec<Vec<String>>]) -> io::Result<()> {
    for (index, block) in blocks.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(&mut *out);
        for record in block {
            writer.write_record(record).map_err(io::Error::other)?;
        }
        writer.flush()?;
    }
    Ok(())
}

impl Report {
    /// `-f csv`: one block per section, separated by an empty line; each block has its own
    /// header row and its first column, `section`, names the section on every row.
    /// Text from the org is written as `cells` says.
    pub fn write_csv(&self, out: &mut dyn Write, cells: CsvCells) -> Result<(), StoreError> {
        render::write("report", || self.csv(out, cells))
    }

    fn csv(&self, out: &mut dyn Write, cells: CsvCells) -> io::Result<()> {
        let text = |value: &str| cells.text(value).into_owned();
        let optional = |value: &Option<String>| cells.optional(value.as_deref());
        let blocks = [
            block("money", MONEY_COLUMNS, std::iter::once(money_row(&self.money))),
            block(
                "subscription",
                SUBSCRIPTION_COLUMNS,
                self.subscriptions.iter().map(|sub| subscription_row(sub, cells)),
            ),
            block(
                "reclaim_candidate",
                &[
                    "user_id",
                    "username",
                    "email",
                    "name",
                    "account_kind",
                    "profile",
                    "last_login_at",
                    "days_since_login",
                    "reason",
                    "frozen",
                    "logins_in_window",
                    "paid_licence_ids",
                    "paid_licences",
                ],
                self.reclaim_candidates.iter().map(|c| {
                    vec![
                        text(&c.user_id),
                        text(&c.username),
                        optional(&c.email),
                        optional(&c.name),
                        text(&c.account_kind),
                        optional(&c.profile),
                        optional(&c.last_login_at),
                        num(c.days_since_login),
                        c.reason.to_string(),
                        c.frozen.map(|f| f.to_string()).unwrap_or_default(),
                        num(c.logins_in_window),
                        text(&c.paid_licences.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(";")),
                        text(&c.paid_licences.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(";")),
                    ]
                }),
            ),
            block(
                "unused_assignment",
                &[
                    "user_id",
                    "username",
                    "email",
                    "name",
                    "account_kind",
                    "profile",
                    "last_login_at",
                    "logins_in_window",
                    "licence_id",
                    "licence",
                    "key",
                    "paid",
                    "monthly",
                    "action",
                ],
                self.unused_assignments.iter().map(|u| {
                    vec![
                        text(&u.user_id),
                        text(&u.username),
                        optional(&u.email),
                        optional(&u.name),
                        text(&u.account_kind),
                        optional(&u.profile),
                        optional(&u.last_login_at),
                        num(u.logins_in_window),
                        text(&u.licence_id),
                        text(&u.licence),
                        optional(&u.key),
                        u.paid.to_string(),
                        amount(u.monthly),
                        text(&u.action),
                    ]
                }),
            ),
            block(
                "reclaim_class",
                &["class", "computed", "candidates", "not_computed_because"],
                self.classes.iter().map(|c| {
                    vec![
                        c.class.to_string(),
                        c.computed.to_string(),
                        num(c.candidates),
                        c.not_computed_because.unwrap_or_default().to_owned(),
                    ]
                }),
            ),
            block(
                "login_activity",
                &["state", "days", "path", "rows", "min_logins"],
                std::iter::once(vec![
                    self.login_activity.state.to_owned(),
                    num(self.login_activity.days),
                    self.login_activity.path.clone().unwrap_or_default(),
                    num(self.login_activity.rows),
                    self.min_logins.to_string(),
                ]),
            ),
            block(
                "login_bucket",
                &["logins", "min", "max", "users", "paid_users"],
                self.login_activity.distribution.iter().map(|b| {
                    vec![
                        b.label.to_owned(),
                        b.min.to_string(),
                        num(b.max),
                        b.users.to_string(),
                        b.paid_users.to_string(),
                    ]
                }),
            ),
            block(
                "feature_licence",
                &["name", "label", "used", "total"],
                self.feature_licences
                    .iter()
                    .flatten()
                    .map(|f| vec![text(&f.name), optional(&f.label), f.used.to_string(), num(f.total)]),
            ),
            block(
                "domain",
                &["domain", "users", "active"],
                self.third_party
                    .domains
                    .iter()
                    .map(|d| vec![optional(&d.domain), d.users.to_string(), d.active.to_string()]),
            ),
            block(
                "external_kind",
                &["account_kind", "users", "active"],
                self.third_party
                    .external_by_kind
                    .iter()
                    .map(|k| vec![text(&k.account_kind), k.users.to_string(), k.active.to_string()]),
            ),
            block(
                "over_assigned",
                &["source", "id", "name", "total", "used", "over_by"],
                self.over_assigned.iter().map(|o| {
                    vec![
                        o.source.to_string(),
                        text(&o.id),
                        text(&o.name),
                        o.total.to_string(),
                        o.used.to_string(),
                        o.over_by.to_string(),
                    ]
                }),
            ),
        ];

        write_blocks(out, &blocks)
    }
}

impl CrossOrgReport {
    /// `report --all-orgs -f csv`: two blocks like those of `report -f csv`. `subscription`:
    /// every org's subscriptions in one block, with `org_id`, `org_name` and `snapshot` first;
    /// `duplicate`: one row per (person, org account) of the people paid for in more than one
    /// org. Text from the org is written as `cells` says.
    pub fn write_csv(&self, out: &mut dyn Write, cells: CsvCells) -> Result<(), StoreError> {
        render::write("cross-org report", || self.csv(out, cells))
    }

    fn csv(&self, out: &mut dyn Write, cells: CsvCells) -> io::Result<()> {
        let text = |value: &str| cells.text(value).into_owned();
        let optional = |value: &Option<String>| cells.optional(value.as_deref());
        let org_columns = ["org_id", "org_name", "snapshot"];
        let subscription_columns: Vec<&str> =
            org_columns.iter().chain(SUBSCRIPTION_COLUMNS).copied().collect();
        let subscriptions = self.orgs.iter().flat_map(|org| {
            org.subscriptions.iter().map(move |sub| {
                let s = &org.snapshot;
                [text(&s.org_id), text(&s.org_name), s.id.to_string()]
                    .into_iter()
                    .chain(subscription_row(sub, cells))
                    .collect()
            })
        });
        let duplicates = self.duplicates.iter().flat_map(|person| {
            person.accounts.iter().map(move |a| {
                vec![
                    text(&person.key),
                    person.matched_by.as_str().to_owned(),
                    text(&a.org_id),
                    text(&a.org_name),
                    a.snapshot.to_string(),
                    text(&a.user_id),
                    text(&a.username),
                    optional(&a.email),
                    optional(&a.name),
                    optional(&a.federation_id),
                    a.matched_by.as_str().to_owned(),
                    optional(&a.last_login_at),
                    num(a.days_since_login),
                    a.activity.as_str().to_owned(),
                    a.reclaim_candidate.to_string(),
                    text(&a.paid_licences.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(";")),
                    text(&a.paid_licences.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(";")),
                ]
            })
        });
        let money_columns: Vec<&str> = org_columns.iter().chain(MONEY_COLUMNS).copied().collect();
        // The first row is every org's total (no org columns), then one per org.
        let money = std::iter::once(
            ["", "", ""].map(str::to_owned).into_iter().chain(money_row(&self.money)).collect(),
        )
        .chain(self.orgs.iter().map(|org| {
            let s = &org.snapshot;
            [text(&s.org_id), text(&s.org_name), s.id.to_string()]
                .into_iter()
                .chain(money_row(&org.money))
                .collect()
        }));
        let blocks = [
            block("money", &money_columns, money),
            block("subscription", &subscription_columns, subscriptions),
            block(
                "duplicate",
                &[
                    "person",
                    "person_matched_by",
                    "org_id",
                    "org_name",
                    "snapshot",
                    "user_id",
                    "username",
                    "email",
                    "name",
                    "federation_id",
                    "matched_by",
                    "last_login_at",
                    "days_since_login",
                    "activity",
                    "reclaim_candidate",
                    "paid_licence_ids",
                    "paid_licences",
                ],
                duplicates,
            ),
        ];
        write_blocks(out, &blocks)
    }
}
