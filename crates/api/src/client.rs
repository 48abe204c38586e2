//! The HTTP side: one reqwest client, the token source, the concurrency cap, the retry loop
//! and version discovery. Every request to the instance goes through [`ApiClient::execute`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sfconn_auth::TokenSource;
use sfconn_errors::{Classify, ErrorClass};
use sfconn_http::{
    Attempt, BodyError, Http, HttpError, HttpOptions, RetryPolicy, RunCancel, parse_retry_after,
};
use url::Url;

use crate::describe::SObjectDescribe;
use crate::error::{ErrorBody, FailureContext, Verdict, classify_status};
use crate::limiter::{Limiter, Permit, Reservation};
use crate::limits::{ApiUsage, LimitsBody, parse_limit_info};
use crate::{ApiError, SalesforceError};

/// HTTP behaviour of the REST client (from `http.*` and `api_version` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// `api_version`, e.g. `62.0`; `None` uses the newest the org offers.
    pub api_version: Option<String>,
    /// Per-request deadline (`http.timeout_secs`), covering the connection, the headers and
    /// reading the whole body.
    pub timeout: Duration,
    /// Retries of transient failures (`http.max_retries`).
    pub retry: RetryPolicy,
    /// Requests in flight at once (`http.concurrency`); 0 is taken as 1.
    pub concurrency: usize,
    /// Records per query page asked for with `Sforce-Query-Options: batchSize=N`; Salesforce
    /// accepts 200..=2000, values outside are clamped.
    pub batch_size: u32,
    /// Largest response body read, after gzip decoding ([`MAX_RESPONSE_BYTES`] by default); a
    /// larger one fails the request with [`ApiError::ResponseTooLarge`] (bad data) instead of
    /// filling memory. 0 is taken as the default.
    pub max_response_bytes: usize,
}

/// The default cap on one response body: 64 MiB. A full query page (2,000 users with every
/// field sfconn reads) is a few MiB; anything near the cap is not a Salesforce answer sfconn
/// should hold in memory.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            api_version: None,
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            concurrency: 4,
            batch_size: 2000,
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }
}

/// The Salesforce REST client of a run. Cloning is cheap and clones share everything: the
/// token, the concurrency cap, the request count and the latest usage.
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
    /// Set on the handles of [`ApiClient::first_in_line`]: their requests are first in line
    /// for the concurrency cap, which keeps a permit for them while any such handle lives.
    reservation: Option<Arc<Reservation>>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("instance_url", &self.inner.instance_url.as_str())
            .field("api_version", &self.inner.api_version)
            .field("first_in_line", &self.reservation.is_some())
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// The run's HTTP layer: the token source's counter and cancellation.
    http: Http,
    tokens: Arc<TokenSource>,
    instance_url: Url,
    api_version: String,
    offered_versions: Vec<String>,
    options: ClientOptions,
    permits: Arc<Limiter>,
    latest_usage: Mutex<Option<ApiUsage>>,
    /// The failure that tripped the run's cancellation, until a caller reports it
    /// ([`ApiClient::take_first_failure`]). Also the lock under which "first" is decided.
    first_failure: Mutex<Option<ApiError>>,
}

/// One entry of `GET /services/data`.
#[derive(Debug, Deserialize)]
struct VersionEntry {
    version: String,
}

/// Shown a body as it arrives ([`Call::watch`]).
pub(crate) type BodyWatch<'a> = dyn Fn(&[u8]) -> bool + Send + Sync + 'a;

/// One request, described for the retry loop and for error messages.
pub(crate) struct Call<'a> {
    pub(crate) url: Url,
    /// E.g. `the User query (GET /services/data/v62.0/query)`.
    pub(crate) label: &'a str,
    /// The object the request is about, for `INVALID_TYPE` messages.
    pub(crate) object: Option<&'a str>,
    /// Whether to ask `Sforce-Query-Options: batchSize=N`.
    pub(crate) query_options: bool,
    /// Failures the caller decides about (e.g. a `/limits` refusal the run can do without):
    /// they do not stop the run here. [`ApiError::ObjectNotReadable`] never does (optional
    /// sources are skipped); every other failure stops the run where it is classified.
    pub(crate) caller_decides: fn(&ApiError) -> bool,
    /// Shown the body of a 2xx answer as it arrives (the bytes so far, after each chunk), for
    /// as long as it returns `true`: a query page's paging fields are read from its first
    /// bytes. The body is still read whole, with the same cap and errors.
    pub(crate) watch: Option<&'a BodyWatch<'a>>,
    /// `GET` unless said otherwise (Bulk API 2.0 jobs are created, aborted and deleted).
    pub(crate) method: reqwest::Method,
    /// A JSON request body.
    pub(crate) json_body: Option<&'a str>,
    /// The `Accept` header: JSON, or CSV for Bulk API 2.0 results.
    pub(crate) accept: &'static str,
}

impl<'a> Call<'a> {
    /// A call whose every failure, but an unreadable object, stops the run.
    pub(crate) fn new(url: Url, label: &'a str, object: Option<&'a str>, query_options: bool) -> Call<'a> {
        Call {
            url,
            label,
            object,
            query_options,
            caller_decides: |_| false,
            watch: None,
            method: reqwest::Method::GET,
            json_body: None,
            accept: "application/json",
        }
    }
}

/// What one request came back with, before the retry loop judges it.
enum Answer {
    /// A 2xx answer's body and headers.
    Body(String, HeaderMap),
    /// Sending or reading failed on the wire.
    Transport(reqwest::Error),
    /// A non-success answer, classified.
    Judged(Verdict),
}

impl ApiClient {
    /// Gets the access token (the first refresh grant of the run), then discovers the API
    /// version: `GET {instance_url}/services/data`, the newest version unless
    /// `options.api_version` is set, in which case the org must offer it (unavailable otherwise,
    /// listing what it offers).
    pub async fn connect(tokens: Arc<TokenSource>, options: ClientOptions) -> Result<ApiClient, ApiError> {
        let token = tokens.token().await?;
        let instance_url = token.instance_url.clone();
        // The run's requests are counted, and stopped, in one place with the token requests.
        let http = Http::new(
            HttpOptions { timeout: options.timeout, retry: options.retry },
            tokens.counter().clone(),
            tokens.cancellation().clone(),
        )
        .map_err(|error| ApiError::Internal(error.to_string()))?;
        let mut client = ApiClient {
            inner: Arc::new(Inner {
                http,
                tokens,
                instance_url,
                api_version: String::new(),
                offered_versions: Vec::new(),
                permits: Limiter::new(options.concurrency),
                options,
                latest_usage: Mutex::new(None),
                first_failure: Mutex::new(None),
            }),
            reservation: None,
        };
        let versions_url = client.instance_join("/services/data")?;
        let label = format!("the API version list (GET {})", versions_url.path());
        let body = client
            .execute(&Call::new(versions_url, &label, None, false))
            .await
            .map_err(|error| client.surface(error))?;
        let entries: Vec<VersionEntry> = decode_json(&body, &label)?;
        let offered: Vec<String> = entries.into_iter().map(|entry| entry.version).collect();
        let chosen = choose_version(client.inner.options.api_version.as_deref(), &offered, &label)?;
        tracing::debug!(api_version = %chosen, offered = offered.len(), "API version chosen");
        let inner = Arc::get_mut(&mut client.inner)
            .ok_or_else(|| ApiError::Internal("the client was shared before it was ready".to_owned()))?;
        inner.api_version = chosen;
        inner.offered_versions = offered;
        Ok(client)
    }

    /// The same client (same token, cap, count and usage) for the run's longest chain of
    /// dependent requests (the User query), so that it never queues behind requests that could
    /// wait. While this handle, its clones or the query streams they start live, one of the
    /// `http.concurrency` permits is kept for their requests (with a cap of 2 or more: the
    /// others share `cap − 1`), and when they do wait they get the next freed permit first.
    /// The cap holds for every request: never more requests in flight than `http.concurrency`.
    pub fn first_in_line(&self) -> ApiClient {
        let reservation = match &self.reservation {
            Some(reservation) => Arc::clone(reservation),
            None => Arc::new(self.inner.permits.reserve()),
        };
        ApiClient { inner: Arc::clone(&self.inner), reservation: Some(reservation) }
    }

    /// The API version in use, e.g. `62.0`.
    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    /// The versions the org offers, oldest first, as `GET /services/data` listed them.
    pub fn offered_versions(&self) -> &[String] {
        &self.inner.offered_versions
    }

    /// The instance all requests go to (the token's `instance_url`).
    pub fn instance_url(&self) -> &Url {
        &self.inner.instance_url
    }

    /// The options the client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// The latest `Sforce-Limit-Info: api-usage=U/M` seen on any response: the highest count
    /// (answers to concurrent requests arrive in any order).
    pub fn latest_usage(&self) -> Option<ApiUsage> {
        *self.inner.latest_usage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// HTTP requests this run sent to Salesforce so far: token requests and retries included
    /// (the run's counter, shared with the token source).
    pub fn requests_sent(&self) -> u64 {
        self.inner.http.counter().get()
    }

    /// `GET /sobjects/{sobject}/describe`. An object the user cannot see (`NOT_FOUND`,
    /// `INVALID_TYPE`, `INSUFFICIENT_ACCESS`) is an error for which
    /// [`ApiError::is_not_readable_object`] is true.
    pub async fn describe(&self, sobject: &str) -> Result<SObjectDescribe, ApiError> {
        if sobject.is_empty() || !sobject.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            return Err(ApiError::Internal(format!("`{sobject}` is not an sObject name")));
        }
        let url = self.data_url(&format!("sobjects/{sobject}/describe"))?;
        let label = format!("the {sobject} describe (GET {})", url.path());
        let call = Call {
            caller_decides: |error| matches!(error, ApiError::Rejected { status: 404, .. }),
            ..Call::new(url, &label, Some(sobject), false)
        };
        match self.execute(&call).await.map_err(|error| self.surface(error)) {
            Ok(body) => decode_json(&body, &label),
            Err(ApiError::Rejected { request, status: 404, body }) => {
                let error = body.first().cloned().unwrap_or_else(|| SalesforceError {
                    code: "NOT_FOUND".to_owned(),
                    message: body.to_string(),
                    fields: Vec::new(),
                });
                Err(ApiError::ObjectNotReadable { object: sobject.to_owned(), request, error })
            }
            Err(other) => Err(other),
        }
    }

    /// `GET /limits`: the org's daily API usage (`DailyApiRequests`: used = Max − Remaining).
    /// Needs "View Setup and Configuration".
    pub async fn limits(&self) -> Result<ApiUsage, ApiError> {
        let url = self.data_url("limits")?;
        let label = format!("the API limits (GET {})", url.path());
        // A refusal of `/limits` is the caller's to judge (the run falls back on
        // `Sforce-Limit-Info`).
        let call = Call {
            caller_decides: |error| {
                matches!(error, ApiError::Rejected { .. }) && error.class() == ErrorClass::Unavailable
            },
            ..Call::new(url, &label, None, false)
        };
        let body = self.execute(&call).await.map_err(|error| self.surface(error))?;
        let limits: LimitsBody = decode_json(&body, &label)?;
        Ok(limits.usage())
    }

    /// `{instance}/services/data/v{version}/{path}`.
    pub(crate) fn data_url(&self, path: &str) -> Result<Url, ApiError> {
        self.instance_join(&format!("/services/data/v{}/{path}", self.inner.api_version))
    }

    fn instance_join(&self, absolute_path: &str) -> Result<Url, ApiError> {
        self.inner
            .instance_url
            .join(absolute_path)
            .map_err(|error| ApiError::Internal(format!("cannot build the URL {absolute_path}: {error}")))
    }

    /// Resolves a `nextRecordsUrl` against the instance and refuses anything that would leave
    /// it: another scheme, host or port (docs/contract.md §2). Nothing is sent for a refused URL.
    pub(crate) fn resolve_next_url(&self, next: &str, request: &str) -> Result<Url, ApiError> {
        let instance = &self.inner.instance_url;
        let foreign = || ApiError::ForeignUrl {
            request: request.to_owned(),
            url: next.to_owned(),
            instance: instance.as_str().trim_end_matches('/').to_owned(),
        };
        let resolved = instance.join(next).map_err(|_| foreign())?;
        let same_origin = resolved.scheme() == instance.scheme()
            && resolved.host_str() == instance.host_str()
            && resolved.port_or_known_default() == instance.port_or_known_default()
            && resolved.username().is_empty()
            && resolved.password().is_none();
        if !same_origin || !resolved.path().starts_with("/services/data/") {
            return Err(foreign());
        }
        Ok(resolved)
    }

    /// The run's cancellation (shared with the token source): tripped by the run's first
    /// fatal failure, after which no request of this client leaves.
    pub fn cancellation(&self) -> &RunCancel {
        self.inner.http.cancellation()
    }

    /// The failure that stopped the run, if a request of this client stopped it and no caller
    /// has reported it yet. A run that fails with [`ApiError::Cancelled`] reports this instead.
    pub fn take_first_failure(&self) -> Option<ApiError> {
        self.inner.first_failure.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// For a failure that this client leaves to its caller (an object or required field the
    /// user cannot read: [`ApiError::is_not_readable_object`],
    /// [`ApiError::RequiredFieldsMissing`]) when the caller decides it ends the run: stops the
    /// run and returns the failure if it is the run's first. If the run was already stopped,
    /// this is either that first failure, handed to this caller by [`ApiClient::surface`], or
    /// a later one: it goes back where the run looks for the first failure (unless one is
    /// there) and the caller gets [`ApiError::Cancelled`]. Any other failure stopped the run
    /// where it was found and is returned as it is.
    pub fn claim(&self, error: ApiError) -> ApiError {
        if !matches!(error, ApiError::ObjectNotReadable { .. } | ApiError::RequiredFieldsMissing { .. }) {
            return error;
        }
        let mut first = self.inner.first_failure.lock().unwrap_or_else(PoisonError::into_inner);
        if self.cancellation().trip() {
            return error;
        }
        if first.is_none() {
            *first = Some(error);
        }
        ApiError::Cancelled
    }

    /// For a caller that keeps a failure to report later (behind pages read ahead, say): the
    /// failure that stopped the run goes back to where the run looks for it (so that whichever
    /// part of the run reports first reports it) and the caller keeps [`ApiError::Cancelled`].
    /// Any other failure is returned as it is.
    pub fn hold_back(&self, error: ApiError) -> ApiError {
        if error.is_cancelled() || !self.cancellation().is_tripped() {
            return error;
        }
        let mut first = self.inner.first_failure.lock().unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            *first = Some(error);
        }
        ApiError::Cancelled
    }

    /// Stops the run for a failure outside this crate (rows out of order, output failed);
    /// `true` when it is the run's first failure.
    pub fn stop_run(&self) -> bool {
        let _first = self.inner.first_failure.lock().unwrap_or_else(PoisonError::into_inner);
        self.cancellation().trip()
    }

    /// A failure as the caller of a public method sees it: [`ApiError::Cancelled`] becomes the
    /// failure that stopped the run, when a request of this client stopped it and nobody has
    /// reported it yet.
    pub(crate) fn surface(&self, error: ApiError) -> ApiError {
        if !error.is_cancelled() {
            return error;
        }
        self.take_first_failure().unwrap_or(error)
    }

    /// Settles a failure where it is classified (with the request's permit still held, so no
    /// other request can leave in between): the run's first fatal failure trips the
    /// cancellation and is kept for [`ApiClient::surface`]; after that every failure is
    /// dropped as [`ApiError::Cancelled`]. Failures the caller decides about are returned.
    fn failed(&self, call: &Call<'_>, error: ApiError) -> ApiError {
        if (call.caller_decides)(&error) && !self.cancellation().is_tripped() {
            return error;
        }
        self.stop_with(error)
    }

    /// Like [`ApiClient::failed`] for a failure found after the answer was read (a page that
    /// cannot be decoded, a `nextRecordsUrl` off the instance). Settling twice is harmless.
    pub(crate) fn stop_with(&self, error: ApiError) -> ApiError {
        if error.is_cancelled() {
            return ApiError::Cancelled;
        }
        let mut first = self.inner.first_failure.lock().unwrap_or_else(PoisonError::into_inner);
        if self.cancellation().is_tripped() {
            return ApiError::Cancelled;
        }
        if error.is_not_readable_object() {
            return error;
        }
        tracing::debug!(%error, "fatal failure: stopping every other request of the run");
        *first = Some(error);
        self.cancellation().trip();
        ApiError::Cancelled
    }

    /// A permit of the concurrency cap, unless the run is stopped first.
    async fn permit(&self) -> Result<Permit, ApiError> {
        let waiting = self.inner.permits.acquire(self.reservation.is_some());
        let permit = tokio::select! {
            biased;
            () = self.cancellation().tripped() => return Err(ApiError::Cancelled),
            permit = waiting => permit,
        };
        permit.map_err(|_| ApiError::Internal("the request limiter was closed".to_owned()))
    }

    /// Sends a GET with the access token, retrying transient failures, refreshing the token
    /// once on 401, and returns the body of the 2xx answer. Nothing is sent once the run's
    /// cancellation is tripped; a request on the wire then is abandoned and its answer dropped.
    pub(crate) async fn execute(&self, call: &Call<'_>) -> Result<String, ApiError> {
        self.execute_holding(call).await.map(|(body, _permit)| body)
    }

    /// [`ApiClient::execute`], handing back the request's permit with the body, so that the
    /// caller can check the answer (a query page's `nextRecordsUrl`, say) before another
    /// request may take the permit: a failure it finds stops the run before anything else
    /// leaves.
    pub(crate) async fn execute_holding(&self, call: &Call<'_>) -> Result<(String, Permit), ApiError> {
        self.execute_with_headers(call).await.map(|(body, _headers, permit)| (body, permit))
    }

    /// [`ApiClient::execute_holding`] with the answer's headers (Bulk API 2.0's
    /// `Sforce-Locator`).
    pub(crate) async fn execute_with_headers(
        &self,
        call: &Call<'_>,
    ) -> Result<(String, HeaderMap, Permit), ApiError> {
        let inner = &*self.inner;
        let token = match inner.tokens.token().await {
            Ok(token) => token,
            Err(error) => return Err(self.failed(call, error.into())),
        };
        // The token in use, replaced once after a refused session.
        let session = Mutex::new((token, false));
        let session = &session;
        let attempt = || async move {
            // The permit is held until the answer is settled (by the retry loop too, when it
            // gives up): a fatal answer trips the cancellation before the permit can go to a
            // waiting request.
            let permit = match self.permit().await {
                Ok(permit) => permit,
                Err(error) => return Attempt::Done(Err(error)),
            };
            let (token, refreshed) = session.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let answer = match self.attempt(call, token.secret().expose_secret()).await {
                Ok(answer) => answer,
                Err(error) => return Attempt::Done(Err(self.failed(call, error))),
            };
            match answer {
                Answer::Body(..) if self.cancellation().is_tripped() => {
                    Attempt::Done(Err(ApiError::Cancelled))
                }
                Answer::Body(body, headers) => Attempt::Done(Ok((body, headers, permit))),
                Answer::Transport(error) => Attempt::Transport(error, permit),
                Answer::Judged(Verdict::Retry { seen, retry_after }) => {
                    Attempt::Again { seen, retry_after, held: permit }
                }
                Answer::Judged(Verdict::RefreshSession(error)) => {
                    if refreshed {
                        let error = ApiError::SessionRejected { request: call.label.to_owned(), error };
                        return Attempt::Done(Err(self.failed(call, error)));
                    }
                    tracing::debug!(
                        request = call.label,
                        "session refused, refreshing the access token once"
                    );
                    // Refreshed with the permit held, for the same reason: a refused refresh
                    // token stops the run before another request leaves.
                    let fresh = match inner.tokens.refresh_after(&token).await {
                        Ok(token) => token,
                        Err(error) => return Attempt::Done(Err(self.failed(call, error.into()))),
                    };
                    *session.lock().unwrap_or_else(PoisonError::into_inner) = (fresh, true);
                    drop(permit);
                    Attempt::Replay
                }
                Answer::Judged(Verdict::Fail(error)) => Attempt::Done(Err(self.failed(call, error))),
            }
        };
        let request = || call.label.to_owned();
        inner
            .http
            .retrying(call.label, attempt, |stopped| match stopped {
                HttpError::Cancelled => ApiError::Cancelled,
                HttpError::Unreachable { attempts, detail } => {
                    self.failed(call, ApiError::Unreachable { request: request(), attempts, detail })
                }
                HttpError::RetriesExhausted { attempts, last } => {
                    self.failed(call, ApiError::RetriesExhausted { request: request(), attempts, last })
                }
                other => self.failed(call, ApiError::Internal(other.to_string())),
            })
            .await
    }

    /// One request (the caller holds a permit of the concurrency cap).
    /// Not sent once the run is stopped; abandoned if it is stopped while on the wire.
    async fn attempt(&self, call: &Call<'_>, bearer: &str) -> Result<Answer, ApiError> {
        let cancel = self.cancellation();
        if cancel.is_tripped() {
            return Err(ApiError::Cancelled);
        }
        tokio::select! {
            biased;
            () = cancel.tripped() => Err(ApiError::Cancelled),
            outcome = self.send(call, bearer) => outcome,
        }
    }

    async fn send(&self, call: &Call<'_>, bearer: &str) -> Result<Answer, ApiError> {
        let inner = &*self.inner;
        let mut request = inner
            .http
            .client()
            .request(call.method.clone(), call.url.clone())
            .bearer_auth(bearer)
            .header("Accept", call.accept);
        if let Some(body) = call.json_body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.to_owned());
        }
        if call.query_options {
            request = request.header(
                "Sforce-Query-Options",
                format!("batchSize={}", inner.options.batch_size.clamp(200, 2000)),
            );
        }
        let response = match inner.http.send(request).await {
            Ok(response) => response,
            Err(error) => return Ok(Answer::Transport(error)),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.note_usage(&headers);
        if response.status().is_redirection() {
            let location = header_text(&headers, LOCATION).map(|to| format!(" to {to}")).unwrap_or_default();
            return Err(ApiError::Redirected { request: call.label.to_owned(), status, location });
        }
        let cap = match inner.options.max_response_bytes {
            0 => MAX_RESPONSE_BYTES,
            cap => cap,
        };
        let read = match call.watch {
            Some(watch) if (200..300).contains(&status) => {
                inner.http.read_capped_watching(response, cap, watch).await
            }
            _ => inner.http.read_capped(response, cap).await,
        };
        let body = match read {
            // Invalid UTF-8 is replaced, as `Response::text` does.
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
            },
            Err(BodyError::Cut(error)) => return Ok(Answer::Transport(error)),
            Err(BodyError::TooLarge) => {
                return Err(ApiError::ResponseTooLarge { request: call.label.to_owned(), limit_bytes: cap });
            }
        };
        if (200..300).contains(&status) {
            return Ok(Answer::Body(body, headers));
        }
        let context = FailureContext {
            request: call.label,
            object: call.object,
            api_version: &inner.api_version,
            offered_versions: &inner.offered_versions,
        };
        let retry_after = header_text(&headers, RETRY_AFTER).as_deref().and_then(parse_retry_after);
        let parsed = ErrorBody::parse(header_text(&headers, CONTENT_TYPE).as_deref(), &body);
        Ok(Answer::Judged(classify_status(&context, status, retry_after, parsed)))
    }

    /// Sends one request outside the run: not stopped by its cancellation, not retried, with
    /// the token already held (no grant is asked for). For cleaning up after the run (a Bulk
    /// API 2.0 job aborted after a failure or Ctrl-C). The HTTP status, or why none came.
    pub(crate) async fn send_outside_run(
        &self,
        method: reqwest::Method,
        url: Url,
        json_body: Option<&str>,
    ) -> Result<u16, String> {
        let inner = &*self.inner;
        let token = inner.tokens.token().await.map_err(|error| error.to_string())?;
        let mut request = inner
            .http
            .client()
            .request(method, url)
            .bearer_auth(token.secret().expose_secret())
            .header("Accept", "application/json");
        if let Some(body) = json_body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.to_owned());
        }
        match inner.http.send(request).await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(error) => Err(inner.http.describe(&error)),
        }
    }

    fn note_usage(&self, headers: &HeaderMap) {
        let Some(usage) = headers
            .get_all("sforce-limit-info")
            .iter()
            .find_map(|value| parse_limit_info(value.to_str().ok()?))
        else {
            return;
        };
        // Concurrent requests answer out of order, and the org's count only grows during a
        // run: an answer that reports fewer requests used than one already seen is older news.
        let mut latest = self.inner.latest_usage.lock().unwrap_or_else(PoisonError::into_inner);
        if latest.is_none_or(|seen| seen.max != usage.max || seen.used <= usage.used) {
            *latest = Some(usage);
        }
    }
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// Decodes JSON, naming the request and the JSON path on failure (bad data).
///
/// Decoded first without tracking the path: `serde_path_to_error` keeps the path by copying
/// every object key it passes into a `String` (about 30 for each User record), a fifth of the
/// decoding time of a page. Only a body that fails is decoded again with the path tracked, and
/// it fails there the same way ([`decode_json_tracked`]); what is accepted is unchanged (text
/// after the value included, as `serde_path_to_error` never checked it).
pub(crate) fn decode_json<T: DeserializeOwned>(body: &str, request: &str) -> Result<T, ApiError> {
    match T::deserialize(&mut serde_json::Deserializer::from_str(body)) {
        Ok(value) => Ok(value),
        Err(_) => decode_json_tracked(body, request),
    }
}

/// [`decode_json`] with the JSON path tracked all the way, for the message of a failure.
fn decode_json_tracked<T: DeserializeOwned>(body: &str, request: &str) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let source = error.into_inner();
        if source.is_syntax() && !body.trim_start().starts_with(['{', '[']) {
            return ApiError::NotJson { request: request.to_owned(), body: ErrorBody::parse(None, body) };
        }
        ApiError::Decode { request: request.to_owned(), path, source }
    })
}

/// `62`, `v62.0` and `62.0` all mean `62.0`.
fn normalize_version(text: &str) -> String {
    let trimmed = text.trim().trim_start_matches(['v', 'V']);
    if trimmed.contains('.') { trimmed.to_owned() } else { format!("{trimmed}.0") }
}

fn version_key(version: &str) -> (u32, u32) {
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    (major.parse().unwrap_or(0), minor.parse().unwrap_or(0))
}

fn choose_version(wanted: Option<&str>, offered: &[String], request: &str) -> Result<String, ApiError> {
    match wanted {
        Some(wanted) => {
            let normalized = normalize_version(wanted);
            offered
                .iter()
                .find(|version| version_key(version) == version_key(&normalized))
                .cloned()
                .ok_or_else(|| ApiError::VersionNotOffered { wanted: normalized, offered: offered.to_vec() })
        }
        None => offered
            .iter()
            .max_by_key(|version| version_key(version))
            .cloned()
            .ok_or_else(|| ApiError::NoVersions { request: request.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered() -> Vec<String> {
        ["20.0", "58.0", "62.0", "9.0"].map(str::to_owned).to_vec()
    }

    #[test]
    fn newest_version_compares_numerically() {
        assert_eq!(choose_version(None, &offered(), "r").unwrap(), "62.0");
    }

    #[test]
    fn configured_version_in_any_spelling() {
        for wanted in ["58.0", "58", "v58.0", " 58.0 "] {
            assert_eq!(choose_version(Some(wanted), &offered(), "r").unwrap(), "58.0", "{wanted}");
        }
    }

    #[test]
    fn configured_version_missing_lists_what_is_offered() {
        let error = choose_version(Some("61.0"), &offered(), "r").unwrap_err();
        assert_eq!(error.class(), ErrorClass::Unavailable);
        assert!(error.to_string().contains("20.0, 58.0, 62.0, 9.0"), "{error}");
    }

    #[test]
    fn no_versions_at_all() {
        assert!(matches!(choose_version(None, &[], "r"), Err(ApiError::NoVersions { .. })));
    }

    #[test]
    fn decode_errors_name_request_and_path() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Page {
            records: Vec<crate::records::User>,
        }
        let body = r#"{"records":[{"Id":"005A"},{"Id":"005B","LastLoginDate":"last tuesday"}]}"#;
        let error = decode_json::<Page>(body, "the User query").unwrap_err();
        assert_eq!(error.class(), ErrorClass::BadData);
        let message = error.to_string();
        assert!(message.contains("the User query"), "{message}");
        assert!(message.contains("records[1].LastLoginDate"), "{message}");
    }

    #[test]
    fn decoding_without_the_path_accepts_and_refuses_exactly_what_the_tracked_decoding_does() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Page {
            #[serde(rename = "totalSize")]
            total_size: u64,
            records: Vec<crate::records::User>,
        }
        let user = r#"{"attributes":{"type":"User"},"Id":"005A","UserPermissionsMarketingUser":true}"#;
        let bodies = [
            format!(r#"{{"totalSize":1,"records":[{user}]}}"#),
            format!(r#"{{"totalSize":1,"records":[{user}]}} trailing text"#),
            format!(r#"{{"totalSize":"1","records":[{user}]}}"#),
            r#"{"totalSize":2,"records":[{"Id":"005A"},{"Id":"005B","IsActive":"yes"}]}"#.to_owned(),
            r#"{"totalSize":1,"records":[{"Username":"no id"}]}"#.to_owned(),
            r#"{"totalSize":1,"records":[{"Id":"005A"}"#.to_owned(),
            "<html><title>Down</title></html>".to_owned(),
            String::new(),
        ];
        for body in &bodies {
            let fast = decode_json::<Page>(body, "the User query").map_err(|e| e.to_string());
            let tracked = decode_json_tracked::<Page>(body, "the User query").map_err(|e| e.to_string());
            assert_eq!(fast, tracked, "{body}");
        }
        let decoded = decode_json::<Page>(&bodies[1], "q").unwrap();
        assert_eq!(decoded.records[0].feature_licences.0, ["MarketingUser"]);
        let error = decode_json::<Page>(&bodies[3], "the User query").unwrap_err().to_string();
        assert!(error.contains("records[1].IsActive"), "the failure still names its path: {error}");
    }

    #[test]
    fn html_instead_of_json_is_named() {
        let error = decode_json::<Vec<VersionEntry>>("<html><title>Maintenance</title></html>", "the list")
            .unwrap_err();
        assert_eq!(error.class(), ErrorClass::BadData);
        assert_eq!(
            error.to_string(),
            "Salesforce answered the list with an HTML page titled `Maintenance` instead of JSON; sfconn cannot read it"
        );
    }
}
