//! The authorization-code exchange and the device flow against a mock token endpoint.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sfconn_auth::{AuthError, AuthorizeParams, DevicePolling, OAuthClient, RequestCounter, parse_code_input};
use url::Url;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

pub const AUTH_CODE: &str = "aPrx+code+4e1f==";
pub const DEVICE_CODE: &str = "UGxhdGZvcm1-device-code-8d0c";

pub fn oauth_client(server: &MockServer, counter: RequestCounter) -> OAuthClient {
    OAuthClient::new(
        Url::parse(&server.uri()).unwrap(),
        CLIENT_ID.to_string(),
        Some(SecretString::from(CLIENT_SECRET)),
        options(1),
        counter,
    )
    .unwrap()
}

pub fn grant_body(server: &MockServer) -> serde_json::Value {
    let mut body = token_body(server, ACCESS_TOKEN);
    body["refresh_token"] = ROTATED_REFRESH_TOKEN.into();
    body
}

pub fn device_body(server: &MockServer, interval: u64) -> serde_json::Value {
    json!({
        "user_code": "08T3AY9D",
        "device_code": DEVICE_CODE,
        "interval": interval,
        "verification_uri": format!("{}/setup/connect", server.uri())
    })
}

#[tokio::test]
async fn the_pasted_success_url_is_exchanged_with_redirect_uri_and_verifier() {
    let server = MockServer::start().await;
    let client = oauth_client(&server, RequestCounter::default());
    let request =
        client.authorize_request(&AuthorizeParams { pkce: true, ..AuthorizeParams::default() }).unwrap();
    let verifier = request.pending.code_verifier.clone().unwrap();
    let redirect = format!("{}/services/oauth2/success", server.uri());
    let form_redirect: String = url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect();
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=aPrx%2Bcode%2B4e1f%3D%3D"))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains(format!("client_secret={CLIENT_SECRET}")))
        .and(body_string_contains(format!("redirect_uri={form_redirect}")))
        .and(body_string_contains(format!("code_verifier={verifier}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(grant_body(&server)))
        .expect(1)
        .mount(&server)
        .await;
    let pasted = format!("{redirect}?code=aPrx%2Bcode%2B4e1f%3D%3D&state={}", request.pending.state);
    let input = parse_code_input(&pasted).unwrap();
    assert_eq!(input.code.expose_secret(), AUTH_CODE);
    let grant = client.exchange_code(&input, Some(&request.pending), None).await.unwrap();
    assert_eq!(grant.refresh_token.expose_secret(), ROTATED_REFRESH_TOKEN);
    assert_eq!(grant.access_token.secret().expose_secret(), ACCESS_TOKEN);
}

#[tokio::test]
async fn a_state_mismatch_stops_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let client = oauth_client(&server, RequestCounter::default());
    let request = client.authorize_request(&AuthorizeParams::default()).unwrap();
    let input =
        parse_code_input("https://login.salesforce.com/services/oauth2/success?code=abc&state=forged")
            .unwrap();
    let error = client.exchange_code(&input, Some(&request.pending), None).await.unwrap_err();
    assert!(matches!(error, AuthError::Flow(_)));
    insta::assert_snapshot!("state_mismatch", error.to_string());
}

#[tokio::test]
async fn a_bare_code_without_pending_state_uses_the_default_redirect_uri() {
    let server = MockServer::start().await;
    let redirect = format!("{}/services/oauth2/success", server.uri());
    let form_redirect: String = url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect();
    Mock::given(method("POST"))
        .and(body_string_contains(format!("redirect_uri={form_redirect}")))
        .and(body_string_contains("code=abc%3D"))
        .respond_with(ResponseTemplate::new(200).set_body_json(grant_body(&server)))
        .expect(1)
        .mount(&server)
        .await;
    let client = oauth_client(&server, RequestCounter::default());
    let input = parse_code_input("abc%3D").unwrap();
    let grant = client.exchange_code(&input, None, None).await.unwrap();
    assert_eq!(grant.refresh_token.expose_secret(), ROTATED_REFRESH_TOKEN);
}

#[tokio::test]
async fn a_grant_without_refresh_token_says_which_scope_is_missing() {
    let server = MockServer::start().await;
    mount_token(&server, token_ok(&server, ACCESS_TOKEN)).await;
    let client = oauth_client(&server, RequestCounter::default());
    let error = client.exchange_code(&parse_code_input("abc").unwrap(), None, None).await.unwrap_err();
    assert!(error.to_string().contains("refresh_token, offline_access"), "{error}");
}

#[tokio::test]
async fn a_used_code_is_a_refusal_with_its_salesforce_text() {
    let server = MockServer::start().await;
    mount_token(&server, oauth_error(400, "invalid_grant", "expired authorization code")).await;
    let client = oauth_client(&server, RequestCounter::default());
    let error = client.exchange_code(&parse_code_input("abc").unwrap(), None, None).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::AuthRefused);
    assert!(error.to_string().contains("run `sfconn auth url` again"), "{error}");
}

#[tokio::test]
async fn the_device_flow_waits_through_pending_and_slow_down() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("response_type=device_code"))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains("scope=api+refresh_token+offline_access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(device_body(&server, 0)))
        .expect(1)
        .mount(&server)
        .await;
    let polling = |response: ResponseTemplate, times: u64| {
        Mock::given(method("POST"))
            .and(body_string_contains("grant_type=device"))
            .and(body_string_contains(format!("code={DEVICE_CODE}")))
            .respond_with(response)
            .up_to_n_times(times)
            .expect(times)
    };
    polling(oauth_error(400, "authorization_pending", "authorization pending"), 2).mount(&server).await;
    polling(oauth_error(400, "slow_down", "slow down"), 1).mount(&server).await;
    polling(ResponseTemplate::new(200).set_body_json(grant_body(&server)), 1).mount(&server).await;
    let counter = RequestCounter::default();
    let client = oauth_client(&server, counter.clone());
    let device = client.start_device(None).await.unwrap();
    assert_eq!(device.user_code, "08T3AY9D");
    assert!(!format!("{device:?}").contains(DEVICE_CODE));
    let polling =
        DevicePolling { timeout: Duration::from_secs(30), slow_down_step: Duration::from_millis(5) };
    let grant = client.poll_device(&device, polling).await.unwrap();
    assert_eq!(grant.refresh_token.expose_secret(), ROTATED_REFRESH_TOKEN);
    assert_eq!(counter.get(), 5, "one start and four polls");
}

#[tokio::test]
async fn the_device_flow_gives_up_after_its_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("response_type=device_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(device_body(&server, 5)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=device"))
        .respond_with(oauth_error(400, "authorization_pending", "authorization pending"))
        .expect(1)
        .mount(&server)
        .await;
    let client = oauth_client(&server, RequestCounter::default());
    let device = client.start_device(None).await.unwrap();
    let polling = DevicePolling { timeout: Duration::from_secs(2), slow_down_step: Duration::from_secs(5) };
    let error = client.poll_device(&device, polling).await.unwrap_err();
    insta::assert_snapshot!(
        "device_timeout",
        error.to_string().replace(&server.uri(), "http://127.0.0.1:PORT")
    );
}

#[tokio::test]
async fn a_disabled_device_flow_says_which_box_to_tick() {
    let server = MockServer::start().await;
    mount_token(&server, oauth_error(400, "oauth_flow_disabled", "device flow is not enabled for this app"))
        .await;
    let client = oauth_client(&server, RequestCounter::default());
    let error = client.start_device(None).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::AuthRefused);
    assert!(error.to_string().contains("tick \"Enable for Device Flow\""), "{error}");
}

#[tokio::test]
async fn a_denied_device_authorization_is_a_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("response_type=device_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(device_body(&server, 0)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=device"))
        .respond_with(oauth_error(400, "access_denied", "end-user denied authorization"))
        .expect(1)
        .mount(&server)
        .await;
    let client = oauth_client(&server, RequestCounter::default());
    let device = client.start_device(Some("api refresh_token")).await.unwrap();
    let error = client.poll_device(&device, DevicePolling::default()).await.unwrap_err();
    assert_eq!(error.refusal().unwrap().error, "access_denied");
}
