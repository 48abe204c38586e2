//! The diff between two snapshots as data: what [`Store::diff`](crate::Store::diff) computes and
//! every renderer (`table`, `json`) reads. Plain values only.

use serde::Serialize;

use crate::{SnapshotInfo, SubscriptionSource};

/// What changed from one stored snapshot to another.
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
