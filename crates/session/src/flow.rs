//! The token source of the flows without a refresh token (`auth.flow = "client_credentials"` or
//! `"jwt_bearer"`): nothing is rotated, so nothing is written back.

use sfconn_auth::{AuthOptions, JwtSigner, RequestCounter, ServerCredentials, ServerGrant, TokenSource};
use sfconn_config::{AuthFlow, Settings};

use crate::SessionError;

pub(crate) fn server_token_source(
    settings: &Settings,
    options: AuthOptions,
) -> Result<TokenSource, SessionError> {
    let grant = match settings.auth.flow {
        AuthFlow::ClientCredentials => ServerGrant::ClientCredentials,
        AuthFlow::JwtBearer => {
            let (Some(username), Some(key)) = (&settings.auth.username, &settings.auth.private_key) else {
                return Err(SessionError::JwtBearerIncomplete);
            };
            ServerGrant::JwtBearer(JwtSigner::new(&settings.client_id, username, key, &settings.login_url)?)
        }
        AuthFlow::RefreshToken => return Err(SessionError::NoRefreshToken),
    };
    let credentials = ServerCredentials {
        login_url: settings.login_url.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        grant,
    };
    Ok(TokenSource::server_to_server(credentials, options, RequestCounter::default())?)
}
