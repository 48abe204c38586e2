//! The refresh grant, single flight and rotation.

use std::sync::Arc;

use secrecy::ExposeSecret;
use sfconn_auth::{Rotation, TokenSource};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer};

use crate::common::*;

#[tokio::test]
async fn the_first_token_comes_from_a_form_encoded_refresh_grant() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("accept", "application/json"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains(format!("client_secret={CLIENT_SECRET}")))
        .and(body_string_contains(format!("refresh_token={REFRESH_TOKEN}")))
        .respond_with(token_ok(&server, ACCESS_TOKEN))
        .expect(1)
        .mount(&server)
        .await;
    let source = source(&server);
    let token = source.token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), ACCESS_TOKEN);
    assert_eq!(token.generation(), 1);
    assert_eq!(token.instance_url.as_str(), format!("{}/", server.uri()));
    assert_eq!(token.scopes, ["refresh_token", "api"]);
    assert_eq!(token.issued_at_ms, Some(1_708_058_728_442));
    // A second call re-uses the token.
    let again = source.token().await.unwrap();
    assert!(Arc::ptr_eq(&token, &again));
    assert_eq!(source.counter().get(), 1);
    assert_eq!(source.rotation(), Rotation::NotRotated);
}

#[tokio::test]
async fn twenty_callers_after_a_401_share_exactly_one_refresh() {
    let server = MockServer::start().await;
    let source = Arc::new(source(&server));
    {
        let _first = Mock::given(method("POST"))
            .and(path("/services/oauth2/token"))
            .respond_with(token_ok(&server, "first-access"))
            .expect(1)
            .mount_as_scoped(&server)
            .await;
        source.token().await.unwrap();
    }
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(token_ok(&server, "second-access").set_delay(std::time::Duration::from_millis(50)))
        .expect(1)
        .mount(&server)
        .await;
    let stale = source.token().await.unwrap();
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let source = Arc::clone(&source);
            let stale = Arc::clone(&stale);
            tokio::spawn(async move { source.refresh_after(&stale).await })
        })
        .collect();
    for caller in callers {
        let token = caller.await.unwrap().unwrap();
        assert_eq!(token.secret().expose_secret(), "second-access");
        assert_eq!(token.generation(), 2);
    }
    assert_eq!(source.counter().get(), 2);
}

#[tokio::test]
async fn a_rotated_token_without_a_file_is_reported_and_used_for_the_next_refresh() {
    let server = MockServer::start().await;
    let mut body = token_body(&server, ACCESS_TOKEN);
    body["refresh_token"] = ROTATED_REFRESH_TOKEN.into();
    let _rotating = Mock::given(method("POST"))
        .and(body_string_contains(format!("refresh_token={REFRESH_TOKEN}")))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount_as_scoped(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains(format!("refresh_token={ROTATED_REFRESH_TOKEN}")))
        .respond_with(token_ok(&server, "second-access"))
        .expect(1)
        .mount(&server)
        .await;
    let source: TokenSource = source(&server);
    let first = source.token().await.unwrap();
    assert_eq!(source.rotation(), Rotation::NotPersisted);
    let second = source.refresh_after(&first).await.unwrap();
    assert_eq!(second.secret().expose_secret(), "second-access");
    assert_eq!(source.rotation(), Rotation::NotPersisted);
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused_with_exit_77() {
    let server = MockServer::start().await;
    mount_token(&server, oauth_error(400, "invalid_grant", "expired access/refresh token")).await;
    let error = source(&server).token().await.unwrap_err();
    assert_eq!(error.exit_code(), 77);
    let message = error.to_string();
    assert!(message.contains("invalid_grant (expired access/refresh token)"), "{message}");
    assert!(message.contains("sfconn auth device"), "{message}");
}
