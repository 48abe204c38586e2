//! 401 INVALID_SESSION_ID: one refresh through the token source and one replay.

use futures_util::TryStreamExt;
use sfconn_api::records::User;
use wiremock::Mock;
use wiremock::matchers::{bearer_token, method, path};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

const SOQL: &str = "SELECT Id FROM User ORDER BY Id";

fn expired() -> wiremock::ResponseTemplate {
    sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
}

#[tokio::test]
async fn an_expired_session_is_refreshed_once_and_replayed() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .and(bearer_token("access-1"))
        .respond_with(expired())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .and(bearer_token("access-2"))
        .respond_with(json_ok(&page(2, None, users(&user_ids(1, 2)))))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let got: Vec<String> =
        client.query::<User>(SOQL.into()).map_ok(|user| user.id).try_collect().await.unwrap();
    assert_eq!(got, user_ids(1, 2));
    let token_requests = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|request| request.url.path() == "/services/oauth2/token")
        .count();
    assert_eq!(token_requests, 2, "the first grant and one refresh");
    // 2 token requests, versions, the refused query, the replay.
    assert_eq!(client.requests_sent(), 5);
}

#[tokio::test]
async fn a_session_that_expires_mid_query_continues_with_the_same_next_url() {
    let server = org().await;
    let next = format!("{V}/query/0r8xx-2");
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(4, Some(&next), users(&user_ids(1, 2)))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&next))
        .and(bearer_token("access-1"))
        .respond_with(expired())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&next))
        .and(bearer_token("access-2"))
        .respond_with(json_ok(&page(4, None, users(&user_ids(3, 2)))))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let got: Vec<String> =
        client.query::<User>(SOQL.into()).map_ok(|user| user.id).try_collect().await.unwrap();
    assert_eq!(got, user_ids(1, 4));
}

#[tokio::test]
async fn a_second_401_after_the_refresh_is_exit_77() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(sf_error(
            401,
            "INVALID_SESSION_ID",
            "This session is not valid for use with the REST API",
        ))
        .expect(2)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let error = client.query::<User>(SOQL.into()).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::AuthRefused);
    let message = error.to_string();
    assert!(
        message.contains("INVALID_SESSION_ID: This session is not valid for use with the REST API"),
        "{message}"
    );
    assert!(message.contains("`api`"), "{message}");
}
