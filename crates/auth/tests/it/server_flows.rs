//! The client credentials and JWT bearer flows and revocation, against the simulated org
//! (crates/testkit), which verifies the assertion with the TEST-ONLY public key.

use secrecy::SecretString;
use sfconn_auth::{
    AuthError, Credentials, FlowKind, JwtSigner, RefusalKind, RequestCounter, Revoked, Rotation,
    ServerCredentials, ServerGrant, TokenSource,
};
use sfconn_errors::{Classify, ErrorClass};
use sfconn_testkit::{FaultKind, Occurrence, OrgSpec, SimulatedOrg, Target};
use url::Url;

use crate::common::options;

fn login_url(org: &SimulatedOrg) -> Url {
    Url::parse(&org.login_url()).unwrap()
}

fn client_credentials(org: &SimulatedOrg, secret: Option<&str>) -> Result<TokenSource, AuthError> {
    TokenSource::server_to_server(
        ServerCredentials {
            login_url: login_url(org),
            client_id: SimulatedOrg::CLIENT_ID.to_string(),
            client_secret: secret.map(SecretString::from),
            grant: ServerGrant::ClientCredentials,
        },
        options(0),
        RequestCounter::default(),
    )
}

fn jwt_source(org: &SimulatedOrg, login: &str, client_id: &str, username: &str, key: &str) -> TokenSource {
    let login = Url::parse(login).unwrap();
    let signer = JwtSigner::new(client_id, username, &SecretString::from(key), &login).unwrap();
    TokenSource::server_to_server(
        ServerCredentials {
            login_url: login_url(org),
            client_id: client_id.to_string(),
            client_secret: None,
            grant: ServerGrant::JwtBearer(signer),
        },
        options(0),
        RequestCounter::default(),
    )
    .unwrap()
}

fn jwt(org: &SimulatedOrg) -> TokenSource {
    jwt_source(
        org,
        &org.login_url(),
        SimulatedOrg::CLIENT_ID,
        &org.integration_username(),
        SimulatedOrg::TEST_JWT_PRIVATE_KEY,
    )
}

/// The form fields of the last token request.
fn last_token_form(org: &SimulatedOrg) -> Vec<(String, String)> {
    let request = org.requests().into_iter().rev().find(|r| r.path() == "/services/oauth2/token").unwrap();
    url::form_urlencoded::parse(request.body.as_bytes()).into_owned().collect()
}

async fn refusal(source: &TokenSource) -> (RefusalKind, String) {
    let error = source.token().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::AuthRefused, "{error}");
    (error.refusal().unwrap_or_else(|| panic!("not a refusal: {error}")).kind, error.to_string())
}

#[tokio::test]
async fn client_credentials_gets_a_token_with_the_key_and_secret_only() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let source = client_credentials(&org, Some(SimulatedOrg::CLIENT_SECRET)).unwrap();
    assert_eq!(source.flow(), FlowKind::ClientCredentials);
    let token = source.token().await.unwrap();
    assert!(token.has_scope("api"));
    assert_eq!(source.rotation(), Rotation::NotRotated);
    let form = last_token_form(&org);
    let keys: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["grant_type", "client_id", "client_secret"]);
    assert_eq!(form[0].1, "client_credentials");
    // A 401 later gets a new token by the same grant, not by a refresh token.
    let again = source.refresh_after(&token).await.unwrap();
    assert_eq!(again.generation(), 2);
    assert_eq!(last_token_form(&org)[0].1, "client_credentials");
}

#[tokio::test]
async fn client_credentials_errors_are_typed_with_a_hint() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let error = client_credentials(&org, None).unwrap_err();
    assert_eq!(error.class(), ErrorClass::Configuration);
    assert!(error.to_string().contains("client_secret_file"), "{error}");

    let (kind, message) = refusal(&client_credentials(&org, Some("wrong")).unwrap()).await;
    assert_eq!(kind, RefusalKind::InvalidClient, "{message}");

    let wrong_app = TokenSource::server_to_server(
        ServerCredentials {
            login_url: login_url(&org),
            client_id: "3MVG9-another-app".to_string(),
            client_secret: Some(SecretString::from(SimulatedOrg::CLIENT_SECRET)),
            grant: ServerGrant::ClientCredentials,
        },
        options(0),
        RequestCounter::default(),
    )
    .unwrap();
    assert_eq!(refusal(&wrong_app).await.0, RefusalKind::InvalidClientId);

    // What Salesforce answers on login.salesforce.com (the settings refuse that URL first).
    org.faults().on(
        Target::Token,
        Occurrence::times(1),
        FaultKind::Json {
            status: 400,
            body: serde_json::json!({"error": "invalid_grant", "error_description": "request not supported on this domain"}),
        },
    );
    let (kind, message) =
        refusal(&client_credentials(&org, Some(SimulatedOrg::CLIENT_SECRET)).unwrap()).await;
    assert_eq!(kind, RefusalKind::NotMyDomain);
    assert!(message.contains("My Domain"), "{message}");

    org.set_client_credentials_run_as_user(false);
    let (kind, message) =
        refusal(&client_credentials(&org, Some(SimulatedOrg::CLIENT_SECRET)).unwrap()).await;
    assert_eq!(kind, RefusalKind::NoRunAsUser);
    assert!(message.contains("Run As") && message.contains("API Only User"), "{message}");
}

#[tokio::test]
async fn jwt_bearer_sends_a_signed_assertion_and_no_secret() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let source = jwt(&org);
    assert_eq!(source.flow(), FlowKind::JwtBearer);
    let token = source.token().await.unwrap();
    let form = last_token_form(&org);
    assert_eq!(form[0], ("grant_type".into(), "urn:ietf:params:oauth:grant-type:jwt-bearer".into()));
    assert_eq!(form[1].0, "assertion");
    assert_eq!(form.len(), 2, "no client_id, client_secret or refresh token: {form:?}");
    assert_eq!(form[1].1.split('.').count(), 3, "a compact JWS");
    // A 401 later is answered with a new grant from a freshly signed assertion.
    let before = org.token_requests();
    let again = source.refresh_after(&token).await.unwrap();
    assert_eq!((again.generation(), org.token_requests()), (2, before + 1));
    assert_eq!(last_token_form(&org)[1].0, "assertion");
}

#[tokio::test]
async fn jwt_bearer_refusals_name_what_to_fix() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let user = org.integration_username();
    let login = org.login_url();

    let other_key =
        jwt_source(&org, &login, SimulatedOrg::CLIENT_ID, &user, SimulatedOrg::TEST_JWT_OTHER_PRIVATE_KEY);
    let (kind, message) = refusal(&other_key).await;
    assert_eq!(kind, RefusalKind::InvalidAssertion);
    assert!(message.contains("certificate uploaded"), "{message}");

    let stranger = jwt_source(
        &org,
        &login,
        SimulatedOrg::CLIENT_ID,
        "nobody@acme.com",
        SimulatedOrg::TEST_JWT_PRIVATE_KEY,
    );
    assert_eq!(refusal(&stranger).await.0, RefusalKind::NotApproved);

    let wrong_app = jwt_source(&org, &login, "3MVG9-another-app", &user, SimulatedOrg::TEST_JWT_PRIVATE_KEY);
    assert_eq!(refusal(&wrong_app).await.0, RefusalKind::InvalidClientId);

    // The audience is derived from the login URL: another host name is another audience.
    let other_audience = login.replace("127.0.0.1", "localhost");
    let wrong_aud =
        jwt_source(&org, &other_audience, SimulatedOrg::CLIENT_ID, &user, SimulatedOrg::TEST_JWT_PRIVATE_KEY);
    let (kind, message) = refusal(&wrong_aud).await;
    assert_eq!(kind, RefusalKind::InvalidAudience);
    assert!(message.contains("audience is invalid") && message.contains("login_url"), "{message}");

    org.set_jwt_pre_authorized(false);
    let (kind, message) = refusal(&jwt(&org)).await;
    assert_eq!(kind, RefusalKind::NotApproved);
    assert!(message.contains("Admin approved users are pre-authorized"), "{message}");
}

#[tokio::test]
async fn a_revoked_refresh_token_stops_working_and_revoking_twice_is_told_apart() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let source = TokenSource::new(
        Credentials {
            login_url: login_url(&org),
            client_id: SimulatedOrg::CLIENT_ID.to_string(),
            client_secret: Some(SecretString::from(SimulatedOrg::CLIENT_SECRET)),
            refresh_token: SecretString::from(SimulatedOrg::REFRESH_TOKEN),
            refresh_token_file: None,
        },
        options(0),
        RequestCounter::default(),
    )
    .unwrap();
    assert_eq!(source.revoke_refresh_token().await.unwrap(), Revoked::Revoked);
    let revoke = org.requests().into_iter().find(|r| r.path() == "/services/oauth2/revoke").unwrap();
    assert_eq!(revoke.method, "POST");
    assert!(!revoke.url.contains("5Aep861"), "the token travels in the body, not the URL");
    assert!(org.valid_refresh_tokens().is_empty());
    assert_eq!(refusal(&source).await.0, RefusalKind::ExpiredRefreshToken);
    assert_eq!(source.revoke_refresh_token().await.unwrap(), Revoked::AlreadyInvalid);

    let error = client_credentials(&org, Some(SimulatedOrg::CLIENT_SECRET))
        .unwrap()
        .revoke_refresh_token()
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Configuration);
    assert!(error.to_string().contains("nothing to revoke"), "{error}");
}
