//! Shared helpers: credentials pointing at a mock server, canned token responses.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use sfconn_auth::{AuthOptions, Credentials, RequestCounter, TokenSource};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const CLIENT_ID: &str = "3MVG9-test-client-id";
pub const CLIENT_SECRET: &str = "client-secret-5f2b8e61";
pub const REFRESH_TOKEN: &str = "5Aep861-refresh-token-a9c3";
pub const ACCESS_TOKEN: &str = "00D000000000001!access-token-77e1";
pub const ROTATED_REFRESH_TOKEN: &str = "5Aep861-rotated-token-b4d2";

pub fn credentials(server: &MockServer) -> Credentials {
    credentials_for(&server.uri())
}

pub fn credentials_for(login_url: &str) -> Credentials {
    Credentials {
        login_url: Url::parse(login_url).unwrap(),
        client_id: CLIENT_ID.to_string(),
        client_secret: Some(SecretString::from(CLIENT_SECRET)),
        refresh_token: SecretString::from(REFRESH_TOKEN),
        refresh_token_file: None,
    }
}

pub fn options(max_retries: u32) -> AuthOptions {
    AuthOptions { timeout: Duration::from_secs(10), retry: sfconn_testkit::quick_retry(max_retries) }
}

pub fn source(server: &MockServer) -> TokenSource {
    TokenSource::new(credentials(server), options(2), RequestCounter::default()).unwrap()
}

/// A success body whose instance and identity URLs point back at the mock server.
pub fn token_body(server: &MockServer, access_token: &str) -> Value {
    json!({
        "access_token": access_token,
        "signature": "c2lnbmF0dXJl",
        "scope": "refresh_token api",
        "instance_url": server.uri(),
        "id": format!("{}/id/00D000000000001AAA/005000000000001AAA", server.uri()),
        "token_type": "Bearer",
        "issued_at": "1708058728442"
    })
}

pub fn token_ok(server: &MockServer, access_token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(token_body(server, access_token))
}

pub fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": error, "error_description": description}))
}

pub async fn mount_token(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(response)
        .mount(server)
        .await;
}
