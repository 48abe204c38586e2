//! Why a run failed: [`CollectError`].

use sfconn_api::ApiError;
use sfconn_auth::AuthError;
use sfconn_errors::{Classify, ErrorClass};

use crate::merge::OutOfOrder;
use crate::output::OutputError;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// The session could not be set up from the settings (the config crate catches most of
    /// these first), e.g. a kept rotated token that cannot be read.
    #[error(transparent)]
    Session(sfconn_session::SessionError),
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
    /// use (see `crate::merge`).
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
    /// Salesforce's own code for this failure, when it is an answer of Salesforce's.
    fn salesforce_code(&self) -> Option<&str> {
        match self {
            CollectError::Auth(error) => error.salesforce_code(),
            CollectError::Api(error) => error.salesforce_code(),
            _ => None,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            CollectError::Session(error) => error.class(),
            CollectError::Auth(error) => error.class(),
            CollectError::Api(error) => error.class(),
            CollectError::ApiBudgetExceeded { .. } => ErrorClass::Temporary,
            CollectError::NoOrganization | CollectError::OutOfOrder(_) => ErrorClass::BadData,
            CollectError::Output(error) => error.class(),
            CollectError::Internal(_) => ErrorClass::Internal,
        }
    }
}

impl From<sfconn_session::SessionError> for CollectError {
    fn from(error: sfconn_session::SessionError) -> Self {
        match error {
            sfconn_session::SessionError::Auth(error) => CollectError::Auth(error),
            other => CollectError::Session(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_error_names_the_figures_and_the_setting() {
        let error = CollectError::ApiBudgetExceeded { used: 95, max: 100, percent: 95.0, max_percent: 90 };
        assert_eq!(error.class(), ErrorClass::Temporary);
        let message = error.to_string();
        assert!(message.contains("95 of its 100"), "{message}");
        assert!(message.contains("limits.max_api_usage_percent = 90%"), "{message}");
    }

    #[test]
    fn a_session_without_a_refresh_token_is_a_settings_error() {
        let error = CollectError::from(sfconn_session::SessionError::NoRefreshToken);
        assert!(matches!(error, CollectError::Session(_)), "{error:?}");
        assert_eq!(error.class(), ErrorClass::Configuration);
    }
}
