//! Every way authentication can fail, each with its [`ErrorClass`] and a message that
//! keeps Salesforce's code and text and says what to do.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use sfconn_errors::{Classify, ErrorClass};

/// Why the token endpoint (or a flow around it) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Salesforce answered with an OAuth error (`error` / `error_description`).
    #[error(transparent)]
    Refused(#[from] Refusal),

    /// The login URL answered with a redirect: it is not the token endpoint's host.
    #[error(
        "the login URL {login_url} answered the token request with a redirect (HTTP {status}{location}); \
         the login URL is wrong: use https://login.salesforce.com, https://test.salesforce.com for a sandbox, \
         or the org's My Domain URL (https://NAME.my.salesforce.com)"
    )]
    Redirected {
        /// The configured login URL.
        login_url: String,
        /// HTTP status of the redirect.
        status: u16,
        /// `" to <Location>"` when the server named one, else empty.
        location: String,
    },

    /// The login URL answered with something that is not a Salesforce OAuth JSON response.
    #[error(
        "{endpoint} answered HTTP {status} with {content_type} instead of Salesforce OAuth JSON; \
         the login URL is not a Salesforce authorization server: use https://login.salesforce.com, \
         https://test.salesforce.com for a sandbox, or the org's My Domain URL"
    )]
    NotAuthorizationServer {
        /// The URL that was called (never carries secrets).
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// What came back, e.g. `an HTML page` or `a non-JSON body (text/plain)`.
        content_type: String,
    },

    /// A successful response that sfconn cannot read.
    #[error("Salesforce returned {what} that sfconn cannot read: {detail}")]
    Unreadable {
        /// What was being read, e.g. `a token response`.
        what: String,
        /// The decode error with its JSON path.
        detail: String,
    },

    /// A URL that is neither https nor http on a loopback host (docs/contract.md §2).
    #[error(
        "{what} {url} is not allowed: sfconn only talks to Salesforce over https (http only on \
         loopback hosts: 127.0.0.0/8, ::1, localhost){hint}"
    )]
    InsecureUrl {
        /// Which URL, e.g. `the instance_url returned by Salesforce`.
        what: String,
        /// The URL.
        url: String,
        /// Extra advice, empty or starting with `; `.
        hint: String,
        /// Whether the URL came from the user's settings (configuration) or from Salesforce (bad data).
        from_settings: bool,
    },

    /// The host could not be reached even after retries.
    #[error(
        "cannot reach {url} after {attempts} attempt(s): {detail}; check the login URL, the network and any proxy"
    )]
    Unreachable {
        /// The URL that was called.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last connection error.
        detail: String,
    },

    /// Transient failures (5xx, `unknown_error`, timeouts) outlasted the retry policy.
    #[error(
        "gave up after {attempts} attempt(s) at {url}, the last one: {last}; this is temporary, try again later"
    )]
    RetriesExhausted {
        /// The URL that was called.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt saw.
        last: String,
    },

    /// An unexpected HTTP answer that is not an OAuth error, e.g. 403 from the identity URL.
    #[error("{url} answered HTTP {status}: {detail}{}", http_hint(*status))]
    Http {
        /// The URL that was called.
        url: String,
        /// HTTP status.
        status: u16,
        /// Short description of the body (never a secret).
        detail: String,
    },

    /// A rotated refresh token could not be written to `refresh_token_file`.
    #[error(
        "Salesforce rotated the refresh token but sfconn could not write it to {}: {source}; \
         the old refresh token no longer works: fix the file's directory permissions, then get a new \
         refresh token with `sfconn auth url --pkce`, then `sfconn auth exchange --refresh-token-file {}`",
        path.display(), path.display()
    )]
    PersistRotated {
        /// The configured `refresh_token_file`.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The authorization-code or device flow could not complete for a reason on our side
    /// (pasted URL with `error=`, state mismatch, timeout, …).
    #[error("{0}")]
    Flow(String),

    /// Reading or writing a local file of a flow (e.g. the PKCE verifier) failed.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// What the file is, e.g. `cannot write the PKCE state file`.
        what: String,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A refresh that another caller started failed; this is its error.
    #[error("{0}")]
    Shared(Arc<AuthError>),

    /// The JWT bearer flow's private key cannot be used (never quotes the key).
    #[error("{0}")]
    Key(String),

    /// The settings ask for something the chosen flow cannot do (e.g. revoking a refresh
    /// token under `client_credentials`).
    #[error("{0}")]
    Unsupported(String),
    /// The run was stopped by an earlier fatal failure before this refresh started; the run
    /// reports that failure, not this.
    #[error("not sent: the run was stopped by an earlier failure")]
    Cancelled,

    /// An internal error (e.g. the HTTP client could not be built).
    #[error("internal error: {0}")]
    Internal(String),
}

fn http_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            "; the access token was refused: check the integration user is active and has API Enabled"
        }
        _ => "",
    }
}

impl Classify for AuthError {
    /// Salesforce's OAuth `error` code (e.g. `invalid_grant`), when Salesforce refused.
    fn salesforce_code(&self) -> Option<&str> {
        match self {
            AuthError::Refused(refusal) => Some(&refusal.error),
            AuthError::Shared(error) => error.salesforce_code(),
            _ => None,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            AuthError::Refused(refusal) => refusal.class(),
            // An HTML or non-JSON answer from the token endpoint is a refusal whose
            // message says the login URL is not a Salesforce authorization server.
            AuthError::NotAuthorizationServer { .. } => ErrorClass::AuthRefused,
            AuthError::Redirected { .. } => ErrorClass::Configuration,
            AuthError::Unreadable { .. } => ErrorClass::BadData,
            AuthError::InsecureUrl { from_settings, .. } => {
                if *from_settings {
                    ErrorClass::Configuration
                } else {
                    ErrorClass::BadData
                }
            }
            AuthError::Unreachable { .. } => ErrorClass::Unavailable,
            AuthError::RetriesExhausted { .. } => ErrorClass::Temporary,
            AuthError::Http { status, .. } => match status {
                401 | 403 => ErrorClass::AuthRefused,
                500..=599 => ErrorClass::Temporary,
                _ => ErrorClass::Unavailable,
            },
            AuthError::PersistRotated { .. } => ErrorClass::Configuration,
            AuthError::Flow(_) => ErrorClass::AuthRefused,
            // A full or read-only disk is this machine's problem; a wrong path is the setting's.
            AuthError::File { source, .. } if sfconn_errors::storage_refusal(source.kind()).is_some() => {
                ErrorClass::Io
            }
            AuthError::File { .. } | AuthError::Key(_) | AuthError::Unsupported(_) => {
                ErrorClass::Configuration
            }
            AuthError::Shared(inner) => inner.class(),
            AuthError::Cancelled | AuthError::Internal(_) => ErrorClass::Internal,
        }
    }
}

impl AuthError {
    /// The error itself, looking through [`AuthError::Shared`].
    pub fn root(&self) -> &AuthError {
        match self {
            AuthError::Shared(inner) => inner.root(),
            other => other,
        }
    }

    /// The Salesforce refusal behind this error, if it is one.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            AuthError::Refused(refusal) => Some(refusal),
            AuthError::Shared(inner) => inner.refusal(),
            _ => None,
        }
    }
}

/// The kinds of OAuth refusal sfconn tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalKind {
    /// `invalid_grant` `expired access/refresh token`: revoked, expired by policy, or pushed out.
    ExpiredRefreshToken,
    /// `invalid_grant` `authentication failure…`.
    AuthenticationFailure,
    /// `invalid_grant` `inactive user` (legacy `inactive_user`).
    InactiveUser,
    /// `invalid_grant` `inactive organization` (legacy `inactive_org`).
    InactiveOrganization,
    /// `invalid_grant` `ip restricted…`.
    IpRestricted,
    /// `invalid_grant` `user hasn't approved this consumer`.
    NotApproved,
    /// `invalid_grant` `expired authorization code`: two refreshes at once, or an old code.
    ExpiredAuthorizationCode,
    /// `invalid_grant` `request not supported on this domain`: client credentials sent to
    /// login.salesforce.com or test.salesforce.com instead of the org's My Domain.
    NotMyDomain,
    /// `invalid_grant` `no client credentials user enabled`: the app has no run-as user.
    NoRunAsUser,
    /// `invalid_grant` `audience is invalid`: the JWT's `aud` is not this server.
    InvalidAudience,
    /// `invalid_grant` about the JWT assertion itself (signature, expiry, issuer, subject).
    InvalidAssertion,
    /// `invalid_grant` with another description.
    InvalidGrant,
    /// `invalid_client_id` `client identifier invalid`.
    InvalidClientId,
    /// `invalid_client` / legacy `invalid_client_credentials`.
    InvalidClient,
    /// `oauth_flow_disabled`.
    FlowDisabled,
    /// `invalid_app_access`.
    AppAccess,
    /// `app_blocked`, `app_not_found`, `client_blocked`, `OAUTH_APP_ACCESS_DENIED`, …
    AppBlocked,
    /// `rate_limit_exceeded` / `LOGIN_RATE_EXCEEDED`.
    RateLimited,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_request` (e.g. `invalid code verifier`).
    InvalidRequest,
    /// `invalid_scope`.
    InvalidScope,
    /// `access_denied` (the user denied the authorization).
    AccessDenied,
    /// `redirect_uri_mismatch` / `redirect_uri_missing`.
    RedirectUri,
    /// `invalid_token` from the revoke endpoint: the token is already revoked or expired.
    InvalidToken,
    /// `unsupported_token_type` from the revoke endpoint.
    UnsupportedTokenType,
    /// Any other code, kept as it came.
    Other,
}

/// An OAuth error answer from the token endpoint, classified, with what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// How sfconn classified it.
    pub kind: RefusalKind,
    /// Salesforce's `error` code, as sent.
    pub error: String,
    /// Salesforce's `error_description`, as sent (may be empty).
    pub description: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Host of the login URL that answered (for the sandbox hint).
    pub login_host: String,
}

impl std::error::Error for Refusal {}

impl Classify for Refusal {
    /// Refused, except the login rate limit, which passes: temporary.
    fn class(&self) -> ErrorClass {
        match self.kind {
            RefusalKind::RateLimited => ErrorClass::Temporary,
            _ => ErrorClass::AuthRefused,
        }
    }
}

impl Refusal {
    /// Classifies an OAuth error: `error` first, then `error_description` ignoring case.
    pub fn classify(error: &str, description: &str, status: u16, login_host: &str) -> Refusal {
        let code = error.trim().to_ascii_lowercase();
        let text = description.trim().to_ascii_lowercase();
        let kind = match code.as_str() {
            "invalid_grant" => {
                if text.starts_with("expired access/refresh token") {
                    RefusalKind::ExpiredRefreshToken
                } else if text.starts_with("authentication failure") {
                    RefusalKind::AuthenticationFailure
                } else if text.starts_with("inactive user") {
                    RefusalKind::InactiveUser
                } else if text.starts_with("inactive organization") || text.starts_with("inactive org") {
                    RefusalKind::InactiveOrganization
                } else if text.starts_with("ip restricted") {
                    RefusalKind::IpRestricted
                } else if text.contains("hasn't approved this consumer") || text.contains("has not approved")
                {
                    RefusalKind::NotApproved
                } else if text.starts_with("expired authorization code") {
                    RefusalKind::ExpiredAuthorizationCode
                } else if text.contains("not supported on this domain") {
                    RefusalKind::NotMyDomain
                } else if text.contains("client credentials user") {
                    RefusalKind::NoRunAsUser
                } else if text.contains("audience") {
                    RefusalKind::InvalidAudience
                } else if text.contains("assertion") || text.contains("signature") {
                    RefusalKind::InvalidAssertion
                } else if text.contains("device flow is not enabled") {
                    RefusalKind::FlowDisabled
                } else {
                    RefusalKind::InvalidGrant
                }
            }
            "inactive_user" => RefusalKind::InactiveUser,
            "inactive_org" => RefusalKind::InactiveOrganization,
            "invalid_client_id" => RefusalKind::InvalidClientId,
            "invalid_client" | "invalid_client_credentials" => {
                if text.contains("app must be installed") || text.contains("uninstalled") {
                    RefusalKind::AppBlocked
                } else {
                    RefusalKind::InvalidClient
                }
            }
            "oauth_flow_disabled" => RefusalKind::FlowDisabled,
            "invalid_app_access" => RefusalKind::AppAccess,
            "app_blocked"
            | "fail_close_app_blocked"
            | "app_not_found"
            | "client_blocked"
            | "oauth_app_access_denied" => RefusalKind::AppBlocked,
            "rate_limit_exceeded" | "login_rate_exceeded" => RefusalKind::RateLimited,
            "unsupported_grant_type" => RefusalKind::UnsupportedGrantType,
            "invalid_request" => RefusalKind::InvalidRequest,
            "invalid_scope" => RefusalKind::InvalidScope,
            "access_denied" => RefusalKind::AccessDenied,
            "redirect_uri_mismatch" | "redirect_uri_missing" => RefusalKind::RedirectUri,
            "invalid_token" => RefusalKind::InvalidToken,
            "unsupported_token_type" => RefusalKind::UnsupportedTokenType,
            _ => RefusalKind::Other,
        };
        Refusal {
            kind,
            error: error.to_string(),
            description: description.to_string(),
            status,
            login_host: login_host.to_ascii_lowercase(),
        }
    }

    /// What the user or the admin should do.
    pub fn hint(&self) -> String {
        const NEW_TOKEN: &str = "get a new refresh token with `sfconn auth url --pkce`, then \
                                 `sfconn auth exchange`";
        match self.kind {
            RefusalKind::ExpiredRefreshToken => format!(
                "the refresh token was revoked, expired by the app's refresh token policy, or pushed out \
                 because Salesforce keeps at most five refresh tokens per user per app (a sixth approval \
                 revokes the oldest); {NEW_TOKEN}, and store it where only sfconn uses it"
            ),
            RefusalKind::AuthenticationFailure => {
                if self.login_host == "login.salesforce.com" {
                    "the login URL is https://login.salesforce.com: is this a sandbox? use \
                     https://test.salesforce.com or the org's My Domain URL as login_url; otherwise the \
                     refresh token belongs to another org or user: get a new one with `sfconn auth url --pkce`"
                        .to_string()
                } else {
                    format!(
                        "check that login_url is the org's authorization server (https://login.salesforce.com \
                         for production, https://test.salesforce.com for sandboxes, or the My Domain URL) and \
                         that the refresh token was issued there; {NEW_TOKEN}"
                    )
                }
            }
            RefusalKind::InactiveUser => format!(
                "the integration user is deactivated, frozen or locked: an admin must reactivate it (Setup > \
                 Users) or you must use another user; then {NEW_TOKEN}"
            ),
            RefusalKind::InactiveOrganization => "the org is inactive (expired trial, deleted or refreshed \
                 sandbox, or locked): check login_url points at the right org; a refreshed sandbox needs a new \
                 refresh token"
                .to_string(),
            RefusalKind::IpRestricted => "the login was refused by IP restrictions or login hours: an admin \
                 must add this machine's address to the profile's Login IP Ranges (and check its Login Hours), \
                 or set the app's IP Relaxation policy to \"Enforce IP restrictions, but relax for refresh \
                 tokens\" (External Client Apps Manager > the app > Edit Policies; connected app: Manage \
                 Connected Apps > Edit Policies)"
                .to_string(),
            RefusalKind::NotApproved => "the user is not pre-authorized for this app (the JWT bearer flow \
                 and apps set to \"Admin approved users are pre-authorized\" need that): an admin must assign \
                 the app to the user's permission set (External Client Apps Manager > the app > Edit Policies: \
                 Permitted Users and the permission sets; connected app: Manage Connected Apps > Permission Sets) and assign that \
                 permission set to the user"
                .to_string(),
            RefusalKind::ExpiredAuthorizationCode => "Salesforce rejects two refreshes with the same refresh \
                 token at the same moment: make sure no other process or scheduled job uses this refresh token, \
                 then retry; if this came from `sfconn auth exchange`, the code was already used or is older than \
                 a few minutes: run `sfconn auth url` again and paste the new URL promptly"
                .to_string(),
            RefusalKind::NotMyDomain => "the client credentials flow works only on the org's own My Domain: \
                 set login_url to https://NAME.my.salesforce.com (sandbox: \
                 https://NAME--SANDBOX.sandbox.my.salesforce.com), as shown in Setup > My Domain"
                .to_string(),
            RefusalKind::NoRunAsUser => "the app has no run-as user for the client credentials flow: an admin \
                 must tick \"Enable Client Credentials Flow\" and choose the integration user as Run As \
                 (External Client Apps Manager > the app > Edit Policies > OAuth Policies; the run-as user must have \
                 the API Only User permission)"
                .to_string(),
            RefusalKind::InvalidAudience => "the JWT's audience (aud) is not this authorization server: use \
                 https://login.salesforce.com (or the production My Domain) as login_url for production and \
                 https://test.salesforce.com (or the sandbox My Domain) for a sandbox; sfconn derives aud from \
                 login_url"
                .to_string(),
            RefusalKind::InvalidAssertion => "Salesforce did not accept the signed JWT: the certificate uploaded \
                 to the app (\"Use digital signatures\") must belong to auth.private_key_file, client_id must be \
                 that app's consumer key, auth.username must be the user's exact Salesforce username, and this \
                 machine's clock must be right (the assertion expires after 2 minutes)"
                .to_string(),
            RefusalKind::InvalidToken => "Salesforce does not know this token: it was already revoked or has \
                 expired"
                .to_string(),
            RefusalKind::UnsupportedTokenType => "the revoke endpoint takes a refresh token or an access token; \
                 check refresh_token_file holds a refresh token"
                .to_string(),
            RefusalKind::InvalidGrant => format!("Salesforce refused the grant; {NEW_TOKEN}"),
            RefusalKind::InvalidClientId => "check client_id (the connected app's Consumer Key); a new or \
                 regenerated consumer key takes up to 10 minutes to work, so wait and retry if the app was \
                 just created or its consumer details regenerated"
                .to_string(),
            RefusalKind::InvalidClient => "check the consumer secret (client_secret / client_secret_file): \
                 it must be the Consumer Secret of the app whose Consumer Key is client_id; after \
                 regenerating consumer details allow up to 10 minutes"
                .to_string(),
            RefusalKind::FlowDisabled => "this OAuth flow is disabled for the app: an admin must tick \
                 \"Enable for Device Flow\" in the connected app's OAuth settings (External Client Apps: \
                 enable the device flow in the OAuth settings), or use `sfconn auth url` + `sfconn auth \
                 exchange` instead"
                .to_string(),
            RefusalKind::AppAccess => "the user may not use this app: an admin must select the user's \
                 permission set in the app's policies (External Client Apps Manager > the app > Edit Policies; \
                 connected app: Manage Connected Apps > Permission Sets)"
                .to_string(),
            RefusalKind::AppBlocked => "the connected app is blocked, not found or not installed in this org: \
                 an admin must install the app (Setup > Connected Apps OAuth Usage > Install) or unblock it, \
                 or grant the user \"Approve Uninstalled Connected Apps\""
                .to_string(),
            RefusalKind::RateLimited => "too many logins for this user (Salesforce allows about 3,600 per \
                 hour): wait, and do not run sfconn in a tight loop"
                .to_string(),
            RefusalKind::UnsupportedGrantType => "the app does not allow this grant type: an admin must \
                 enable the flow that auth.flow names in the app's OAuth settings (Enable Client Credentials \
                 Flow; Enable JWT Bearer Flow with the certificate; for refresh_token the refresh_token scope)"
                .to_string(),
            RefusalKind::InvalidRequest => format!(
                "the request was refused; for `auth exchange` with PKCE, run `sfconn auth url --pkce` and \
                 `sfconn auth exchange` on the same machine so the code verifier matches; {NEW_TOKEN}"
            ),
            RefusalKind::InvalidScope => "the app does not allow the requested scopes: an admin must add \
                 \"Manage user data via APIs (api)\" and \"Perform requests at any time (refresh_token, \
                 offline_access)\" to the app's selected OAuth scopes"
                .to_string(),
            RefusalKind::AccessDenied => "the authorization was denied in the browser: run `sfconn auth url` \
                 again and choose Allow"
                .to_string(),
            RefusalKind::RedirectUri => "the redirect URI does not match the app's Callback URL: add \
                 https://login.salesforce.com/services/oauth2/success (on your login host) to the app's \
                 Callback URL, or pass the app's callback with --redirect-uri to both `auth url` and \
                 `auth exchange`"
                .to_string(),
            RefusalKind::Other => "Salesforce refused the request; check the connected app's OAuth settings \
                 and the integration user"
                .to_string(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salesforce refused authentication: {}", self.error)?;
        if !self.description.is_empty() {
            write!(f, " ({})", self.description)?;
        }
        write!(f, "; {}", self.hint())
    }
}
