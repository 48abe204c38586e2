//! The run's one access token, refreshed on demand, one refresh at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use secrecy::{ExposeSecret, SecretString};

use crate::client::OAuthHttp;
use crate::rotation::{NOT_PERSISTED_STEP, save_aside, write_secret_file};
use crate::token::{AccessToken, TokenResponse};
use crate::urls::{check_configured_url, oauth_endpoint};
use crate::{AuthError, AuthOptions, Credentials, RequestCounter, Rotation, RunCancel};

/// The access token shared by every request of a run. The first [`TokenSource::token`] performs
/// the refresh grant; [`TokenSource::refresh_after`] refreshes after a 401 with at most one
/// refresh in flight, and callers that asked during it get the new token.
#[derive(Debug)]
pub struct TokenSource {
    http: OAuthHttp,
    client_id: String,
    client_secret: Option<SecretString>,
    refresh_token_file: Option<std::path::PathBuf>,
    /// Where a rotated token goes when there is no `refresh_token_file` (or it cannot be written).
    rotation_fallback: Option<std::path::PathBuf>,
    state: tokio::sync::Mutex<State>,
    /// Refresh attempts finished so far (read without the lock to tell whether a failure that
    /// the lock holder saw happened while we waited).
    attempts: AtomicU64,
    rotation: StdMutex<Rotation>,
}

#[derive(Debug)]
struct State {
    refresh_token: SecretString,
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
            http,
            client_id: credentials.client_id,
            client_secret: credentials.client_secret,
            refresh_token_file: credentials.refresh_token_file,
            rotation_fallback: None,
            state: tokio::sync::Mutex::new(State {
                refresh_token: credentials.refresh_token,
                current: None,
                generation: 0,
                last_failure: None,
            }),
            attempts: AtomicU64::new(0),
            rotation: StdMutex::new(Rotation::NotRotated),
        })
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
        let mut form: Vec<(&str, &str)> =
            vec![("grant_type", "refresh_token"), ("client_id", &self.client_id)];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose_secret()));
        }
        form.push(("refresh_token", state.refresh_token.expose_secret()));
        tracing::debug!(endpoint = %crate::client::redacted(&endpoint), "refreshing the access token");
        let response: TokenResponse = self.http.post_form(&endpoint, &form, "a token response").await?;
        let (token, rotated) = AccessToken::from_response(response, state.generation + 1)?;
        state.generation += 1;
        if let Some(new_refresh_token) = rotated
            && new_refresh_token.expose_secret() != state.refresh_token.expose_secret()
        {
            let rotation = self.keep_rotated(&new_refresh_token);
            state.refresh_token = new_refresh_token;
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
             `sfconn auth device --refresh-token-file {}`",
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
