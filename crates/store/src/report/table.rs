//! `sfconn report -f table`: the report for a person, one section after another.

use std::io::{self, Write};

use sfconn_text::{Table, opt};

use super::model::{CrossOrgReport, ReclaimClass, Report, SubscriptionUse};
use crate::render;
use crate::{Money, StoreError};

/// Before every line of a table.
const INDENT: &str = "  ";

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}%"))
}

fn seats(value: Option<i64>, unlimited: bool) -> String {
    if unlimited { "unlimited".to_owned() } else { opt(value) }
}

fn money(value: Option<Money>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The subscriptions of one snapshot, as `report` and `report --all-orgs` show them; with
/// prices (`currency`), the money columns too.
fn subscriptions_table(
    subscriptions: &[SubscriptionUse],
    currency: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut headers = vec![
        "SOURCE",
        "NAME",
        "#TOTAL",
        "#USED",
        "#FREE",
        "#UTILISATION",
        "PAID",
        "#RECLAIMABLE",
        "#FROZEN",
        "#LOW ACTIVITY",
        "#UNUSED ASSIGNED",
    ];
    if currency.is_some() {
        headers.extend(["#PRICE/SEAT", "#BOUGHT/MONTH", "#RECLAIMABLE/MONTH", "#RECLAIMABLE/YEAR"]);
    }
    let mut table = Table::new(&headers);
    let mut hidden = 0;
    for sub in subscriptions {
        if !sub.unlimited && sub.total == Some(0) && sub.used.unwrap_or(0) == 0 {
            hidden += 1;
            continue;
        }
        let mut row = vec![
            sub.source.to_string(),
            sub.label.clone().unwrap_or_else(|| sub.name.clone()),
            seats(sub.total, sub.unlimited),
            opt(sub.used),
            opt(sub.free),
            percent(sub.utilisation_percent),
            if sub.paid { "yes" } else { "no" }.to_owned(),
            sub.reclaimable.to_string(),
            opt(sub.frozen_seats),
            opt(sub.low_activity_seats),
            opt(sub.unused_assignment_seats),
        ];
        if currency.is_some() {
            row.extend([
                money(sub.price_per_seat),
                money(sub.bought_monthly),
                money(sub.reclaimable_monthly),
                money(sub.reclaimable_yearly),
            ]);
        }
        table.row(row);
    }
    match currency {
        Some(currency) => writeln!(out, "Subscriptions ({}), amounts in {currency}", subscriptions.len())?,
        None => writeln!(out, "Subscriptions ({})", subscriptions.len())?,
    }
    table.write(out, INDENT)?;
    if hidden > 0 {
        writeln!(out, "{INDENT}({hidden} with no seats bought or used not shown; see -f json)")?;
    }
    for sub in subscriptions {
        if let Some(included) = sub.included_seats {
            writeln!(
                out,
                "{INDENT}({}: the edition includes {included} seat{} at no cost, counted neither as reclaimable nor as bought)",
                sub.label.as_deref().unwrap_or(&sub.name),
                if included == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}

impl Report {
    /// The human summary (`-f table`).
    pub fn write_table(&self, out: &mut dyn Write) -> Result<(), StoreError> {
        render::write("report", || self.table(out))
    }

    fn table(&self, out: &mut dyn Write) -> io::Result<()> {
        let s = &self.snapshot;
        writeln!(
            out,
            "Licence report: {} ({}), snapshot {} collected {}",
            s.org_name, s.org_id, s.id, s.collected_at
        )?;
        writeln!(out, "{}", self.money.headline())?;
        writeln!(out)?;
        self.subscriptions_table(out)?;
        writeln!(out)?;
        self.candidates_table(out)?;
        writeln!(out)?;
        self.unused_assignments_table(out)?;
        writeln!(out)?;
        self.login_activity_table(out)?;
        writeln!(out)?;
        self.feature_licences_table(out)?;
        writeln!(out)?;
        self.third_party_tables(out)?;
        writeln!(out)?;
        self.over_assigned_table(out)
    }

    fn subscriptions_table(&self, out: &mut dyn Write) -> io::Result<()> {
        subscriptions_table(&self.subscriptions, self.money.currency.as_deref(), out)
    }

    fn candidates_table(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Reclaim candidates ({}): active users holding a paid licence who are frozen, have not logged in since {} ({} days), or logged in fewer than {} times in the login-activity window",
            self.reclaim_candidates.len(),
            self.inactive_before,
            self.inactive_days,
            self.min_logins
        )?;
        for class in &self.classes {
            match (class.candidates, class.not_computed_because) {
                (Some(count), _) => writeln!(out, "{INDENT}{}: {count}", class.class.describe())?,
                (None, because) => writeln!(
                    out,
                    "{INDENT}{}: not computed: {}",
                    class.class.describe(),
                    because.unwrap_or("unknown")
                )?,
            }
        }
        let mut table = Table::new(&[
            "USERNAME",
            "CLASS",
            "KIND",
            "LAST LOGIN",
            "#DAYS",
            "#LOGINS",
            "PROFILE",
            "PAID LICENCES",
        ]);
        for candidate in &self.reclaim_candidates {
            table.row(vec![
                candidate.username.clone(),
                candidate.reason.to_string(),
                candidate.account_kind.clone(),
                candidate.last_login_at.clone().unwrap_or_else(|| "never".to_owned()),
                opt(candidate.days_since_login),
                opt(candidate.logins_in_window),
                opt(candidate.profile.as_deref()),
                candidate.paid_licences.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
            ]);
        }
        table.write_or(out, INDENT, "none")
    }

    fn unused_assignments_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let class = self.classes.iter().find(|c| c.class == ReclaimClass::UnusedAssignment);
        if let Some(because) = class.and_then(|c| c.not_computed_because) {
            return writeln!(out, "Unused permission set licence assignments: not computed: {because}");
        }
        writeln!(
            out,
            "Unused permission set licence assignments ({}): remove the PermissionSetLicenseAssign of the user for the licence; none of the user's permission sets uses it (users listed above are not listed again)",
            self.unused_assignments.len()
        )?;
        let currency = self.money.currency.as_deref();
        let mut headers =
            vec!["USERNAME", "KIND", "LAST LOGIN", "#LOGINS", "PROFILE", "LICENCE", "KEY", "PAID"];
        if currency.is_some() {
            headers.push("#MONTHLY");
        }
        let mut table = Table::new(&headers);
        for unused in &self.unused_assignments {
            let mut row = vec![
                unused.username.clone(),
                unused.account_kind.clone(),
                unused.last_login_at.clone().unwrap_or_else(|| "never".to_owned()),
                opt(unused.logins_in_window),
                opt(unused.profile.as_deref()),
                unused.licence.clone(),
                opt(unused.key.as_deref()),
                if unused.paid { "yes" } else { "no" }.to_owned(),
            ];
            if currency.is_some() {
                row.push(money(unused.monthly));
            }
            table.row(row);
        }
        table.write_or(out, INDENT, "none")
    }

    fn login_activity_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let activity = &self.login_activity;
        let (Some(days), true) = (activity.days, activity.collected()) else {
            return writeln!(out, "Login activity: {}", not_collected(activity.state));
        };
        writeln!(
            out,
            "Login activity: successful logins in the {days} days before the snapshot ({} LoginHistory rows, {} path)",
            opt(activity.rows),
            opt(activity.path.as_deref())
        )?;
        let mut table = Table::new(&["LOGINS", "#USERS", "#PAID USERS"]);
        for bucket in &activity.distribution {
            table.row(vec![bucket.label.to_owned(), bucket.users.to_string(), bucket.paid_users.to_string()]);
        }
        table.write_or(out, INDENT, "none")
    }

    fn feature_licences_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let Some(licences) = &self.feature_licences else {
            return writeln!(
                out,
                "Feature licences: not in this snapshot (collected before sfconn read them)"
            );
        };
        writeln!(out, "Feature licences ({})", licences.len())?;
        let mut table = Table::new(&["NAME", "LABEL", "#USED", "#TOTAL"]);
        for licence in licences {
            table.row(vec![
                licence.name.clone(),
                opt(licence.label.as_deref()),
                licence.used.to_string(),
                licence.total.map_or_else(|| "unknown".to_owned(), |total| total.to_string()),
            ]);
        }
        table.write_or(out, INDENT, "none")
    }

    fn third_party_tables(&self, out: &mut dyn Write) -> io::Result<()> {
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
        table.write_or(out, INDENT, "none")?;
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
        table.write_or(out, INDENT, "none")
    }

    fn over_assigned_table(&self, out: &mut dyn Write) -> io::Result<()> {
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
        table.write_or(out, INDENT, "none")
    }
}

/// Why a snapshot has no login distribution, in one line.
pub(super) fn not_collected(state: &str) -> &'static str {
    match state {
        "unreadable" => {
            "not in this snapshot: LoginHistory could not be read (see the snapshot's warnings), so low activity is not computed"
        }
        "not_collected" => {
            "not collected for this snapshot (collect with --login-activity DAYS), so low activity is not computed"
        }
        _ => {
            "not in this snapshot (stored before sfconn kept login activity), so low activity is not computed"
        }
    }
}

fn licence_names(licences: &[super::model::HeldLicence]) -> String {
    licences.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
}

impl CrossOrgReport {
    /// `report --all-orgs -f table`: each org's subscriptions, then the people paid for in
    /// more than one org, then the seats among them to reclaim.
    pub fn write_table(&self, out: &mut dyn Write) -> Result<(), StoreError> {
        render::write("cross-org report", || self.table(out))
    }

    fn table(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Cross-org licence view: {} org{}, the latest snapshot of each; inactive means no login within {} days before that snapshot",
            self.orgs.len(),
            if self.orgs.len() == 1 { "" } else { "s" },
            self.inactive_days
        )?;
        writeln!(out, "All orgs together. {}", self.money.headline())?;
        for org in &self.orgs {
            let s = &org.snapshot;
            writeln!(out)?;
            writeln!(out, "{} ({}), snapshot {} collected {}", s.org_name, s.org_id, s.id, s.collected_at)?;
            writeln!(out, "{}", org.money.line(false))?;
            subscriptions_table(&org.subscriptions, org.money.currency.as_deref(), out)?;
        }
        writeln!(out)?;
        self.duplicates_table(out)?;
        writeln!(out)?;
        self.reclaim_table(out)
    }

    fn duplicates_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let accounts: usize = self.duplicates.iter().map(|p| p.accounts.len()).sum();
        writeln!(
            out,
            "Paid in more than one org ({} people, {} accounts): the same person holds a paid licence in each",
            self.duplicates.len(),
            accounts
        )?;
        let mut table = Table::new(&[
            "PERSON",
            "ORG",
            "ORG ID",
            "USERNAME",
            "MATCHED BY",
            "PAID LICENCES",
            "LAST LOGIN",
            "#DAYS",
            "ACTIVITY",
            "RECLAIM",
        ]);
        for person in &self.duplicates {
            for (index, account) in person.accounts.iter().enumerate() {
                table.row(vec![
                    if index == 0 { person.key.clone() } else { String::new() },
                    account.org_name.clone(),
                    account.org_id.clone(),
                    account.username.clone(),
                    account.matched_by.as_str().to_owned(),
                    licence_names(&account.paid_licences),
                    account.last_login_at.clone().unwrap_or_else(|| "never".to_owned()),
                    opt(account.days_since_login),
                    account.activity.as_str().to_owned(),
                    if account.reclaim_candidate { "yes" } else { "" }.to_owned(),
                ]);
            }
        }
        table.write_or(out, INDENT, "none")
    }

    fn reclaim_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut table =
            Table::new(&["USERNAME", "ORG", "ORG ID", "LAST LOGIN", "#DAYS", "PAID LICENCES", "ACTIVE IN"]);
        for person in &self.duplicates {
            for account in person.accounts.iter().filter(|a| a.reclaim_candidate) {
                let active_in = person
                    .active_in
                    .iter()
                    .filter(|org| org.org_id != account.org_id)
                    .map(|org| org.org_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                table.row(vec![
                    account.username.clone(),
                    account.org_name.clone(),
                    account.org_id.clone(),
                    account.last_login_at.clone().unwrap_or_else(|| "never".to_owned()),
                    opt(account.days_since_login),
                    licence_names(&account.paid_licences),
                    active_in,
                ]);
            }
        }
        writeln!(
            out,
            "Reclaim candidates among them ({}): no login within {} days in this org, active in another",
            table_rows(&self.duplicates),
            self.inactive_days
        )?;
        table.write_or(out, INDENT, "none")
    }
}

fn table_rows(people: &[super::model::DuplicatePerson]) -> usize {
    people.iter().flat_map(|p| &p.accounts).filter(|a| a.reclaim_candidate).count()
}
