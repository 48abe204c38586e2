//! `sfconn report -f csv`: one block per section, separated by an empty line; each block has its
//! own header row, and its first column, `section`, names the section on every row.
//!
//! Text that came from the org (names, labels, ids, usernames, domains…) goes through
//! [`CsvCells::text`]: by default a cell a spreadsheet would run as a formula gets a leading `'`
//! (`sfconn-csvcell`, docs/security.md). Figures sfconn computes (`free` may be negative,
//! `over_by`, `days_since_login`, percentages) and its own words (`section`, `source`, `reason`,
//! booleans) are written as they are.

use std::io::Write;

use sfconn_csvcell::CsvCells;

use crate::error::StoreError;
use crate::report::Report;

impl Report {
    /// `-f csv`, with text from the org written as `cells` says.
    pub fn write_csv(&self, out: &mut dyn Write, cells: CsvCells) -> Result<(), StoreError> {
        write_blocks(out, &self.csv_blocks(cells))
            .map_err(|source| StoreError::Write { what: "report", source })
    }

    fn csv_blocks(&self, cells: CsvCells) -> Vec<Vec<Vec<String>>> {
        let num = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
        let text = |value: &str| cells.text(value).into_owned();
        let optional = |value: &Option<String>| cells.optional(value.as_deref());
        let header = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        let mut blocks = Vec::new();

        let mut block = vec![header(&[
            "section",
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
        ])];
        for sub in &self.subscriptions {
            block.push(vec![
                "subscription".into(),
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
            ]);
        }
        blocks.push(block);

        let mut block = vec![header(&[
            "section",
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
        ])];
        for c in &self.reclaim_candidates {
            let joined = |part: fn(&crate::report::HeldLicence) -> &str| {
                text(&c.paid_licences.iter().map(part).collect::<Vec<_>>().join(";"))
            };
            block.push(vec![
                "reclaim_candidate".into(),
                text(&c.user_id),
                text(&c.username),
                optional(&c.email),
                optional(&c.name),
                text(&c.account_kind),
                optional(&c.profile),
                optional(&c.last_login_at),
                num(c.days_since_login),
                c.reason.to_owned(),
                joined(|l| l.id.as_str()),
                joined(|l| l.name.as_str()),
            ]);
        }
        blocks.push(block);

        let mut block = vec![header(&["section", "domain", "users", "active"])];
        for d in &self.third_party.domains {
            block.push(vec!["domain".into(), optional(&d.domain), d.users.to_string(), d.active.to_string()]);
        }
        blocks.push(block);

        let mut block = vec![header(&["section", "account_kind", "users", "active"])];
        for k in &self.third_party.external_by_kind {
            block.push(vec![
                "external_kind".into(),
                text(&k.account_kind),
                k.users.to_string(),
                k.active.to_string(),
            ]);
        }
        blocks.push(block);

        let mut block = vec![header(&["section", "source", "id", "name", "total", "used", "over_by"])];
        for o in &self.over_assigned {
            block.push(vec![
                "over_assigned".into(),
                o.source.to_string(),
                text(&o.id),
                text(&o.name),
                o.total.to_string(),
                o.used.to_string(),
                o.over_by.to_string(),
            ]);
        }
        blocks.push(block);
        blocks
    }
}

fn write_blocks(out: &mut dyn Write, blocks: &[Vec<Vec<String>>]) -> std::io::Result<()> {
    for (index, block) in blocks.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(&mut *out);
        for record in block {
            writer.write_record(record).map_err(std::io::Error::other)?;
        }
        writer.flush()?;
    }
    Ok(())
}
