//! Secrets (client secret, refresh tokens, access token, codes, PKCE verifier) never reach a
//! Debug or Display, a log line at TRACE level, or a request URL.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use secrecy::SecretString;
use sfconn_auth::{
    AuthorizeParams, DevicePolling, PendingAuthorization, RequestCounter, TokenSource, parse_code_input,
};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use crate::flows::{DEVICE_CODE, device_body, grant_body, oauth_client};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A process-wide TRACE subscriber writing to a buffer. Global rather than scoped: with tests on
/// several threads, a scoped subscriber misses events whose callsites another thread registered
/// first. Logs of the other tests of this binary land in the buffer too, and must be clean as well.
fn capture_all_logs() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in this binary");
            captured
        })
        .clone()
}

#[tokio::test]
async fn no_secret_in_debug_display_logs_or_urls() {
    let captured = capture_all_logs();

    let server = MockServer::start().await;
    let mut shown: Vec<String> = Vec::new();

    // Refresh with a retry and a rotation that cannot be persisted (warning logged), then a
    // refresh after a 401 with the rotated token, then the identity URL.
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(oauth_error(503, "unknown_error", "retry your request"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let mut rotating = token_body(&server, ACCESS_TOKEN);
    rotating["refresh_token"] = ROTATED_REFRESH_TOKEN.into();
    Mock::given(method("POST"))
        .and(body_string_contains(format!("refresh_token={REFRESH_TOKEN}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(rotating))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains(format!("refresh_token={ROTATED_REFRESH_TOKEN}")))
        .respond_with(oauth_error(400, "invalid_grant", "expired access/refresh token"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"username": "u@acme.com"})))
        .mount(&server)
        .await;
    let source = TokenSource::new(credentials(&server), options(2), RequestCounter::default()).unwrap();
    let token = source.token().await.unwrap();
    shown.push(format!("{token:?}"));
    shown.push(format!("{source:?}"));
    shown.push(format!("{:?}", credentials(&server)));
    shown.push(format!("{:?}", source.identity(&token).await.unwrap()));
    let refused = source.refresh_after(&token).await.unwrap_err();
    shown.push(format!("{refused:?}"));
    shown.push(refused.to_string());
    shown.push(format!("{:?}", source.rotation()));

    // The code exchange and the device flow on a second server.
    let flows = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(grant_body(&flows)))
        .mount(&flows)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("response_type=device_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(device_body(&flows, 0)))
        .mount(&flows)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=device"))
        .respond_with(oauth_error(400, "authorization_pending", "waiting"))
        .up_to_n_times(1)
        .mount(&flows)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=device"))
        .respond_with(ResponseTemplate::new(200).set_body_json(grant_body(&flows)))
        .mount(&flows)
        .await;
    let client = oauth_client(&flows, RequestCounter::default());
    shown.push(format!("{client:?}"));
    let request =
        client.authorize_request(&AuthorizeParams { pkce: true, ..AuthorizeParams::default() }).unwrap();
    let verifier = request.pending.code_verifier.clone().unwrap();
    shown.push(format!("{request:?}"));
    shown.push(request.url.to_string());
    let pasted =
        format!("{}?code=the-auth-code-31f7&state={}", request.pending.redirect_uri, request.pending.state);
    let input = parse_code_input(&pasted).unwrap();
    shown.push(format!("{input:?}"));
    let grant = client.exchange_code(&input, Some(&request.pending), None).await.unwrap();
    shown.push(format!("{grant:?}"));
    let device = client.start_device(None).await.unwrap();
    shown.push(format!("{device:?}"));
    let polling =
        DevicePolling { timeout: Duration::from_secs(10), slow_down_step: Duration::from_millis(1) };
    shown.push(format!("{:?}", client.poll_device(&device, polling).await.unwrap()));
    let pending_error = PendingAuthorization::load(std::path::Path::new("/nonexistent-dir/x")).map(|_| ());
    shown.push(format!("{pending_error:?}"));
    shown.push(format!("{:?}", SecretString::from(CLIENT_SECRET)));

    let secrets = [
        CLIENT_SECRET,
        REFRESH_TOKEN,
        ROTATED_REFRESH_TOKEN,
        ACCESS_TOKEN,
        DEVICE_CODE,
        "the-auth-code-31f7",
        &verifier,
    ];
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("transient failure"), "the retry was logged:\n{logs}");
    assert!(logs.contains("rotated the refresh token"), "the rotation warning was logged:\n{logs}");
    let mut urls: Vec<String> = Vec::new();
    for server in [&server, &flows] {
        for request in server.received_requests().await.unwrap() {
            urls.push(request.url.to_string());
        }
    }
    assert_eq!(urls.len(), 8, "{urls:?}");
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret reached the log:\n{logs}");
        for text in &shown {
            assert!(!text.contains(secret), "a secret reached Debug/Display: {text}");
        }
        for url in &urls {
            assert!(!url.contains(secret), "a secret reached a URL: {url}");
        }
    }
}
