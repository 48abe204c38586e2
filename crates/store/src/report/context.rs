//! What the HTML report shows beyond the figures of [`Report`]: the snapshot's details as the
//! store keeps them (edition, the collecting run's API cost, its warnings) and each paid
//! subscription's seats over time. The SQL lives here; the figures are the store's as they are.

use std::collections::BTreeMap;

use crate::db::values;

use super::model::{ApiUsage, Report, ReportContext, SnapshotWarning, UsagePoint, UsageSeries};
use crate::{SnapshotId, Store, StoreError};

/// The snapshot row's details, as stored.
struct Details {
    edition: Option<String>,
    instance_name: Option<String>,
    collected_by: String,
    api_version: String,
    summary_json: String,
    warnings_json: String,
}

/// One row of the seat history: snapshot id, its `collected_at`, subscription id, used, total.
type HistoryRow = (i64, String, String, Option<i64>, Option<i64>);

/// The parts of the stored summary the report shows; anything else in it is ignored.
#[derive(Default, serde::Deserialize)]
struct StoredSummary {
    api_requests: Option<i64>,
    api_usage_before: Option<ApiUsage>,
    api_usage_after: Option<ApiUsage>,
}

impl Store {
    /// The details and seat history the HTML report shows for `report`'s snapshot. The history
    /// holds every snapshot of the same org collected up to the reported one (never a later
    /// one), for each subscription that is paid and has a seat limit in the reported snapshot.
    pub fn report_context(&self, report: &Report) -> Result<ReportContext, StoreError> {
        let snapshot = &report.snapshot;
        let details = self.details(snapshot.id)?;
        // The summary and warnings were written by the store from a validated document; if a
        // hand-edited database breaks them, the report shows none rather than failing.
        let summary: StoredSummary = serde_json::from_str(&details.summary_json).unwrap_or_default();
        let warnings: Vec<SnapshotWarning> = serde_json::from_str(&details.warnings_json).unwrap_or_default();
        let charted: BTreeMap<&str, &super::SubscriptionUse> = report
            .subscriptions
            .iter()
            .filter(|s| s.paid && !s.unlimited)
            .map(|s| (s.id.as_str(), s))
            .collect();
        let mut points: BTreeMap<String, Vec<UsagePoint>> = BTreeMap::new();
        let mut snapshots = std::collections::BTreeSet::new();
        let rows: Vec<HistoryRow> = self.db.rows(
            "reading the seat history",
            "SELECT s.id, s.collected_at, sub.id, sub.used, sub.total
             FROM snapshots s JOIN subscriptions sub ON sub.snapshot_id = s.id
             WHERE s.org_id = $1 AND (s.collected_at_ms < $2 OR (s.collected_at_ms = $2 AND s.id <= $3))
             ORDER BY s.collected_at_ms, s.id",
            &values![&snapshot.org_id, snapshot.collected_at_ms, snapshot.id.0],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
        )?;
        for (id, collected_at, subscription, used, total) in rows {
            snapshots.insert(id);
            if charted.contains_key(subscription.as_str()) {
                points.entry(subscription).or_default().push(UsagePoint {
                    snapshot: SnapshotId(id),
                    collected_at,
                    used,
                    total,
                });
            }
        }
        // In the report's order of subscriptions.
        let history = report
            .subscriptions
            .iter()
            .filter_map(|s| {
                let points = points.remove(&s.id)?;
                charted.contains_key(s.id.as_str()).then(|| UsageSeries {
                    source: s.source,
                    id: s.id.clone(),
                    name: s.label.clone().unwrap_or_else(|| s.name.clone()),
                    points,
                })
            })
            .collect();
        Ok(ReportContext {
            edition: details.edition,
            instance_name: details.instance_name,
            collected_by: details.collected_by,
            api_version: details.api_version,
            api_requests: summary.api_requests,
            api_usage_before: summary.api_usage_before,
            api_usage_after: summary.api_usage_after,
            warnings,
            history,
            snapshots_in_history: snapshots.len().max(1),
        })
    }

    fn details(&self, snapshot: SnapshotId) -> Result<Details, StoreError> {
        self.db
            .row(
                "reading the snapshot's details",
                "SELECT edition, instance_name, generator, api_version, summary_json, warnings_json
                 FROM snapshots WHERE id = $1",
                &values![snapshot.0],
                |row| {
                    Ok(Details {
                        edition: row.get(0)?,
                        instance_name: row.get(1)?,
                        collected_by: row.get(2)?,
                        api_version: row.get(3)?,
                        summary_json: row.get(4)?,
                        warnings_json: row.get(5)?,
                    })
                },
            )?
            .ok_or_else(|| StoreError::SnapshotNotFound { selector: format!("snapshot id {snapshot}") })
    }
}
