//! `sfconn history diff -f table`: the diff for a person, one section after another.

use std::io::{self, Write};

use sfconn_text::{Table, opt};

use super::model::Diff;
use crate::{StoreError, render};

/// Before every line of a table.
const INDENT: &str = "  ";

/// A figure in both snapshots: `a` when it did not change, else `a -> b`, with the difference
/// when both are counts.
fn change(
    from: Option<i64>,
    to: Option<i64>,
    unlimited_from: Option<bool>,
    unlimited_to: Option<bool>,
) -> String {
    let show = |value: Option<i64>, unlimited: Option<bool>| {
        if unlimited == Some(true) { "unlimited".to_owned() } else { opt(value) }
    };
    let (a, b) = (show(from, unlimited_from), show(to, unlimited_to));
    if a == b {
        return a;
    }
    match (from, to) {
        (Some(x), Some(y)) if unlimited_from != Some(true) && unlimited_to != Some(true) => {
            format!("{a} -> {b} ({:+})", y - x)
        }
        _ => format!("{a} -> {b}"),
    }
}

impl Diff {
    /// The human summary (`-f table`).
    pub fn write_table(&self, out: &mut dyn Write) -> Result<(), StoreError> {
        render::write("diff", || self.table(out))
    }

    fn table(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Changes in {} ({}) from snapshot {} ({}) to snapshot {} ({})",
            self.to.org_name,
            self.to.org_id,
            self.from.id,
            self.from.collected_at,
            self.to.id,
            self.to.collected_at
        )?;
        if self.filter_changed {
            writeln!(
                out,
                "Note: the company names differ ({} -> {}): users added or removed may only have entered or left the filter",
                self.from.company_names.join(", "),
                self.to.company_names.join(", ")
            )?;
        }
        let user_sections = [
            ("Users added", &self.users_added),
            ("Users removed", &self.users_removed),
            ("Users activated", &self.users_activated),
            ("Users deactivated", &self.users_deactivated),
        ];
        for (title, users) in user_sections {
            writeln!(out)?;
            writeln!(out, "{title} ({})", users.len())?;
            let mut table = Table::new(&["USERNAME", "EMAIL", "KIND", "ACTIVE"]);
            for user in users {
                table.row(vec![
                    user.username.clone(),
                    opt(user.email.as_deref()),
                    user.account_kind.clone(),
                    if user.active { "yes" } else { "no" }.to_owned(),
                ]);
            }
            table.write_or(out, INDENT, "none")?;
        }
        let assignment_sections = [
            ("Licence assignments gained", &self.licences_gained),
            ("Licence assignments lost", &self.licences_lost),
        ];
        for (title, assignments) in assignment_sections {
            writeln!(out)?;
            writeln!(out, "{title} ({})", assignments.len())?;
            let mut table = Table::new(&["SOURCE", "LICENCE", "USERNAME"]);
            for a in assignments {
                table.row(vec![a.source.to_string(), a.subscription.clone(), a.username.clone()]);
            }
            table.write_or(out, INDENT, "none")?;
        }
        writeln!(out)?;
        writeln!(out, "Subscriptions changed ({})", self.subscriptions.len())?;
        let mut table = Table::new(&["SOURCE", "NAME", "CHANGE", "TOTAL", "USED"]);
        for s in &self.subscriptions {
            table.row(vec![
                s.source.to_string(),
                s.name.clone(),
                s.change.to_owned(),
                change(s.total_from, s.total_to, s.unlimited_from, s.unlimited_to),
                change(s.used_from, s.used_to, None, None),
            ]);
        }
        table.write_or(out, INDENT, "none")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_figure_shows_both_values_and_the_difference_between_counts() {
        assert_eq!(change(Some(5), Some(5), None, None), "5");
        assert_eq!(change(Some(5), Some(7), None, None), "5 -> 7 (+2)");
        assert_eq!(change(Some(7), Some(5), Some(false), Some(false)), "7 -> 5 (-2)");
        assert_eq!(change(Some(10), None, Some(false), Some(true)), "10 -> unlimited");
        assert_eq!(change(None, Some(3), None, Some(false)), "- -> 3");
    }
}
