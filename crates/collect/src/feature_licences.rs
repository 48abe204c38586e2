//! The org's feature licences (Marketing User, Knowledge User, Service Cloud User, …): the
//! `User.UserPermissions*` checkboxes that the User describe lists, each with the number of
//! active users holding it. The counts are org-wide `SELECT COUNT()` queries, sent together
//! once the User describe has named the checkboxes and the budget guard has let the run go;
//! they are needed before the snapshot header, which is written before any user.
//!
//! This module must not read users: the seats come from Salesforce's counts, so they are the
//! org's whatever the company filter leaves out.

use futures_util::{StreamExt, future};
use sfconn_api::{ApiClient, ApiError, FieldDescribe, records};
use tokio::sync::oneshot;

use crate::budget::GuardGate;
use crate::snapshot::FeatureLicence;

/// A feature licence checkbox as describe lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeatureField {
    pub(crate) field: String,
    pub(crate) label: Option<String>,
}

impl FeatureField {
    pub(crate) fn from_describe(field: &FieldDescribe) -> FeatureField {
        FeatureField { field: field.name.clone(), label: field.label.clone() }
    }
}

/// Where the User query hands over the checkboxes its describe listed.
pub(crate) type FeatureFieldsSender = oneshot::Sender<Vec<FeatureField>>;

/// The count query of one checkbox: active users with it on.
pub(crate) fn count_soql(field: &str) -> String {
    format!("SELECT COUNT() FROM User WHERE IsActive = true AND {field} = true")
}

/// Waits for the checkboxes of the User describe (none when the User query failed before
/// naming them: that failure is the run's), then counts each one's active holders, all at
/// once, once the guard has let the run go. In describe's order.
pub(crate) async fn count_used(
    client: &ApiClient,
    gate: &GuardGate,
    fields: oneshot::Receiver<Vec<FeatureField>>,
) -> Result<Vec<FeatureLicence>, ApiError> {
    let Ok(fields) = fields.await else {
        return Ok(Vec::new());
    };
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    gate.open().await?;
    future::try_join_all(fields.into_iter().map(|feature| async move {
        let mut pages = std::pin::pin!(client.query_pages::<serde_json::Value>(count_soql(&feature.field)));
        let used = match pages.next().await.transpose()? {
            Some(page) => page.total_size,
            None => 0,
        };
        let name =
            feature.field.strip_prefix(records::FEATURE_LICENCE_PREFIX).unwrap_or(&feature.field).to_owned();
        Ok(FeatureLicence { name, field: feature.field, label: feature.label, used, total: None })
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkbox_is_counted_among_active_users_only() {
        assert_eq!(
            count_soql("UserPermissionsMarketingUser"),
            "SELECT COUNT() FROM User WHERE IsActive = true AND UserPermissionsMarketingUser = true"
        );
    }
}
