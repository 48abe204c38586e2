//! [`Http`]: one reqwest client with the run's retry policy, counter and cancellation, and the
//! retry loop every request of a run goes through.

use std::time::Duration;

use sfconn_errors::{Classify, ErrorClass};

use crate::body::{BodyError, read_capped, read_capped_watching};
use crate::{RequestCounter, RetryPolicy, RunCancel};

/// How the layer sends (from `http.timeout_secs` and `http.max_retries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// The deadline of one attempt, from connecting until the body has been read to its end.
    /// Connecting alone gets at most 30 s of it.
    pub timeout: Duration,
    /// When to send again after a transient failure.
    pub retry: RetryPolicy,
}

/// The HTTP client of one run (or one flow): cloning is cheap and clones share the client,
/// the counter and the cancellation.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    options: HttpOptions,
    counter: RequestCounter,
    cancel: RunCancel,
}

/// What one attempt came to, as the caller's classifier judged the answer. `H` is what the
/// attempt holds until the layer has decided what comes next (`api` holds its concurrency
/// permit, so that no other request leaves before a failure is settled): it is dropped before
/// a wait, or after `give_up` has run.
pub enum Attempt<T, E, H = ()> {
    /// Finished: a value, or a failure the caller words itself (not retried).
    Done(Result<T, E>),
    /// A transient answer: wait (the server's `Retry-After` wins) and send again, within the
    /// retry policy. `seen` says what came back, for the final error if retries run out.
    Again {
        /// E.g. `HTTP 503 with SERVER_UNAVAILABLE: Server Unavailable`.
        seen: String,
        /// The answer's `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// Kept until the layer decided.
        held: H,
    },
    /// Sending or reading failed on the wire: the layer decides whether it is transient.
    Transport(reqwest::Error, H),
    /// Send again at once without counting a retry (the caller fixed what was wrong, e.g.
    /// refreshed an expired access token).
    Replay,
}

/// What the layer itself can fail with. Callers wrap it with what the request was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The reqwest client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    /// No attempt got through to the server: every one failed to connect (or could not be
    /// sent at all).
    #[error("cannot reach the server after {attempts} attempt(s): {detail}")]
    Unreachable {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure, worded by [`Http::describe`].
        detail: String,
    },
    /// The server answered at least once, but every answer was transient (5xx, a timeout, a
    /// body cut off, a classifier's [`Attempt::Again`]) until the retry policy ran out.
    #[error("gave up after {attempts} attempt(s), the last one: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// What the last attempt saw.
        last: String,
    },
    /// The run's cancellation was tripped: nothing more was sent.
    #[error("not sent: the run was stopped by an earlier failure")]
    Cancelled,
}

impl Classify for HttpError {
    fn class(&self) -> ErrorClass {
        match self {
            HttpError::Unreachable { .. } => ErrorClass::Unavailable,
            HttpError::RetriesExhausted { .. } => ErrorClass::Temporary,
            HttpError::Build(_) | HttpError::Cancelled => ErrorClass::Internal,
        }
    }
}

impl Http {
    /// A client that does not follow redirects (a redirect is an answer the caller judges),
    /// accepts gzip, and counts on `counter`; `cancel` stops it.
    pub fn new(options: HttpOptions, counter: RequestCounter, cancel: RunCancel) -> Result<Http, HttpError> {
        let client = reqwest::Client::builder()
            // A whole-request deadline: reqwest's `timeout` runs from connecting until the body
            // has been read to its end, so a server that sends headers and then trickles (or
            // stops) is cut off too, not only one that never answers.
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(30)))
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .user_agent(concat!("sfconn/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HttpError::Build)?;
        Ok(Http { client, options, counter, cancel })
    }

    /// The reqwest client, to build requests for [`Http::send`].
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The options the layer was built with.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// The run's request counter.
    pub fn counter(&self) -> &RequestCounter {
        &self.counter
    }

    /// The run's cancellation.
    pub fn cancellation(&self) -> &RunCancel {
        &self.cancel
    }

    /// Sends one request, counting it.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
        self.counter.add_one();
        request.send().await
    }

    /// The body of `response`, read whole unless it exceeds `cap` bytes.
    pub async fn read_capped(&self, response: reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
        read_capped(response, cap).await
    }

    /// [`Http::read_capped`], showing `watch` the bytes received so far after each chunk while
    /// it returns `true` (to act on the start of a body before the rest has arrived).
    pub async fn read_capped_watching(
        &self,
        response: reqwest::Response,
        cap: usize,
        watch: impl FnMut(&[u8]) -> bool,
    ) -> Result<Vec<u8>, BodyError> {
        read_capped_watching(response, cap, watch).await
    }

    /// The one wording of a transport failure: the timeout and the setting behind it, or the
    /// error's causes (never the URL, which may carry a query string).
    pub fn describe(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("no answer within {:?} (http.timeout_secs)", self.options.timeout);
        }
        let mut detail = String::new();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !detail.contains(&text) {
                if !detail.is_empty() {
                    detail.push_str(": ");
                }
                detail.push_str(&text);
            }
            source = cause.source();
        }
        if detail.is_empty() {
            detail = "the request failed".to_owned();
        }
        if error.is_body() || error.is_decode() {
            format!("the response body was cut off: {detail}")
        } else {
            detail
        }
    }

    /// Runs `attempt` until it is done, retrying transient failures with the retry policy.
    /// Before every attempt and during every wait the run's cancellation is checked: once it is
    /// tripped nothing more is sent. When the layer stops, `give_up` turns its reason into the
    /// caller's error: [`HttpError::Unreachable`] when no attempt got through to the server
    /// (each failed to connect), [`HttpError::RetriesExhausted`] when one did, and
    /// [`HttpError::Cancelled`]. `label` names the request in logs.
    pub async fn retrying<T, E, H, Fut: Future<Output = Attempt<T, E, H>>>(
        &self,
        label: &str,
        mut attempt: impl FnMut() -> Fut,
        give_up: impl FnOnce(HttpError) -> E,
    ) -> Result<T, E> {
        let policy = self.options.retry;
        let mut retries = 0u32;
        let mut reached = false;
        loop {
            if self.cancel.is_tripped() {
                return Err(give_up(HttpError::Cancelled));
            }
            let (seen, retry_after, retryable, held) = match attempt().await {
                Attempt::Done(result) => return result,
                Attempt::Replay => continue,
                Attempt::Again { seen, retry_after, held } => {
                    reached = true;
                    (seen, retry_after, true, held)
                }
                Attempt::Transport(error, held) => {
                    reached |= !error.is_connect() && !error.is_builder();
                    (self.describe(&error), None, is_transient(&error), held)
                }
            };
            retries += 1;
            if !retryable || !policy.allows(retries) {
                let error = give_up(if reached {
                    HttpError::RetriesExhausted { attempts: retries, last: seen }
                } else {
                    HttpError::Unreachable { attempts: retries, detail: seen }
                });
                drop(held);
                return Err(error);
            }
            drop(held);
            let wait = policy.delay(retries, retry_after);
            tracing::debug!(
                request = label,
                retry = retries,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "transient failure: {seen}; retrying"
            );
            tokio::select! {
                biased;
                () = self.cancel.tripped() => return Err(give_up(HttpError::Cancelled)),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Connection failures, timeouts and bodies cut off mid-way are worth another try. A gzip body
/// cut off mid-stream surfaces as a decode error (the decoder is what hits the early end), so
/// decode errors are retried too: a new attempt fetches the body afresh, and a body that is
/// corrupt every time still ends in [`HttpError::RetriesExhausted`] within the policy.
fn is_transient(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout() || error.is_body() || error.is_decode() || error.is_request()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn http(max_retries: u32) -> Http {
        let retry = RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        };
        let options = HttpOptions { timeout: Duration::from_secs(5), retry };
        Http::new(options, RequestCounter::default(), RunCancel::new()).unwrap()
    }

    /// A port nothing listens on.
    fn closed_port() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/", listener.local_addr().unwrap().port())
    }

    /// One GET of `url` as an attempt: 2xx is done, anything else transient.
    async fn get(http: &Http, url: String) -> Attempt<u16, String> {
        match http.send(http.client().get(url)).await {
            Err(error) => Attempt::Transport(error, ()),
            Ok(response) if response.status().is_success() => Attempt::Done(Ok(response.status().as_u16())),
            Ok(response) => {
                Attempt::Again { seen: format!("HTTP {}", response.status()), retry_after: None, held: () }
            }
        }
    }

    #[allow(clippy::needless_pass_by_value)] // the shape `give_up` takes
    fn worded(stopped: HttpError) -> String {
        format!("{:?}: {stopped}", stopped.class())
    }

    #[tokio::test]
    async fn a_host_that_never_answers_is_unreachable_after_every_retry() {
        let http = http(2);
        let url = closed_port();
        let error = http.retrying("test", || get(&http, url.clone()), worded).await.unwrap_err();
        assert!(error.starts_with("Unavailable: cannot reach the server after 3 attempt(s): "), "{error}");
        assert_eq!(http.counter().get(), 3);
    }

    #[tokio::test]
    async fn transient_answers_until_the_policy_runs_out_are_retries_exhausted() {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).expect(2).mount(&server).await;
        let http = http(1);
        let error = http.retrying("test", || get(&http, server.uri()), worded).await.unwrap_err();
        assert_eq!(
            error,
            "Temporary: gave up after 2 attempt(s), the last one: HTTP 503 Service Unavailable"
        );
    }

    #[tokio::test]
    async fn a_host_that_answered_once_and_then_went_away_is_not_unreachable() {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(502)).mount(&server).await;
        let http = http(3);
        let closed = closed_port();
        let mut urls = vec![server.uri(), closed.clone(), closed.clone(), closed].into_iter();
        let error =
            http.retrying("test", || get(&http, urls.next().unwrap_or_default()), worded).await.unwrap_err();
        assert!(error.starts_with("Temporary: gave up after 4 attempt(s), the last one: "), "{error}");
    }

    #[tokio::test]
    async fn a_tripped_run_sends_nothing_more() {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
        let http = http(3);
        assert!(http.cancellation().clone().trip());
        let error = http.retrying("test", || get(&http, server.uri()), worded).await.unwrap_err();
        assert_eq!(error, "Internal: not sent: the run was stopped by an earlier failure");
        assert_eq!(http.counter().get(), 0);
    }

    #[tokio::test]
    async fn a_trip_during_the_wait_ends_it_without_another_attempt() {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).expect(1).mount(&server).await;
        let mut http = http(3);
        // A wait far longer than the test: only the trip can end it.
        http.options.retry.base_delay = Duration::from_secs(3600);
        http.options.retry.max_delay = Duration::from_secs(3600);
        let cancel = http.cancellation().clone();
        let attempt = || async {
            let attempt = get(&http, server.uri()).await;
            cancel.trip();
            attempt
        };
        let error = http.retrying("test", attempt, worded).await.unwrap_err();
        assert_eq!(error, "Internal: not sent: the run was stopped by an earlier failure");
        assert_eq!(http.counter().get(), 1);
    }

    #[tokio::test]
    async fn a_replay_is_not_a_retry_and_what_an_attempt_holds_outlives_give_up() {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
        let http = http(0);
        let events = Arc::new(Mutex::new(Vec::new()));
        struct Held(Arc<Mutex<Vec<&'static str>>>);
        impl Drop for Held {
            fn drop(&mut self) {
                self.0.lock().unwrap().push("held dropped");
            }
        }
        let mut replayed = false;
        let attempt = || {
            let first = !std::mem::replace(&mut replayed, true);
            let held = Held(Arc::clone(&events));
            let http = &http;
            let url = server.uri();
            async move {
                if first {
                    return Attempt::<u16, String, Held>::Replay;
                }
                match get(http, url).await {
                    Attempt::Again { seen, retry_after, .. } => Attempt::Again { seen, retry_after, held },
                    _ => Attempt::Done(Err("unexpected".to_owned())),
                }
            }
        };
        let error = http
            .retrying("test", attempt, |stopped| {
                events.lock().unwrap().push("give up");
                worded(stopped)
            })
            .await
            .unwrap_err();
        assert!(error.contains("after 1 attempt(s)"), "the replay is not counted: {error}");
        // The replay's own `held` went with its future; the last attempt's outlived give_up.
        assert_eq!(*events.lock().unwrap(), ["held dropped", "give up", "held dropped"]);
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_not_read() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(2048)))
            .mount(&server)
            .await;
        let http = http(0);
        let response = http.send(http.client().get(server.uri())).await.unwrap();
        assert!(matches!(http.read_capped(response, 1024).await, Err(BodyError::TooLarge)));
        let response = http.send(http.client().get(server.uri())).await.unwrap();
        assert_eq!(http.read_capped(response, 4096).await.unwrap().len(), 2048);
        assert_eq!(http.counter().get(), 2);
    }

    #[tokio::test]
    async fn a_watched_body_is_shown_as_it_grows_until_the_watcher_has_seen_enough() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("y".repeat(4096)))
            .mount(&server)
            .await;
        let http = http(0);
        let mut seen = Vec::new();
        let response = http.send(http.client().get(server.uri())).await.unwrap();
        let body = http
            .read_capped_watching(response, 8192, |prefix| {
                seen.push(prefix.len());
                false
            })
            .await
            .unwrap();
        assert_eq!(body.len(), 4096);
        assert_eq!(seen.len(), 1, "not shown again once the watcher said it had seen enough");
        assert!(seen[0] > 0 && seen[0] <= 4096, "{seen:?}");
        // The cap holds for a watched body too.
        let response = http.send(http.client().get(server.uri())).await.unwrap();
        let capped = http.read_capped_watching(response, 1024, |_| true).await;
        assert!(matches!(capped, Err(BodyError::TooLarge)));
    }
}
