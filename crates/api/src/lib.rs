//! Salesforce REST (contract §2, §6, §7): version discovery, SOQL queries as paged streams,
//! describe, limits, error decoding and retries (with `auth`'s retry policy).
//!
//! Owns: every request to the instance URL and its classification into typed errors
//! ([`ApiError`], each with its exit code), the typed [`records`], SOQL literal escaping
//! ([`soql`]) and describe-driven field selection ([`select_fields`]).
//! Must not: read settings files or the environment, obtain tokens itself (that is `auth`,
//! through [`sfconn_auth::TokenSource`]), write output, or follow a URL off the instance's host.
//!
//! Transient failures are retried with [`sfconn_auth::retry::RetryPolicy`], the one retry
//! policy of sfconn; the decision of what is transient lives in one function
//! (`error::classify_status`).

mod client;
mod describe;
mod error;
mod limiter;
mod limits;
mod query;
pub mod records;
pub mod soql;

pub use client::{ApiClient, ClientOptions, MAX_RESPONSE_BYTES};
pub use describe::{FieldDescribe, FieldSelection, SObjectDescribe, select_fields};
pub use error::{ApiError, ErrorBody, SalesforceError};
pub use limits::{ApiUsage, parse_limit_info};
pub use query::{Page, PageCheck, PageRows};
pub use sfconn_auth::retry::RetryPolicy;
