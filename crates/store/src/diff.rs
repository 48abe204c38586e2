//! `sfconn history diff`: what changed between two stored snapshots of one org.

use std::collections::BTreeMap;
use std::io::Write;

use rusqlite::params;
use serde::Serialize;

use crate::{SnapshotInfo, Store, StoreError, SubscriptionSource};
use sfconn_text::{Table, opt};

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub from: SnapshotInfo,
    pub to: SnapshotInfo,
    /// The two snapshots were collected with different company names: users added or removed
    /// may only have entered or left the filter.
    pub filter_changed: bool,
    /// In `to`, not in `from`.
    pub users_added: Vec<UserChange>,
    /// In `from`, not in `to`.
    pub users_removed: Vec<UserChange>,
    /// Inactive in `from`, active in `to`.
    pub users_activated: Vec<UserChange>,
    /// Active in `from`, inactive in `to`.
    pub users_deactivated: Vec<UserChange>,
    /// (user, licence) assignments in `to` and not in `from`, including those of added users.
    pub licences_gained: Vec<AssignmentChange>,
    /// (user, licence) assignments in `from` and not in `to`, including those of removed users.
    pub licences_lost: Vec<AssignmentChange>,
    /// Subscriptions added, removed, or whose total, used or unlimited changed.
    pub subscriptions: Vec<SubscriptionChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserChange {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub account_kind: String,
    /// In the snapshot where the user is (for removed users: `from`).
    pub active: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssignmentChange {
    pub user_id: String,
    pub username: String,
    pub source: SubscriptionSource,
    pub subscription_id: String,
    /// The subscription's label (or name); its id when the snapshot has no such subscription.
    pub subscription: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionChange {
    pub source: SubscriptionSource,
    pub id: String,
    pub name: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    pub total_from: Option<i64>,
    pub total_to: Option<i64>,
    pub used_from: Option<i64>,
    pub used_to: Option<i64>,
    pub unlimited_from: Option<bool>,
    pub unlimited_to: Option<bool>,
}

#[derive(Clone, PartialEq)]
struct SubscriptionRow {
    source: SubscriptionSource,
    name: String,
    total: Option<i64>,
    used: Option<i64>,
    unlimited: bool,
}

impl Store {
    /// What changed from one snapshot to another (normally older to newer, of the same org).
    pub fn diff(&self, from: &SnapshotInfo, to: &SnapshotInfo) -> Result<Diff, StoreError> {
        let users_only_in = |a: i64, b: i64| {
            self.users(
                "SELECT u.id, u.username, u.email, u.account_kind, u.active FROM users u
                 WHERE u.snapshot_id = ?1
                   AND NOT EXISTS (SELECT 1 FROM users o WHERE o.snapshot_id = ?2 AND o.id = u.id)
                 ORDER BY u.id",
                a,
                b,
                "finding added and removed users",
            )
        };
        let users_switched = |was_active: bool| {
            self.users(
                if was_active {
                    "SELECT t.id, t.username, t.email, t.account_kind, t.active FROM users t
                     JOIN users f ON f.snapshot_id = ?2 AND f.id = t.id
                     WHERE t.snapshot_id = ?1 AND f.active = 1 AND t.active = 0 ORDER BY t.id"
                } else {
                    "SELECT t.id, t.username, t.email, t.account_kind, t.active FROM users t
                     JOIN users f ON f.snapshot_id = ?2 AND f.id = t.id
                     WHERE t.snapshot_id = ?1 AND f.active = 0 AND t.active = 1 ORDER BY t.id"
                },
                to.id.0,
                from.id.0,
                "finding activated and deactivated users",
            )
        };
        Ok(Diff {
            from: from.clone(),
            to: to.clone(),
            filter_changed: from.filter_all != to.filter_all || from.company_names != to.company_names,
            users_added: users_only_in(to.id.0, from.id.0)?,
            users_removed: users_only_in(from.id.0, to.id.0)?,
            users_activated: users_switched(false)?,
            users_deactivated: users_switched(true)?,
            licences_gained: self.assignments_only_in(to.id.0, from.id.0)?,
            licences_lost: self.assignments_only_in(from.id.0, to.id.0)?,
            subscriptions: self.subscription_changes(from.id.0, to.id.0)?,
        })
    }

    fn users(&self, sql: &str, a: i64, b: i64, context: &'static str) -> Result<Vec<UserChange>, StoreError> {
        let mut statement = self.conn.prepare(sql).map_err(StoreError::sqlite(context))?;
        let rows = statement
            .query_map(params![a, b], |row| {
                Ok(UserChange {
                    id: row.get(0)?,
                    username: row.get(1)?,
                    email: row.get(2)?,
                    account_kind: row.get(3)?,
                    active: row.get(4)?,
                })
            })
            .map_err(StoreError::sqlite(context))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::sqlite(context))
    }

    fn assignments_only_in(&self, a: i64, b: i64) -> Result<Vec<AssignmentChange>, StoreError> {
        let context = "comparing licence assignments";
        let mut statement = self
            .conn
            .prepare(
                "SELECT l.user_id, u.username, l.source, l.subscription_id, COALESCE(s.label, s.name, l.subscription_id)
                 FROM user_licences l
                 JOIN users u ON u.snapshot_id = l.snapshot_id AND u.id = l.user_id
                 LEFT JOIN subscriptions s ON s.snapshot_id = l.snapshot_id AND s.id = l.subscription_id
                 WHERE l.snapshot_id = ?1
                   AND NOT EXISTS (SELECT 1 FROM user_licences o
                                   WHERE o.snapshot_id = ?2 AND o.user_id = l.user_id
                                     AND o.subscription_id = l.subscription_id)
                 ORDER BY CASE l.source WHEN 'UserLicense' THEN 0 WHEN 'PermissionSetLicense' THEN 1 ELSE 2 END,
                          l.subscription_id, l.user_id",
            )
            .map_err(StoreError::sqlite(context))?;
        let rows = statement
            .query_map(params![a, b], |row| {
                let source: String = row.get(2)?;
                Ok(AssignmentChange {
                    user_id: row.get(0)?,
                    username: row.get(1)?,
                    source: SubscriptionSource::parse(&source).unwrap_or(SubscriptionSource::UserLicense),
                    subscription_id: row.get(3)?,
                    subscription: row.get(4)?,
                })
            })
            .map_err(StoreError::sqlite(context))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::sqlite(context))
    }

    fn subscription_rows(&self, snapshot: i64) -> Result<BTreeMap<String, SubscriptionRow>, StoreError> {
        let context = "comparing subscriptions";
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, source, COALESCE(label, name), total, used, unlimited FROM subscriptions WHERE snapshot_id = ?1",
            )
            .map_err(StoreError::sqlite(context))?;
        let rows = statement
            .query_map(params![snapshot], |row| {
                let source: String = row.get(1)?;
                Ok((
                    row.get::<_, String>(0)?,
                    SubscriptionRow {
                        source: SubscriptionSource::parse(&source).unwrap_or(SubscriptionSource::UserLicense),
                        name: row.get(2)?,
                        total: row.get(3)?,
                        used: row.get(4)?,
                        unlimited: row.get(5)?,
                    },
                ))
            })
            .map_err(StoreError::sqlite(context))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::sqlite(context))
    }

    fn subscription_changes(&self, from: i64, to: i64) -> Result<Vec<SubscriptionChange>, StoreError> {
        let before = self.subscription_rows(from)?;
        let after = self.subscription_rows(to)?;
        let mut ids: Vec<&String> = before.keys().chain(after.keys()).collect();
        ids.sort();
        ids.dedup();
        let mut changes: Vec<SubscriptionChange> = ids
            .into_iter()
            .filter_map(|id| {
                let (old, new) = (before.get(id), after.get(id));
                let change = match (old, new) {
                    (Some(_), None) => "removed",
                    (None, Some(_)) => "added",
                    (Some(old), Some(new))
                        if (old.total, old.used, old.unlimited) != (new.total, new.used, new.unlimited) =>
                    {
                        "changed"
                    }
                    _ => return None,
                };
                let any = new.or(old)?;
                Some(SubscriptionChange {
                    source: any.source,
                    id: id.clone(),
                    name: any.name.clone(),
                    change,
                    total_from: old.and_then(|s| s.total),
                    total_to: new.and_then(|s| s.total),
                    used_from: old.and_then(|s| s.used),
                    used_to: new.and_then(|s| s.used),
                    unlimited_from: old.map(|s| s.unlimited),
                    unlimited_to: new.map(|s| s.unlimited),
                })
            })
            .collect();
        changes.sort_by(|a, b| (a.source, &a.id).cmp(&(b.source, &b.id)));
        Ok(changes)
    }
}

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
        self.table(out).map_err(|source| StoreError::Write { what: "diff", source })
    }

    /// `-f json`.
    pub fn write_json(&self, out: &mut dyn Write) -> Result<(), StoreError> {
        serde_json::to_writer_pretty(&mut *out, self)
            .map_err(|source| StoreError::Write { what: "diff", source: source.into() })?;
        writeln!(out).map_err(|source| StoreError::Write { what: "diff", source })
    }

    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
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
            if table.is_empty() {
                writeln!(out, "  none")?;
            } else {
                table.write(out, "  ")?;
            }
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
            if table.is_empty() {
                writeln!(out, "  none")?;
            } else {
                table.write(out, "  ")?;
            }
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
        if table.is_empty() {
            writeln!(out, "  none")?;
        } else {
            table.write(out, "  ")?;
        }
        Ok(())
    }
}
