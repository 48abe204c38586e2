//! The grants that need no refresh token and the revoke endpoint, as the simulated
//! org answers them:
//!
//! - `grant_type=client_credentials` with the consumer key and secret; the session runs as the
//!   app's run-as user (the integration user) unless [`FlowSwitches::run_as_user`] is off.
//! - `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an RS256 `assertion` that is
//!   verified with the TEST-ONLY public key in `fixtures/test-only-jwt/`: `iss` must be the
//!   consumer key, `aud` the login URL, `sub` the integration user's username, `exp` in the
//!   future, and the user pre-authorized ([`FlowSwitches::jwt_pre_authorized`]).
//! - `POST /services/oauth2/revoke` with `token=`: 200 and an empty body when the token was
//!   valid; 400 `invalid_token` otherwise.
//!
//! Error shapes come from `fixtures/token/server_flows.json`; none of these grants return a
//! refresh token.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};
use wiremock::Request;

use crate::SimulatedOrg;
use crate::server::{Reply, Shared};

/// The JWT bearer grant type.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Switches of the app's policies for these flows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowSwitches {
    /// The app has a run-as user for the client credentials flow.
    pub run_as_user: bool,
    /// The integration user is pre-authorized for the app (JWT bearer).
    pub jwt_pre_authorized: bool,
}

impl Default for FlowSwitches {
    fn default() -> Self {
        FlowSwitches { run_as_user: true, jwt_pre_authorized: true }
    }
}

/// The switches of one org.
#[derive(Debug, Default)]
pub(crate) struct FlowState(Mutex<FlowSwitches>);

impl FlowState {
    pub(crate) fn get(&self) -> FlowSwitches {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut FlowSwitches)) {
        change(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// `(error, error_description)` of a named error in `fixtures/token/server_flows.json`.
fn error_parts(key: &str) -> (String, String) {
    static TABLE: OnceLock<Value> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("../../../fixtures/token/server_flows.json")).unwrap_or(Value::Null)
    });
    match (table[key]["error"].as_str(), table[key]["error_description"].as_str()) {
        (Some(error), Some(description)) => (error.to_string(), description.to_string()),
        _ => ("unknown_error".to_string(), "retry your request".to_string()),
    }
}

fn error(key: &str) -> Reply {
    let (error, description) = error_parts(key);
    Reply::json(400, &json!({"error": error, "error_description": description}))
}

/// Answers the token request when it is one of these grants; `None` for every other grant.
pub(crate) fn token(shared: &Shared, params: &HashMap<String, String>) -> Option<Reply> {
    let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match param("grant_type")? {
        "client_credentials" => Some(client_credentials(shared, param("client_id"), param("client_secret"))),
        JWT_BEARER => Some(jwt_bearer(shared, param("assertion").unwrap_or_default())),
        _ => None,
    }
}

fn client_credentials(shared: &Shared, client_id: Option<&str>, secret: Option<&str>) -> Reply {
    if client_id != Some(SimulatedOrg::CLIENT_ID) {
        return error("invalid_client_id");
    }
    if secret != Some(SimulatedOrg::CLIENT_SECRET) {
        return error("invalid_client");
    }
    if !shared.flows.get().run_as_user {
        return error("no_run_as_user");
    }
    Reply::json(200, &shared.with_state(|s| shared.grant(s, None)))
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
}

fn jwt_bearer(shared: &Shared, assertion: &str) -> Reply {
    static KEY: OnceLock<Option<DecodingKey>> = OnceLock::new();
    let Some(key) = KEY
        .get_or_init(|| {
            DecodingKey::from_rsa_pem(include_bytes!(
                "../../../fixtures/test-only-jwt/TEST-ONLY-sfconn-jwt.pub.pem"
            ))
            .ok()
        })
        .as_ref()
    else {
        return error("invalid_assertion");
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[shared.login_url.as_str()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = 0;
    let claims = match jsonwebtoken::decode::<Claims>(assertion, key, &validation) {
        Ok(data) => data.claims,
        Err(failure) => {
            return error(match failure.kind() {
                ErrorKind::InvalidAudience => "invalid_audience",
                ErrorKind::ExpiredSignature => "expired_assertion",
                _ => "invalid_assertion",
            });
        }
    };
    if claims.iss != SimulatedOrg::CLIENT_ID {
        return error("invalid_client_id");
    }
    if claims.sub != shared.data.integration_user().username || !shared.flows.get().jwt_pre_authorized {
        return error("user_not_approved");
    }
    Reply::json(200, &shared.with_state(|s| shared.grant(s, None)))
}

/// `POST /services/oauth2/revoke`.
pub(crate) fn revoke(shared: &Shared, request: &Request) -> Reply {
    let token = url::form_urlencoded::parse(&request.body)
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if token.is_empty() {
        return error("unsupported_token_type");
    }
    let known = shared.with_state(|s| s.refresh_tokens.remove(&token) | s.access_tokens.remove(&token));
    if known { Reply::empty(200) } else { error("invalid_token") }
}
