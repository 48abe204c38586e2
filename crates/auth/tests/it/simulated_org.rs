//! Against the project's simulated org (crates/testkit): rotation across runs, single flight
//! with concurrent refreshes rejected, and the interactive flows end to end.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sfconn_auth::{
    AuthorizeParams, Credentials, DevicePolling, OAuthClient, RefusalKind, RequestCounter, Rotation,
    TokenSource, parse_code_input, pkce_challenge,
};
use sfconn_testkit::{DeviceFlowPlan, OrgSpec, SimulatedOrg};
use url::Url;

use crate::common::options;
use sfconn_errors::{Classify, ErrorClass};

fn credentials(org: &SimulatedOrg, refresh_token: &str, file: Option<std::path::PathBuf>) -> Credentials {
    Credentials {
        login_url: Url::parse(&org.login_url()).unwrap(),
        client_id: SimulatedOrg::CLIENT_ID.to_string(),
        client_secret: Some(SecretString::from(SimulatedOrg::CLIENT_SECRET)),
        refresh_token: SecretString::from(refresh_token),
        refresh_token_file: file,
    }
}

fn oauth_client(org: &SimulatedOrg) -> OAuthClient {
    OAuthClient::new(
        Url::parse(&org.login_url()).unwrap(),
        SimulatedOrg::CLIENT_ID.to_string(),
        Some(SecretString::from(SimulatedOrg::CLIENT_SECRET)),
        options(1),
        RequestCounter::default(),
    )
    .unwrap()
}

#[tokio::test]
async fn after_a_rotation_the_next_run_uses_the_file_and_the_old_token_is_refused() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().rotate_refresh_tokens(true);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refresh_token");
    std::fs::write(&file, SimulatedOrg::REFRESH_TOKEN).unwrap();

    // Run 1 starts from the file's token; Salesforce rotates it.
    let first_run = TokenSource::new(
        credentials(&org, std::fs::read_to_string(&file).unwrap().trim(), Some(file.clone())),
        options(0),
        RequestCounter::default(),
    )
    .unwrap();
    first_run.token().await.unwrap();
    assert_eq!(first_run.rotation(), Rotation::Persisted { path: file.clone() });
    let rotated = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert_ne!(rotated, SimulatedOrg::REFRESH_TOKEN);
    assert_eq!(org.valid_refresh_tokens(), std::slice::from_ref(&rotated));

    // Run 2 reads the file and succeeds (and rotates again).
    let second_run = TokenSource::new(
        credentials(&org, &rotated, Some(file.clone())),
        options(0),
        RequestCounter::default(),
    )
    .unwrap();
    second_run.token().await.unwrap();
    assert_ne!(std::fs::read_to_string(&file).unwrap().trim(), rotated);

    // The original token no longer works.
    let stale_run = TokenSource::new(
        credentials(&org, SimulatedOrg::REFRESH_TOKEN, None),
        options(0),
        RequestCounter::default(),
    )
    .unwrap();
    let error = stale_run.token().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::AuthRefused);
    assert_eq!(error.refusal().unwrap().kind, RefusalKind::ExpiredRefreshToken);
}

#[tokio::test]
async fn without_a_refresh_token_file_a_rotated_token_is_saved_aside_and_works_next_time() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().rotate_refresh_tokens(true);
    let dir = tempfile::tempdir().unwrap();
    let fallback = dir.path().join("state").join("sfconn").join("refresh_token");
    let run = TokenSource::new(
        credentials(&org, SimulatedOrg::REFRESH_TOKEN, None),
        options(0),
        RequestCounter::default(),
    )
    .unwrap()
    .keep_rotated_tokens_in(Some(fallback.clone()));
    run.token().await.unwrap();
    assert_eq!(run.rotation(), Rotation::SavedAside { path: fallback.clone() });
    let saved = std::fs::read_to_string(&fallback).unwrap().trim().to_string();
    assert_eq!(org.valid_refresh_tokens(), std::slice::from_ref(&saved), "the saved token is the live one");

    // A refresh_token_file that cannot be written also falls back to the state directory.
    let unwritable = dir.path().join("absent-dir").join("refresh_token");
    let next =
        TokenSource::new(credentials(&org, &saved, Some(unwritable)), options(0), RequestCounter::default())
            .unwrap()
            .keep_rotated_tokens_in(Some(fallback.clone()));
    next.token().await.unwrap();
    assert_eq!(next.rotation(), Rotation::SavedAside { path: fallback.clone() });
    let newest = std::fs::read_to_string(&fallback).unwrap().trim().to_string();
    assert_ne!(newest, saved);
    assert_eq!(org.valid_refresh_tokens(), [newest]);
}

#[tokio::test]
async fn twenty_callers_never_refresh_concurrently() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().reject_concurrent_refresh(true);
    org.faults().rotate_refresh_tokens(true);
    let source = Arc::new(
        TokenSource::new(
            credentials(&org, SimulatedOrg::REFRESH_TOKEN, None),
            options(0),
            RequestCounter::default(),
        )
        .unwrap(),
    );
    let stale = source.token().await.unwrap();
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let source = Arc::clone(&source);
            let stale = Arc::clone(&stale);
            tokio::spawn(async move { source.refresh_after(&stale).await })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().generation(), 2);
    }
    assert_eq!(org.token_requests(), 2);
    assert_eq!(source.rotation(), Rotation::NotPersisted);
}

#[tokio::test]
async fn the_authorization_code_flow_with_pkce_yields_a_working_refresh_token() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let client = oauth_client(&org);
    let request =
        client.authorize_request(&AuthorizeParams { pkce: true, ..AuthorizeParams::default() }).unwrap();
    let verifier = request.pending.code_verifier.clone().unwrap();
    // The browser step: the org issues a code bound to the challenge and the redirect URI.
    let code =
        org.issue_authorization_code_for(&request.pending.redirect_uri, Some(&pkce_challenge(&verifier)));
    let encoded: String = url::form_urlencoded::byte_serialize(code.as_bytes()).collect();
    let pasted = format!("{}?code={encoded}&state={}", request.pending.redirect_uri, request.pending.state);
    let grant = client
        .exchange_code(&parse_code_input(&pasted).unwrap(), Some(&request.pending), None)
        .await
        .unwrap();
    let identity = client.identity(&grant.access_token).await.unwrap();
    assert!(!identity.username.is_empty());

    let source = TokenSource::new(
        credentials(&org, grant.refresh_token.expose_secret(), None),
        options(0),
        RequestCounter::default(),
    )
    .unwrap();
    assert!(source.token().await.is_ok());
}

#[tokio::test]
async fn the_device_flow_polls_through_slow_down_and_pending() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().device_flow(DeviceFlowPlan { interval_secs: 0, slow_down: 1, pending: 2 });
    let client = oauth_client(&org);
    let device = client.start_device(None).await.unwrap();
    let polling =
        DevicePolling { timeout: Duration::from_secs(30), slow_down_step: Duration::from_millis(5) };
    let grant = client.poll_device(&device, polling).await.unwrap();
    assert!(org.valid_refresh_tokens().contains(&grant.refresh_token.expose_secret().to_string()));
}

#[tokio::test]
async fn a_disabled_device_flow_is_refused_with_the_box_to_tick() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    org.faults().oauth_flow_disabled(true);
    let error = oauth_client(&org).start_device(None).await.unwrap_err();
    assert_eq!(error.refusal().unwrap().kind, RefusalKind::FlowDisabled);
}
