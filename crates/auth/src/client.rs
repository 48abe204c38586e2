//! The HTTP side of the token endpoint: one form POST with the retry policy, and the decoding of
//! what comes back into a value, an OAuth refusal, or a clear error. Never logs bodies.

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sfconn_http::{Attempt, BodyError, Http, HttpError, HttpOptions, RunCancel, parse_retry_after};
use url::Url;

use crate::{AuthError, AuthOptions, Refusal, RequestCounter};

/// OAuth error codes that mean "try again".
const TRANSIENT_CODES: &[&str] =
    &["unknown_error", "server_error", "service_unavailable", "system_down", "client_blocked_retry"];

/// The shared HTTP layer set up for Salesforce's OAuth endpoints: this module only judges the
/// answers (the classifier passed to [`Http::retrying`]).
#[derive(Debug, Clone)]
pub(crate) struct OAuthHttp {
    http: Http,
    login_url: Url,
}

/// Which kind of endpoint answered: it changes what a non-JSON error body means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `/services/oauth2/*` on the login URL.
    OAuth,
    /// The identity URL.
    Identity,
    /// `/services/oauth2/revoke`: success is HTTP 200 with an empty body.
    Revoke,
}

/// The OAuth error body `{"error": …, "error_description": …}`.
#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl OAuthHttp {
    pub(crate) fn new(
        login_url: Url,
        options: &AuthOptions,
        counter: RequestCounter,
        cancel: RunCancel,
    ) -> Result<Self, AuthError> {
        let options = HttpOptions { timeout: options.timeout, retry: options.retry };
        let http =
            Http::new(options, counter, cancel).map_err(|error| AuthError::Internal(error.to_string()))?;
        Ok(Self { http, login_url })
    }

    pub(crate) fn login_url(&self) -> &Url {
        &self.login_url
    }

    pub(crate) fn counter(&self) -> &RequestCounter {
        self.http.counter()
    }

    pub(crate) fn cancellation(&self) -> &RunCancel {
        self.http.cancellation()
    }

    pub(crate) fn login_host(&self) -> String {
        self.login_url.host_str().unwrap_or_default().to_ascii_lowercase()
    }

    /// POSTs a form to `url` (an OAuth endpoint) and decodes a success into `T`. Transient
    /// failures are retried; an OAuth error becomes [`AuthError::Refused`].
    pub(crate) async fn post_form<T: DeserializeOwned>(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        what: &str,
    ) -> Result<T, AuthError> {
        self.with_retries(url, || async {
            let request = self.http.client().post(url.clone()).header(ACCEPT, "application/json").form(form);
            self.judge(url, self.http.send(request).await, what, Endpoint::OAuth).await
        })
        .await
    }

    /// POSTs a form to the revoke endpoint: `Ok` on HTTP 200 whatever the body; errors as for
    /// [`OAuthHttp::post_form`].
    pub(crate) async fn post_form_no_content(
        &self,
        url: &Url,
        form: &[(&str, &str)],
    ) -> Result<(), AuthError> {
        self.with_retries(url, || async {
            let request = self.http.client().post(url.clone()).header(ACCEPT, "application/json").form(form);
            self.judge(url, self.http.send(request).await, "a revoke response", Endpoint::Revoke).await
        })
        .await
    }

    /// GETs `url` with `Authorization: Bearer …` (the identity URL) and decodes a success into `T`.
    pub(crate) async fn get_bearer<T: DeserializeOwned>(
        &self,
        url: &Url,
        bearer: &str,
        what: &str,
    ) -> Result<T, AuthError> {
        self.with_retries(url, || async {
            let request =
                self.http.client().get(url.clone()).header(ACCEPT, "application/json").bearer_auth(bearer);
            self.judge(url, self.http.send(request).await, what, Endpoint::Identity).await
        })
        .await
    }

    /// The layer's retry loop, its failures worded for the OAuth endpoint `url`.
    async fn with_retries<T, Fut: Future<Output = Attempt<T, AuthError>>>(
        &self,
        url: &Url,
        attempt: impl FnMut() -> Fut,
    ) -> Result<T, AuthError> {
        let endpoint = redacted(url);
        self.http
            .retrying(&endpoint, attempt, |stopped| match stopped {
                HttpError::Unreachable { attempts, detail } => {
                    AuthError::Unreachable { url: endpoint.clone(), attempts, detail }
                }
                HttpError::RetriesExhausted { attempts, last } => {
                    AuthError::RetriesExhausted { url: endpoint.clone(), attempts, last }
                }
                HttpError::Cancelled => AuthError::Cancelled,
                other => AuthError::Internal(other.to_string()),
            })
            .await
    }

    async fn judge<T: DeserializeOwned>(
        &self,
        url: &Url,
        sent: Result<reqwest::Response, reqwest::Error>,
        what: &str,
        endpoint: Endpoint,
    ) -> Attempt<T, AuthError> {
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Attempt::Transport(error, ()),
        };
        let status = response.status();
        tracing::debug!(endpoint = %redacted(url), status = status.as_u16(), "OAuth endpoint answered");
        if status.is_redirection() {
            let location = location_of(response.headers());
            return Attempt::Done(Err(AuthError::Redirected {
                login_url: self.login_url.to_string(),
                status: status.as_u16(),
                location,
            }));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let body = match self.http.read_capped(response, MAX_OAUTH_RESPONSE_BYTES).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return Attempt::Done(Err(AuthError::Unreadable {
                    what: what.to_string(),
                    detail: format!(
                        "the response is larger than {} KiB, which no OAuth answer is; check login_url",
                        MAX_OAUTH_RESPONSE_BYTES / 1024
                    ),
                }));
            }
            Err(BodyError::Cut(error)) => return Attempt::Transport(error, ()),
        };
        let looks_json = looks_like_json(&body);
        if status.is_success() && endpoint == Endpoint::Revoke {
            return Attempt::Done(serde_json::from_slice(b"null").map_err(|error| AuthError::Unreadable {
                what: what.to_string(),
                detail: error.to_string(),
            }));
        }
        if status.is_success() {
            if !looks_json {
                return Attempt::Done(Err(self.not_authorization_server(
                    url,
                    status.as_u16(),
                    &content_type,
                    &body,
                )));
            }
            let mut deserializer = serde_json::Deserializer::from_slice(&body);
            return Attempt::Done(serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
                AuthError::Unreadable { what: what.to_string(), detail: describe_decode_error(&error) }
            }));
        }
        if looks_json && let Ok(oauth) = serde_json::from_slice::<OAuthErrorBody>(&body) {
            let description = oauth.error_description.unwrap_or_default();
            let code = oauth.error.trim().to_ascii_lowercase();
            if TRANSIENT_CODES.contains(&code.as_str()) {
                return Attempt::Again {
                    seen: format!("HTTP {}: {}: {}", status.as_u16(), oauth.error, description),
                    retry_after,
                    held: (),
                };
            }
            return Attempt::Done(Err(AuthError::Refused(Refusal::classify(
                &oauth.error,
                &description,
                status.as_u16(),
                &self.login_host(),
            ))));
        }
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            return Attempt::Again {
                seen: format!("HTTP {} with {}", status.as_u16(), body_kind(&content_type, &body)),
                retry_after,
                held: (),
            };
        }
        if endpoint == Endpoint::Identity {
            // Identity URL errors are short plain codes such as `Bad_OAuth_Token`.
            return Attempt::Done(Err(AuthError::Http {
                url: redacted(url),
                status: status.as_u16(),
                detail: short_code(&body).unwrap_or_else(|| body_kind(&content_type, &body)),
            }));
        }
        if looks_json {
            return Attempt::Done(Err(AuthError::Http {
                url: redacted(url),
                status: status.as_u16(),
                detail: "a JSON body without an OAuth error code".to_string(),
            }));
        }
        Attempt::Done(Err(self.not_authorization_server(url, status.as_u16(), &content_type, &body)))
    }

    fn not_authorization_server(&self, url: &Url, status: u16, content_type: &str, body: &[u8]) -> AuthError {
        AuthError::NotAuthorizationServer {
            endpoint: redacted(url),
            status,
            content_type: body_kind(content_type, body),
        }
    }
}

/// The largest OAuth or identity response read (token responses are well under 4 KiB).
const MAX_OAUTH_RESPONSE_BYTES: usize = 1024 * 1024;

/// The URL without query or fragment (OAuth URLs never carry secrets, but stay safe).
pub(crate) fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_password(None);
    let _ = url.set_username("");
    url.to_string()
}

fn location_of(headers: &HeaderMap) -> String {
    headers
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|raw| {
            Url::parse(raw)
                .ok()
                .map(|url| redacted(&url))
                .or_else(|| Some(raw.split('?').next()?.to_string()))
        })
        .map(|location| format!(" to {location}"))
        .unwrap_or_default()
}

/// A body like `Bad_OAuth_Token`: short, letters, digits, `_`, `-`, spaces. Anything else is
/// not echoed.
fn short_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let plain = !text.is_empty()
        && text.len() <= 60
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ' ');
    plain.then(|| text.to_string())
}

fn looks_like_json(body: &[u8]) -> bool {
    body.iter().find(|byte| !byte.is_ascii_whitespace()).is_some_and(|first| *first == b'{' || *first == b'[')
}

/// `an HTML page`, `an empty body`, `a non-JSON body (text/plain)`: never the body itself.
fn body_kind(content_type: &str, body: &[u8]) -> String {
    let start = body.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(body.len());
    if start == body.len() {
        return "an empty body".to_string();
    }
    if content_type.contains("html") || body[start] == b'<' {
        return "an HTML page".to_string();
    }
    let kind = content_type.split(';').next().unwrap_or("").trim();
    if kind.is_empty() { "a non-JSON body".to_string() } else { format!("a non-JSON body ({kind})") }
}

fn describe_decode_error(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = error.path().to_string();
    let inner = error.inner();
    // serde_json's messages quote offending values for some types; never print a value of a
    // field that could hold a secret.
    let message = match inner.classify() {
        serde_json::error::Category::Data => {
            let text = inner.to_string();
            if path.contains("token") || path.contains("code") {
                "wrong type or value".to_string()
            } else {
                text
            }
        }
        _ => inner.to_string(),
    };
    if path == "." { message } else { format!("at `{path}`: {message}") }
}
