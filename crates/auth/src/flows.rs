//! The interactive ways to get a refresh token: the authorization-code flow
//! (with optional PKCE) and the device flow. Library functions; the `sfconn auth` commands call them.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::client::OAuthHttp;
use crate::token::{AccessToken, TokenResponse};
use crate::urls::{check_configured_url, oauth_endpoint};
use crate::{AuthError, AuthOptions, RequestCounter, RunCancel};

/// Scopes asked for by default: REST access and a refresh token that works offline.
pub const DEFAULT_SCOPE: &str = "api refresh_token offline_access";

/// A connected app at an authorization server, for the flows that produce a refresh token.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    http: OAuthHttp,
    client_id: String,
    client_secret: Option<SecretString>,
}

/// What `sfconn auth url` may choose.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    /// Defaults to `{login_url}/services/oauth2/success`.
    pub redirect_uri: Option<Url>,
    /// Defaults to [`DEFAULT_SCOPE`].
    pub scope: Option<String>,
    /// Add a PKCE S256 `code_challenge`.
    pub pkce: bool,
}

/// The authorize URL and what `auth exchange` needs to finish the flow.
#[derive(Debug)]
pub struct AuthorizeRequest {
    /// Open this in a browser.
    pub url: Url,
    /// What to remember for the exchange (state, redirect URI, PKCE verifier).
    pub pending: PendingAuthorization,
}

/// Saved between `auth url` and `auth exchange` (a 0600 file). `Debug` hides the verifier.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// The login URL the authorize URL was built for.
    pub login_url: String,
    /// The consumer key used.
    pub client_id: String,
    /// The redirect URI sent (the exchange must send the same).
    pub redirect_uri: String,
    /// The random `state` sent; the success URL must carry it back.
    pub state: String,
    /// The PKCE code verifier, when `--pkce` was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<String>,
}

impl std::fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("login_url", &self.login_url)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("state", &self.state)
            .field("code_verifier", &self.code_verifier.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl PendingAuthorization {
    /// Writes it atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), AuthError> {
        let json = serde_json::to_string(self).map_err(|error| {
            AuthError::Internal(format!("cannot encode the pending authorization: {error}"))
        })?;
        crate::rotation::write_secret_file(path, &SecretString::from(json)).map_err(|source| {
            AuthError::File {
                what: "cannot write the pending authorization (state and PKCE verifier) to".to_string(),
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Reads a file written by [`PendingAuthorization::save`]; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<PendingAuthorization>, AuthError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(AuthError::File {
                    what: "cannot read the pending authorization".to_string(),
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|error| {
            AuthError::Flow(format!(
                "the pending authorization in {} is damaged ({error}); run `sfconn auth url` again",
                path.display()
            ))
        })
    }
}

/// What was pasted into `auth exchange`, decoded.
#[derive(Clone)]
pub struct CodeInput {
    /// The authorization code, decoded.
    pub code: SecretString,
    /// The `state` of a pasted success URL.
    pub state: Option<String>,
}

impl std::fmt::Debug for CodeInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeInput").field("code", &"[REDACTED]").field("state", &self.state).finish()
    }
}

/// The result of a flow: a new refresh token and the first access token.
#[derive(Debug)]
pub struct Grant {
    /// The new refresh token. Print it only where the user asked for it.
    pub refresh_token: SecretString,
    /// The access token that came with it.
    pub access_token: AccessToken,
}

/// The answer to the device authorization request. `Debug` hides the device code.
#[derive(Deserialize)]
pub struct DeviceAuthorization {
    /// Show this to the user.
    pub user_code: String,
    /// Poll with this (form field `code`).
    pub device_code: SecretString,
    /// Seconds between polls.
    #[serde(default = "default_interval")]
    pub interval: u64,
    /// Where the user enters the code.
    pub verification_uri: String,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("device_code", &"[REDACTED]")
            .field("interval", &self.interval)
            .field("verification_uri", &self.verification_uri)
            .finish()
    }
}

fn default_interval() -> u64 {
    5
}

/// How the device flow polls.
#[derive(Debug, Clone, Copy)]
pub struct DevicePolling {
    /// Give up after this long.
    pub timeout: Duration,
    /// Added to the interval on each `slow_down` (RFC 8628: 5 seconds).
    pub slow_down_step: Duration,
}

impl Default for DevicePolling {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(600), slow_down_step: Duration::from_secs(5) }
    }
}

impl OAuthClient {
    /// Checks the login URL and builds the client. Sends nothing.
    pub fn new(
        login_url: Url,
        client_id: String,
        client_secret: Option<SecretString>,
        options: AuthOptions,
        counter: RequestCounter,
    ) -> Result<OAuthClient, AuthError> {
        check_configured_url(&login_url, "the login URL (login_url)")?;
        // A flow is not part of a run: nothing else can stop it.
        let http = OAuthHttp::new(login_url, &options, counter, RunCancel::new())?;
        Ok(OAuthClient { http, client_id, client_secret })
    }

    pub(crate) fn http(&self) -> &OAuthHttp {
        &self.http
    }

    /// The redirect URI used when none is given: `/services/oauth2/success` on the login host.
    pub fn default_redirect_uri(&self) -> Url {
        oauth_endpoint(self.http.login_url(), "success")
    }

    /// Builds the authorize URL (`response_type=code`, client id, redirect URI, scope, a random
    /// `state`, and with PKCE an S256 `code_challenge`).
    pub fn authorize_request(&self, params: &AuthorizeParams) -> Result<AuthorizeRequest, AuthError> {
        let redirect_uri = params.redirect_uri.clone().unwrap_or_else(|| self.default_redirect_uri());
        let scope =
            params.scope.as_deref().map(str::trim).filter(|scope| !scope.is_empty()).unwrap_or(DEFAULT_SCOPE);
        let state = random_token(16)?;
        let code_verifier = if params.pkce { Some(random_token(32)?) } else { None };
        let mut url = oauth_endpoint(self.http.login_url(), "authorize");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", redirect_uri.as_str())
                .append_pair("scope", scope)
                .append_pair("state", &state);
            if let Some(verifier) = &code_verifier {
                query
                    .append_pair("code_challenge", &pkce_challenge(verifier))
                    .append_pair("code_challenge_method", "S256");
            }
        }
        Ok(AuthorizeRequest {
            url,
            pending: PendingAuthorization {
                login_url: self.http.login_url().to_string(),
                client_id: self.client_id.clone(),
                redirect_uri: redirect_uri.to_string(),
                state,
                code_verifier,
            },
        })
    }

    /// Exchanges an authorization code for a refresh token (`grant_type=authorization_code`).
    /// With `pending`, the state must match and its redirect URI and PKCE verifier are sent;
    /// without it, `redirect_uri` (or the default) is sent.
    pub async fn exchange_code(
        &self,
        input: &CodeInput,
        pending: Option<&PendingAuthorization>,
        redirect_uri: Option<&Url>,
    ) -> Result<Grant, AuthError> {
        if let (Some(pending), Some(state)) = (pending, &input.state)
            && pending.state != *state
        {
            return Err(AuthError::Flow(
                "the state in the pasted URL does not match the one `sfconn auth url` created: this success URL \
                 belongs to another authorization (or was tampered with); run `sfconn auth url` again and paste \
                 the URL the browser ends on"
                    .to_string(),
            ));
        }
        let redirect = match (redirect_uri, pending) {
            (Some(uri), _) => uri.to_string(),
            (None, Some(pending)) => pending.redirect_uri.clone(),
            (None, None) => self.default_redirect_uri().to_string(),
        };
        let endpoint = oauth_endpoint(self.http.login_url(), "token");
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", input.code.expose_secret()),
            ("client_id", &self.client_id),
            ("redirect_uri", &redirect),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose_secret()));
        }
        if let Some(verifier) = pending.and_then(|pending| pending.code_verifier.as_deref()) {
            form.push(("code_verifier", verifier));
        }
        let response: TokenResponse = self.http.post_form(&endpoint, &form, "a token response").await?;
        grant_from(response)
    }

    /// Starts the device flow (`response_type=device_code`).
    pub async fn start_device(&self, scope: Option<&str>) -> Result<DeviceAuthorization, AuthError> {
        let endpoint = oauth_endpoint(self.http.login_url(), "token");
        let scope = scope.map(str::trim).filter(|scope| !scope.is_empty()).unwrap_or(DEFAULT_SCOPE);
        let form =
            [("response_type", "device_code"), ("client_id", self.client_id.as_str()), ("scope", scope)];
        let device: DeviceAuthorization =
            self.http.post_form(&endpoint, &form, "a device authorization response").await?;
        crate::urls::parse_returned_url(
            &device.verification_uri,
            "the verification_uri returned by Salesforce",
        )?;
        Ok(device)
    }

    /// Polls until the user approved (`grant_type=device`, field `code`), honouring
    /// `authorization_pending` and `slow_down`, and gives up after `polling.timeout`.
    pub async fn poll_device(
        &self,
        device: &DeviceAuthorization,
        polling: DevicePolling,
    ) -> Result<Grant, AuthError> {
        let endpoint = oauth_endpoint(self.http.login_url(), "token");
        let started = tokio::time::Instant::now();
        let mut interval = Duration::from_secs(device.interval);
        loop {
            let mut form: Vec<(&str, &str)> = vec![
                ("grant_type", "device"),
                ("client_id", &self.client_id),
                ("code", device.device_code.expose_secret()),
            ];
            if let Some(secret) = &self.client_secret {
                form.push(("client_secret", secret.expose_secret()));
            }
            match self.http.post_form::<TokenResponse>(&endpoint, &form, "a token response").await {
                Ok(response) => return grant_from(response),
                Err(AuthError::Refused(refusal)) => {
                    match refusal.error.trim().to_ascii_lowercase().as_str() {
                        "authorization_pending" => {}
                        "slow_down" => interval += polling.slow_down_step,
                        _ => return Err(AuthError::Refused(refusal)),
                    }
                }
                Err(other) => return Err(other),
            }
            if started.elapsed() + interval > polling.timeout {
                return Err(AuthError::Flow(format!(
                    "nobody approved the device code {} within {} s; run `sfconn auth device` again and enter the \
                     code at {}",
                    device.user_code,
                    polling.timeout.as_secs(),
                    device.verification_uri
                )));
            }
            tokio::time::sleep(interval).await;
        }
    }
}

fn grant_from(response: TokenResponse) -> Result<Grant, AuthError> {
    let (access_token, refresh_token) = AccessToken::from_response(response, 1)?;
    let refresh_token = refresh_token.ok_or_else(|| {
        AuthError::Flow(
            "Salesforce granted access but returned no refresh token: the connected app's selected OAuth scopes \
             must include \"Perform requests at any time (refresh_token, offline_access)\", and the requested \
             scope must include refresh_token"
                .to_string(),
        )
    })?;
    Ok(Grant { refresh_token, access_token })
}

/// Reads a `--redirect-uri`: an absolute URL such as the app's Callback URL.
pub fn parse_redirect_uri(raw: &str) -> Result<Url, AuthError> {
    Url::parse(raw.trim()).map_err(|error| {
        AuthError::Flow(format!(
            "the redirect URI {raw:?} is not an absolute URL ({error}); use one of the app's Callback URLs, \
             e.g. https://login.salesforce.com/services/oauth2/success"
        ))
    })
}

/// Reads what the user pasted: a bare code, a URL-encoded code, the query string, or the whole
/// success URL. An `error=` in the URL becomes a clear error naming Salesforce's code and text.
pub fn parse_code_input(input: &str) -> Result<CodeInput, AuthError> {
    let input = input.trim().trim_matches(|c| c == '"' || c == '\'');
    if input.is_empty() {
        return Err(AuthError::Flow(
            "no authorization code given: paste the code, or the whole URL the browser ended on after \
             `sfconn auth url`"
                .to_string(),
        ));
    }
    let query = if input.contains("://") {
        let url = Url::parse(input).map_err(|error| {
            AuthError::Flow(format!(
                "the pasted URL cannot be read ({error}); paste the whole URL from the address bar"
            ))
        })?;
        Some(url.query().unwrap_or("").to_string())
    } else if let Some(rest) = input.strip_prefix('?') {
        Some(rest.to_string())
    } else if input.starts_with("code=") || input.contains("&code=") || input.starts_with("error=") {
        Some(input.to_string())
    } else {
        None
    };
    let Some(query) = query else {
        let code = percent_decode(input);
        return Ok(CodeInput { code: SecretString::from(code), state: None });
    };
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "code" => code = Some(value.into_owned()),
            "state" => state = Some(value.into_owned()),
            "error" => error = Some(value.into_owned()),
            "error_description" => description = Some(value.into_owned()),
            _ => {}
        }
    }
    if let Some(error) = error {
        let description = description.unwrap_or_default();
        let refusal = crate::Refusal::classify(&error, &description, 400, "");
        return Err(AuthError::Flow(format!(
            "the authorization did not succeed: Salesforce sent {error}{}; {}",
            if description.is_empty() { String::new() } else { format!(" ({description})") },
            refusal.hint()
        )));
    }
    match code {
        Some(code) if !code.trim().is_empty() => Ok(CodeInput { code: SecretString::from(code), state }),
        _ => Err(AuthError::Flow(
            "the pasted URL has no code parameter: paste the URL the browser ended on after approving \
             (it contains ?code=…)"
                .to_string(),
        )),
    }
}

/// Decodes `%XX` escapes; leaves `+` alone (codes may contain it) and keeps invalid escapes.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && index + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[index + 1]), hex(bytes[index + 2]))
        {
            decoded.push(high * 16 + low);
            index += 3;
            continue;
        }
        decoded.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// `base64url(SHA-256(verifier))` without padding (RFC 7636 S256).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn random_token(bytes: usize) -> Result<String, AuthError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|error| AuthError::Internal(format!("no randomness for the OAuth state: {error}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(login: &str) -> OAuthClient {
        let options =
            AuthOptions { timeout: Duration::from_secs(5), retry: crate::retry::RetryPolicy::default() };
        OAuthClient::new(Url::parse(login).unwrap(), "CID".into(), None, options, RequestCounter::default())
            .unwrap()
    }

    #[test]
    fn pkce_challenge_is_unpadded_base64url_sha256() {
        // Expected value computed independently with Python's hashlib + base64.urlsafe_b64encode.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ92K9uhuDpkCbWP7y2NS4X3B5Xo6Y"),
            "LzxSf4WF98MpKYdu6vS_lBJbR5h-WoV_gFCR1PEO4Nc"
        );
    }

    #[test]
    fn authorize_url_has_every_parameter_and_the_login_host() {
        let client = client("https://acme--uat.sandbox.my.salesforce.com");
        let request =
            client.authorize_request(&AuthorizeParams { pkce: true, ..AuthorizeParams::default() }).unwrap();
        assert_eq!(request.url.host_str(), Some("acme--uat.sandbox.my.salesforce.com"));
        assert_eq!(request.url.path(), "/services/oauth2/authorize");
        let pairs: std::collections::HashMap<String, String> =
            request.url.query_pairs().into_owned().collect();
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["client_id"], "CID");
        assert_eq!(
            pairs["redirect_uri"],
            "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/success"
        );
        assert_eq!(pairs["scope"], "api refresh_token offline_access");
        assert_eq!(pairs["state"], request.pending.state);
        assert!(request.pending.state.len() >= 20);
        assert_eq!(pairs["code_challenge_method"], "S256");
        let verifier = request.pending.code_verifier.as_deref().unwrap();
        assert!(verifier.len() >= 43 && !request.url.as_str().contains(verifier));
        assert_eq!(pairs["code_challenge"], pkce_challenge(verifier));
        assert!(!format!("{:?}", request.pending).contains(verifier));
    }

    #[test]
    fn authorize_url_without_pkce_and_with_choices() {
        let client = client("https://login.salesforce.com");
        let params = AuthorizeParams {
            redirect_uri: Some(Url::parse("https://app.example.com/callback").unwrap()),
            scope: Some("api refresh_token".into()),
            pkce: false,
        };
        let first = client.authorize_request(&params).unwrap();
        let second = client.authorize_request(&params).unwrap();
        assert_ne!(first.pending.state, second.pending.state);
        let pairs: std::collections::HashMap<String, String> = first.url.query_pairs().into_owned().collect();
        assert_eq!(pairs["redirect_uri"], "https://app.example.com/callback");
        assert_eq!(pairs["scope"], "api refresh_token");
        assert!(!pairs.contains_key("code_challenge") && first.pending.code_verifier.is_none());
    }

    #[test]
    fn redirect_uris_must_be_absolute() {
        assert_eq!(parse_redirect_uri(" https://x.example/cb ").unwrap().as_str(), "https://x.example/cb");
        assert!(
            parse_redirect_uri("/services/oauth2/success").unwrap_err().to_string().contains("Callback URL")
        );
    }

    #[test]
    fn bare_encoded_query_and_url_codes_decode() {
        let bare = parse_code_input("aPrxsmIEeqM9PiQroGEWx1UiMQ==").unwrap();
        assert_eq!(bare.code.expose_secret(), "aPrxsmIEeqM9PiQroGEWx1UiMQ==");
        assert_eq!(bare.state, None);
        let encoded = parse_code_input(" aPrx+smIEeqM9PiQroGEWx1UiMQ%3D%3D\n").unwrap();
        assert_eq!(encoded.code.expose_secret(), "aPrx+smIEeqM9PiQroGEWx1UiMQ==");
        let url = parse_code_input(
            "https://login.salesforce.com/services/oauth2/success?code=aPrx%2BsmIEeqM9PiQroGEWx1UiMQ%3D%3D&state=s1",
        )
        .unwrap();
        assert_eq!(url.code.expose_secret(), "aPrx+smIEeqM9PiQroGEWx1UiMQ==");
        assert_eq!(url.state.as_deref(), Some("s1"));
        let query = parse_code_input("?code=abc%3D&state=s2").unwrap();
        assert_eq!(query.code.expose_secret(), "abc=");
        assert_eq!(query.state.as_deref(), Some("s2"));
        assert!(!format!("{url:?}").contains("aPrx"));
    }

    #[test]
    fn an_error_in_the_url_is_a_clear_error() {
        let error = parse_code_input(
            "https://login.salesforce.com/services/oauth2/success?error=access_denied&error_description=end-user+denied+authorization&state=s1",
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("access_denied (end-user denied authorization)"), "{message}");
        assert!(message.contains("choose Allow"), "{message}");
        assert!(parse_code_input("https://login.salesforce.com/services/oauth2/success?state=s1").is_err());
        assert!(parse_code_input("   ").is_err());
    }

    #[test]
    fn pending_authorization_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pending.json");
        assert_eq!(PendingAuthorization::load(&path).unwrap(), None);
        let request = client("https://login.salesforce.com")
            .authorize_request(&AuthorizeParams { pkce: true, ..AuthorizeParams::default() })
            .unwrap();
        request.pending.save(&path).unwrap();
        assert_eq!(PendingAuthorization::load(&path).unwrap(), Some(request.pending));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "not json").unwrap();
        assert!(PendingAuthorization::load(&path).unwrap_err().to_string().contains("sfconn auth url"));
    }
}
