//! The simulated org over real HTTP, driven with reqwest the way sfconn's crates will use it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Client, StatusCode};
use serde_json::Value;
use sfconn_testkit::{OrgSpec, SimulatedOrg};

fn client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn token_request(org: &SimulatedOrg, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response =
        client().post(format!("{}/services/oauth2/token", org.login_url())).form(form).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn refresh(org: &SimulatedOrg, refresh_token: &str) -> (StatusCode, Value) {
    token_request(
        org,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", SimulatedOrg::CLIENT_ID),
            ("client_secret", SimulatedOrg::CLIENT_SECRET),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// A valid access token and the instance URL it is for.
async fn login(org: &SimulatedOrg) -> (String, String) {
    let (status, body) = refresh(org, SimulatedOrg::REFRESH_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (body["access_token"].as_str().unwrap().to_string(), body["instance_url"].as_str().unwrap().to_string())
}

struct Get {
    status: StatusCode,
    usage: Option<String>,
    text: String,
}

impl Get {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

async fn get(url: &str, token: Option<&str>, batch: Option<u32>) -> Get {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(batch) = batch {
        request = request.header("Sforce-Query-Options", format!("batchSize={batch}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let usage = response.headers().get("sforce-limit-info").map(|v| v.to_str().unwrap().to_string());
    Get { status, usage, text: response.text().await.unwrap() }
}

fn query_url(instance: &str, soql: &str) -> String {
    let mut url = reqwest::Url::parse(&format!("{instance}/services/data/v66.0/query")).unwrap();
    url.query_pairs_mut().append_pair("q", soql);
    url.to_string()
}

/// Runs a query to the end; returns every page's JSON.
async fn all_pages(instance: &str, token: &str, soql: &str, batch: Option<u32>) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut next = Some(query_url(instance, soql));
    while let Some(url) = next {
        let page = get(&url, Some(token), batch).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let json = page.json();
        next = json.get("nextRecordsUrl").map(|n| format!("{instance}{}", n.as_str().unwrap()));
        assert_eq!(json["done"], Value::Bool(next.is_none()));
        pages.push(json);
    }
    pages
}

fn records(pages: &[Value]) -> Vec<Value> {
    pages.iter().flat_map(|p| p["records"].as_array().unwrap().clone()).collect()
}

#[tokio::test]
async fn refresh_grant_returns_salesforce_shaped_token() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (status, body) = refresh(&org, SimulatedOrg::REFRESH_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    let access = body["access_token"].as_str().unwrap();
    assert!(access.starts_with(&format!("{}!", &org.data().organization.id[..15])));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api refresh_token");
    assert_eq!(body["instance_url"], org.instance_url());
    assert_ne!(org.instance_url(), org.login_url());
    assert!(org.instance_url().starts_with("http://localhost:"));
    assert_eq!(body["id"], org.identity_url());
    let issued_at = body["issued_at"].as_str().unwrap();
    assert_eq!(issued_at.len(), 13);
    assert!(issued_at.bytes().all(|b| b.is_ascii_digit()));
    assert!(body.get("expires_in").is_none());
    assert!(body.get("refresh_token").is_none());
    assert!(body["signature"].as_str().is_some_and(|s| s.ends_with('=')));
    let (_, again) = refresh(&org, SimulatedOrg::REFRESH_TOKEN).await;
    assert_ne!(again["access_token"], body["access_token"], "each grant issues a fresh access token");
    assert_eq!(org.token_requests(), 2);
}

#[tokio::test]
async fn refresh_grant_validates_client_and_token() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let cases = [
        (
            ("wrong-id", SimulatedOrg::CLIENT_SECRET, SimulatedOrg::REFRESH_TOKEN),
            ("invalid_client_id", "client identifier invalid"),
        ),
        (
            (SimulatedOrg::CLIENT_ID, "wrong-secret", SimulatedOrg::REFRESH_TOKEN),
            ("invalid_client", "invalid client credentials"),
        ),
        (
            (SimulatedOrg::CLIENT_ID, SimulatedOrg::CLIENT_SECRET, "5Aep861revoked"),
            ("invalid_grant", "expired access/refresh token"),
        ),
    ];
    for ((id, secret, token), (error, description)) in cases {
        let (status, body) = token_request(
            &org,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", id),
                ("client_secret", secret),
                ("refresh_token", token),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, serde_json::json!({"error": error, "error_description": description}));
    }
    let (status, body) = token_request(
        &org,
        &[
            ("grant_type", "password"),
            ("client_id", SimulatedOrg::CLIENT_ID),
            ("client_secret", SimulatedOrg::CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));
}

#[tokio::test]
async fn rotation_issues_a_new_refresh_token_and_revokes_the_old_one() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().rotate_refresh_tokens(true);
    let (status, body) = refresh(&org, SimulatedOrg::REFRESH_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    let rotated = body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rotated, SimulatedOrg::REFRESH_TOKEN);
    assert_eq!(org.valid_refresh_tokens(), vec![rotated.clone()]);
    let (status, old) = refresh(&org, SimulatedOrg::REFRESH_TOKEN).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(old["error_description"], "expired access/refresh token");
    let (status, _) = refresh(&org, &rotated).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn old_access_tokens_stay_valid_after_a_refresh() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (first, instance) = login(&org).await;
    let (_second, _) = login(&org).await;
    let limits = get(&format!("{instance}/services/data/v66.0/limits"), Some(&first), None).await;
    assert_eq!(limits.status, StatusCode::OK);
}

#[tokio::test]
async fn versions_are_listed_oldest_first_without_auth_or_usage_header() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let versions = get(&format!("{}/services/data", org.instance_url()), None, None).await;
    assert_eq!(versions.status, StatusCode::OK);
    assert!(versions.usage.is_none());
    let list = versions.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.first().unwrap()["version"], "31.0");
    assert_eq!(
        list.last().unwrap(),
        &serde_json::json!({"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"})
    );
    assert_eq!(list.len(), 36);
}

#[tokio::test]
async fn data_requests_need_a_valid_session() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let url = query_url(&org.instance_url(), "SELECT Id FROM Organization");
    for token in [None, Some("00Dbogus!token")] {
        let reply = get(&url, token, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.json(),
            serde_json::json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        );
    }
}

#[tokio::test]
async fn user_query_pages_with_same_total_and_no_next_url_on_last_page() {
    let org = SimulatedOrg::start(OrgSpec::with_users(1_050)).await;
    let (token, instance) = login(&org).await;
    let pages = all_pages(&instance, &token, "SELECT Id, Username FROM User ORDER BY Id", Some(400)).await;
    assert_eq!(pages.len(), 3);
    for page in &pages {
        assert_eq!(page["totalSize"], 1_050);
    }
    let first_next = pages[0]["nextRecordsUrl"].as_str().unwrap();
    assert!(first_next.starts_with("/services/data/v66.0/query/0r8"), "{first_next}");
    assert!(first_next.ends_with("-400"));
    assert!(pages[2].get("nextRecordsUrl").is_none());
    assert_eq!(pages[2]["records"].as_array().unwrap().len(), 250);
    let ids: Vec<String> = records(&pages).iter().map(|r| r["Id"].as_str().unwrap().to_string()).collect();
    let expected: Vec<String> = org.data().users().map(|u| u.id).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn batch_size_defaults_to_2000_and_is_clamped() {
    let org = SimulatedOrg::start(OrgSpec::with_users(2_300)).await;
    let (token, instance) = login(&org).await;
    let url = query_url(&instance, "SELECT Id FROM User");
    let default = get(&url, Some(&token), None).await.json();
    assert_eq!(default["records"].as_array().unwrap().len(), 2000);
    let tiny = get(&url, Some(&token), Some(5)).await.json();
    assert_eq!(tiny["records"].as_array().unwrap().len(), 200);
}

#[tokio::test]
async fn every_object_can_be_queried() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let data = org.data();
    let expected = [
        ("Organization", 1),
        ("UserLicense", data.user_licenses.len()),
        ("Profile", data.profiles.len()),
        ("PermissionSetLicense", data.permission_set_licenses.len()),
        ("PermissionSetLicenseAssign", data.psl_assignments().count()),
        ("PackageLicense", data.package_licenses.len()),
        ("UserPackageLicense", data.user_package_licenses().count()),
        ("User", data.user_count()),
    ];
    for (object, count) in expected {
        let pages = all_pages(&instance, &token, &format!("SELECT Id FROM {object}"), None).await;
        assert_eq!(pages[0]["totalSize"], count, "{object}");
        assert_eq!(records(&pages).len(), count, "{object}");
        assert!(count > 0, "{object} is empty");
        let first = &records(&pages)[0];
        assert_eq!(first["attributes"]["type"], object);
        assert_eq!(
            first["attributes"]["url"],
            format!("/services/data/v66.0/sobjects/{object}/{}", first["Id"].as_str().unwrap())
        );
    }
}

#[tokio::test]
async fn empty_result_has_salesforce_shape() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let reply = get(
        &query_url(&instance, "SELECT Id FROM User WHERE Email LIKE '%@nobody.example'"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(reply.json(), serde_json::json!({"totalSize": 0, "done": true, "records": []}));
}

#[test]
fn sfconn_env_carries_valid_credentials() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let org = SimulatedOrg::start(OrgSpec::demo()).await;
        let env: std::collections::HashMap<String, String> = org.sfconn_env().into_iter().collect();
        assert_eq!(env["SFCONN_LOGIN_URL"], org.login_url());
        let (status, _) = token_request(
            &org,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &env["SFCONN_CLIENT_ID"]),
                ("client_secret", &env["SFCONN_CLIENT_SECRET"]),
                ("refresh_token", &env["SFCONN_REFRESH_TOKEN"]),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    });
}
