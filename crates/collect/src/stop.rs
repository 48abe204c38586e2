//! The first fatal failure stops the whole run (docs/security.md, "A failure stops the whole
//! run"): every other source's requests are cancelled at once, and the failure the run reports
//! is that first one, not a later "cancelled".
//!
//! The cancellation itself lives with the run's client ([`ApiClient::cancellation`]): a
//! failure the client classifies as fatal trips it where it is found. This module covers the
//! failures only the run can judge (an unreadable object is fatal for a required source but a
//! `source_skipped` warning for an optional one; rows out of order; the output) and picks the
//! failure to report.

use sfconn_api::{ApiClient, ApiError};

use crate::error::CollectError;

/// A required source: a failure of it ends the run, so the run stops at once.
pub(crate) async fn required<T>(
    client: &ApiClient,
    source: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    source.await.map_err(|error| client.claim(error))
}

/// What a part of the run that keeps a failure for later does with it.
pub(crate) type Holder = Box<dyn Fn(ApiError) -> ApiError + Send + Sync>;

/// For the User pages read ahead: a failure kept behind the pages held stops the run at once
/// (the User query is required), and the failure that stopped the run stays where the run
/// looks for it, so that it is reported even if another part of the run reports first.
pub(crate) fn holder(client: &ApiClient) -> Holder {
    let client = client.clone();
    Box::new(move |error| client.hold_back(client.claim(error)))
}

/// The results of sources read at the same time, reduced to the failure to report: a real
/// failure wins over [`ApiError::Cancelled`] (a source stopped because of it).
#[derive(Default)]
pub(crate) struct FirstFailure(Option<ApiError>);

impl FirstFailure {
    /// The value of a success; a failure is kept (if it is the one to report) and gives `None`.
    pub(crate) fn keep<T>(&mut self, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                let replace = match &self.0 {
                    None => true,
                    Some(kept) => kept.is_cancelled() && !error.is_cancelled(),
                };
                if replace {
                    self.0 = Some(error);
                }
                None
            }
        }
    }

    /// The failure to report, if any source failed.
    pub(crate) fn into_error(self) -> Option<ApiError> {
        self.0
    }
}

/// The failure a run reports: a failure of the run itself (rows out of order, the output)
/// stops the run if nothing did before; a "cancelled" becomes the failure that stopped it.
pub(crate) fn settle(client: &ApiClient, error: CollectError) -> CollectError {
    match error {
        CollectError::Api(error) if error.is_cancelled() => {
            CollectError::Api(client.take_first_failure().unwrap_or(error))
        }
        CollectError::Api(error) => CollectError::Api(error),
        other => {
            if client.stop_run() {
                other
            } else {
                client.take_first_failure().map_or(other, CollectError::Api)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_failure_wins_over_cancelled_ones_whatever_the_order() {
        let mut failure = FirstFailure::default();
        assert_eq!(failure.keep(Ok::<_, ApiError>(1)), Some(1));
        assert_eq!(failure.keep::<u8>(Err(ApiError::Cancelled)), None);
        assert_eq!(failure.keep::<u8>(Err(ApiError::Internal("the real one".into()))), None);
        assert_eq!(failure.keep::<u8>(Err(ApiError::Cancelled)), None);
        assert_eq!(failure.keep::<u8>(Err(ApiError::Internal("a later one".into()))), None);
        assert_eq!(
            failure.into_error().map(|e| e.to_string()).as_deref(),
            Some("internal error: the real one")
        );
        assert!(FirstFailure::default().into_error().is_none());
    }
}
