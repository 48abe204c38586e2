//! `LoginHistory` and Bulk API 2.0 query jobs of the simulated org, over real HTTP.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sfconn_testkit::{OrgData, OrgSpec, SimulatedOrg};

const WINDOW_SOQL: &str = "SELECT UserId, LoginTime, Application, LoginType, Status FROM LoginHistory \
                           WHERE LoginTime = LAST_N_DAYS:30 ORDER BY Id";

async fn login(org: &SimulatedOrg) -> (String, String) {
    let response = Client::new()
        .post(format!("{}/services/oauth2/token", org.login_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", SimulatedOrg::CLIENT_ID),
            ("client_secret", SimulatedOrg::CLIENT_SECRET),
            ("refresh_token", SimulatedOrg::REFRESH_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    (body["access_token"].as_str().unwrap().to_owned(), body["instance_url"].as_str().unwrap().to_owned())
}

/// The login attempts of the last `days` days, from the generator: (all, successful).
fn attempts_in_window(data: &OrgData, days: u32) -> (u64, u64) {
    let start = OrgData::last_n_days_start(days);
    let rows: Vec<_> = data
        .users()
        .flat_map(|user| data.login_history_of(user.index))
        .filter(|row| row.login_time >= start)
        .collect();
    (rows.len() as u64, rows.iter().filter(|row| row.status == "Success").count() as u64)
}

#[tokio::test]
async fn login_history_counts_the_window_and_has_users_without_activity() {
    let org = SimulatedOrg::start(OrgSpec::with_users(400)).await;
    let (token, instance) = login(&org).await;
    let data = org.data();
    let mut url = reqwest::Url::parse(&format!("{instance}/services/data/v66.0/query")).unwrap();
    url.query_pairs_mut()
        .append_pair("q", "SELECT count() FROM LoginHistory WHERE LoginTime = LAST_N_DAYS:30");
    let body: Value =
        Client::new().get(url.clone()).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let (attempts, successes) = attempts_in_window(data, 30);
    assert_eq!(body["totalSize"], json!(attempts));
    assert!(successes > 400 && successes < attempts, "{successes} of {attempts}");
    // As on Salesforce, Status cannot be filtered on (describe: not filterable).
    url.query_pairs_mut().clear().append_pair(
        "q",
        "SELECT count() FROM LoginHistory WHERE LoginTime = LAST_N_DAYS:30 AND Status = 'Success'",
    );
    let refused = Client::new().get(url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD");
    assert!(body[0]["message"].as_str().unwrap().contains("field 'Status' can not be filtered"), "{body}");
    // Zero activity exists, inactive users have none, frozen users only failed attempts.
    let quiet =
        data.users().filter(|u| u.is_active && data.login_history_of(u.index).next().is_none()).count();
    assert!(quiet > 20, "{quiet} active users without logins");
    assert!(data.users().filter(|u| !u.is_active).all(|u| data.login_history_of(u.index).next().is_none()));
    assert!(
        data.users()
            .filter(|u| u.is_frozen)
            .flat_map(|u| data.login_history_of(u.index))
            .all(|row| row.status == "User is Frozen")
    );
    // Six months kept, no more.
    let oldest = OrgData::last_n_days_start(u32::try_from(sfconn_testkit::LOGIN_HISTORY_DAYS).unwrap());
    assert!(data.users().flat_map(|u| data.login_history_of(u.index)).all(|row| row.login_time >= oldest));
}

/// A query job: create, `InProgress` polls, `JobComplete`, CSV pages chained by
/// `Sforce-Locator` until `null`, then delete.
/// `POST …/jobs/query` of the login window's query: the answer as it comes.
async fn create_job(client: &Client, base: &str, token: &str) -> reqwest::Response {
    client
        .post(base)
        .bearer_auth(token)
        .json(&json!({"operation": "query", "query": WINDOW_SOQL}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn bulk_query_job_pages_its_csv_results_with_locators() {
    let org = SimulatedOrg::start(OrgSpec::with_users(300)).await;
    org.faults().bulk_polls_in_progress(1);
    let (token, instance) = login(&org).await;
    let base = format!("{instance}/services/data/v66.0/jobs/query");
    let client = Client::new();
    let created: Value = create_job(&client, &base, &token).await.json().await.unwrap();
    assert_eq!(created["state"], "UploadComplete");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("750"));
    let status = |body: Value| body["state"].as_str().unwrap().to_owned();
    let poll = || async {
        client
            .get(format!("{base}/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(status(poll().await), "InProgress");
    let complete = poll().await;
    assert_eq!(status(complete.clone()), "JobComplete");
    let mut rows = 0u64;
    let mut locator: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{base}/{id}/results?maxRecords=500");
        if let Some(locator) = &locator {
            url.push_str(&format!("&locator={locator}"));
        }
        let response = client.get(url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let next = response.headers()["sforce-locator"].to_str().unwrap().to_owned();
        let count: u64 = response.headers()["sforce-numberofrecords"].to_str().unwrap().parse().unwrap();
        let text = response.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().unwrap(),
            vec!["UserId", "LoginTime", "Application", "LoginType", "Status"]
        );
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len() as u64, count);
        assert!(records.iter().all(|r| r[1].ends_with(".000Z")), "Bulk datetimes");
        rows += count;
        pages += 1;
        if next == "null" {
            break;
        }
        locator = Some(next);
    }
    assert_eq!(rows, attempts_in_window(org.data(), 30).0);
    assert_eq!(complete["numberRecordsProcessed"], json!(rows));
    assert!(pages > 1, "{pages} pages");
    let deleted = client.delete(format!("{base}/{id}")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(org.bulk_jobs()[0].deleted);
}

#[tokio::test]
async fn bulk_faults_answer_as_salesforce_does() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().bulk_polls_in_progress(0);
    let (token, instance) = login(&org).await;
    let base = format!("{instance}/services/data/v66.0/jobs/query");
    let client = Client::new();
    let create = || create_job(&client, &base, &token);
    org.faults().bulk_limit_reached(true);
    let refused = create().await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body[0]["errorCode"], "LIMIT_EXCEEDED");
    org.faults().bulk_limit_reached(false);

    org.faults().bulk_job_fails(Some("InternalServerError : retried more than 15 times"));
    let id = create().await.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let failed: Value =
        client.get(format!("{base}/{id}")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(failed["state"], "Failed");
    assert_eq!(failed["errorMessage"], "InternalServerError : retried more than 15 times");
    org.faults().bulk_job_fails(None);

    // Abort before completion; a completed job cannot be aborted.
    org.faults().bulk_polls_in_progress(5);
    let id = create().await.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let aborted: Value = client
        .patch(format!("{base}/{id}"))
        .bearer_auth(&token)
        .json(&json!({"state": "Aborted"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(aborted["state"], "Aborted");
    assert_eq!(org.bulk_jobs().last().unwrap().state, "Aborted");

    // A lost results page.
    org.faults().bulk_polls_in_progress(0);
    org.faults().bulk_results_page_lost(1);
    let id = create().await.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let _ = client.get(format!("{base}/{id}")).bearer_auth(&token).send().await.unwrap();
    let lost = client.get(format!("{base}/{id}/results")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(lost.status(), StatusCode::NOT_FOUND);
}
