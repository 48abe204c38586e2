//! Salesforce REST error bodies and the typed errors of this crate, each with its
//! [`ErrorClass`] and a message that keeps Salesforce's code and text and says what to do.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use sfconn_auth::AuthError;
use sfconn_errors::{Classify, ErrorClass};

/// One entry of Salesforce's REST error array `[{"message": ..., "errorCode": ...}]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct SalesforceError {
    /// `errorCode`, e.g. `INVALID_SESSION_ID`.
    #[serde(rename = "errorCode")]
    pub code: String,
    /// `message`, as Salesforce wrote it (surrounding white space trimmed).
    pub message: String,
    /// `fields`, when Salesforce names any.
    #[serde(default)]
    pub fields: Vec<String>,
}

impl SalesforceError {
    fn has_code(&self, code: &str) -> bool {
        self.code.eq_ignore_ascii_case(code)
    }
}

impl fmt::Display for SalesforceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Salesforce's SOQL errors span lines (the query, a caret, the reason): one line here.
        write!(f, "{}: {}", self.code, self.message.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// What the body of a failed response held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorBody {
    /// Salesforce's error array (never empty; the first entry is the one acted on). A single
    /// error object, or an OAuth-style `{"error", "error_description"}`, is read as one entry.
    Salesforce(Vec<SalesforceError>),
    /// An HTML page (maintenance pages, proxies, load balancers), with its `<title>` if any.
    Html {
        /// The page title.
        title: Option<String>,
    },
    /// Nothing.
    Empty,
    /// Something else; the first 200 characters.
    Text(String),
}

#[derive(Deserialize)]
struct OAuthStyleError {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl ErrorBody {
    /// Reads an error response body whatever it is.
    pub fn parse(content_type: Option<&str>, body: &str) -> ErrorBody {
        let trimmed = body.trim();
        if trimmed.is_empty() {
            return ErrorBody::Empty;
        }
        if let Ok(errors) = serde_json::from_str::<Vec<SalesforceError>>(trimmed)
            && !errors.is_empty()
        {
            return ErrorBody::Salesforce(errors.into_iter().map(trim_message).collect());
        }
        if let Ok(error) = serde_json::from_str::<SalesforceError>(trimmed) {
            return ErrorBody::Salesforce(vec![trim_message(error)]);
        }
        if let Ok(error) = serde_json::from_str::<OAuthStyleError>(trimmed) {
            let message = error.error_description.trim().to_owned();
            return ErrorBody::Salesforce(vec![SalesforceError {
                code: error.error,
                message,
                fields: Vec::new(),
            }]);
        }
        let is_html = content_type.is_some_and(|value| value.to_ascii_lowercase().contains("html"))
            || trimmed.starts_with('<');
        if is_html {
            return ErrorBody::Html { title: html_title(trimmed) };
        }
        ErrorBody::Text(shorten(trimmed, 200))
    }

    /// The first Salesforce error, if the body was Salesforce's error array.
    pub fn first(&self) -> Option<&SalesforceError> {
        match self {
            ErrorBody::Salesforce(errors) => errors.first(),
            _ => None,
        }
    }

    fn code_is(&self, code: &str) -> bool {
        self.first().is_some_and(|error| error.has_code(code))
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorBody::Salesforce(errors) => {
                let mut errors = errors.iter();
                if let Some(first) = errors.next() {
                    write!(f, "{first}")?;
                }
                for more in errors {
                    write!(f, "; {more}")?;
                }
                Ok(())
            }
            ErrorBody::Html { title: Some(title) } => write!(f, "an HTML page titled `{title}`"),
            ErrorBody::Html { title: None } => f.write_str("an HTML page"),
            ErrorBody::Empty => f.write_str("an empty body"),
            ErrorBody::Text(text) => write!(f, "a non-JSON body `{text}`"),
        }
    }
}

fn trim_message(mut error: SalesforceError) -> SalesforceError {
    error.message = error.message.trim().to_owned();
    error
}

fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title = html.get(open_end..close)?.split_whitespace().collect::<Vec<_>>().join(" ");
    (!title.is_empty()).then(|| shorten(&title, 120))
}

fn shorten(text: &str, max_chars: usize) -> String {
    let flat: String = text.chars().map(|ch| if ch.is_control() { ' ' } else { ch }).collect();
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// Everything that can go wrong talking to the Salesforce REST API.
///
/// `request` fields name the request in words, e.g. `the User query (GET /services/data/v62.0/query)`:
/// the path only, never a query string or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Getting or refreshing the access token failed.
    #[error(transparent)]
    Auth(#[from] AuthError),

    /// 403 `API_DISABLED_FOR_ORG`: the edition has no API access.
    #[error(
        "Salesforce refused {request}: {} This org's edition has no API access: the REST API is \
         included in Enterprise, Unlimited, Performance and Developer editions, and in Professional Edition \
         only with the API add-on; ask your Salesforce account executive to enable API access",
        sentence(error)
    )]
    ApiDisabledForOrg {
        /// The request.
        request: String,
        /// Salesforce's error.
        error: SalesforceError,
    },

    /// 403 `API_CURRENTLY_DISABLED`: the user lacks the "API Enabled" permission.
    #[error(
        "Salesforce refused {request}: {} The integration user lacks the \"API Enabled\" user \
         permission: grant it through the user's profile or a permission set (System Permissions > API Enabled)",
        sentence(error)
    )]
    ApiDisabledForUser {
        /// The request.
        request: String,
        /// Salesforce's error.
        error: SalesforceError,
    },

    /// 401 `INVALID_SESSION_ID` again on the replay after a refresh.
    #[error(
        "Salesforce refused {request} even with a freshly refreshed access token: {} The access \
         token is not valid for the REST API: the connected app's OAuth scopes must include `api` \
         (\"Manage user data via APIs\") as well as `refresh_token`; add the scope, then get a new refresh \
         token with `sfconn auth device` or `sfconn auth url` + `sfconn auth exchange`",
        sentence(error)
    )]
    SessionRejected {
        /// The request.
        request: String,
        /// Salesforce's error.
        error: SalesforceError,
    },

    /// 403 `REQUEST_LIMIT_EXCEEDED` (`TotalRequests`): the daily allowance is used up. Not retried.
    #[error(
        "Salesforce refused {request}: {} The org has used up its daily API request allowance \
         (rolling 24 hours); try again later, or ask Salesforce for a higher limit",
        sentence(error)
    )]
    DailyLimitExceeded {
        /// The request.
        request: String,
        /// Salesforce's error.
        error: SalesforceError,
    },

    /// `INVALID_TYPE` / `INSUFFICIENT_ACCESS` (or describe's `NOT_FOUND`): the user cannot read
    /// the object. Optional sources are skipped (see [`ApiError::is_not_readable_object`]).
    #[error(
        "the integration user cannot read {object} ({request}): {} The object does not exist in this \
         org or the user has no access to it: grant read access through a profile or permission set \
         (\"View Setup and Configuration\" for licence objects)",
        sentence(error)
    )]
    ObjectNotReadable {
        /// The object, e.g. `PackageLicense`.
        object: String,
        /// The request.
        request: String,
        /// Salesforce's error.
        error: SalesforceError,
    },

    /// Any other refusal: HTTP status and body as received.
    #[error("Salesforce rejected {request} with HTTP {status}: {body}")]
    Rejected {
        /// The request.
        request: String,
        /// HTTP status.
        status: u16,
        /// The body.
        body: ErrorBody,
    },

    /// The configured `api_version` is not among the versions the org offers.
    #[error(
        "API version {wanted} (api_version) is not offered by this org; it offers {}. Set api_version to one \
         of those, or leave it unset to use the newest",
        offered_list(offered)
    )]
    VersionNotOffered {
        /// The configured version.
        wanted: String,
        /// What `GET /services/data` listed, oldest first.
        offered: Vec<String>,
    },

    /// 410 Gone: the API version is retired.
    #[error(
        "API version {version} is retired: Salesforce answered {request} with HTTP 410 Gone. This org offers \
         {}. Set api_version to one of those, or leave it unset to use the newest",
        offered_list(offered)
    )]
    VersionRetired {
        /// The request.
        request: String,
        /// The version in use.
        version: String,
        /// What `GET /services/data` listed, oldest first.
        offered: Vec<String>,
    },

    /// The org offers no API version at all (an empty `GET /services/data`).
    #[error("Salesforce listed no API versions at {request}; the instance URL does not serve the REST API")]
    NoVersions {
        /// The request.
        request: String,
    },

    /// Required fields are missing from describe: hidden by field-level security or permissions.
    #[error(
        "the integration user cannot see required field(s) {} on {object}: describe does not list them. \
         {}",
        fields.join(", "),
        missing_field_hint(object)
    )]
    RequiredFieldsMissing {
        /// The object.
        object: String,
        /// The fields that are missing.
        fields: Vec<String>,
    },

    /// A successful response whose JSON does not have the expected shape.
    #[error("Salesforce returned data that sfconn cannot read for {request}: at `{path}`: {source}")]
    Decode {
        /// The request.
        request: String,
        /// JSON path of the failure, e.g. `records[3].LastLoginDate`.
        path: String,
        /// The decode error.
        #[source]
        source: serde_json::Error,
    },

    /// A query page that the caller's check refused (e.g. rows out of the order asked for);
    /// the reason says why and what to do.
    #[error("{reason}")]
    PageRefused {
        /// The request of the page.
        request: String,
        /// The check's verdict.
        reason: String,
    },

    /// A successful response that is not JSON at all.
    #[error("Salesforce answered {request} with {body} instead of JSON; sfconn cannot read it")]
    NotJson {
        /// The request.
        request: String,
        /// The body.
        body: ErrorBody,
    },

    /// A response body larger than [`crate::ClientOptions::max_response_bytes`]: not read further.
    #[error(
        "Salesforce answered {request} with a response larger than {} MiB, more than sfconn reads from one \
         response; this is not a normal Salesforce answer (a proxy or the instance URL may be wrong): check the \
         instance URL with `sfconn auth check`",
        limit_bytes / (1024 * 1024)
    )]
    ResponseTooLarge {
        /// The request.
        request: String,
        /// The cap in bytes.
        limit_bytes: usize,
    },

    /// A `nextRecordsUrl` that leaves the instance (another host, port or scheme).
    #[error(
        "refused to follow the nextRecordsUrl `{url}` returned by {request}: it leaves the instance {instance}, \
         and sfconn only sends its access token to the instance's own host"
    )]
    ForeignUrl {
        /// The request that returned the URL.
        request: String,
        /// The URL as Salesforce sent it.
        url: String,
        /// The instance URL.
        instance: String,
    },

    /// A redirect (3xx): never followed.
    #[error(
        "Salesforce answered {request} with a redirect (HTTP {status}{location}); sfconn does not follow \
         redirects with an access token. The instance URL may have changed (My Domain): run `sfconn auth check`"
    )]
    Redirected {
        /// The request.
        request: String,
        /// HTTP status.
        status: u16,
        /// `" to <Location>"` or empty.
        location: String,
    },

    /// Connection refused, DNS failure, TLS failure: even after retries.
    #[error(
        "cannot reach Salesforce for {request} after {attempts} attempt(s): {detail}. Check the network, any proxy, and the instance URL"
    )]
    Unreachable {
        /// The request.
        request: String,
        /// Attempts made.
        attempts: u32,
        /// The last connection error (with its causes).
        detail: String,
    },

    /// Transient failures outlasted `http.max_retries`.
    #[error(
        "{request} still failed after {attempts} attempt(s); the last one saw {} Salesforce is busy or unavailable; \
         try again later",
        sentence(last)
    )]
    RetriesExhausted {
        /// The request.
        request: String,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt saw.
        last: String,
    },

    /// `INVALID_QUERY_LOCATOR` kept coming back, or the restarted query no longer returned the
    /// same rows in the same order, so it could not be resumed without loss or duplicates.
    #[error(
        "the {object} query could not be resumed after Salesforce expired its cursor (INVALID_QUERY_LOCATOR): {reason}; try again later"
    )]
    QueryNotResumable {
        /// The object queried.
        object: String,
        /// Why.
        reason: String,
    },

    /// 400 `LIMIT_EXCEEDED` on creating a Bulk API 2.0 query job: the org's daily allowance of
    /// query jobs (10,000 in 24 hours) or of their results' size is used up. Not retried.
    #[error(
        "Salesforce refused {request}: {} The org has used up its daily Bulk API 2.0 query allowance (rolling 24 hours); try again later, or raise login_activity_bulk_threshold so that the run reads through REST paging instead",
        sentence(error)
    )]
    BulkLimitExceeded {
        /// The request.
        request: String,
        /// Salesforce's error.
        error: SalesforceError,
    },

    /// A Bulk API 2.0 query job ended `Failed`.
    #[error(
        "the {object} Bulk API query job {job} failed on Salesforce's side: {}; it has been deleted. Try again later",
        sentence(message).trim_end_matches('.')
    )]
    BulkJobFailed {
        /// The object queried.
        object: String,
        /// The job id.
        job: String,
        /// The job's `errorMessage`.
        message: String,
    },

    /// A Bulk API 2.0 query job ended `Aborted` without sfconn aborting it.
    #[error(
        "the {object} Bulk API query job {job} was aborted by someone else (Setup > Bulk Data Load Jobs, or a user with \"Manage Data Integrations\"). Run again"
    )]
    BulkJobAborted {
        /// The object queried.
        object: String,
        /// The job id.
        job: String,
    },

    /// A Bulk API 2.0 query job still running after `BulkOptions::max_wait`.
    #[error(
        "the {object} Bulk API query job {job} had not completed after {waited:?}; it has been aborted. Try again later"
    )]
    BulkJobOverdue {
        /// The object queried.
        object: String,
        /// The job id.
        job: String,
        /// How long sfconn waited.
        waited: Duration,
    },

    /// A results page that Salesforce no longer has (its locator answered 404).
    #[error(
        "page {page} of the {object} Bulk API query job {job} is lost: Salesforce answered its locator with HTTP 404 ({body}); the results are incomplete. Run again"
    )]
    BulkResultsLost {
        /// The object queried.
        object: String,
        /// The job id.
        job: String,
        /// The page (1 = the first).
        page: u32,
        /// What Salesforce answered.
        body: ErrorBody,
    },

    /// A results page that kept arriving with fewer rows than it announced.
    #[error(
        "page {page} of the {object} Bulk API query job {job} arrived cut off {attempts} time(s) (fewer rows than its Sforce-NumberOfRecords{}, or a row broken off). Try again later",
        promised.map(|n| format!(" of {n}")).unwrap_or_default()
    )]
    BulkResultsCut {
        /// The object queried.
        object: String,
        /// The job id.
        job: String,
        /// The page (1 = the first).
        page: u32,
        /// `Sforce-NumberOfRecords`, when sent.
        promised: Option<u64>,
        /// Attempts made.
        attempts: u32,
    },

    /// A results page whose CSV rows do not have the expected columns or values.
    #[error("Salesforce returned Bulk API results that sfconn cannot read for {request}: {detail}")]
    BulkResultsUnreadable {
        /// The request.
        request: String,
        /// The CSV decoder's words.
        detail: String,
    },

    /// Not sent, or its answer dropped: an earlier fatal failure stopped the run (see
    /// [`crate::ApiClient::cancellation`]). The run reports that failure, not this one.
    #[error("not sent: the run was stopped by an earlier failure")]
    Cancelled,

    /// A bug or impossible state inside sfconn.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The text as a sentence: a full stop added unless it already ends with one.
fn sentence(text: &impl fmt::Display) -> String {
    let text = text.to_string();
    if text.ends_with(['.', '!', '?']) { text } else { format!("{text}.") }
}

fn offered_list(offered: &[String]) -> String {
    if offered.is_empty() { "no versions".to_owned() } else { offered.join(", ") }
}

fn missing_field_hint(object: &str) -> String {
    let permission = match object {
        "User" => "\"View All Users\"",
        "UserLicense" | "PermissionSetLicense" | "PackageLicense" | "Profile" | "Organization" => {
            "\"View Setup and Configuration\""
        }
        _ => "read access to the object",
    };
    format!(
        "Give the integration user read access to the field(s) through field-level security (profile or \
         permission set > Object Settings > {object} > Field Permissions), and the {permission} permission"
    )
}

/// Salesforce error codes that mean sfconn built a wrong request: a bug ([`ErrorClass::Internal`]).
const OUR_BUG_CODES: &[&str] =
    &["MALFORMED_QUERY", "INVALID_QUERY_FILTER_OPERATOR", "MALFORMED_ID", "INVALID_AUTH_HEADER"];

impl Classify for ApiError {
    /// Salesforce's own code for this failure (`errorCode`, or the OAuth `error`), when the
    /// failure is an answer of Salesforce's: what a fleet summary shows beside the message.
    fn salesforce_code(&self) -> Option<&str> {
        match self {
            ApiError::Auth(error) => error.salesforce_code(),
            ApiError::ApiDisabledForOrg { error, .. }
            | ApiError::ApiDisabledForUser { error, .. }
            | ApiError::SessionRejected { error, .. }
            | ApiError::DailyLimitExceeded { error, .. }
            | ApiError::BulkLimitExceeded { error, .. }
            | ApiError::ObjectNotReadable { error, .. } => Some(&error.code),
            ApiError::BulkResultsLost { body, .. } => body.first().map(|e| e.code.as_str()),
            ApiError::Rejected { body: ErrorBody::Salesforce(errors), .. } => {
                errors.first().map(|e| e.code.as_str())
            }
            _ => None,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            ApiError::Auth(error) => error.class(),
            ApiError::ApiDisabledForOrg { .. }
            | ApiError::ApiDisabledForUser { .. }
            | ApiError::ObjectNotReadable { .. }
            | ApiError::VersionNotOffered { .. }
            | ApiError::VersionRetired { .. }
            | ApiError::NoVersions { .. }
            | ApiError::RequiredFieldsMissing { .. }
            | ApiError::Redirected { .. }
            | ApiError::BulkJobAborted { .. }
            | ApiError::Unreachable { .. } => ErrorClass::Unavailable,
            ApiError::SessionRejected { .. } => ErrorClass::AuthRefused,
            ApiError::DailyLimitExceeded { .. }
            | ApiError::BulkLimitExceeded { .. }
            | ApiError::BulkJobFailed { .. }
            | ApiError::BulkJobOverdue { .. }
            | ApiError::BulkResultsLost { .. }
            | ApiError::BulkResultsCut { .. }
            | ApiError::RetriesExhausted { .. }
            | ApiError::QueryNotResumable { .. } => ErrorClass::Temporary,
            ApiError::Decode { .. }
            | ApiError::PageRefused { .. }
            | ApiError::NotJson { .. }
            | ApiError::ForeignUrl { .. }
            | ApiError::BulkResultsUnreadable { .. }
            | ApiError::ResponseTooLarge { .. } => ErrorClass::BadData,
            ApiError::Rejected { body, .. } => {
                if OUR_BUG_CODES.iter().any(|code| body.code_is(code)) {
                    ErrorClass::Internal
                } else {
                    ErrorClass::Unavailable
                }
            }
            ApiError::Cancelled | ApiError::Internal(_) => ErrorClass::Internal,
        }
    }
}

impl ApiError {
    /// Whether this only says that an earlier failure stopped the run.
    pub fn is_cancelled(&self) -> bool {
        match self {
            ApiError::Cancelled => true,
            ApiError::Auth(error) => matches!(error.root(), AuthError::Cancelled),
            _ => false,
        }
    }

    /// Whether the user cannot read the object at all (`INVALID_TYPE`, `INSUFFICIENT_ACCESS`,
    /// `INSUFFICIENT_ACCESS_OR_READONLY`, or describe's `NOT_FOUND`): the collector skips
    /// optional sources with a `source_skipped` warning.
    pub fn is_not_readable_object(&self) -> bool {
        matches!(self, ApiError::ObjectNotReadable { .. })
    }

    /// Salesforce's error (code and text), when the failure carries one.
    pub fn salesforce_error(&self) -> Option<&SalesforceError> {
        match self {
            ApiError::ApiDisabledForOrg { error, .. }
            | ApiError::ApiDisabledForUser { error, .. }
            | ApiError::SessionRejected { error, .. }
            | ApiError::DailyLimitExceeded { error, .. }
            | ApiError::BulkLimitExceeded { error, .. }
            | ApiError::ObjectNotReadable { error, .. } => Some(error),
            ApiError::Rejected { body, .. } | ApiError::BulkResultsLost { body, .. } => body.first(),
            _ => None,
        }
    }
}

/// What to do after a response that is not a success: the one place that decides what is
/// transient (docs/contract.md §7).
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Transient: wait (honouring `Retry-After`) and try again, within the retry policy.
    Retry {
        /// Short description of what was seen, for the final error if retries run out.
        seen: String,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// 401 `INVALID_SESSION_ID`: refresh the token once and replay.
    RefreshSession(SalesforceError),
    /// Give up with this error.
    Fail(ApiError),
}

/// Context needed to word a failure.
pub(crate) struct FailureContext<'a> {
    pub(crate) request: &'a str,
    /// The object the request is about, if any (for `INVALID_TYPE`).
    pub(crate) object: Option<&'a str>,
    pub(crate) api_version: &'a str,
    pub(crate) offered_versions: &'a [String],
}

/// Classifies a non-success HTTP answer.
pub(crate) fn classify_status(
    context: &FailureContext<'_>,
    status: u16,
    retry_after: Option<Duration>,
    body: ErrorBody,
) -> Verdict {
    let request = context.request.to_owned();
    if status == 410 {
        return Verdict::Fail(ApiError::VersionRetired {
            request,
            version: context.api_version.to_owned(),
            offered: context.offered_versions.to_vec(),
        });
    }
    let first = body.first().cloned();
    if let Some(error) = &first {
        let code = error.code.to_ascii_uppercase();
        match code.as_str() {
            "INVALID_SESSION_ID" => return Verdict::RefreshSession(error.clone()),
            "API_DISABLED_FOR_ORG" => {
                return Verdict::Fail(ApiError::ApiDisabledForOrg { request, error: error.clone() });
            }
            "API_CURRENTLY_DISABLED" => {
                return Verdict::Fail(ApiError::ApiDisabledForUser { request, error: error.clone() });
            }
            "REQUEST_LIMIT_EXCEEDED" => {
                return if is_concurrency_limit(&error.message) {
                    Verdict::Retry { seen: format!("HTTP {status} with {error}"), retry_after }
                } else {
                    // TotalRequests (and any limit we do not know to be momentary): stop.
                    Verdict::Fail(ApiError::DailyLimitExceeded { request, error: error.clone() })
                };
            }
            // Bulk API 2.0: the daily allowance of query jobs (or of their results) is used up.
            "LIMIT_EXCEEDED" => {
                return Verdict::Fail(ApiError::BulkLimitExceeded { request, error: error.clone() });
            }
            "SERVER_UNAVAILABLE" | "UNKNOWN_ERROR" => {
                return Verdict::Retry { seen: format!("HTTP {status} with {error}"), retry_after };
            }
            "INVALID_TYPE" | "INSUFFICIENT_ACCESS" | "INSUFFICIENT_ACCESS_OR_READONLY" => {
                return Verdict::Fail(ApiError::ObjectNotReadable {
                    object: context.object.unwrap_or("the object").to_owned(),
                    request,
                    error: error.clone(),
                });
            }
            _ => {}
        }
    }
    if status == 401 {
        // A 401 without Salesforce's code (e.g. a gateway): treat like an expired session.
        let error = first.unwrap_or_else(|| SalesforceError {
            code: "HTTP_401".to_owned(),
            message: body.to_string(),
            fields: Vec::new(),
        });
        return Verdict::RefreshSession(error);
    }
    if status >= 500 || status == 429 {
        return Verdict::Retry { seen: format!("HTTP {status} with {body}"), retry_after };
    }
    Verdict::Fail(ApiError::Rejected { request, status, body })
}

fn is_concurrency_limit(message: &str) -> bool {
    message.contains("ConcurrentRequests") || message.contains("ConcurrentPerOrgLongTxn")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rest_error_array() {
        let body = r#"[ {
  "message" : "Session expired or invalid",
  "errorCode" : "INVALID_SESSION_ID"
} ]"#;
        let parsed = ErrorBody::parse(Some("application/json;charset=UTF-8"), body);
        assert_eq!(
            parsed.first(),
            Some(&SalesforceError {
                code: "INVALID_SESSION_ID".into(),
                message: "Session expired or invalid".into(),
                fields: vec![]
            })
        );
        assert_eq!(parsed.to_string(), "INVALID_SESSION_ID: Session expired or invalid");
    }

    #[test]
    fn keeps_fields_and_every_entry() {
        let body = r#"[{"message":"a","errorCode":"X","fields":["Email"]},{"message":"b","errorCode":"Y"}]"#;
        let parsed = ErrorBody::parse(None, body);
        assert_eq!(parsed.first().unwrap().fields, ["Email"]);
        assert_eq!(parsed.to_string(), "X: a; Y: b");
    }

    #[test]
    fn single_object_and_oauth_style_bodies() {
        let single = ErrorBody::parse(None, r#"{"message":"m","errorCode":"NOT_FOUND"}"#);
        assert_eq!(single.to_string(), "NOT_FOUND: m");
        let oauth =
            ErrorBody::parse(None, r#"{"error":"unknown_error","error_description":"retry your request"}"#);
        assert_eq!(oauth.to_string(), "unknown_error: retry your request");
    }

    #[test]
    fn html_empty_and_text_bodies() {
        let html =
            "<!DOCTYPE html><html><head><TITLE>\n  Service  Unavailable </TITLE></head><body>…</body></html>";
        assert_eq!(
            ErrorBody::parse(Some("text/html"), html),
            ErrorBody::Html { title: Some("Service Unavailable".into()) }
        );
        assert_eq!(ErrorBody::parse(Some("text/html"), "<p>down</p>"), ErrorBody::Html { title: None });
        assert_eq!(ErrorBody::parse(None, "  \n"), ErrorBody::Empty);
        assert_eq!(
            ErrorBody::parse(Some("text/plain"), "upstream\nreset"),
            ErrorBody::Text("upstream reset".into())
        );
        assert_eq!(ErrorBody::parse(None, "[]"), ErrorBody::Text("[]".into()));
        let long = "x".repeat(500);
        let ErrorBody::Text(short) = ErrorBody::parse(None, &long) else { panic!("text") };
        assert_eq!(short.chars().count(), 201);
    }

    fn context() -> FailureContext<'static> {
        FailureContext {
            request: "the User query (GET /services/data/v62.0/query)",
            object: Some("User"),
            api_version: "62.0",
            offered_versions: &[],
        }
    }

    fn verdict(status: u16, body: &str) -> Verdict {
        classify_status(&context(), status, None, ErrorBody::parse(None, body))
    }

    fn sf(code: &str, message: &str) -> String {
        serde_json::json!([{ "message": message, "errorCode": code }]).to_string()
    }

    #[test]
    fn transient_failures_are_retried() {
        for (status, body) in [
            (503, sf("SERVER_UNAVAILABLE", "Server Unavailable")),
            (502, "<html><title>Bad Gateway</title></html>".to_owned()),
            (500, String::new()),
            (400, sf("unknown_error", "retry your request")),
            (
                403,
                sf("REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded."),
            ),
            (403, sf("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded")),
            (429, String::new()),
        ] {
            assert!(matches!(verdict(status, &body), Verdict::Retry { .. }), "{status} {body}");
        }
    }

    #[test]
    fn daily_limit_is_not_retried() {
        let Verdict::Fail(error) =
            verdict(403, &sf("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
        else {
            panic!("not a failure")
        };
        assert_eq!(error.class(), ErrorClass::Temporary);
    }

    #[test]
    fn session_and_locator_have_their_own_verdicts() {
        assert!(matches!(
            verdict(401, &sf("INVALID_SESSION_ID", "Session expired or invalid")),
            Verdict::RefreshSession(_)
        ));
        assert!(matches!(verdict(401, "<html></html>"), Verdict::RefreshSession(_)));
        // The query stream restarts on this one; everywhere else it is a plain rejection.
        let Verdict::Fail(error) = verdict(400, &sf("INVALID_QUERY_LOCATOR", "invalid query locator")) else {
            panic!()
        };
        assert_eq!(error.salesforce_error().unwrap().code, "INVALID_QUERY_LOCATOR");
    }

    #[test]
    fn unreadable_objects_are_flagged() {
        for code in ["INVALID_TYPE", "INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY"] {
            let Verdict::Fail(error) = verdict(400, &sf(code, "no")) else { panic!("{code}") };
            assert!(error.is_not_readable_object(), "{code}");
            assert_eq!(error.class(), ErrorClass::Unavailable);
        }
        let Verdict::Fail(error) = verdict(400, &sf("INVALID_FIELD", "No such column")) else { panic!() };
        assert!(!error.is_not_readable_object());
    }

    #[test]
    fn our_own_bugs_are_internal_errors() {
        let Verdict::Fail(error) = verdict(400, &sf("MALFORMED_QUERY", "unexpected token")) else { panic!() };
        assert_eq!(error.class(), ErrorClass::Internal);
        let Verdict::Fail(error) = verdict(404, &sf("NOT_FOUND", "The requested resource does not exist"))
        else {
            panic!()
        };
        assert_eq!(error.class(), ErrorClass::Unavailable);
    }

    #[test]
    fn gone_is_a_retired_version() {
        let Verdict::Fail(error) = verdict(410, "") else { panic!() };
        assert!(matches!(error, ApiError::VersionRetired { .. }));
        assert_eq!(error.class(), ErrorClass::Unavailable);
    }
}
