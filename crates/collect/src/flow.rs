//! The token source of the flows without a refresh token (`auth.flow = "client_credentials"` or
//! `"jwt_bearer"`, issue 17): nothing is rotated, so nothing is written back.

use sfconn_auth::{AuthOptions, JwtSigner, RequestCounter, ServerCredentials, ServerGrant, TokenSource};
use sfconn_config::{AuthFlow, Settings};

use crate::CollectError;

pub(crate) fn server_token_source(
    settings: &Settings,
    options: AuthOptions,
) -> Result<TokenSource, CollectError> {
    let grant = match settings.auth.flow {
        AuthFlow::ClientCredentials => ServerGrant::ClientCredentials,
        AuthFlow::JwtBearer => {
            let (Some(username), Some(key)) = (&settings.auth.username, &settings.auth.private_key) else {
                return Err(CollectError::Settings(
                    "auth.flow = \"jwt_bearer\" needs auth.username and auth.private_key_file".to_owned(),
                ));
            };
            ServerGrant::JwtBearer(JwtSigner::new(&settings.client_id, username, key, &settings.login_url)?)
        }
        AuthFlow::RefreshToken => {
            return Err(CollectError::Settings(
                "internal: the refresh-token flow has its own source".to_owned(),
            ));
        }
    };
    let credentials = ServerCredentials {
        login_url: settings.login_url.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        grant,
    };
    Ok(TokenSource::server_to_server(credentials, options, RequestCounter::default())?)
}
