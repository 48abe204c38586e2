//! OAuth 2.0 with Salesforce (docs/contract.md §2, §3, §6, §7): the refresh grant, the client
//! credentials and JWT bearer grants, the run's shared [`TokenSource`],
//! refresh-token rotation and revocation, and the authorization-code and device flows.
//!
//! Owns: every request to `{login_url}/services/oauth2/*`, the only place the refresh token
//! and client secret are exposed, and their judging (what an OAuth answer means,
//! which OAuth codes are transient). Sending, retrying and counting are `sfconn-http`'s.
//! Must not: call the REST data API (that is `api`), read settings or the environment.

mod assertion;
mod client;
mod error;
mod flows;
mod identity;
mod revoke;
mod rotation;
mod source;
mod token;
mod urls;

use std::path::PathBuf;
use std::time::Duration;

pub use assertion::{JwtSigner, audience_for};
pub use error::{AuthError, Refusal, RefusalKind};
pub use flows::{
    AuthorizeParams, AuthorizeRequest, CodeInput, DEFAULT_SCOPE, DeviceAuthorization, DevicePolling, Grant,
    OAuthClient, PendingAuthorization, parse_code_input, parse_redirect_uri, pkce_challenge,
};
pub use identity::Identity;
pub use revoke::Revoked;
pub use rotation::{Rotation, write_secret_file};
pub use source::{ServerCredentials, ServerGrant, TokenSource};
pub use token::AccessToken;
pub use url::Url;
pub use urls::{check_salesforce_url, is_loopback_host};

use secrecy::SecretString;

/// The HTTP layer's types that are part of this crate's API (a [`TokenSource`] counts on a
/// [`RequestCounter`], [`AuthOptions`] holds a [`RetryPolicy`]); re-exported so that callers
/// need not depend on `sfconn-http` for them.
pub use sfconn_http::{RequestCounter, RetryPolicy, RunCancel, retry};

/// Which OAuth flow a [`TokenSource`] uses (the settings' `auth.flow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// A stored refresh token, refreshed each run.
    RefreshToken,
    /// Consumer key and secret; the app's run-as user.
    ClientCredentials,
    /// A signed JWT assertion for a named user.
    JwtBearer,
}

impl FlowKind {
    /// The name used in settings and messages: `refresh_token`, `client_credentials`, `jwt_bearer`.
    pub fn name(self) -> &'static str {
        match self {
            FlowKind::RefreshToken => "refresh_token",
            FlowKind::ClientCredentials => "client_credentials",
            FlowKind::JwtBearer => "jwt_bearer",
        }
    }
}

/// What the token endpoint needs to refresh an access token.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Authorization server, e.g. `https://login.salesforce.com`.
    pub login_url: Url,
    /// Consumer key of the connected app.
    pub client_id: String,
    /// Consumer secret; `None` when the app does not require it for the refresh flow.
    pub client_secret: Option<SecretString>,
    /// The refresh token to start from.
    pub refresh_token: SecretString,
    /// Where a rotated refresh token is written, when configured.
    pub refresh_token_file: Option<PathBuf>,
}

/// HTTP behaviour of the token client.
#[derive(Debug, Clone, Copy)]
pub struct AuthOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries for `unknown_error`, 5xx and connection failures.
    pub retry: retry::RetryPolicy,
}
