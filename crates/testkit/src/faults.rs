//! Runtime switches that make the simulated org misbehave the way real orgs do.
//!
//! Two kinds: *switches* (persistent settings such as refresh-token rotation, hidden objects or
//! fields, API usage, disabled API) and *injected faults* (a [`Fault`] = which requests
//! ([`Target`]) × which occurrences ([`Occurrence`]) → what happens ([`FaultKind`])). Injected
//! faults are checked before any normal processing. Every fault counts each request its target
//! matches (whether or not another fault answered it); the first fault, in the order added, that
//! is due answers the request. A fault whose occurrences are used up stays registered but idle.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use crate::schema::SObject;
use crate::server::Shared;

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every request.
    Any,
    /// `POST /services/oauth2/token` (every grant, device-code requests too).
    Token,
    /// `GET /services/data` (version list).
    Versions,
    /// `GET …/limits`.
    Limits,
    /// `GET …/sobjects/{object}/describe`; `None` = any object.
    Describe(Option<String>),
    /// Query pages. `object` `None` = any object; `page` `None` = any page, `Some(1)` = the
    /// initial `…/query?q=` request, `Some(n)` = the request of the (n-1)-th `nextRecordsUrl`.
    Query { object: Option<String>, page: Option<u32> },
    /// `GET /id/{orgId}/{userId}`.
    Identity,
    /// Any REST data request under `/services/data/vNN.N/` (query, describe, limits …).
    Data,
    /// Any Bulk API 2.0 query-job request (create, status, results, abort, delete).
    Bulk,
    /// The results pages of a Bulk API 2.0 query job: `None` = any, `Some(1)` = the first
    /// (no locator), `Some(n)` = the one the (n-1)-th `Sforce-Locator` names.
    BulkResults(Option<u32>),
}

impl Target {
    /// Any page of queries on `object`.
    pub fn query(object: &str) -> Target {
        Target::Query { object: Some(object.to_string()), page: None }
    }

    /// Page `page` (1 = first) of any query.
    pub fn query_page(page: u32) -> Target {
        Target::Query { object: None, page: Some(page) }
    }

    /// Describe of `object`.
    pub fn describe(object: &str) -> Target {
        Target::Describe(Some(object.to_string()))
    }
}

/// Which of the matching requests a fault hits: it skips the first `skip`, then hits `count`
/// (`None` = all that follow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub skip: u32,
    pub count: Option<u32>,
}

impl Occurrence {
    /// Every matching request.
    pub fn always() -> Occurrence {
        Occurrence { skip: 0, count: None }
    }

    /// The first `n` matching requests.
    pub fn times(n: u32) -> Occurrence {
        Occurrence { skip: 0, count: Some(n) }
    }

    /// Only the `n`-th matching request (1-based).
    pub fn nth(n: u32) -> Occurrence {
        Occurrence { skip: n.saturating_sub(1), count: Some(1) }
    }

    /// Every matching request after the first `n`.
    pub fn after(n: u32) -> Occurrence {
        Occurrence { skip: n, count: None }
    }
}

/// What happens to a request hit by a fault.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// This status with this JSON body.
    Json { status: u16, body: Value },
    /// This status with a raw body of this content type.
    Text { status: u16, content_type: String, body: String },
    /// 502 with an HTML page, as a proxy in front of Salesforce sends.
    BadGatewayHtml,
    /// The normal response with its body cut in half (status kept).
    Truncated,
    /// 200 with a body that is not JSON at all.
    Malformed,
    /// This status with an empty body.
    Empty { status: u16 },
    /// The normal response, sent after this delay (for timeouts).
    Stall(Duration),
    /// A redirect to `location`.
    Redirect { status: u16, location: String },
    /// Invalidate every access token, then answer 401 `INVALID_SESSION_ID`.
    ExpireSessions,
    /// Forget the query cursor, then answer 400 `INVALID_QUERY_LOCATOR`.
    ExpireQueryLocator,
    /// What `then` answers, sent after this delay.
    Delayed { delay: Duration, then: Box<FaultKind> },
    /// The connection is reset (RST) instead of answered. Needs the TCP front
    /// ([`crate::SimulatedOrg::serve_data_through_front`]), like the three below.
    Reset,
    /// The request is never answered; the connection stays open.
    NoAnswer,
    /// The normal answer, gzip-encoded and cut off half-way through the compressed body.
    CutGzip,
    /// The normal answer, trickling in: its body in 20 pieces spread over this long.
    Trickle(Duration),
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub target: Target,
    pub occurrence: Occurrence,
    pub kind: FaultKind,
}

/// Handle of an injected fault, to remove it or ask how often it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultId(pub(crate) u64);

/// The token-endpoint errors of the facts sheet (§1.4), with their exact texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// `invalid_grant` / `expired access/refresh token`
    ExpiredRefreshToken,
    /// `invalid_client_id` / `client identifier invalid`
    InvalidClientId,
    /// `invalid_client` / `invalid client credentials`
    InvalidClient,
    /// `invalid_grant` / `authentication failure`
    AuthenticationFailure,
    /// `invalid_grant` / `inactive user`
    InactiveUser,
    /// `invalid_grant` / `inactive organization`
    InactiveOrganization,
    /// `invalid_grant` / `ip restricted`
    IpRestricted,
    /// `invalid_grant` / `user hasn't approved this consumer`
    UserNotApproved,
    /// `invalid_grant` / `expired authorization code` (concurrent refresh)
    ExpiredAuthorizationCode,
    /// `unsupported_grant_type` / `grant type not supported`
    UnsupportedGrantType,
    /// `unknown_error` / `retry your request`
    UnknownError,
}

impl TokenError {
    /// Every row of the table.
    pub const ALL: [TokenError; 11] = [
        TokenError::ExpiredRefreshToken,
        TokenError::InvalidClientId,
        TokenError::InvalidClient,
        TokenError::AuthenticationFailure,
        TokenError::InactiveUser,
        TokenError::InactiveOrganization,
        TokenError::IpRestricted,
        TokenError::UserNotApproved,
        TokenError::ExpiredAuthorizationCode,
        TokenError::UnsupportedGrantType,
        TokenError::UnknownError,
    ];

    pub(crate) fn key(self) -> &'static str {
        match self {
            TokenError::ExpiredRefreshToken => "expired_refresh_token",
            TokenError::InvalidClientId => "invalid_client_id",
            TokenError::InvalidClient => "invalid_client",
            TokenError::AuthenticationFailure => "authentication_failure",
            TokenError::InactiveUser => "inactive_user",
            TokenError::InactiveOrganization => "inactive_organization",
            TokenError::IpRestricted => "ip_restricted",
            TokenError::UserNotApproved => "user_not_approved",
            TokenError::ExpiredAuthorizationCode => "expired_authorization_code",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
            TokenError::UnknownError => "unknown_error",
        }
    }

    /// The `error` code, e.g. `invalid_grant`.
    pub fn error(self) -> &'static str {
        token_error_parts(self.key()).0
    }

    /// The exact `error_description`.
    pub fn description(self) -> &'static str {
        token_error_parts(self.key()).1
    }

    /// The JSON body Salesforce sends.
    pub fn body(self) -> Value {
        json!({"error": self.error(), "error_description": self.description()})
    }
}

/// `(error, error_description)` of a named token error in `fixtures/token/errors.json`.
pub(crate) fn token_error_parts(key: &str) -> (&'static str, &'static str) {
    static TABLE: OnceLock<Value> = OnceLock::new();
    let table: &'static Value = TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("../../../fixtures/token/errors.json")).unwrap_or(Value::Null)
    });
    match (table[key]["error"].as_str(), table[key]["error_description"].as_str()) {
        (Some(error), Some(description)) => (error, description),
        _ => ("unknown_error", "retry your request"),
    }
}

/// `(status, errorCode, message)` of a named REST error in `fixtures/errors/rest.json`.
pub(crate) fn rest_error_parts(key: &str) -> (u16, String, String) {
    static TABLE: OnceLock<Value> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("../../../fixtures/errors/rest.json")).unwrap_or(Value::Null)
    });
    let entry = &table[key];
    let status = entry["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(500);
    let code = entry["errorCode"].as_str().unwrap_or(key).to_string();
    let message = entry["message"].as_str().unwrap_or("").to_string();
    (status, code, message)
}

/// A REST error body: `[{"message": …, "errorCode": …}]`.
pub fn rest_error_body(error_code: &str, message: &str) -> Value {
    json!([{"message": message, "errorCode": error_code}])
}

fn rest_fault(key: &str) -> FaultKind {
    let (status, code, message) = rest_error_parts(key);
    FaultKind::Json { status, body: rest_error_body(&code, &message) }
}

/// How a hidden object answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenAs {
    /// As if it did not exist: 400 `INVALID_TYPE` on query, 404 `NOT_FOUND` on describe.
    InvalidType,
    /// 403 `INSUFFICIENT_ACCESS` on query and describe.
    InsufficientAccess,
}

/// The device flow's pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceFlowPlan {
    /// `interval` in the device-code response.
    pub interval_secs: u32,
    /// Polls answered `slow_down` first.
    pub slow_down: u32,
    /// Polls answered `authorization_pending` after those.
    pub pending: u32,
}

impl Default for DeviceFlowPlan {
    fn default() -> Self {
        DeviceFlowPlan { interval_secs: 1, slow_down: 0, pending: 2 }
    }
}

/// The fault switches of one simulated org (cheap to clone, thread-safe).
#[derive(Clone)]
pub struct Faults {
    pub(crate) shared: Arc<Shared>,
}

impl Faults {
    // ---- generic injected faults ----

    /// Adds a fault; it applies until removed or its occurrences are used up.
    pub fn inject(&self, fault: Fault) -> FaultId {
        self.shared.with_state(|s| s.add_fault(fault))
    }

    /// Shorthand for [`Faults::inject`].
    pub fn on(&self, target: Target, occurrence: Occurrence, kind: FaultKind) -> FaultId {
        self.inject(Fault { target, occurrence, kind })
    }

    /// Removes one injected fault.
    pub fn remove(&self, id: FaultId) {
        self.shared.with_state(|s| s.faults.retain(|f| f.id != id));
    }

    /// Removes every injected fault (switches stay as they are).
    pub fn clear(&self) {
        self.shared.with_state(|s| s.faults.clear());
    }

    /// The requests this fault has answered, in arrival order.
    pub fn firings(&self, id: FaultId) -> Vec<crate::Arrival> {
        self.shared.with_state(|s| {
            s.faults.iter().find(|f| f.id == id).map(|f| f.firings.clone()).unwrap_or_default()
        })
    }

    /// Once fault `id` has fired, every request arriving afterwards is answered `hold` later
    /// than it would be (a fault answer included): the org goes quiet, so that what a client
    /// does after a given answer can be told apart from what it had already started.
    pub fn hold_after(&self, id: FaultId, hold: Duration) {
        self.shared.with_state(|s| s.switches.hold_after = Some((id, hold)));
    }

    /// How many requests this fault has hit so far.
    pub fn fired(&self, id: FaultId) -> u32 {
        self.shared.with_state(|s| s.faults.iter().find(|f| f.id == id).map_or(0, |f| f.fired))
    }

    // ---- token endpoint ----

    /// The token endpoint answers 400 with this §1.4 error.
    pub fn token_error(&self, error: TokenError, occurrence: Occurrence) -> FaultId {
        self.on(Target::Token, occurrence, FaultKind::Json { status: 400, body: error.body() })
    }

    /// The token endpoint answers 400 `unknown_error` / `retry your request` `times` times.
    pub fn token_unknown_error(&self, times: u32) -> FaultId {
        self.token_error(TokenError::UnknownError, Occurrence::times(times))
    }

    /// The token endpoint answers `status` (5xx) with an HTML page `times` times.
    pub fn token_server_error(&self, status: u16, times: u32) -> FaultId {
        self.on(
            Target::Token,
            Occurrence::times(times),
            FaultKind::Text { status, content_type: "text/html".into(), body: server_error_html(status) },
        )
    }

    /// Each refresh returns a new refresh token and revokes the one it used.
    pub fn rotate_refresh_tokens(&self, on: bool) {
        self.shared.with_state(|s| s.switches.rotation = on);
    }

    /// Whether a refresh without `client_secret` is refused (`invalid_client`); default on.
    pub fn require_client_secret(&self, on: bool) {
        self.shared.with_state(|s| s.switches.require_client_secret = on);
    }

    /// Refuse a refresh that reuses a refresh token while an earlier refresh with it is still in
    /// flight (`invalid_grant` / `expired authorization code`, Summer '24 behaviour); default on.
    /// "In flight" lasts for the org's latency.
    pub fn reject_concurrent_refresh(&self, on: bool) {
        self.shared.with_state(|s| s.switches.reject_concurrent_refresh = on);
    }

    /// Revokes every refresh token (they then fail with `expired access/refresh token`).
    pub fn revoke_refresh_tokens(&self) {
        self.shared.with_state(|s| s.refresh_tokens.clear());
    }

    /// Token responses carry this `instance_url` instead of the real one (e.g.
    /// `https://evil.example.com`); `None` restores it.
    pub fn override_instance_url(&self, url: Option<&str>) {
        self.shared.with_state(|s| s.switches.instance_url_override = url.map(String::from));
    }

    /// Token responses omit the `api` scope and every data request answers 401
    /// `INVALID_SESSION_ID` / `This session is not valid for use with the REST API`.
    pub fn missing_api_scope(&self, on: bool) {
        self.shared.with_state(|s| s.switches.missing_api_scope = on);
    }

    /// Token responses grant `api id` but not `refresh_token` (an app whose selected scopes
    /// lack "Perform requests at any time"); data requests still work.
    pub fn missing_refresh_token_scope(&self, on: bool) {
        self.shared.with_state(|s| s.switches.missing_refresh_token_scope = on);
    }

    /// Pacing of the device flow.
    pub fn device_flow(&self, plan: DeviceFlowPlan) {
        self.shared.with_state(|s| s.switches.device = plan);
    }

    /// Device and authorization-code flows answer `oauth_flow_disabled`.
    pub fn oauth_flow_disabled(&self, on: bool) {
        self.shared.with_state(|s| s.switches.oauth_flow_disabled = on);
    }

    // ---- sessions and limits ----

    /// Invalidates every access token now: the next data request gets 401
    /// `INVALID_SESSION_ID`; a refresh gives a working one.
    pub fn expire_sessions(&self) {
        self.shared.with_state(|s| s.access_tokens.clear());
    }

    /// Invalidates every access token when the matching request arrives (and answers it 401),
    /// e.g. `expire_sessions_at(Target::query_page(3), Occurrence::nth(1))` for a mid-paging expiry.
    pub fn expire_sessions_at(&self, target: Target, occurrence: Occurrence) -> FaultId {
        self.on(target, occurrence, FaultKind::ExpireSessions)
    }

    /// Sets the daily API usage counter and limit (`Sforce-Limit-Info`, `/limits`).
    pub fn set_api_usage(&self, used: u64, max: u64) {
        self.shared.with_state(|s| {
            s.usage_used = used;
            s.usage_max = max;
        });
    }

    /// Every data request answers 403 `REQUEST_LIMIT_EXCEEDED` / `TotalRequests Limit exceeded.`
    pub fn request_limit_exceeded(&self, on: bool) {
        self.shared.with_state(|s| s.switches.request_limit_exceeded = on);
    }

    /// Matching requests answer 403 `REQUEST_LIMIT_EXCEEDED` /
    /// `ConcurrentRequests (Concurrent API Requests) Limit exceeded.`
    pub fn concurrent_request_limit(&self, target: Target, occurrence: Occurrence) -> FaultId {
        self.on(target, occurrence, rest_fault("CONCURRENT_REQUESTS"))
    }

    /// Every data request answers 403 `API_DISABLED_FOR_ORG`.
    pub fn api_disabled_for_org(&self, on: bool) {
        self.shared.with_state(|s| s.switches.api_disabled_for_org = on);
    }

    /// Every data request answers 403 `API_CURRENTLY_DISABLED`.
    pub fn api_currently_disabled(&self, on: bool) {
        self.shared.with_state(|s| s.switches.api_currently_disabled = on);
    }

    /// Matching requests answer 503 `SERVER_UNAVAILABLE`.
    pub fn server_unavailable(&self, target: Target, occurrence: Occurrence) -> FaultId {
        self.on(target, occurrence, rest_fault("SERVER_UNAVAILABLE"))
    }

    /// Matching requests answer 502 with an HTML page.
    pub fn bad_gateway(&self, target: Target, occurrence: Occurrence) -> FaultId {
        self.on(target, occurrence, FaultKind::BadGatewayHtml)
    }

    /// Page `page` (2 = the first `nextRecordsUrl`) answers 400 `INVALID_QUERY_LOCATOR` and the
    /// cursor is gone, so the client must run the query again.
    pub fn invalid_query_locator(&self, page: u32, occurrence: Occurrence) -> FaultId {
        self.on(Target::query_page(page), occurrence, FaultKind::ExpireQueryLocator)
    }

    // ---- Bulk API 2.0 ----

    /// How many status polls of a query job answer `InProgress` before it ends (default 2).
    pub fn bulk_polls_in_progress(&self, polls: u32) {
        self.shared.with_state(|s| s.switches.bulk.polls_in_progress = polls);
    }

    /// Query jobs end `Failed` with this `errorMessage` (`None`: they complete again).
    pub fn bulk_job_fails(&self, error_message: Option<&str>) {
        self.shared.with_state(|s| s.switches.bulk.fail_with = error_message.map(str::to_owned));
    }

    /// Query jobs end `Aborted`, as when an administrator aborts them in Setup.
    pub fn bulk_job_aborted_elsewhere(&self, on: bool) {
        self.shared.with_state(|s| s.switches.bulk.aborted_elsewhere = on);
    }

    /// Creating a query job answers the daily limit of query jobs (400 `LIMIT_EXCEEDED`).
    pub fn bulk_limit_reached(&self, on: bool) {
        self.shared.with_state(|s| s.switches.bulk.limit_reached = on);
    }

    /// Results page `page` (1 = the first) is lost: 404 `NOT_FOUND` for its locator.
    pub fn bulk_results_page_lost(&self, page: u32) -> FaultId {
        self.on(
            Target::BulkResults(Some(page)),
            Occurrence::always(),
            FaultKind::Json {
                status: 404,
                body: rest_error_body("NOT_FOUND", "The requested resource does not exist"),
            },
        )
    }

    /// Results page `page` (1 = the first) arrives cut off half-way (its headers intact).
    pub fn bulk_results_page_cut(&self, page: u32) -> FaultId {
        self.on(Target::BulkResults(Some(page)), Occurrence::always(), FaultKind::Truncated)
    }

    // ---- visibility ----

    /// The user cannot see `object` (e.g. `PackageLicense`).
    pub fn hide_object(&self, object: &str, how: HiddenAs) {
        if let Some(o) = SObject::from_name(object) {
            self.shared.with_state(|s| {
                s.switches.hidden_objects.insert(o, how);
            });
        }
    }

    /// Undoes [`Faults::hide_object`].
    pub fn show_object(&self, object: &str) {
        if let Some(o) = SObject::from_name(object) {
            self.shared.with_state(|s| {
                s.switches.hidden_objects.remove(&o);
            });
        }
    }

    /// Field-level security hides `object.field`: gone from describe, `INVALID_FIELD` in queries.
    pub fn hide_field(&self, object: &str, field: &str) {
        let Some(o) = SObject::from_name(object) else { return };
        let Some(def) = o.describe().field(field) else { return };
        let name = def.name.clone();
        self.shared.with_state(|s| {
            s.switches.hidden_fields.insert((o, name));
        });
    }

    /// Undoes [`Faults::hide_field`].
    pub fn show_field(&self, object: &str, field: &str) {
        let Some(o) = SObject::from_name(object) else { return };
        self.shared.with_state(|s| {
            s.switches.hidden_fields.retain(|(ho, hf)| !(*ho == o && hf.eq_ignore_ascii_case(field)));
        });
    }

    // ---- versions and URLs ----

    /// The org offers API versions `oldest..=newest` (majors, e.g. 31..=66).
    pub fn set_api_versions(&self, oldest: u32, newest: u32) {
        self.shared.with_state(|s| {
            s.switches.oldest_version = oldest;
            s.switches.newest_version = newest;
        });
    }

    /// Version `major` disappears from the list and its URLs answer 410 Gone.
    pub fn retire_api_version(&self, major: u32) {
        self.shared.with_state(|s| {
            s.switches.retired_versions.insert(major);
        });
    }

    /// `nextRecordsUrl` becomes absolute on this base (e.g. `https://evil.example.com`); `None`
    /// restores the relative form.
    pub fn next_records_url_base(&self, base: Option<&str>) {
        self.shared.with_state(|s| s.switches.next_records_base = base.map(String::from));
    }
}

pub(crate) fn server_error_html(status: u16) -> String {
    if status == 502 {
        return include_str!("../../../fixtures/errors/bad_gateway.html").to_string();
    }
    format!(
        "<html>\n<head><title>{status} Server Error</title></head>\n<body>\n<center><h1>{status} Server Error</h1></center>\n<hr><center>Simulated Salesforce edge proxy</center>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_have_the_exact_texts() {
        assert_eq!(TokenError::ExpiredRefreshToken.error(), "invalid_grant");
        assert_eq!(TokenError::ExpiredRefreshToken.description(), "expired access/refresh token");
        assert_eq!(TokenError::InvalidClientId.description(), "client identifier invalid");
        assert_eq!(TokenError::InvalidClient.description(), "invalid client credentials");
        assert_eq!(TokenError::UserNotApproved.description(), "user hasn't approved this consumer");
        assert_eq!(
            TokenError::UnknownError.body(),
            json!({"error":"unknown_error","error_description":"retry your request"})
        );
        for e in TokenError::ALL {
            assert!(!e.description().is_empty(), "{e:?} missing from fixtures/token/errors.json");
        }
    }

    #[test]
    fn rest_errors_come_from_the_fixture() {
        assert_eq!(
            rest_error_parts("CONCURRENT_REQUESTS"),
            (
                403,
                "REQUEST_LIMIT_EXCEEDED".into(),
                "ConcurrentRequests (Concurrent API Requests) Limit exceeded.".into()
            )
        );
        assert_eq!(rest_error_parts("INVALID_SESSION_ID").0, 401);
    }

    #[test]
    fn occurrences_count_as_documented() {
        assert_eq!(Occurrence::nth(3), Occurrence { skip: 2, count: Some(1) });
        assert_eq!(Occurrence::times(2), Occurrence { skip: 0, count: Some(2) });
    }
}
