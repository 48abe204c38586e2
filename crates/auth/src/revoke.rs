//! Revoking a refresh token (`POST {login_url}/services/oauth2/revoke`, form `token=`): HTTP 200
//! when done; HTTP 400 `invalid_token` when Salesforce does not know the token (already revoked
//! or expired), `unsupported_token_type` otherwise.

use secrecy::{ExposeSecret, SecretString};

use crate::client::OAuthHttp;
use crate::urls::oauth_endpoint;
use crate::{AuthError, RefusalKind};

/// What the revoke endpoint said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Salesforce revoked the token and the access tokens issued from it.
    Revoked,
    /// Salesforce answered `invalid_token`: the token was already revoked or had expired.
    AlreadyInvalid,
}

pub(crate) async fn revoke(http: &OAuthHttp, token: &SecretString) -> Result<Revoked, AuthError> {
    let endpoint = oauth_endpoint(http.login_url(), "revoke");
    match http.post_form_no_content(&endpoint, &[("token", token.expose_secret())]).await {
        Ok(()) => Ok(Revoked::Revoked),
        Err(AuthError::Refused(refusal)) if refusal.kind == RefusalKind::InvalidToken => {
            Ok(Revoked::AlreadyInvalid)
        }
        Err(other) => Err(other),
    }
}
