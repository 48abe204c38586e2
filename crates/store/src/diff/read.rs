//! [`Store::diff`]: the SQL that finds what changed between two snapshots. Subscriptions are
//! compared in [`compute`](super::compute).

use std::collections::BTreeMap;

use super::compute::{self, SubscriptionRow};
use super::model::{AssignmentChange, Diff, UserChange};
use crate::db::values;
use crate::store::source_column;
use crate::{SnapshotInfo, Store, StoreError};

impl Store {
    /// What changed from one snapshot to another (normally older to newer, of the same org).
    pub fn diff(&self, from: &SnapshotInfo, to: &SnapshotInfo) -> Result<Diff, StoreError> {
        let users_only_in = |a: i64, b: i64| {
            self.users(
                "SELECT u.id, u.username, u.email, u.account_kind, u.active FROM users u
                 WHERE u.snapshot_id = $1
                   AND NOT EXISTS (SELECT 1 FROM users o WHERE o.snapshot_id = $2 AND o.id = u.id)
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
                     JOIN users f ON f.snapshot_id = $2 AND f.id = t.id
                     WHERE t.snapshot_id = $1 AND f.active = 1 AND t.active = 0 ORDER BY t.id"
                } else {
                    "SELECT t.id, t.username, t.email, t.account_kind, t.active FROM users t
                     JOIN users f ON f.snapshot_id = $2 AND f.id = t.id
                     WHERE t.snapshot_id = $1 AND f.active = 0 AND t.active = 1 ORDER BY t.id"
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
            subscriptions: compute::subscription_changes(
                &self.subscription_rows(from.id.0)?,
                &self.subscription_rows(to.id.0)?,
            ),
        })
    }

    fn users(&self, sql: &str, a: i64, b: i64, context: &'static str) -> Result<Vec<UserChange>, StoreError> {
        self.db.rows(context, sql, &values![a, b], |row| {
            Ok(UserChange {
                id: row.get(0)?,
                username: row.get(1)?,
                email: row.get(2)?,
                account_kind: row.get(3)?,
                active: row.get(4)?,
            })
        })
    }

    fn assignments_only_in(&self, a: i64, b: i64) -> Result<Vec<AssignmentChange>, StoreError> {
        self.db.rows(
            "comparing licence assignments",
            "SELECT l.user_id, u.username, l.source, l.subscription_id, COALESCE(s.label, s.name, l.subscription_id)
             FROM user_licences l
             JOIN users u ON u.snapshot_id = l.snapshot_id AND u.id = l.user_id
             LEFT JOIN subscriptions s ON s.snapshot_id = l.snapshot_id AND s.id = l.subscription_id
             WHERE l.snapshot_id = $1
               AND NOT EXISTS (SELECT 1 FROM user_licences o
                               WHERE o.snapshot_id = $2 AND o.user_id = l.user_id
                                 AND o.subscription_id = l.subscription_id)
             ORDER BY CASE l.source WHEN 'UserLicense' THEN 0 WHEN 'PermissionSetLicense' THEN 1 ELSE 2 END,
                      l.subscription_id, l.user_id",
            &values![a, b],
            |row| {
                Ok(AssignmentChange {
                    user_id: row.get(0)?,
                    username: row.get(1)?,
                    source: source_column(row, 2)?,
                    subscription_id: row.get(3)?,
                    subscription: row.get(4)?,
                })
            },
        )
    }

    fn subscription_rows(&self, snapshot: i64) -> Result<BTreeMap<String, SubscriptionRow>, StoreError> {
        self.db.rows(
            "comparing subscriptions",
            "SELECT id, source, COALESCE(label, name), total, used, unlimited FROM subscriptions WHERE snapshot_id = $1",
            &values![snapshot],
            |row| {
                let subscription = SubscriptionRow {
                    source: source_column(row, 1)?,
                    name: row.get(2)?,
                    total: row.get(3)?,
                    used: row.get(4)?,
                    unlimited: row.get(5)?,
                };
                Ok((row.get::<String>(0)?, subscription))
            },
        )
    }
}
