//! Comparing two snapshots' subscriptions: pure, no SQL.

use std::collections::BTreeMap;

use super::model::SubscriptionChange;
use crate::SubscriptionSource;

/// A subscription as the diff compares it.
#[derive(Clone, PartialEq)]
pub(super) struct SubscriptionRow {
    pub(super) source: SubscriptionSource,
    /// The label, or the name when there is no label.
    pub(super) name: String,
    pub(super) total: Option<i64>,
    pub(super) used: Option<i64>,
    pub(super) unlimited: bool,
}

/// The subscriptions added, removed, or whose total, used or unlimited changed, by source then
/// id; `before` and `after` are each snapshot's subscriptions by id.
pub(super) fn subscription_changes(
    before: &BTreeMap<String, SubscriptionRow>,
    after: &BTreeMap<String, SubscriptionRow>,
) -> Vec<SubscriptionChange> {
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
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(source: SubscriptionSource, name: &str, total: Option<i64>, used: Option<i64>) -> SubscriptionRow {
        SubscriptionRow { source, name: name.to_owned(), total, used, unlimited: false }
    }

    #[test]
    fn added_removed_and_changed_subscriptions_by_source_then_id() {
        use SubscriptionSource::{PackageLicense, PermissionSetLicense, UserLicense};
        let before = BTreeMap::from([
            ("100A".to_owned(), row(UserLicense, "Salesforce", Some(10), Some(4))),
            ("100B".to_owned(), row(UserLicense, "Old name", Some(5), Some(5))),
            ("0PLA".to_owned(), row(PermissionSetLicense, "Einstein", Some(3), Some(1))),
        ]);
        let after = BTreeMap::from([
            ("100A".to_owned(), row(UserLicense, "Salesforce", Some(10), Some(6))),
            // Only the name changed: not a change of seats.
            ("100B".to_owned(), row(UserLicense, "New name", Some(5), Some(5))),
            (
                "050A".to_owned(),
                SubscriptionRow { unlimited: true, ..row(PackageLicense, "pkg", None, None) },
            ),
        ]);
        let changes = subscription_changes(&before, &after);
        let seen: Vec<_> = changes
            .iter()
            .map(|c| (c.id.as_str(), c.change, c.used_from, c.used_to, c.unlimited_from, c.unlimited_to))
            .collect();
        assert_eq!(
            seen,
            [
                ("100A", "changed", Some(4), Some(6), Some(false), Some(false)),
                ("0PLA", "removed", Some(1), None, Some(false), None),
                ("050A", "added", None, None, None, Some(true)),
            ]
        );
    }
}
