//! The identity URL (the `id` of a token response): who the token belongs to.

use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::{AccessToken, AuthError, OAuthClient, TokenSource};

/// The part of the identity response sfconn shows (`sfconn auth check`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Identity {
    /// 18-character org id.
    pub organization_id: String,
    /// 18-character user id.
    pub user_id: String,
    /// The user's username.
    pub username: String,
    /// `display_name`.
    pub display_name: Option<String>,
    /// The user's email.
    pub email: Option<String>,
    /// Upper case, e.g. `STANDARD`.
    pub user_type: Option<String>,
    /// Whether the user is active.
    pub active: Option<bool>,
    /// The user's locale, e.g. `en_US`.
    pub locale: Option<String>,
}

impl TokenSource {
    /// GETs the identity URL of `token` with the bearer token. The URL was checked when the token
    /// arrived (docs/contract.md §2).
    pub async fn identity(&self, token: &AccessToken) -> Result<Identity, AuthError> {
        self.http()
            .get_bearer(&token.identity_url, token.secret().expose_secret(), "an identity response")
            .await
    }
}

impl OAuthClient {
    /// GETs the identity URL of a token from a flow (e.g. to say who approved the device code).
    pub async fn identity(&self, token: &AccessToken) -> Result<Identity, AuthError> {
        self.http()
            .get_bearer(&token.identity_url, token.secret().expose_secret(), "an identity response")
            .await
    }
}
