//! The simulated org over real HTTP, driven with reqwest the way sfconn's crates will use it.

use reqwest::{Client, StatusCode};
use serde_json::Value;
use sfconn_testkit::{
    DeviceFlowPlan, FaultKind, HiddenAs, Occurrence, OrgSpec, SimulatedOrg, Target, TokenError,
};

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

/// With `build_ahead` (the benchmark's org) the next page of a cursor is built on a thread
/// of its own once a page has been answered: every page reads exactly as without it, a
/// request for another batch size than the page built ahead gets its own, and a page asked
/// for twice is the same both times.
#[tokio::test]
async fn pages_built_ahead_are_the_pages_built_on_request() {
    let soqls = [
        "SELECT Id, Username, Email, Profile.UserLicenseId FROM User ORDER BY Id",
        "SELECT Id, UserId FROM UserLogin WHERE IsFrozen = true ORDER BY UserId, Id",
        "SELECT Id, AssigneeId, PermissionSetLicenseId FROM PermissionSetLicenseAssign ORDER BY AssigneeId, Id",
    ];
    let mut answers = Vec::new();
    for build_ahead in [false, true] {
        let org = SimulatedOrg::start(OrgSpec { build_ahead, ..OrgSpec::with_users(2_500) }).await;
        let (token, instance) = login(&org).await;
        let mut seen = Vec::new();
        for soql in soqls {
            seen.push(all_pages(&instance, &token, soql, Some(200)).await);
        }
        // Page 2 of a new User cursor asked for at another batch size, then again.
        let first = get(&query_url(&instance, soqls[0]), Some(&token), Some(300)).await.json();
        let next = format!("{instance}{}", first["nextRecordsUrl"].as_str().unwrap());
        let other_size = get(&next, Some(&token), Some(500)).await.json();
        assert_eq!(other_size["records"].as_array().unwrap().len(), 500);
        let again = get(&next, Some(&token), Some(500)).await.json();
        assert_eq!(again, other_size);
        seen.push(vec![first, other_size]);
        answers.push(seen);
    }
    assert!(answers[0][0].len() > 5, "the User query runs over several pages");
    assert_eq!(answers[0], answers[1]);
}

/// `ORDER BY AssigneeId, Id` / `ORDER BY UserId, Id` page through the assignments sorted by
/// user (what a merge join with the User query needs), every row once.
#[tokio::test]
async fn assignments_page_in_user_order() {
    let org = SimulatedOrg::start(OrgSpec::with_users(1_500)).await;
    let (token, instance) = login(&org).await;
    let data = org.data();
    for (soql, user_field, expected) in [
        (
            "SELECT Id, AssigneeId, PermissionSetLicenseId FROM PermissionSetLicenseAssign ORDER BY AssigneeId, Id",
            "AssigneeId",
            data.psl_assignments().map(|a| (a.assignee_id, a.id)).collect::<Vec<_>>(),
        ),
        (
            "SELECT Id, UserId, PackageLicenseId FROM UserPackageLicense ORDER BY UserId ASC, Id ASC",
            "UserId",
            data.user_package_licenses().map(|a| (a.user_id, a.id)).collect::<Vec<_>>(),
        ),
    ] {
        let pages = all_pages(&instance, &token, soql, Some(300)).await;
        assert!(pages.len() > 2, "{soql}: several pages");
        let rows: Vec<(String, String)> = records(&pages)
            .iter()
            .map(|r| (r[user_field].as_str().unwrap().to_owned(), r["Id"].as_str().unwrap().to_owned()))
            .collect();
        assert!(rows.windows(2).all(|pair| pair[0] < pair[1]), "{soql}: ascending by (user, Id)");
        let mut sorted = expected.clone();
        sorted.sort();
        assert_eq!(rows, sorted, "{soql}");
        assert!(rows.windows(2).any(|pair| pair[0].0 == pair[1].0), "{soql}: some user holds several");
    }
}

/// `UserLogin` has one row per user; `WHERE IsFrozen = true` pages only the frozen ones, in
/// user order, and they are the org's frozen users: active internal ones.
#[tokio::test]
async fn frozen_user_logins_page_in_user_order() {
    let org = SimulatedOrg::start(OrgSpec::with_users(1_500)).await;
    let (token, instance) = login(&org).await;
    let data = org.data();
    let soql = "SELECT Id, UserId FROM UserLogin WHERE IsFrozen = true ORDER BY UserId, Id";
    let pages = all_pages(&instance, &token, soql, Some(200)).await;
    let frozen: Vec<String> =
        records(&pages).iter().map(|r| r["UserId"].as_str().unwrap().to_owned()).collect();
    let expected: Vec<String> = data.users().filter(|u| u.is_frozen).map(|u| u.id).collect();
    assert_eq!(frozen, expected);
    assert!(frozen.len() > 50 && frozen.len() < 200, "{} frozen of 1,500", frozen.len());
    assert!(data.users().filter(|u| u.is_frozen).all(|u| u.is_active && u.user_type == "Standard"));
    assert_eq!(data.user_logins().count(), data.users().count(), "one UserLogin per user");
}

/// The feature licences are `UserPermissions*` checkboxes on `User`, held by internal users.
#[tokio::test]
async fn feature_licences_are_user_checkboxes() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let soql =
        "SELECT Id, UserType, UserPermissionsMarketingUser, UserPermissionsSupportUser FROM User ORDER BY Id";
    let pages = all_pages(&instance, &token, soql, None).await;
    let users = records(&pages);
    let truth: Vec<_> = org.data().users().collect();
    assert_eq!(users.len(), truth.len());
    for (row, user) in users.iter().zip(&truth) {
        assert_eq!(row["UserPermissionsMarketingUser"], user.feature_licences.contains(&"MarketingUser"));
        assert_eq!(row["UserPermissionsSupportUser"], user.feature_licences.contains(&"SupportUser"));
        if row["UserType"] != "Standard" {
            assert!(user.feature_licences.is_empty(), "{}", user.id);
        }
    }
    assert!(truth.iter().any(|u| u.feature_licences.len() >= 2), "someone holds several");
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

// ---- queries: fields, relationships, filters, visibility, usage ----

#[tokio::test]
async fn query_returns_only_requested_fields_with_nested_relationships() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let soql = "SELECT Id, Email, LastLoginDate, Profile.Name, Profile.UserLicenseId, Profile.UserLicense.Name FROM User ORDER BY Id";
    let all = records(&all_pages(&instance, &token, soql, None).await);
    let data = org.data();
    for (record, user) in all.iter().zip(data.users()) {
        let keys: Vec<&str> = record.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["Email", "Id", "LastLoginDate", "Profile", "attributes"]);
        assert_eq!(record["Email"].as_str(), user.email.as_deref());
        assert_eq!(
            record["LastLoginDate"].as_str().map(String::from),
            user.last_login_date.map(|d| d.salesforce())
        );
        match &user.profile_id {
            None => assert_eq!(record["Profile"], Value::Null, "{}", user.name),
            Some(profile_id) => {
                let profile = data.profile(profile_id).unwrap();
                let licence = data.license_of(&user).unwrap();
                let nested = &record["Profile"];
                assert_eq!(nested["attributes"]["type"], "Profile");
                assert_eq!(
                    nested["attributes"]["url"],
                    format!("/services/data/v66.0/sobjects/Profile/{profile_id}")
                );
                assert_eq!(nested["Name"], profile.name.as_str());
                assert_eq!(nested["UserLicenseId"], licence.id.as_str());
                assert_eq!(nested["UserLicense"]["attributes"]["type"], "UserLicense");
                assert_eq!(nested["UserLicense"]["Name"], licence.name.as_str());
            }
        }
    }
    assert!(all.iter().any(|r| r["Profile"].is_null()));
    assert!(all.iter().any(|r| r["LastLoginDate"].is_null()));
    let login = all.iter().find_map(|r| r["LastLoginDate"].as_str()).unwrap();
    assert!(login.ends_with(".000+0000") && login.len() == 28, "{login}");
}

#[tokio::test]
async fn email_like_filter_matches_company_domains_only() {
    let org = SimulatedOrg::start(OrgSpec::with_users(600)).await;
    let (token, instance) = login(&org).await;
    let soql =
        "SELECT Id, Email FROM User WHERE Email LIKE '%@acme.com' OR Email LIKE '%.acme.com' ORDER BY Id";
    let got: Vec<String> = records(&all_pages(&instance, &token, soql, None).await)
        .iter()
        .map(|r| r["Email"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = org
        .data()
        .users()
        .filter_map(|u| u.email)
        .filter(|e| {
            let e = e.to_lowercase();
            e.ends_with("@acme.com") || e.ends_with(".acme.com")
        })
        .collect();
    assert_eq!(got, expected);
    for must in ["Jo@ACME.com", "ana.lopez@eu.acme.com", "DANA.UPPER@ACME.COM"] {
        assert!(got.iter().any(|e| e == must), "{must} missing");
    }
    for never in ["eve@notacme.com", "mal@acme.com.evil.io", "zed@acmecom.net"] {
        assert!(!got.iter().any(|e| e == never), "{never} matched");
    }
}

#[tokio::test]
async fn id_range_and_is_active_filters() {
    let org = SimulatedOrg::start(OrgSpec::with_users(5_000)).await;
    let (token, instance) = login(&org).await;
    let data = org.data();
    let lo = data.user(1_000).unwrap().id;
    let hi = data.user(3_500).unwrap().id;
    let pages = all_pages(
        &instance,
        &token,
        &format!("SELECT Id FROM User WHERE Id >= '{lo}' AND Id < '{hi}' ORDER BY Id"),
        None,
    )
    .await;
    let ids: Vec<String> = records(&pages).iter().map(|r| r["Id"].as_str().unwrap().to_string()).collect();
    assert_eq!(pages[0]["totalSize"], 2_500);
    assert_eq!(ids.first(), Some(&lo));
    assert_eq!(ids.len(), 2_500);
    let after = all_pages(&instance, &token, &format!("SELECT Id FROM User WHERE Id > '{hi}'"), None).await;
    assert_eq!(after[0]["totalSize"], 5_000 - 3_501);
    let active =
        all_pages(&instance, &token, "SELECT Id, IsActive FROM User WHERE IsActive = true", None).await;
    assert_eq!(active[0]["totalSize"], data.users().filter(|u| u.is_active).count());
    assert!(records(&active).iter().all(|r| r["IsActive"] == Value::Bool(true)));
}

#[tokio::test]
async fn unknown_field_and_object_errors_keep_salesforce_shape() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let reply = get(&query_url(&instance, "SELECT Id, Foo FROM User"), Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let body = reply.json();
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD");
    assert!(body[0]["message"].as_str().unwrap().contains("No such column 'Foo' on entity 'User'"));
    let reply = get(&query_url(&instance, "SELECT Id FROM Contact"), Some(&token), None).await;
    assert_eq!(reply.json()[0]["errorCode"], "INVALID_TYPE");
    assert!(reply.usage.is_some(), "errors after authentication still carry the usage header");
}

#[tokio::test]
async fn hidden_field_is_gone_from_describe_and_invalid_in_queries() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let describe_url = format!("{instance}/services/data/v66.0/sobjects/User/describe");
    let names = |d: &Value| -> Vec<String> {
        d["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect()
    };
    let before = get(&describe_url, Some(&token), None).await.json();
    assert_eq!(before["name"], "User");
    assert!(names(&before).contains(&"FederationIdentifier".to_string()));
    let field =
        &before["fields"].as_array().unwrap().iter().find(|f| f["name"] == "LastLoginDate").unwrap().clone();
    assert_eq!((field["type"].as_str(), field["nillable"].as_bool()), (Some("datetime"), Some(true)));

    org.faults().hide_field("User", "FederationIdentifier");
    let after = get(&describe_url, Some(&token), None).await.json();
    assert!(!names(&after).contains(&"FederationIdentifier".to_string()));
    assert_eq!(names(&after).len(), names(&before).len() - 1);
    let reply =
        get(&query_url(&instance, "SELECT Id, FederationIdentifier FROM User"), Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()[0]["errorCode"], "INVALID_FIELD");
    org.faults().show_field("User", "FederationIdentifier");
    let reply =
        get(&query_url(&instance, "SELECT Id, FederationIdentifier FROM User"), Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn hidden_objects_answer_invalid_type_or_insufficient_access() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    org.faults().hide_object("PackageLicense", HiddenAs::InvalidType);
    org.faults().hide_object("PermissionSetLicense", HiddenAs::InsufficientAccess);
    let reply = get(&query_url(&instance, "SELECT Id FROM PackageLicense"), Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()[0]["errorCode"], "INVALID_TYPE");
    assert!(
        reply.json()[0]["message"]
            .as_str()
            .unwrap()
            .contains("sObject type 'PackageLicense' is not supported.")
    );
    let describe =
        get(&format!("{instance}/services/data/v66.0/sobjects/PackageLicense/describe"), Some(&token), None)
            .await;
    assert_eq!(describe.status, StatusCode::NOT_FOUND);
    let reply = get(&query_url(&instance, "SELECT Id FROM PermissionSetLicense"), Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()[0]["errorCode"], "INSUFFICIENT_ACCESS");
    let users = get(&query_url(&instance, "SELECT Id FROM User"), Some(&token), None).await;
    assert_eq!(users.status, StatusCode::OK);
}

#[tokio::test]
async fn usage_header_counts_every_authenticated_data_request() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().set_api_usage(500, 15_000);
    let (token, instance) = login(&org).await;
    let url = query_url(&instance, "SELECT Id FROM Organization");
    let first = get(&url, Some(&token), None).await;
    let second = get(&url, Some(&token), None).await;
    assert_eq!(first.usage.as_deref(), Some("api-usage=501/15000"));
    assert_eq!(second.usage.as_deref(), Some("api-usage=502/15000"));
    let unauthenticated = get(&url, None, None).await;
    assert!(unauthenticated.usage.is_none());
    assert_eq!(org.api_usage(), (502, 15_000));
    let limits = get(&format!("{instance}/services/data/v66.0/limits"), Some(&token), None).await.json();
    assert_eq!(limits["DailyApiRequests"]["Max"], 15_000);
    assert_eq!(limits["DailyApiRequests"]["Remaining"], 15_000 - 503);
    assert!(limits["DataStorageMB"]["Max"].is_u64());
}

#[tokio::test]
async fn identity_url_describes_the_integration_user() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (status, body) = refresh(&org, SimulatedOrg::REFRESH_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    let token = body["access_token"].as_str().unwrap();
    let identity = get(body["id"].as_str().unwrap(), Some(token), None).await;
    assert_eq!(identity.status, StatusCode::OK);
    let json = identity.json();
    let me = org.data().integration_user();
    assert_eq!(json["user_id"], me.id.as_str());
    assert_eq!(json["organization_id"], org.data().organization.id.as_str());
    assert_eq!(json["username"], me.username.as_str());
    assert_eq!(json["user_type"], "STANDARD");
    assert_eq!(json["active"], true);
    assert_eq!(json["urls"]["query"], format!("{}/services/data/v{{version}}/query/", org.instance_url()));
    let bad = get(body["id"].as_str().unwrap(), Some("nope"), None).await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn large_org_pages_through_100k_users() {
    let mut spec = OrgSpec::with_users(100_000);
    spec.request_log_limit = 0;
    let org = SimulatedOrg::start(spec).await;
    let (token, instance) = login(&org).await;
    let pages = all_pages(&instance, &token, "SELECT Id, Email, Profile.UserLicenseId FROM User", None).await;
    assert_eq!(pages.len(), 50);
    let mut count = 0;
    let mut last_id = String::new();
    for page in &pages {
        assert_eq!(page["totalSize"], 100_000);
        for record in page["records"].as_array().unwrap() {
            let id = record["Id"].as_str().unwrap();
            assert!(id > last_id.as_str());
            last_id = id.to_string();
            count += 1;
        }
    }
    assert_eq!(count, 100_000);
    assert_eq!(last_id, org.data().user(99_999).unwrap().id);
    assert!(org.requests().is_empty(), "request log switched off");
}

// ---- faults ----

#[tokio::test]
async fn every_token_error_row_is_served_exactly() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    for error in TokenError::ALL {
        let id = org.faults().token_error(error, Occurrence::times(1));
        let (status, body) = refresh(&org, SimulatedOrg::REFRESH_TOKEN).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, error.body());
        assert_eq!(org.faults().fired(id), 1);
        let (status, _) = refresh(&org, SimulatedOrg::REFRESH_TOKEN).await;
        assert_eq!(status, StatusCode::OK, "{error:?} fires once only");
    }
}

#[tokio::test]
async fn token_server_errors_and_unknown_error_then_recover() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().token_server_error(503, 1);
    org.faults().token_unknown_error(2);
    let response = client()
        .post(format!("{}/services/oauth2/token", org.login_url()))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.unwrap().starts_with("<html>"));
    for _ in 0..2 {
        let (status, body) = refresh(&org, SimulatedOrg::REFRESH_TOKEN).await;
        assert_eq!(
            (status, body["error_description"].as_str()),
            (StatusCode::BAD_REQUEST, Some("retry your request"))
        );
    }
    assert_eq!(refresh(&org, SimulatedOrg::REFRESH_TOKEN).await.0, StatusCode::OK);
}

#[tokio::test]
async fn expired_session_mid_paging_recovers_after_refresh_with_same_next_url() {
    let org = SimulatedOrg::start(OrgSpec::with_users(1_000)).await;
    let (token, instance) = login(&org).await;
    org.faults().expire_sessions_at(Target::query_page(2), Occurrence::nth(1));
    let first = get(&query_url(&instance, "SELECT Id FROM User"), Some(&token), Some(300)).await.json();
    let next = format!("{instance}{}", first["nextRecordsUrl"].as_str().unwrap());
    let expired = get(&next, Some(&token), Some(300)).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.json()[0]["errorCode"], "INVALID_SESSION_ID");
    assert_eq!(
        get(&next, Some(&token), Some(300)).await.status,
        StatusCode::UNAUTHORIZED,
        "old token stays dead"
    );
    let (fresh, _) = login(&org).await;
    let second = get(&next, Some(&fresh), Some(300)).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.json()["records"][0]["Id"], org.data().user(300).unwrap().id.as_str());
}

#[tokio::test]
async fn expire_sessions_now_and_missing_api_scope() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let url = query_url(&instance, "SELECT Id FROM Organization");
    org.faults().expire_sessions();
    assert_eq!(get(&url, Some(&token), None).await.status, StatusCode::UNAUTHORIZED);
    let (token, _) = login(&org).await;
    assert_eq!(get(&url, Some(&token), None).await.status, StatusCode::OK);

    org.faults().missing_api_scope(true);
    let (status, body) = refresh(&org, SimulatedOrg::REFRESH_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body["scope"].as_str().unwrap().split(' ').any(|s| s == "api"));
    for _ in 0..2 {
        let reply = get(&url, body["access_token"].as_str(), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json()[0]["message"], "This session is not valid for use with the REST API");
    }
}

#[tokio::test]
async fn invalid_query_locator_forgets_the_cursor_and_a_rerun_works() {
    let org = SimulatedOrg::start(OrgSpec::with_users(700)).await;
    let (token, instance) = login(&org).await;
    let id = org.faults().invalid_query_locator(2, Occurrence::nth(1));
    let soql = "SELECT Id FROM User";
    let first = get(&query_url(&instance, soql), Some(&token), Some(200)).await.json();
    let next = format!("{instance}{}", first["nextRecordsUrl"].as_str().unwrap());
    let reply = get(&next, Some(&token), Some(200)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        serde_json::json!([{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}])
    );
    assert_eq!(get(&next, Some(&token), Some(200)).await.status, StatusCode::BAD_REQUEST, "cursor is gone");
    assert_eq!(org.faults().fired(id), 1);
    assert_eq!(records(&all_pages(&instance, &token, soql, Some(200)).await).len(), 700);
}

#[tokio::test]
async fn transient_failures_503_502_and_concurrency_limit() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let url = query_url(&instance, "SELECT Id FROM User");
    org.faults().server_unavailable(Target::query("User"), Occurrence::times(1));
    org.faults().bad_gateway(Target::Data, Occurrence::nth(2));
    org.faults().concurrent_request_limit(Target::Data, Occurrence::nth(3));
    let unavailable = get(&url, Some(&token), None).await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unavailable.json()[0]["errorCode"], "SERVER_UNAVAILABLE");
    let gateway = get(&url, Some(&token), None).await;
    assert_eq!(gateway.status, StatusCode::BAD_GATEWAY);
    assert!(gateway.text.contains("<h1>502 Bad Gateway</h1>"));
    let busy = get(&url, Some(&token), None).await;
    assert_eq!(busy.status, StatusCode::FORBIDDEN);
    assert_eq!(
        busy.json(),
        serde_json::json!([{"message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    assert_eq!(get(&url, Some(&token), None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn persistent_refusals_limit_and_disabled_api() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let url = query_url(&instance, "SELECT Id FROM User");
    type Switch<'a> = &'a dyn Fn(bool);
    let cases: [(Switch<'_>, &str, &str); 3] = [
        (
            &|on| org.faults().request_limit_exceeded(on),
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ),
        (
            &|on| org.faults().api_disabled_for_org(on),
            "API_DISABLED_FOR_ORG",
            "API is not enabled for this Organization or Partner",
        ),
        (
            &|on| org.faults().api_currently_disabled(on),
            "API_CURRENTLY_DISABLED",
            "API is disabled for this User",
        ),
    ];
    for (switch, code, message) in cases {
        switch(true);
        for _ in 0..2 {
            let reply = get(&url, Some(&token), None).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN);
            assert_eq!(reply.json(), serde_json::json!([{"message": message, "errorCode": code}]));
        }
        switch(false);
        assert_eq!(get(&url, Some(&token), None).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn hostile_urls_instance_override_and_foreign_next_records_url() {
    let org = SimulatedOrg::start(OrgSpec::with_users(500)).await;
    org.faults().override_instance_url(Some("https://evil.example.com"));
    let (_, instance) = login(&org).await;
    assert_eq!(instance, "https://evil.example.com");
    org.faults().override_instance_url(None);
    let (token, instance) = login(&org).await;
    org.faults().next_records_url_base(Some("http://10.1.2.3"));
    let page = get(&query_url(&instance, "SELECT Id FROM User"), Some(&token), Some(200)).await.json();
    assert!(
        page["nextRecordsUrl"].as_str().unwrap().starts_with("http://10.1.2.3/services/data/v66.0/query/0r8")
    );
}

#[tokio::test]
async fn retired_and_removed_versions() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let retired = get(&format!("{instance}/services/data/v30.0/limits"), Some(&token), None).await;
    assert_eq!(retired.status, StatusCode::GONE);
    org.faults().retire_api_version(66);
    org.faults().set_api_versions(40, 66);
    assert_eq!(
        get(&format!("{instance}/services/data/v66.0/limits"), Some(&token), None).await.status,
        StatusCode::GONE
    );
    let list = get(&format!("{instance}/services/data"), None, None).await.json();
    let versions: Vec<&str> =
        list.as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(versions.first(), Some(&"40.0"));
    assert_eq!(versions.last(), Some(&"65.0"));
    assert_eq!(
        get(&format!("{instance}/services/data/v67.0/limits"), Some(&token), None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn generic_faults_truncate_malform_redirect_and_empty() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    let url = query_url(&instance, "SELECT Id, Email FROM User");
    let faults = org.faults();
    faults.on(Target::query_page(1), Occurrence::nth(1), FaultKind::Truncated);
    faults.on(Target::query_page(1), Occurrence::nth(2), FaultKind::Malformed);
    faults.on(
        Target::Data,
        Occurrence::nth(3),
        FaultKind::Redirect { status: 302, location: "https://login.example.com/".into() },
    );
    faults.on(Target::Data, Occurrence::nth(4), FaultKind::Empty { status: 500 });
    let truncated = get(&url, Some(&token), None).await;
    assert_eq!(truncated.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&truncated.text).is_err());
    assert!(truncated.text.starts_with("{\"totalSize\":"));
    let malformed = get(&url, Some(&token), None).await;
    assert!(serde_json::from_str::<Value>(&malformed.text).is_err());
    let redirect = client().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::FOUND);
    assert_eq!(redirect.headers()["location"], "https://login.example.com/");
    let empty = get(&url, Some(&token), None).await;
    assert_eq!((empty.status, empty.text.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, ""));
    faults.clear();
    assert_eq!(get(&url, Some(&token), None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn stall_delays_the_response_past_a_client_timeout() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let (token, instance) = login(&org).await;
    org.faults().on(Target::Limits, Occurrence::nth(1), FaultKind::Stall(std::time::Duration::from_secs(5)));
    let quick = Client::builder().timeout(std::time::Duration::from_millis(200)).build().unwrap();
    let url = format!("{instance}/services/data/v66.0/limits");
    let err = quick.get(&url).bearer_auth(&token).send().await.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(quick.get(&url).bearer_auth(&token).send().await.unwrap().status(), StatusCode::OK);
}

// ---- other OAuth flows ----

async fn exchange(
    org: &SimulatedOrg,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", SimulatedOrg::CLIENT_ID),
        ("client_secret", SimulatedOrg::CLIENT_SECRET),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    token_request(org, &form).await
}

#[tokio::test]
async fn authorization_code_with_pkce_yields_a_working_refresh_token() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let callback = "http://localhost:1717/OauthRedirect";

    let code = org.issue_authorization_code(Some(challenge));
    let (status, body) = exchange(&org, &code, callback, Some("wrong-verifier")).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, body) = exchange(&org, &code, callback, Some(verifier)).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (StatusCode::BAD_REQUEST, Some("expired authorization code")),
        "codes are single use"
    );

    let code = org.issue_authorization_code(Some(challenge));
    let (status, body) = exchange(&org, &code, callback, None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    let code = org.issue_authorization_code(Some(challenge));
    let (status, body) = exchange(&org, &code, callback, Some(verifier)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert_eq!(body["instance_url"], org.instance_url());
    assert_eq!(refresh(&org, refresh_token).await.0, StatusCode::OK);

    let bound = org.issue_authorization_code_for(callback, None);
    let (status, body) = exchange(&org, &bound, "https://elsewhere.example/cb", None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("redirect_uri_mismatch")));
}

#[tokio::test]
async fn authorize_endpoint_redirects_with_an_encoded_code_and_state() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let callback = format!("{}/services/oauth2/success", org.login_url());
    let mut url = reqwest::Url::parse(&format!("{}/services/oauth2/authorize", org.login_url())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", SimulatedOrg::CLIENT_ID)
        .append_pair("redirect_uri", &callback)
        .append_pair("state", "xyz");
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(&callback));
    assert!(location.query().unwrap().contains("%3D%3D"), "codes end in == and arrive URL-encoded");
    let pairs: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], "xyz");
    let (status, body) = exchange(&org, &pairs["code"], &callback, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"].is_string());
}

#[tokio::test]
async fn device_flow_pends_slows_down_then_grants() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().device_flow(DeviceFlowPlan { interval_secs: 5, slow_down: 1, pending: 2 });
    let (status, start) = token_request(
        &org,
        &[
            ("response_type", "device_code"),
            ("client_id", SimulatedOrg::CLIENT_ID),
            ("scope", "api refresh_token"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(start["interval"], 5);
    assert_eq!(start["verification_uri"], format!("{}/setup/connect", org.instance_url()));
    assert_eq!(start["user_code"].as_str().unwrap().len(), 8);
    assert!(start.get("expires_in").is_none());
    let code = start["device_code"].as_str().unwrap();
    let form = [("grant_type", "device"), ("client_id", SimulatedOrg::CLIENT_ID), ("code", code)];
    let poll = || token_request(&org, &form);
    let mut errors = Vec::new();
    for _ in 0..3 {
        let (status, body) = poll().await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        errors.push(body["error"].as_str().unwrap().to_string());
    }
    assert_eq!(errors, ["slow_down", "authorization_pending", "authorization_pending"]);
    let (status, body) = poll().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(refresh(&org, body["refresh_token"].as_str().unwrap()).await.0, StatusCode::OK);
    assert_eq!(poll().await.1["error"], "invalid_grant", "a device code is used once");

    org.faults().oauth_flow_disabled(true);
    let (status, body) =
        token_request(&org, &[("response_type", "device_code"), ("client_id", SimulatedOrg::CLIENT_ID)])
            .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("oauth_flow_disabled")));
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_are_refused_while_in_flight() {
    let mut spec = OrgSpec::small();
    spec.latency = std::time::Duration::from_secs(1);
    let org = SimulatedOrg::start(spec).await;
    let (a, b) =
        tokio::join!(refresh(&org, SimulatedOrg::REFRESH_TOKEN), refresh(&org, SimulatedOrg::REFRESH_TOKEN));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    let refused = if a.0 == StatusCode::OK { b.1 } else { a.1 };
    assert_eq!(refused["error_description"], "expired authorization code");
    assert_eq!(
        refresh(&org, SimulatedOrg::REFRESH_TOKEN).await.0,
        StatusCode::OK,
        "fine once the first is done"
    );
}

#[tokio::test]
async fn client_credentials_in_a_basic_header_are_accepted() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let response = client()
        .post(format!("{}/services/oauth2/token", org.login_url()))
        .basic_auth(SimulatedOrg::CLIENT_ID, Some(SimulatedOrg::CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", SimulatedOrg::REFRESH_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let recorded = org.requests();
    let token_call = recorded.iter().find(|r| r.path() == "/services/oauth2/token").unwrap();
    assert_eq!(token_call.method, "POST");
    assert!(token_call.header("Authorization").unwrap().starts_with("Basic "));
    assert!(token_call.body.contains("grant_type=refresh_token"));
}

#[tokio::test]
async fn a_later_run_of_the_same_org_sees_removed_and_deactivated_users() {
    let mut spec = OrgSpec::with_users(650);
    spec.user_changes.removed.extend([3, 250, 251]);
    spec.user_changes.deactivated.insert(10);
    let org = SimulatedOrg::start(spec).await;
    let (token, instance) = login(&org).await;
    let pages = all_pages(&instance, &token, "SELECT Id, IsActive FROM User ORDER BY Id", Some(200)).await;
    assert_eq!(pages[0]["totalSize"], 647);
    let got: Vec<Value> = records(&pages);
    let expected: Vec<String> = org.data().users().map(|u| u.id).collect();
    assert_eq!(got.iter().map(|r| r["Id"].as_str().unwrap().to_string()).collect::<Vec<_>>(), expected);
    let ten = org.data().user(10).unwrap();
    assert!(got.iter().any(|r| r["Id"] == ten.id.as_str() && r["IsActive"] == Value::Bool(false)));
}

#[tokio::test]
async fn the_log_keeps_how_long_the_org_took_to_build_each_answer_apart_from_the_waits() {
    let mut spec = OrgSpec::with_users(3_000);
    spec.latency = std::time::Duration::from_millis(150);
    spec.server_time = std::time::Duration::from_millis(100);
    let org = SimulatedOrg::start(spec).await;
    let (token, instance) = login(&org).await;
    org.clear_requests();
    let started = std::time::Instant::now();
    let page =
        get(&query_url(&instance, "SELECT Id, Username FROM User ORDER BY Id"), Some(&token), None).await;
    let round_trip = started.elapsed();
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let recorded = org.requests();
    let [query] = recorded.as_slice() else { panic!("{recorded:?}") };
    let handled_in = query.handled_in.expect("an answered request has its time");
    // The page was built within the round trip, beside the latency and the server time the
    // org waits out after building it (its building counts as server time).
    assert!(
        handled_in + std::time::Duration::from_millis(150) <= round_trip,
        "{handled_in:?} {round_trip:?}"
    );
    assert!(round_trip >= std::time::Duration::from_millis(250), "{round_trip:?}");
}

#[tokio::test]
async fn the_feature_licence_counts_taken_at_start_equal_the_scanned_ones() {
    let mut spec = OrgSpec::with_users(3_000);
    spec.user_changes.deactivated.extend([0, 5, 7]);
    let org = SimulatedOrg::start(spec).await;
    let (token, instance) = login(&org).await;
    for (name, _) in sfconn_testkit::FEATURE_LICENCES {
        let field = format!("UserPermissions{name}");
        let expected =
            org.data().users().filter(|u| u.is_active && u.feature_licences.contains(&name)).count() as u64;
        assert!(expected > 0, "{name}");
        // Counted at start (either order), and by a scan: a third, always true, condition
        // keeps the second query off the shortcut.
        for soql in [
            format!("SELECT COUNT() FROM User WHERE IsActive = true AND {field} = true"),
            format!("SELECT COUNT() FROM User WHERE {field} = true AND IsActive = true"),
            format!("SELECT COUNT() FROM User WHERE IsActive = true AND {field} = true AND Id != null"),
        ] {
            let page = get(&query_url(&instance, &soql), Some(&token), None).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            assert_eq!(page.json()["totalSize"], expected, "{soql}");
        }
    }
    // Other counts still scan: the inactive holders of one checkbox.
    let inactive =
        org.data().users().filter(|u| !u.is_active && u.feature_licences.contains(&"MarketingUser")).count();
    let soql = "SELECT COUNT() FROM User WHERE IsActive = false AND UserPermissionsMarketingUser = true";
    assert_eq!(
        get(&query_url(&instance, soql), Some(&token), None).await.json()["totalSize"],
        inactive as u64
    );
}
