//! The refresh grant, single flight and rotation.

use std::sync::Arc;

use secrecy::ExposeSecret;
use sfconn_auth::{Rotation, TokenSource};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

#[tokio::test]
async fn the_first_token_comes_from_a_form_encoded_refresh_grant() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("accept", "application/json"))
        .and(wiremock::matchers::header_regex("accept-encoding", "gzip"))
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
    assert_eq!(error.class(), ErrorClass::AuthRefused);
    let message = error.to_string();
    assert!(message.contains("invalid_grant (expired access/refresh token)"), "{message}");
    assert!(message.contains("sfconn auth url --pkce"), "{message}");
}

#[tokio::test]
async fn a_rotated_token_replaces_the_file_with_mode_0600_and_no_stray_files() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refresh_token");
    std::fs::write(&file, format!("{REFRESH_TOKEN}\n")).unwrap();
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
    let mut credentials = credentials(&server);
    credentials.refresh_token_file = Some(file.clone());
    let source = TokenSource::new(credentials, options(0), sfconn_auth::RequestCounter::default()).unwrap();
    let first = source.token().await.unwrap();
    assert_eq!(source.rotation(), Rotation::Persisted { path: file.clone() });
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), ROTATED_REFRESH_TOKEN);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let names: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().file_name()).collect();
    assert_eq!(names, [std::ffi::OsString::from("refresh_token")], "no temporary files are left");
    // The same run refreshes with the new token.
    source.refresh_after(&first).await.unwrap();
    assert_eq!(source.rotation(), Rotation::Persisted { path: file });
}

/// `auth.rotated_tokens = "state_dir"`: the mounted `refresh_token_file` is never written;
/// the rotated token goes to the state directory, and it is no failure.
#[tokio::test]
async fn with_state_dir_only_a_rotated_token_is_kept_aside_and_the_file_left_alone() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mounted").join("refresh_token");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, format!("{REFRESH_TOKEN}\n")).unwrap();
    let kept = dir.path().join("state").join("sfconn").join("refresh_token");
    let mut body = token_body(&server, ACCESS_TOKEN);
    body["refresh_token"] = ROTATED_REFRESH_TOKEN.into();
    mount_token(&server, wiremock::ResponseTemplate::new(200).set_body_json(body)).await;
    let mut credentials = credentials(&server);
    credentials.refresh_token_file = Some(file.clone());
    let source = TokenSource::new(credentials, options(0), sfconn_auth::RequestCounter::default())
        .unwrap()
        .keep_rotated_tokens_only_in(kept.clone());
    source.token().await.unwrap();
    let rotation = source.rotation();
    assert_eq!(rotation, Rotation::KeptInStateDir { path: kept.clone() });
    assert!(!rotation.needs_action());
    assert_eq!(rotation.failure_class(), None);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        REFRESH_TOKEN,
        "the mounted file is untouched"
    );
    assert_eq!(std::fs::read_to_string(&kept).unwrap().trim(), ROTATED_REFRESH_TOKEN);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(kept.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

/// The same, with a state directory that cannot be written: an I/O failure for the end of
/// the run, whose message names the place and says the token is not kept.
#[tokio::test]
async fn with_state_dir_only_an_unwritable_state_dir_is_an_io_failure() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state"), "a file, not a directory").unwrap();
    let kept = dir.path().join("state").join("refresh_token");
    let mut body = token_body(&server, ACCESS_TOKEN);
    body["refresh_token"] = ROTATED_REFRESH_TOKEN.into();
    mount_token(&server, wiremock::ResponseTemplate::new(200).set_body_json(body)).await;
    let source = source(&server).keep_rotated_tokens_only_in(kept.clone());
    source.token().await.unwrap();
    let rotation = source.rotation();
    assert!(matches!(&rotation, Rotation::StateDirUnwritable { path, .. } if *path == kept), "{rotation:?}");
    assert_eq!(rotation.failure_class(), Some(ErrorClass::Io));
    let step = rotation.next_step().unwrap();
    assert!(step.contains("the old one no longer works"), "{step}");
    assert!(!step.contains(ROTATED_REFRESH_TOKEN), "{step}");
}

#[tokio::test]
async fn the_same_refresh_token_sent_back_is_not_a_rotation() {
    let server = MockServer::start().await;
    let mut body = token_body(&server, ACCESS_TOKEN);
    body["refresh_token"] = REFRESH_TOKEN.into();
    mount_token(&server, wiremock::ResponseTemplate::new(200).set_body_json(body)).await;
    let source = source(&server);
    source.token().await.unwrap();
    assert_eq!(source.rotation(), Rotation::NotRotated);
}

#[tokio::test]
async fn callers_queued_behind_a_failed_refresh_share_its_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            oauth_error(400, "invalid_grant", "expired access/refresh token")
                .set_delay(std::time::Duration::from_millis(50)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let source = Arc::new(source(&server));
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let source = Arc::clone(&source);
            tokio::spawn(async move { source.token().await })
        })
        .collect();
    for caller in callers {
        let error = caller.await.unwrap().unwrap_err();
        assert_eq!(error.class(), ErrorClass::AuthRefused);
        assert!(error.to_string().contains("expired access/refresh token"));
    }
}

#[tokio::test]
async fn the_identity_url_is_read_with_the_bearer_token() {
    let server = MockServer::start().await;
    mount_token(&server, token_ok(&server, ACCESS_TOKEN)).await;
    Mock::given(method("GET"))
        .and(path("/id/00D000000000001AAA/005000000000001AAA"))
        .and(header("authorization", format!("Bearer {ACCESS_TOKEN}")))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": format!("{}/id/00D000000000001AAA/005000000000001AAA", server.uri()),
            "organization_id": "00D000000000001AAA",
            "user_id": "005000000000001AAA",
            "username": "integration@acme.com",
            "display_name": "Integration User",
            "email": "integration@acme.com",
            "user_type": "STANDARD",
            "active": true,
            "locale": "en_US",
            "urls": {"rest": "https://x/services/data/v{version}/"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let source = source(&server);
    let token = source.token().await.unwrap();
    let identity = source.identity(&token).await.unwrap();
    assert_eq!(identity.organization_id, "00D000000000001AAA");
    assert_eq!(identity.username, "integration@acme.com");
    assert_eq!(identity.user_type.as_deref(), Some("STANDARD"));
    assert_eq!(identity.active, Some(true));
}

#[tokio::test]
async fn an_identity_url_error_keeps_its_plain_code() {
    let server = MockServer::start().await;
    mount_token(&server, token_ok(&server, ACCESS_TOKEN)).await;
    Mock::given(method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(403).set_body_raw("Bad_OAuth_Token", "text/plain"))
        .mount(&server)
        .await;
    let source = source(&server);
    let token = source.token().await.unwrap();
    let error = source.identity(&token).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::AuthRefused);
    insta::assert_snapshot!(
        "identity_403",
        format!("{:?}: {}", error.class(), error).replace(&server.uri(), "http://127.0.0.1:PORT")
    );
}

#[tokio::test]
async fn a_rotated_token_that_cannot_be_written_is_reported_not_persisted_and_the_run_goes_on() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("missing-dir").join("refresh_token");
    let mut body = token_body(&server, ACCESS_TOKEN);
    body["refresh_token"] = ROTATED_REFRESH_TOKEN.into();
    mount_token(&server, wiremock::ResponseTemplate::new(200).set_body_json(body)).await;
    let mut credentials = credentials(&server);
    credentials.refresh_token_file = Some(file.clone());
    let source = TokenSource::new(credentials, options(0), sfconn_auth::RequestCounter::default()).unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), ACCESS_TOKEN);
    assert_eq!(source.rotation(), Rotation::NotPersisted);
    assert!(!file.exists());
}
