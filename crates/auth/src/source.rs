//! The run's one access token, refreshed on demand, one refresh at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use secrecy::{ExposeSecret, SecretString};

use crate::assertion::JwtSigner;
use crate::client::OAuthHttp;
use crate::rotation::{NOT_PERSISTED_STEP, save_aside, write_secret_file};
use crate::token::{AccessToken, TokenResponse};
use crate::urls::{check_configured_url, oauth_endpoint};
use crate::{AuthError, AuthOptions, Credentials, FlowKind, RequestCounter, Rotation, RunCancel};

/// The grant a [`TokenSource`] sends for each access token.
#[derive(Debug)]
enum Method {
    /// `grant_type=refresh_token` with the refresh token in [`State`].
    Refresh,
    /// `grant_type=client_credentials` with the consumer key and secret.
    ClientCredentials,
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with a fresh assertion.
    JwtBearer(JwtSigner),
}

/// The grant of a flow that needs no refresh token.
#[derive(Debug)]
pub enum ServerGrant {
    /// The client credentials flow: Salesforce runs the session as the app's run-as user.
    ClientCredentials,
    /// The JWT bearer flow for the signer's user.
    JwtBearer(JwtSigner),
}

/// What the token endpoint needs for the client credentials or JWT bearer flow.
#[derive(Debug)]
pub struct ServerCredentials {
    /// Authorization server: the org's My Domain for client credentials.
    pub login_url: url::Url,
    /// Consumer key of the app.
    pub client_id: String,
    /// Consumer secret: required for client credentials, not sent for JWT bearer.
    pub client_secret: Option<SecretString>,
    /// Which grant.
    pub grant: ServerGrant,
}

/// The JWT bearer grant type (RFC 7523).
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The access token shared by every request of a run. The first [`TokenSource::token`] performs
/// the refresh grant; [`TokenSource::refresh_after`] refreshes after a 401 with at most one
/// refresh in flight, and callers that asked during it get the new token.
#[derive(Debug)]
pub struct TokenSource {
    http: OAuthHttp,
    method: Method,
    client_id: String,
    client_secret: Option<SecretString>,
    refresh_token_file: Option<std::path::PathBuf>,
    /// Where a rotated token goes when there is no `refresh_token_file` (or it cannot be written).
    rotation_fallback: Option<std::path::PathBuf>,
    /// `auth.rotated_tokens = "state_dir"`: `refresh_token_file` is never written; a rotated
    /// token goes to `rotation_fallback` only.
    state_dir_only: bool,
    state: tokio::sync::Mutex<State>,
    /// Refresh attempts finished so far (read without the lock to tell whether a failure that
    /// the lock holder saw happened while we waited).
    attempts: AtomicU64,
    rotation: StdMutex<Rotation>,
}

#[derive(Debug)]
struct State {
    /// `Some` for the refresh-token flow only.
    refresh_token: Option<SecretString>,
    current: Option<Arc<AccessToken>>,
    generation: u64,
    last_failure: Option<Arc<AuthError>>,
}

impl TokenSource {
    /// Checks the login URL (https, or http on loopback) and builds the token client. Sends nothing.
    pub fn new(
        credentials: Credentials,
        options: AuthOptions,
        counter: RequestCounter,
    ) -> Result<TokenSource, AuthError> {
        check_configured_url(&credentials.login_url, "the login URL (login_url)")?;
        let http = OAuthHttp::new(credentials.login_url, &options, counter, RunCancel::new())?;
        Ok(TokenSource {
            refresh_token_file: credentials.refresh_token_file,
            ..TokenSource::unstarted(
                http,
                Method::Refresh,
                credentials.client_id,
                credentials.client_secret,
                Some(credentials.refresh_token),
            )
        })
    }

    /// A source that has sent nothing yet.
    fn unstarted(
        http: OAuthHttp,
        method: Method,
        client_id: String,
        client_secret: Option<SecretString>,
        refresh_token: Option<SecretString>,
    ) -> TokenSource {
        TokenSource {
            http,
            method,
            client_id,
            client_secret,
            refresh_token_file: None,
            rotation_fallback: None,
            state_dir_only: false,
            state: tokio::sync::Mutex::new(State {
                refresh_token,
                current: None,
                generation: 0,
                last_failure: None,
            }),
            attempts: AtomicU64::new(0),
            rotation: StdMutex::new(Rotation::NotRotated),
        }
    }

    /// A source for the client credentials or JWT bearer flow: every access token comes from
    /// a new grant, so there is no refresh token to store, rotate or lose. Checks the login URL
    /// and that client credentials has a secret. Sends nothing.
    pub fn server_to_server(
        credentials: ServerCredentials,
        options: AuthOptions,
        counter: RequestCounter,
    ) -> Result<TokenSource, AuthError> {
        check_configured_url(&credentials.login_url, "the login URL (login_url)")?;
        let method = match credentials.grant {
            ServerGrant::ClientCredentials if credentials.client_secret.is_none() => {
                return Err(AuthError::Unsupported(
                    "the client credentials flow needs the app's consumer secret: set client_secret_file \
                     (or SFCONN_CLIENT_SECRET)"
                        .to_string(),
                ));
            }
            ServerGrant::ClientCredentials => Method::ClientCredentials,
            ServerGrant::JwtBearer(signer) => Method::JwtBearer(signer),
        };
        let http = OAuthHttp::new(credentials.login_url, &options, counter, RunCancel::new())?;
        Ok(TokenSource::unstarted(http, method, credentials.client_id, credentials.client_secret, None))
    }

    /// Which OAuth flow this source uses.
    pub fn flow(&self) -> FlowKind {
        match self.method {
            Method::Refresh => FlowKind::RefreshToken,
            Method::ClientCredentials => FlowKind::ClientCredentials,
            Method::JwtBearer(_) => FlowKind::JwtBearer,
        }
    }

    /// Revokes the refresh token this source started from (`POST /services/oauth2/revoke`),
    /// which also ends the access tokens issued from it.
    pub async fn revoke_refresh_token(&self) -> Result<crate::Revoked, AuthError> {
        let state = self.state.lock().await;
        let Some(refresh_token) = &state.refresh_token else {
            return Err(AuthError::Unsupported(format!(
                "auth.flow = \"{}\" keeps no refresh token, so there is nothing to revoke: each run asks for a \
                 short-lived access token; to cut access, an admin blocks the app or removes the user's permission \
                 set (docs/security.md)",
                self.flow().name()
            )));
        };
        crate::revoke::revoke(&self.http, refresh_token).await
    }

    /// The run's cancellation, shared by everything that sends requests with this source's
    /// tokens: the first fatal failure trips it, and no refresh (nor, in `api`, any REST call)
    /// starts after that. One per token source, so one per run.
    pub fn cancellation(&self) -> &RunCancel {
        self.http.cancellation()
    }

    /// Where to save a rotated refresh token when no `refresh_token_file` is configured or
    /// writing it fails (e.g. `<state_dir>/refresh_token`): the file is written atomically with
    /// mode 0600, its directory created with mode 0700, and the rotation is reported as
    /// [`Rotation::SavedAside`]. Without it such a token is reported [`Rotation::NotPersisted`].
    pub fn keep_rotated_tokens_in(mut self, fallback: Option<std::path::PathBuf>) -> Self {
        self.rotation_fallback = fallback;
        self
    }

    /// `auth.rotated_tokens = "state_dir"`: `refresh_token_file` is read-only by design (a
    /// mounted Secret) and is never written; a rotated token is kept in `path` (mode 0600, its
    /// directory created with mode 0700) and reported as [`Rotation::KeptInStateDir`], or as
    /// [`Rotation::StateDirUnwritable`] when that fails.
    pub fn keep_rotated_tokens_only_in(mut self, path: std::path::PathBuf) -> Self {
        self.rotation_fallback = Some(path);
        self.state_dir_only = true;
        self
    }

    /// The current access token; the first call performs the refresh grant.
    pub async fn token(&self) -> Result<Arc<AccessToken>, AuthError> {
        let attempts_seen = self.attempts.load(Ordering::Acquire);
        let mut state = self.state.lock().await;
        if let Some(current) = &state.current {
            return Ok(Arc::clone(current));
        }
        if let Some(failure) = self.failure_while_waiting(&state, attempts_seen) {
            return Err(failure);
        }
        self.refresh_locked(&mut state).await
    }

    /// Refreshes because `stale` was refused (401 `INVALID_SESSION_ID`). If another caller
    /// already refreshed, returns that newer token without a request; if a refresh that started
    /// while this caller waited failed, returns that failure.
    pub async fn refresh_after(&self, stale: &AccessToken) -> Result<Arc<AccessToken>, AuthError> {
        let attempts_seen = self.attempts.load(Ordering::Acquire);
        let mut state = self.state.lock().await;
        if let Some(current) = &state.current
            && current.generation() > stale.generation()
        {
            return Ok(Arc::clone(current));
        }
        if let Some(failure) = self.failure_while_waiting(&state, attempts_seen) {
            return Err(failure);
        }
        self.refresh_locked(&mut state).await
    }

    /// The newest access token without any request, if there is one.
    pub async fn current(&self) -> Option<Arc<AccessToken>> {
        self.state.lock().await.current.clone()
    }

    /// HTTP requests sent to Salesforce (this crate's and the `api` crate's), shared handle.
    pub fn counter(&self) -> &RequestCounter {
        self.http.counter()
    }

    /// Whether Salesforce rotated the refresh token during this run, and where it went.
    pub fn rotation(&self) -> Rotation {
        self.rotation.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The configured login URL (authorization server).
    pub fn login_url(&self) -> &url::Url {
        self.http.login_url()
    }

    pub(crate) fn http(&self) -> &OAuthHttp {
        &self.http
    }

    fn failure_while_waiting(&self, state: &State, attempts_seen: u64) -> Option<AuthError> {
        if self.attempts.load(Ordering::Acquire) == attempts_seen {
            return None;
        }
        state.last_failure.as_ref().map(|failure| AuthError::Shared(Arc::clone(failure)))
    }

    async fn refresh_locked(&self, state: &mut State) -> Result<Arc<AccessToken>, AuthError> {
        // A refresh already on the wire finishes (its answer may rotate the refresh token,
        // which must not be lost); a new one does not start once the run is stopping.
        if self.cancellation().is_tripped() {
            return Err(AuthError::Cancelled);
        }
        let outcome = self.refresh_grant(state).await;
        let result = match outcome {
            Ok(token) => {
                state.last_failure = None;
                Ok(token)
            }
            Err(error) => {
                // Callers queued behind this attempt get the same failure instead of repeating it.
                let shared = Arc::new(error);
                state.last_failure = Some(Arc::clone(&shared));
                Err(AuthError::Shared(shared))
            }
        };
        self.attempts.fetch_add(1, Ordering::AcqRel);
        result
    }

    async fn refresh_grant(&self, state: &mut State) -> Result<Arc<AccessToken>, AuthError> {
        let endpoint = oauth_endpoint(self.http.login_url(), "token");
        let assertion = match &self.method {
            Method::JwtBearer(signer) => Some(signer.assertion()?),
            _ => None,
        };
        let grant_type = match self.method {
            Method::Refresh => "refresh_token",
            Method::ClientCredentials => "client_credentials",
            Method::JwtBearer(_) => JWT_BEARER_GRANT,
        };
        let mut form: Vec<(&str, &str)> = vec![("grant_type", grant_type)];
        match (&assertion, &state.refresh_token) {
            (Some(assertion), _) => form.push(("assertion", assertion.expose_secret())),
            (None, refresh_token) => {
                form.push(("client_id", &self.client_id));
                if let Some(secret) = &self.client_secret {
                    form.push(("client_secret", secret.expose_secret()));
                }
                if let Some(refresh_token) = refresh_token {
                    form.push(("refresh_token", refresh_token.expose_secret()));
                }
            }
        }
        tracing::debug!(endpoint = %crate::client::redacted(&endpoint), grant_type, "requesting an access token");
        let response: TokenResponse = self.http.post_form(&endpoint, &form, "a token response").await?;
        let (token, rotated) = AccessToken::from_response(response, state.generation + 1)?;
        state.generation += 1;
        if let (Some(new_refresh_token), Some(current)) = (rotated, &state.refresh_token)
            && new_refresh_token.expose_secret() != current.expose_secret()
        {
            let rotation = self.keep_rotated(&new_refresh_token);
            state.refresh_token = Some(new_refresh_token);
            self.record_rotation(rotation);
        }
        let token = Arc::new(token);
        tracing::info!(
            generation = token.generation(),
            instance_url = %token.instance_url,
            "access token refreshed"
        );
        state.current = Some(Arc::clone(&token));
        Ok(token)
    }

    fn keep_rotated(&self, new_refresh_token: &SecretString) -> Rotation {
        if self.state_dir_only
            && let Some(kept) = &self.rotation_fallback
        {
            return match save_aside(kept, new_refresh_token) {
                Ok(()) => {
                    let rotation = Rotation::KeptInStateDir { path: kept.clone() };
                    tracing::info!("{}", rotation.next_step().unwrap_or_default());
                    rotation
                }
                Err(error) => {
                    let problem = match sfconn_errors::storage_refusal(error.kind()) {
                        Some(reason) => format!("{error}: {reason}"),
                        None => error.to_string(),
                    };
                    let rotation = Rotation::StateDirUnwritable { path: kept.clone(), problem };
                    tracing::error!("{}", rotation.next_step().unwrap_or_default());
                    rotation
                }
            };
        }
        let Some(path) = &self.refresh_token_file else {
            return self.save_aside(new_refresh_token);
        };
        let error = match write_secret_file(path, new_refresh_token) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "Salesforce rotated the refresh token; the new one was written to the refresh_token_file");
                return Rotation::Persisted { path: path.clone() };
            }
            Err(error) => error,
        };
        if let Some(reason) = sfconn_errors::storage_refusal(error.kind()) {
            // The storage, not the setting, is at fault: keep the token aside and end the run
            // with an I/O failure (`Rotation::failure_class`) once its output is written.
            let saved_to = self.write_aside(new_refresh_token);
            let problem = format!("{error}: {reason}");
            let rotation = Rotation::FileUnwritable { file: path.clone(), problem, saved_to };
            tracing::error!("{}", rotation.next_step().unwrap_or_default());
            return rotation;
        }
        tracing::warn!(
            path = %path.display(),
            "Salesforce rotated the refresh token but writing it to the refresh_token_file failed: {error}; \
             the old refresh token no longer works: fix the file's permissions, then get a new one with \
             `sfconn auth url --pkce`, then `sfconn auth exchange --refresh-token-file {}`",
            path.display()
        );
        self.save_aside(new_refresh_token)
    }

    /// Keeps the token in the fallback file, if there is one.
    fn save_aside(&self, new_refresh_token: &SecretString) -> Rotation {
        match self.write_aside(new_refresh_token) {
            Some(path) => {
                let rotation = Rotation::SavedAside { path };
                tracing::warn!("{}", rotation.next_step().unwrap_or_default());
                rotation
            }
            None => {
                tracing::warn!("{NOT_PERSISTED_STEP}");
                Rotation::NotPersisted
            }
        }
    }

    /// Writes the token to the fallback file; its path when that worked.
    fn write_aside(&self, new_refresh_token: &SecretString) -> Option<std::path::PathBuf> {
        let fallback = self.rotation_fallback.as_ref()?;
        match save_aside(fallback, new_refresh_token) {
            Ok(()) => Some(fallback.clone()),
            Err(error) => {
                tracing::warn!(path = %fallback.display(), "cannot save the rotated refresh token: {error}");
                None
            }
        }
    }

    fn record_rotation(&self, rotation: Rotation) {
        // The latest rotation wins: it says what the refresh_token_file holds now.
        *self.rotation.lock().unwrap_or_else(PoisonError::into_inner) = rotation;
    }
}
