//! One run's cancellation: tripped once, by the run's first fatal failure, and checked by
//! [`crate::Http::retrying`] before every attempt of every request of the run (token requests
//! of `auth`, REST calls of `api`) and during every wait between attempts.
//!
//! Each token source (`sfconn_auth::TokenSource`) owns one, so each org's run has its own:
//! nothing is global, and several runs in one process do not stop each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

/// A run's "stop now" switch. Cloning is cheap; clones share the switch.
#[derive(Debug, Clone, Default)]
pub struct RunCancel {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Set by the one call that trips the switch.
    tripped: AtomicBool,
    /// Wakes whatever waits (a permit, a retry delay, a response).
    token: CancellationToken,
}

impl RunCancel {
    /// A switch that has not been tripped.
    pub fn new() -> RunCancel {
        RunCancel::default()
    }

    /// Trips the switch. Returns `true` for the call that tripped it, `false` when it was
    /// already tripped (an earlier failure came first).
    pub fn trip(&self) -> bool {
        let first = !self.inner.tripped.swap(true, Ordering::AcqRel);
        self.inner.token.cancel();
        first
    }

    /// Whether a fatal failure has stopped the run.
    pub fn is_tripped(&self) -> bool {
        self.inner.tripped.load(Ordering::Acquire)
    }

    /// Resolves once the switch is tripped (at once if it already is).
    pub async fn tripped(&self) {
        self.inner.token.cancelled().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_first_trip_counts_and_waiters_wake() {
        let cancel = RunCancel::new();
        let waiter = tokio::spawn({
            let cancel = cancel.clone();
            async move { cancel.tripped().await }
        });
        assert!(!cancel.is_tripped());
        assert!(cancel.trip());
        assert!(!cancel.clone().trip(), "a clone shares the switch");
        waiter.await.unwrap();
        assert!(cancel.is_tripped());
        assert!(!RunCancel::new().is_tripped(), "another run has its own switch");
    }
}
