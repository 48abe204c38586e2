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

use super::model::Report;
use crate::StoreError;
use crate::render;

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
            block(
                "subscription",
                &[
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
                ],
                self.subscriptions.iter().map(|sub| {
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
                    ]
                }),
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
                        c.reason.to_owned(),
                        text(&c.paid_licences.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(";")),
                        text(&c.paid_licences.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(";")),
                    ]
                }),
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
}
