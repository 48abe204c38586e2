//! A wiremock "org" on 127.0.0.1: the token endpoint and the REST API on one server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use sfconn_api::{ApiClient, ApiError, ClientOptions};
use sfconn_auth::{AuthOptions, Credentials, RequestCounter, TokenSource};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const VERSIONS: &str = include_str!("../fixtures/versions.json");

/// The data path prefix of the newest fixture version.
pub const V: &str = "/services/data/v62.0";

pub use sfconn_testkit::quick_retry;

pub fn options() -> ClientOptions {
    ClientOptions {
        api_version: None,
        timeout: Duration::from_secs(20),
        retry: quick_retry(3),
        concurrency: 4,
        batch_size: 2000,
        max_response_bytes: sfconn_api::MAX_RESPONSE_BYTES,
    }
}

/// The token endpoint: each grant returns a new access token `access-1`, `access-2`, … whose
/// `instance_url` is `instance`.
pub async fn mount_token(server: &MockServer, instance: &str) {
    let issued = Arc::new(AtomicU32::new(0));
    let instance = instance.to_owned();
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(move |_: &Request| {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("access-{n}"),
                "instance_url": instance,
                "id": format!("{instance}/id/00D5g000000AbCdEAK/0055g00000AbCdEAAV"),
                "token_type": "Bearer",
                "issued_at": "1705314600000",
                "scope": "api refresh_token",
                "signature": "c2lnbmF0dXJl"
            }))
        })
        .named("token endpoint")
        .mount(server)
        .await;
}

pub async fn mount_versions(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/services/data"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(VERSIONS, "application/json;charset=UTF-8"))
        .named("versions")
        .mount(server)
        .await;
}

pub fn token_source(login_url: &str) -> (Arc<TokenSource>, RequestCounter) {
    let counter = RequestCounter::default();
    let credentials = Credentials {
        login_url: Url::parse(login_url).unwrap(),
        client_id: "3MVG9test".to_owned(),
        client_secret: Some(SecretString::from("client-secret")),
        refresh_token: SecretString::from("refresh-token"),
        refresh_token_file: None,
    };
    let options = AuthOptions { timeout: Duration::from_secs(20), retry: quick_retry(2) };
    (Arc::new(TokenSource::new(credentials, options, counter.clone()).unwrap()), counter)
}

/// A server with the token endpoint and version list mounted.
pub async fn org() -> MockServer {
    let server = MockServer::start().await;
    mount_token(&server, &server.uri()).await;
    mount_versions(&server).await;
    server
}

pub async fn connect_with(server: &MockServer, options: ClientOptions) -> Result<ApiClient, ApiError> {
    let (tokens, _) = token_source(&server.uri());
    ApiClient::connect(tokens, options).await
}

pub async fn connect(server: &MockServer) -> ApiClient {
    connect_with(server, options()).await.unwrap()
}

/// A Salesforce query page.
pub fn page(total: u64, next: Option<&str>, records: Vec<Value>) -> Value {
    let records = Value::Array(records);
    let mut body = json!({ "totalSize": total, "done": next.is_none(), "records": records });
    if let Some(next) = next {
        body["nextRecordsUrl"] = json!(next);
    }
    body
}

/// A minimal `User` record.
pub fn user(id: &str) -> Value {
    json!({
        "attributes": { "type": "User", "url": format!("{V}/sobjects/User/{id}") },
        "Id": id,
        "Username": format!("{id}@example.test"),
        "IsActive": true
    })
}

/// `count` user ids `005…` numbered from `first`.
pub fn user_ids(first: usize, count: usize) -> Vec<String> {
    (first..first + count).map(|n| format!("005xx{n:013}")).collect()
}

pub fn users(ids: &[String]) -> Vec<Value> {
    ids.iter().map(|id| user(id)).collect()
}

/// Salesforce's error array.
pub fn sf_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        serde_json::to_string_pretty(&json!([{ "message": message, "errorCode": code }])).unwrap(),
        "application/json;charset=UTF-8",
    )
}

pub fn json_ok(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json;charset=UTF-8")
}

pub fn raw_json_ok(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_owned(), "application/json;charset=UTF-8")
}
