//! The API budget guard: a run does not start, or write a single user, once the org has used
//! more of its daily API requests than `limits.max_api_usage_percent`.

use sfconn_api::{ApiClient, ApiError, ApiUsage};
use sfconn_errors::{Classify, ErrorClass};

use crate::error::CollectError;
use crate::snapshot::ApiUsageFigures;

/// Whether the guard let the run go, for the queries that wait for it ([`GuardGate::open`]).
/// The guard's `/limits` call and the describes go out together; no query (no row of any
/// object, User data least of all) leaves before the guard has answered, and none at all when
/// it refused.
#[derive(Debug, Clone)]
pub(crate) struct GuardGate(tokio::sync::watch::Receiver<Option<bool>>);

/// The guard's side of a [`GuardGate`]: dropped without a verdict, it counts as a refusal.
#[derive(Debug)]
pub(crate) struct GuardVerdict(tokio::sync::watch::Sender<Option<bool>>);

/// A gate and its verdict.
pub(crate) fn gate() -> (GuardVerdict, GuardGate) {
    let (verdict, gate) = tokio::sync::watch::channel(None);
    (GuardVerdict(verdict), GuardGate(gate))
}

impl GuardVerdict {
    /// Opens the gate (`passed`) or keeps it shut for good.
    pub(crate) fn tell(self, passed: bool) {
        self.0.send_replace(Some(passed));
    }
}

impl GuardGate {
    /// Waits for the guard: `Ok` once it let the run go, [`ApiError::Cancelled`] when it did
    /// not (the guard's own failure is what the run reports).
    pub(crate) async fn open(&self) -> Result<(), ApiError> {
        let mut gate = self.0.clone();
        match gate.wait_for(Option::is_some).await {
            Ok(verdict) if *verdict == Some(true) => Ok(()),
            _ => Err(ApiError::Cancelled),
        }
    }
}

/// The org's daily API usage as the guard knew it when the run started.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UsageBefore {
    /// Read from `/limits` (or from the `Sforce-Limit-Info` header when `/limits` is refused).
    Known(ApiUsage),
    /// Neither `/limits` nor the header said it: the run started unguarded.
    Unknown,
}

impl UsageBefore {
    /// Reads the org's daily API usage and refuses to start above `max_percent`. `/limits`
    /// needs "View Setup and Configuration"; when it is refused, the `Sforce-Limit-Info` header
    /// of the version discovery is used instead, and with neither the run goes on unguarded.
    pub(crate) async fn guard(
        client: &ApiClient,
        max_percent: u8,
        verdict: GuardVerdict,
    ) -> Result<UsageBefore, CollectError> {
        let guarded = Self::read(client, max_percent).await;
        if guarded.is_err() {
            // Nothing more is sent: the describes in flight are abandoned, no query leaves.
            client.stop_run();
        }
        verdict.tell(guarded.is_ok());
        guarded
    }

    async fn read(client: &ApiClient, max_percent: u8) -> Result<UsageBefore, CollectError> {
        let usage = match client.limits().await {
            Ok(usage) => Some(usage),
            Err(error @ (ApiError::ObjectNotReadable { .. } | ApiError::Rejected { .. }))
                if error.class() == ErrorClass::Unavailable =>
            {
                tracing::warn!(%error, "cannot read /limits; using the Sforce-Limit-Info header");
                client.latest_usage()
            }
            Err(error) => return Err(error.into()),
        };
        match usage {
            Some(usage) => {
                refuse_above(usage, max_percent)?;
                Ok(UsageBefore::Known(usage))
            }
            None => Ok(UsageBefore::Unknown),
        }
    }

    /// Before the first user is written: when the usage was unknown at the start, the
    /// requests sent since carried `Sforce-Limit-Info`, so an org over its budget costs a
    /// dozen requests, not a full read.
    pub(crate) fn recheck(self, client: &ApiClient, max_percent: u8) -> Result<(), CollectError> {
        match (self, client.latest_usage()) {
            (UsageBefore::Unknown, Some(usage)) => refuse_above(usage, max_percent),
            _ => Ok(()),
        }
    }

    /// The figures for the summary's `api_usage_before`.
    pub(crate) fn figures(self) -> Option<ApiUsageFigures> {
        match self {
            UsageBefore::Known(usage) => Some(figures(usage)),
            UsageBefore::Unknown => None,
        }
    }
}

/// The snapshot's figures of a usage.
pub(crate) fn figures(usage: ApiUsage) -> ApiUsageFigures {
    ApiUsageFigures { used: usage.used, max: usage.max }
}

/// [`CollectError::ApiBudgetExceeded`] when `usage` is above `max_percent`.
fn refuse_above(usage: ApiUsage, max_percent: u8) -> Result<(), CollectError> {
    if usage.is_above_percent(max_percent) {
        return Err(CollectError::ApiBudgetExceeded {
            used: usage.used,
            max: usage.max,
            percent: usage.percent(),
            max_percent,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_refuses_only_above_the_limit_and_names_the_figures() {
        assert!(refuse_above(ApiUsage { used: 90, max: 100 }, 90).is_ok());
        let error = refuse_above(ApiUsage { used: 91, max: 100 }, 90).unwrap_err();
        assert!(
            matches!(error, CollectError::ApiBudgetExceeded { used: 91, max: 100, max_percent: 90, .. }),
            "{error:?}"
        );
        assert_eq!(
            UsageBefore::Known(ApiUsage { used: 5, max: 10 }).figures(),
            Some(ApiUsageFigures { used: 5, max: 10 })
        );
        assert_eq!(UsageBefore::Unknown.figures(), None);
    }
}
