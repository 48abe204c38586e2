//! Every error Salesforce's token endpoint documents: a typed error that keeps Salesforce's code and text,
//! says what to do, and exits with the code of docs/contract.md §6. Each message is an insta snapshot.

use sfconn_auth::{AuthError, Refusal, RefusalKind};
use wiremock::{MockServer, ResponseTemplate};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

/// Runs one refresh against a token endpoint that answers `response`, once.
async fn refusal_of(response: ResponseTemplate) -> AuthError {
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/services/oauth2/token"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    source(&server).token().await.unwrap_err()
}

fn shown(error: &AuthError) -> String {
    format!("{:?}: {}", error.class(), error)
}

/// The mock server's port changes from run to run; snapshots show `PORT`.
fn shown_stable(error: &AuthError, server_uri: &str) -> String {
    shown(error).replace(server_uri, "http://127.0.0.1:PORT")
}

/// (snapshot name, error, error_description, expected kind)
const ROWS: &[(&str, &str, &str, RefusalKind)] = &[
    (
        "expired_refresh_token",
        "invalid_grant",
        "expired access/refresh token",
        RefusalKind::ExpiredRefreshToken,
    ),
    ("invalid_client_id", "invalid_client_id", "client identifier invalid", RefusalKind::InvalidClientId),
    ("invalid_client", "invalid_client", "invalid client credentials", RefusalKind::InvalidClient),
    ("authentication_failure", "invalid_grant", "authentication failure", RefusalKind::AuthenticationFailure),
    ("inactive_user", "invalid_grant", "inactive user", RefusalKind::InactiveUser),
    ("inactive_organization", "invalid_grant", "inactive organization", RefusalKind::InactiveOrganization),
    ("ip_restricted", "invalid_grant", "ip restricted", RefusalKind::IpRestricted),
    ("not_approved", "invalid_grant", "user hasn't approved this consumer", RefusalKind::NotApproved),
    (
        "expired_authorization_code",
        "invalid_grant",
        "expired authorization code",
        RefusalKind::ExpiredAuthorizationCode,
    ),
    (
        "unsupported_grant_type",
        "unsupported_grant_type",
        "grant type not supported",
        RefusalKind::UnsupportedGrantType,
    ),
    ("oauth_flow_disabled", "oauth_flow_disabled", "device flow is not enabled", RefusalKind::FlowDisabled),
    (
        "invalid_app_access",
        "invalid_app_access",
        "user is not admin approved to access this app",
        RefusalKind::AppAccess,
    ),
    (
        "app_not_installed",
        "OAUTH_APP_ACCESS_DENIED",
        "app must be installed into org",
        RefusalKind::AppBlocked,
    ),
    ("legacy_inactive_user", "inactive_user", "user is inactive", RefusalKind::InactiveUser),
    (
        "legacy_inactive_org",
        "inactive_org",
        "organization is locked, closed or suspended",
        RefusalKind::InactiveOrganization,
    ),
    (
        "legacy_rate_limit_exceeded",
        "rate_limit_exceeded",
        "number of logins exceeded",
        RefusalKind::RateLimited,
    ),
    (
        "legacy_invalid_client_credentials",
        "invalid_client_credentials",
        "client secret invalid",
        RefusalKind::InvalidClient,
    ),
    ("not_my_domain", "invalid_grant", "request not supported on this domain", RefusalKind::NotMyDomain),
    ("no_run_as_user", "invalid_grant", "no client credentials user enabled", RefusalKind::NoRunAsUser),
    ("invalid_audience", "invalid_grant", "audience is invalid", RefusalKind::InvalidAudience),
    ("invalid_assertion", "invalid_grant", "invalid assertion", RefusalKind::InvalidAssertion),
    ("expired_assertion", "invalid_grant", "expired assertion", RefusalKind::InvalidAssertion),
    (
        "device_flow_not_enabled",
        "invalid_grant",
        "device flow is not enabled for the app",
        RefusalKind::FlowDisabled,
    ),
    ("invalid_token", "invalid_token", "invalid token", RefusalKind::InvalidToken),
    (
        "unsupported_token_type",
        "unsupported_token_type",
        "unsupported token type",
        RefusalKind::UnsupportedTokenType,
    ),
    ("other_invalid_grant", "invalid_grant", "something new", RefusalKind::InvalidGrant),
    ("unknown_code", "brand_new_code", "a text sfconn has never seen", RefusalKind::Other),
];

#[tokio::test]
async fn every_error_row_has_a_typed_refusal_and_a_reviewed_message() {
    for (name, code, description, kind) in ROWS {
        let error = refusal_of(oauth_error(400, code, description)).await;
        let refusal = error.refusal().unwrap_or_else(|| panic!("{name}: not a refusal: {error}"));
        assert_eq!(refusal.kind, *kind, "{name}");
        assert_eq!(refusal.error, *code, "{name}: Salesforce's code is kept");
        assert_eq!(refusal.description, *description, "{name}: Salesforce's text is kept");
        let message = error.to_string();
        assert!(message.contains(code) && message.contains(description), "{name}: {message}");
        insta::assert_snapshot!(*name, shown(&error));
    }
}

#[tokio::test]
async fn descriptions_match_ignoring_case_and_suffixes() {
    let error = refusal_of(oauth_error(400, "INVALID_GRANT", "Expired Access/Refresh Token")).await;
    assert_eq!(error.refusal().unwrap().kind, RefusalKind::ExpiredRefreshToken);
    let error =
        refusal_of(oauth_error(400, "invalid_grant", "authentication failure - Invalid Password")).await;
    assert_eq!(error.refusal().unwrap().kind, RefusalKind::AuthenticationFailure);
    let error = refusal_of(oauth_error(400, "invalid_grant", "IP restricted or invalid login hours")).await;
    assert_eq!(error.refusal().unwrap().kind, RefusalKind::IpRestricted);
}

#[test]
fn authentication_failure_on_login_salesforce_com_asks_about_sandboxes() {
    // The mock server cannot be login.salesforce.com; the hint depends only on the login host.
    let refusal = Refusal::classify("invalid_grant", "authentication failure", 400, "login.salesforce.com");
    let error = AuthError::Refused(refusal);
    assert!(error.to_string().contains("is this a sandbox? use https://test.salesforce.com"));
    insta::assert_snapshot!("authentication_failure_on_login_salesforce_com", shown(&error));
}

#[tokio::test]
async fn an_html_page_means_the_login_url_is_not_an_authorization_server() {
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                "<!DOCTYPE html><html><body>Lightning</body></html>",
                "text/html; charset=utf-8",
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = source(&server).token().await.unwrap_err();
    assert!(matches!(error.root(), AuthError::NotAuthorizationServer { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::AuthRefused);
    insta::assert_snapshot!("html_page", shown_stable(&error, &server.uri()));
}

#[tokio::test]
async fn a_404_with_plain_text_is_not_an_authorization_server_either() {
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_raw("Not Found", "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    let error = source(&server).token().await.unwrap_err();
    assert!(matches!(error.root(), AuthError::NotAuthorizationServer { status: 404, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::AuthRefused);
    insta::assert_snapshot!("plain_text_404", shown_stable(&error, &server.uri()));
}

#[tokio::test]
async fn a_success_that_cannot_be_read_names_the_field() {
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "x", "instance_url": "https://acme.my.salesforce.com"
        })))
        .mount(&server)
        .await;
    let error = source(&server).token().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::BadData);
    insta::assert_snapshot!("missing_id_field", shown(&error));
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_says_the_login_url_is_wrong() {
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", "https://acme.lightning.force.com/services/oauth2/token?x=1"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = source(&server).token().await.unwrap_err();
    assert!(matches!(error.root(), AuthError::Redirected { status: 302, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Configuration);
    insta::assert_snapshot!("redirect", shown_stable(&error, &server.uri()));
}

#[tokio::test]
async fn an_http_instance_url_off_loopback_is_refused_before_use() {
    let server = MockServer::start().await;
    let mut body = token_body(&server, ACCESS_TOKEN);
    body["instance_url"] = "http://acme.my.salesforce.com".into();
    mount_token(&server, ResponseTemplate::new(200).set_body_json(body)).await;
    let source = source(&server);
    let error = source.token().await.unwrap_err();
    assert!(matches!(error.root(), AuthError::InsecureUrl { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::BadData);
    assert!(source.current().await.is_none(), "no token is kept");
    insta::assert_snapshot!("http_instance_url", shown(&error));
}

#[tokio::test]
async fn an_http_identity_url_off_loopback_is_refused_too() {
    let server = MockServer::start().await;
    let mut body = token_body(&server, ACCESS_TOKEN);
    body["id"] = "http://login.salesforce.com/id/00D/005".into();
    mount_token(&server, ResponseTemplate::new(200).set_body_json(body)).await;
    let error = source(&server).token().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the identity URL (id) returned by Salesforce http://login.salesforce.com/id/00D/005")
    );
}

#[test]
fn an_http_login_url_off_loopback_is_a_configuration_error() {
    let mut credentials = credentials_for("http://login.salesforce.com");
    credentials.refresh_token_file = None;
    let error =
        sfconn_auth::TokenSource::new(credentials, options(0), sfconn_auth::RequestCounter::default())
            .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Configuration);
    insta::assert_snapshot!("http_login_url", shown(&error));
}

#[tokio::test]
async fn a_token_response_above_one_mib_is_not_read() {
    let huge = format!(r#"{{"access_token":"a","padding":"{}"}}"#, "x".repeat(1024 * 1024));
    let error = refusal_of(ResponseTemplate::new(200).set_body_raw(huge, "application/json")).await;
    assert_eq!(error.class(), ErrorClass::BadData);
    let message = error.to_string();
    assert!(message.contains("larger than 1024 KiB"), "{message}");
    assert!(!message.contains("xxxx"), "{message}");
}
