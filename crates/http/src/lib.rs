//! The HTTP layer both Salesforce clients share (`auth`'s token client and `api`'s REST
//! client): the retry loop with the one [`RetryPolicy`], the run's [`RunCancel`], the
//! [`RequestCounter`], the size-capped body reader and the wording of transport errors.
//!
//! Owns: sending (every request of a run is counted here), when to wait and send again, and
//! when to give up, with the rule that tells "unreachable" from "retries exhausted"
//! ([`HttpError`]). Each caller passes a classifier, the closure given to
//! [`Http::retrying`], that decides which answers are transient ([`Attempt::Again`]); what is
//! transient on the wire (a refused connection, a timeout, a body cut off) is decided here.
//! Must not: know Salesforce (codes, bodies, URLs, tokens), read settings, or word a failure
//! for the user beyond the transport's own detail: callers wrap [`HttpError`] with what the
//! request was.

mod body;
mod cancel;
mod layer;
pub mod retry;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use body::BodyError;
pub use cancel::RunCancel;
pub use layer::{Attempt, Http, HttpError, HttpOptions};
pub use retry::{RetryPolicy, parse_retry_after};

/// Counts HTTP requests a run sent to Salesforce (token requests and retries included).
/// Cloned handles share one count; [`Http::send`] adds to it.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicU64>);

impl RequestCounter {
    /// Records one request sent.
    pub fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests sent so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
