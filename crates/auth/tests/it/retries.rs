//! Transient failures are retried with the one RetryPolicy; every attempt is counted.

use sfconn_auth::{AuthError, RequestCounter, TokenSource};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

#[tokio::test]
async fn unknown_error_then_503_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(oauth_error(400, "unknown_error", "retry your request"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_raw("<html><body>Service Unavailable</body></html>", "text/html")
                .insert_header("retry-after", "0"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(token_ok(&server, ACCESS_TOKEN)).expect(1).mount(&server).await;
    let counter = RequestCounter::default();
    let source = TokenSource::new(credentials(&server), options(3), counter.clone()).unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.generation(), 1);
    assert_eq!(counter.get(), 3, "retries are counted");
}

#[tokio::test]
async fn exhausted_retries_exit_75_and_say_it_is_temporary() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(oauth_error(500, "unknown_error", "retry your request"))
        .expect(3)
        .mount(&server)
        .await;
    let counter = RequestCounter::default();
    let source = TokenSource::new(credentials(&server), options(2), counter.clone()).unwrap();
    let error = source.token().await.unwrap_err();
    assert!(matches!(error.root(), AuthError::RetriesExhausted { attempts: 3, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Temporary);
    assert_eq!(counter.get(), 3);
    insta::assert_snapshot!(
        "exhausted",
        format!("{:?}: {}", error.class(), error).replace(&server.uri(), "http://127.0.0.1:PORT")
    );
}

#[tokio::test]
async fn an_unreachable_host_exits_69_after_retries() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let counter = RequestCounter::default();
    let source =
        TokenSource::new(credentials_for(&format!("http://127.0.0.1:{port}")), options(1), counter.clone())
            .unwrap();
    let error = source.token().await.unwrap_err();
    assert!(matches!(error.root(), AuthError::Unreachable { attempts: 2, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Unavailable);
    assert_eq!(counter.get(), 2);
    assert!(error.to_string().contains("check the login URL, the network and any proxy"), "{error}");
}

#[tokio::test]
async fn a_refusal_is_never_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(oauth_error(400, "invalid_client_id", "client identifier invalid"))
        .expect(1)
        .mount(&server)
        .await;
    let source = TokenSource::new(credentials(&server), options(5), RequestCounter::default()).unwrap();
    assert_eq!(source.token().await.unwrap_err().class(), ErrorClass::AuthRefused);
}

#[tokio::test]
async fn a_token_endpoint_slower_than_the_timeout_is_retried_then_exit_75() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(token_ok(&server, ACCESS_TOKEN).set_delay(std::time::Duration::from_secs(5)))
        .expect(2)
        .mount(&server)
        .await;
    let counter = RequestCounter::default();
    let mut options = options(1);
    options.timeout = std::time::Duration::from_millis(200);
    let source = TokenSource::new(credentials(&server), options, counter.clone()).unwrap();
    let error = source.token().await.unwrap_err();
    assert!(matches!(error.root(), AuthError::RetriesExhausted { attempts: 2, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Temporary);
    assert!(error.to_string().contains("no answer within 200ms (http.timeout_secs)"), "{error}");
    assert_eq!(counter.get(), 2);
}
