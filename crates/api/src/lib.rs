//! Salesforce REST (docs/contract.md §2, §6, §7): version discovery, SOQL queries as paged streams,
//! describe, limits, error decoding and the judging of answers for the shared HTTP layer
//! (`sfconn-http`), which sends, retries and counts.
//!
//! Owns: every request to the instance URL and its classification into typed errors
//! ([`ApiError`], each with its [`sfconn_errors::ErrorClass`]), the typed [`records`], SOQL literal escaping
//! ([`soql`]) and describe-driven field selection ([`select_fields`]).
//! Must not: read settings files or the environment, obtain tokens itself (that is `auth`,
//! through [`sfconn_auth::TokenSource`]), write output, or follow a URL off the instance's host.
//!
//! Transient failures are retried by [`sfconn_http::Http::retrying`] with the one
//! [`RetryPolicy`] of sfconn; which answers are transient is decided in one function, this
//! crate's classifier (`error::classify_status`).

mod bulk;
mod client;
mod describe;
mod error;
mod head;
mod limiter;
mod limits;
mod query;
pub mod records;
pub mod soql;

pub use bulk::{BulkOptions, BulkQuery, Cleanups};
pub use client::{ApiClient, ClientOptions, MAX_RESPONSE_BYTES};
pub use describe::{FieldDescribe, FieldSelection, SObjectDescribe, select_fields};
pub use error::{ApiError, ErrorBody, SalesforceError};
pub use limits::{ApiUsage, parse_limit_info};
pub use query::{Page, PageCheck, PageRows};
/// Part of [`ClientOptions`]; re-exported so that callers need not depend on `sfconn-http`.
pub use sfconn_http::RetryPolicy;
