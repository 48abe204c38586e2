//! Why a run failed: [`CollectError`].

use sfconn_api::ApiError;
use sfconn_auth::AuthError;
use sfconn_errors::{Classify, ErrorClass};

use crate::mapping::OutOfOrder;
use crate::output::OutputError;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// Settings that cannot start a run (the config crate normally catches these first).
    #[error("{0}")]
    Settings(String),
    /// Getting the access token failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A Salesforce REST call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The org has used more of its daily API requests than `limits.max_api_usage_percent`.
    #[error(
        "not starting: the org has used {used} of its {max} daily API requests ({percent:.1}%), more than \
         limits.max_api_usage_percent = {max_percent}%. Try again later when the rolling 24-hour usage is \
         lower, or raise limits.max_api_usage_percent (SFCONN_LIMITS__MAX_API_USAGE_PERCENT) if the org \
         can spare the requests"
    )]
    ApiBudgetExceeded {
        /// Requests used.
        used: u64,
        /// The allowance.
        max: u64,
        /// `used / max * 100`.
        percent: f64,
        /// The configured limit.
        max_percent: u8,
    },
    /// Salesforce returned no `Organization` row.
    #[error(
        "the Organization query returned no row: Salesforce always has exactly one; check that the \
         integration user can read Organization"
    )]
    NoOrganization,
    /// A query came back in an order the merge join of users and licence assignments cannot
    /// use (docs/architecture.md, "the collector's invariants").
    #[error(transparent)]
    OutOfOrder(#[from] OutOfOrder),
    /// Writing the snapshot failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A bug in sfconn.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Classify for CollectError {
    fn class(&self) -> ErrorClass {
        match self {
            CollectError::Settings(_) => ErrorClass::Configuration,
            CollectError::Auth(error) => error.class(),
            CollectError::Api(error) => error.class(),
            CollectError::ApiBudgetExceeded { .. } => ErrorClass::Temporary,
            CollectError::NoOrganization | CollectError::OutOfOrder(_) => ErrorClass::BadData,
            CollectError::Output(error) => error.class(),
            CollectError::Internal(_) => ErrorClass::Internal,
        }
    }
}
