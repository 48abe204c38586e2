//! From settings to a session with one org: the token source (with its own request counter
//! and run-wide cancellation) and the options of the token and REST clients.
//!
//! Owns: how `http.*`, `api_version`, the credentials and the state directory become
//! [`AuthOptions`], [`ClientOptions`] and a [`TokenSource`].
//! Must not: send a request by itself, or know what a run collects (that is `collect`).
//!
//! Both `sfconn collect` (through `collect`) and `sfconn auth check` start here, so the
//! two commands log in the same way (docs/architecture.md, "Crates").

use std::path::{Path, PathBuf};
use std::sync::Arc;

mod flow;
mod kept_token;

use secrecy::SecretString;
use sfconn_api::{ApiClient, ApiError, ClientOptions, RetryPolicy};
use sfconn_auth::{AuthError, AuthOptions, Credentials, RequestCounter, TokenSource};
use sfconn_config::{RotatedTokens, Settings};
use sfconn_errors::{Classify, ErrorClass};

/// File name, in the state directory, of a rotated refresh token that had no
/// `refresh_token_file` to go to.
pub const ROTATED_REFRESH_TOKEN_FILE: &str = "refresh_token";

/// Records per query page asked of Salesforce (`Sforce-Query-Options: batchSize`).
pub const BATCH_SIZE: u32 = 2000;

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The settings name no refresh token (the config crate normally catches this first).
    #[error(
        "no refresh token: set refresh_token_file (or SFCONN_REFRESH_TOKEN); get one with `sfconn auth device`"
    )]
    NoRefreshToken,
    /// `auth.flow = "jwt_bearer"` without its user or key (the config crate normally catches
    /// this first).
    #[error("auth.flow = \"jwt_bearer\" needs auth.username and auth.private_key_file")]
    JwtBearerIncomplete,
    /// `auth.rotated_tokens = "state_dir"` but no state directory is known.
    #[error(
        "auth.rotated_tokens = \"state_dir\" keeps rotated refresh tokens in sfconn's state directory, but none \
         is known: set XDG_STATE_HOME (or HOME) to a writable directory"
    )]
    NoStateDir,
    /// A kept rotated token, newer than `refresh_token_file`, could not be read. Presenting the
    /// older token instead would revoke the newer one where rotation is on, so the run stops.
    #[error(
        "cannot read the rotated refresh token kept in {}: {problem}; it is newer than refresh_token_file {}, \
         and presenting the older token would revoke it: make the kept file readable, or remove it if \
         refresh_token_file holds a token you trust",
        path.display(),
        file.display()
    )]
    KeptTokenUnreadable {
        /// The kept token's file in the state directory.
        path: PathBuf,
        /// The configured `refresh_token_file`.
        file: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// The token client could not be built.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl Classify for SessionError {
    /// Salesforce's own code for this failure, when it is an answer of Salesforce's.
    fn salesforce_code(&self) -> Option<&str> {
        match self {
            SessionError::Auth(error) => error.salesforce_code(),
            _ => None,
        }
    }

    /// A missing refresh token is a configuration error.
    fn class(&self) -> ErrorClass {
        match self {
            SessionError::NoRefreshToken | SessionError::JwtBearerIncomplete | SessionError::NoStateDir => {
                ErrorClass::Configuration
            }
            SessionError::KeptTokenUnreadable { .. } => ErrorClass::Io,
            SessionError::Auth(error) => error.class(),
        }
    }
}

/// One org's session: its token source, shared by every request of the session, and the REST
/// client's options. Each session has its own request counter and its own run-wide
/// cancellation (both live with the token source), so many can run side by side.
#[derive(Debug, Clone)]
pub struct Session {
    tokens: Arc<TokenSource>,
    options: ClientOptions,
}

impl Session {
    /// A session from settings; nothing is sent yet.
    pub fn new(settings: &Settings) -> Result<Session, SessionError> {
        Ok(Session { tokens: Arc::new(token_source(settings)?), options: client_options(settings) })
    }

    /// The session's token source.
    pub fn tokens(&self) -> &Arc<TokenSource> {
        &self.tokens
    }

    /// Logs in (if no token is held yet), discovers the API version and returns the REST
    /// client of this session.
    pub async fn connect(&self) -> Result<ApiClient, ApiError> {
        ApiClient::connect(Arc::clone(&self.tokens), self.options.clone()).await
    }
}

/// The token client's options from `http.*` settings.
pub fn auth_options(settings: &Settings) -> AuthOptions {
    AuthOptions {
        timeout: settings.http.timeout(),
        retry: RetryPolicy::with_max_retries(settings.http.max_retries),
    }
}

/// The REST client's options from settings: `api_version`, `http.*` and [`BATCH_SIZE`].
pub fn client_options(settings: &Settings) -> ClientOptions {
    ClientOptions {
        api_version: settings.api_version.clone(),
        timeout: settings.http.timeout(),
        retry: RetryPolicy::with_max_retries(settings.http.max_retries),
        concurrency: settings.http.concurrency,
        batch_size: BATCH_SIZE,
        ..ClientOptions::default()
    }
}

/// The token source from settings. A rotated refresh token is never lost: it goes to
/// `refresh_token_file`, or else to [`ROTATED_REFRESH_TOKEN_FILE`] in the state directory
/// (always there with `auth.rotated_tokens = "state_dir"`). The run starts from the kept token
/// when it is newer than `refresh_token_file` ([`kept_token`]).
pub fn token_source(settings: &Settings) -> Result<TokenSource, SessionError> {
    if !settings.auth.flow.uses_refresh_token() {
        return flow::server_token_source(settings, auth_options(settings));
    }
    let configured = settings.refresh_token.clone().ok_or(SessionError::NoRefreshToken)?;
    let kept = settings.state_dir.as_ref().map(|dir| dir.join(ROTATED_REFRESH_TOKEN_FILE));
    let refresh_token =
        starting_refresh_token(configured, settings.refresh_token_file.as_deref(), kept.as_deref())?;
    let credentials = Credentials {
        login_url: settings.login_url.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        refresh_token,
        refresh_token_file: settings.refresh_token_file.clone(),
    };
    let source = TokenSource::new(credentials, auth_options(settings), RequestCounter::default())?;
    Ok(match settings.auth.rotated_tokens {
        RotatedTokens::RefreshTokenFile => source.keep_rotated_tokens_in(kept),
        RotatedTokens::StateDir => source.keep_rotated_tokens_only_in(kept.ok_or(SessionError::NoStateDir)?),
    })
}

/// The configured refresh token, or the kept one when it is newer than `refresh_token_file`.
fn starting_refresh_token(
    configured: SecretString,
    refresh_token_file: Option<&Path>,
    kept: Option<&Path>,
) -> Result<SecretString, SessionError> {
    let (Some(file), Some(kept)) = (refresh_token_file, kept) else {
        return Ok(configured);
    };
    match kept_token::newer_than(kept, file) {
        Ok(None) => Ok(configured),
        Ok(Some(token)) => {
            tracing::info!(
                kept = %kept.display(),
                refresh_token_file = %file.display(),
                "starting from the rotated refresh token kept in the state directory: it is newer than refresh_token_file"
            );
            Ok(token)
        }
        Err(problem) => Err(SessionError::KeptTokenUnreadable {
            path: kept.to_path_buf(),
            file: file.to_path_buf(),
            problem,
        }),
    }
}

#[cfg(test)]
mod tests {
    use sfconn_config::{Flags, MapEnvironment, Need};

    use super::*;

    fn settings(need: Need, extra: &[(&str, &str)]) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let mut env = MapEnvironment::in_dir(dir.path())
            .with("SFCONN_LOGIN_URL", "https://login.salesforce.com")
            .with("SFCONN_CLIENT_ID", "client")
            .with("SFCONN_CLIENT_SECRET", "secret");
        for (name, value) in extra {
            env = env.with(name, value);
        }
        sfconn_config::load_with(&Flags::default(), need, &env).unwrap().settings
    }

    #[test]
    fn the_client_options_follow_the_http_settings() {
        let settings = settings(
            Need::ClientOnly,
            &[
                ("SFCONN_HTTP__CONCURRENCY", "3"),
                ("SFCONN_HTTP__MAX_RETRIES", "1"),
                ("SFCONN_API_VERSION", "61.0"),
            ],
        );
        let options = client_options(&settings);
        assert_eq!(options.concurrency, 3);
        assert_eq!(options.batch_size, BATCH_SIZE);
        assert_eq!(options.api_version.as_deref(), Some("61.0"));
        assert_eq!(options.retry, RetryPolicy::with_max_retries(1));
        assert_eq!(auth_options(&settings).retry, RetryPolicy::with_max_retries(1));
    }

    #[test]
    fn without_a_refresh_token_there_is_no_session_and_the_message_says_how_to_get_one() {
        let error = Session::new(&settings(Need::ClientOnly, &[])).unwrap_err();
        assert!(matches!(error, SessionError::NoRefreshToken));
        assert_eq!(error.class(), ErrorClass::Configuration);
        assert!(error.to_string().contains("sfconn auth device"), "{error}");
    }

    #[test]
    fn each_session_has_its_own_cancellation_and_request_counter() {
        let settings = settings(Need::Everything, &[("SFCONN_REFRESH_TOKEN", "token")]);
        let (first, second) = (Session::new(&settings).unwrap(), Session::new(&settings).unwrap());
        first.tokens().counter().add_one();
        assert!(first.tokens().cancellation().trip());
        assert_eq!(second.tokens().counter().get(), 0);
        assert!(!second.tokens().cancellation().is_tripped());
    }
}
