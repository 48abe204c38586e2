//! The `[auth]` table: which OAuth flow gets the access token, and what each flow
//! needs. The contract is silent on these keys; docs/configuration.md records the decisions.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::Need;
use crate::error::Origin;
use crate::resolve::{Reader, SecretKeys, resolve_path, secret_setting};

/// How sfconn gets its access token (`auth.flow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthFlow {
    /// `refresh_token` (default): a refresh token from `sfconn auth url` + `exchange` (or
    /// `auth device`), refreshed on each run and rotated when the app says so.
    #[default]
    RefreshToken,
    /// `client_credentials`: the app's consumer key and secret; Salesforce runs the session as
    /// the app's run-as user. Needs the org's My Domain as `login_url`.
    ClientCredentials,
    /// `jwt_bearer`: an RS256 assertion for `auth.username`, signed with the key whose
    /// certificate is uploaded to the app. No client secret, no refresh token.
    JwtBearer,
}

impl AuthFlow {
    /// Every value, as written in the config file.
    pub const NAMES: [&'static str; 3] = ["refresh_token", "client_credentials", "jwt_bearer"];

    /// The value as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFlow::RefreshToken => "refresh_token",
            AuthFlow::ClientCredentials => "client_credentials",
            AuthFlow::JwtBearer => "jwt_bearer",
        }
    }

    /// Reads a config value, ignoring case and surrounding blanks; `-` counts as `_`.
    pub fn parse(text: &str) -> Option<AuthFlow> {
        match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "refresh_token" => Some(AuthFlow::RefreshToken),
            "client_credentials" => Some(AuthFlow::ClientCredentials),
            "jwt_bearer" => Some(AuthFlow::JwtBearer),
            _ => None,
        }
    }

    /// Whether the flow starts from a stored refresh token.
    pub fn uses_refresh_token(self) -> bool {
        self == AuthFlow::RefreshToken
    }

    /// Whether the flow sends the consumer secret.
    pub fn needs_client_secret(self) -> bool {
        self != AuthFlow::JwtBearer
    }
}

impl std::fmt::Display for AuthFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a refresh token that Salesforce rotated is kept (`auth.rotated_tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RotatedTokens {
    /// `refresh_token_file` (default): the new token replaces the one in `refresh_token_file`;
    /// when that file cannot be written, the token is kept in the state directory and the run
    /// reports it (docs/security.md, "Rotation").
    #[default]
    RefreshTokenFile,
    /// `state_dir`: `refresh_token_file` is read-only by design (a mounted Kubernetes Secret)
    /// and is never written; the new token is kept in the state directory, and later runs use
    /// the kept token while it is newer than `refresh_token_file`.
    StateDir,
}

impl RotatedTokens {
    /// Every value, as written in the config file.
    pub const NAMES: [&'static str; 2] = ["refresh_token_file", "state_dir"];

    /// The value as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            RotatedTokens::RefreshTokenFile => "refresh_token_file",
            RotatedTokens::StateDir => "state_dir",
        }
    }

    /// Reads a config value, ignoring case and surrounding blanks; `-` counts as `_`.
    pub fn parse(text: &str) -> Option<RotatedTokens> {
        match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "refresh_token_file" => Some(RotatedTokens::RefreshTokenFile),
            "state_dir" => Some(RotatedTokens::StateDir),
            _ => None,
        }
    }
}

/// The effective `[auth]` table.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// `auth.flow`.
    pub flow: AuthFlow,
    /// `auth.rotated_tokens`: where a rotated refresh token goes.
    pub rotated_tokens: RotatedTokens,
    /// `auth.username`: the Salesforce username the JWT assertion names (`sub`).
    pub username: Option<String>,
    /// `auth.private_key_file` (absolute).
    pub private_key_file: Option<PathBuf>,
    /// The PEM text of that file, read only for `jwt_bearer` with [`Need::Everything`].
    pub private_key: Option<SecretString>,
}

/// What [`read`] found, with origins for `config check`.
pub(crate) struct AuthRead {
    pub settings: AuthSettings,
    pub flow_origin: Origin,
    pub rotated_tokens_origin: Origin,
    pub username_origin: Origin,
    pub key_file_origin: Origin,
}

/// Reads and checks the `[auth]` keys. Problems name the key; keys that the chosen flow does
/// not use draw a warning rather than an error.
pub(crate) fn read(
    r: &mut Reader<'_>,
    need: Need,
    warnings: &mut Vec<String>,
    cwd: Option<&Path>,
    home: Option<&Path>,
) -> AuthRead {
    let flow =
        choice(r, "auth.flow", AuthFlow::parse, &AuthFlow::NAMES, "a flow sfconn knows", "docs/setup.md");
    let rotated_tokens = choice(
        r,
        "auth.rotated_tokens",
        RotatedTokens::parse,
        &RotatedTokens::NAMES,
        "a place sfconn keeps rotated refresh tokens",
        "docs/security.md, \"Rotation\"",
    );
    let username = r.text("auth.username");
    let key_file = r.text("auth.private_key_file").map(|(p, o)| (resolve_path(&p, &o, cwd, home), o));
    let jwt = flow.0 == AuthFlow::JwtBearer;
    let mut private_key = None;
    if jwt && need == Need::Everything {
        if username.is_none() && !r.has_problem("auth.username") {
            r.problem(
                "auth.username",
                None,
                "missing: auth.flow = \"jwt_bearer\" needs the Salesforce username of the integration user \
                 (the JWT's subject) as auth.username or SFCONN_AUTH__USERNAME",
            );
        }
        match &key_file {
            Some(file) => {
                let keys = SecretKeys {
                    value: "auth.private_key_file",
                    file: "auth.private_key_file",
                    what: "private key",
                };
                let secret = secret_setting(r, warnings, keys, None, Some(file), true);
                if let Some(secret) = secret {
                    match check_pem(&secret.value).map_err(|m| format!("{} {m}", file.0.display())) {
                        Ok(()) => private_key = Some(secret.value),
                        Err(message) => r.problem("auth.private_key_file", Some(file.1.clone()), message),
                    }
                }
            }
            None if !r.has_problem("auth.private_key_file") => r.problem(
                "auth.private_key_file",
                None,
                "missing: auth.flow = \"jwt_bearer\" needs the PEM file of the private key whose certificate \
                 is uploaded to the app, as auth.private_key_file or SFCONN_AUTH__PRIVATE_KEY_FILE",
            ),
            None => {}
        }
    }
    if !flow.0.uses_refresh_token() && rotated_tokens.1 != Origin::Default {
        warnings.push(format!(
            "auth.rotated_tokens is set but only the refresh_token flow has a refresh token to rotate \
             (auth.flow = \"{}\"); it is ignored",
            flow.0
        ));
    }
    if !jwt {
        for (key, present) in
            [("auth.username", username.is_some()), ("auth.private_key_file", key_file.is_some())]
        {
            if present {
                warnings.push(format!(
                    "{key} is set but only the jwt_bearer flow uses it (auth.flow = \"{}\"); it is ignored",
                    flow.0
                ));
            }
        }
    }
    let (username, username_origin) = split(username);
    let (key_file, key_file_origin) = split(key_file);
    AuthRead {
        settings: AuthSettings {
            flow: flow.0,
            rotated_tokens: rotated_tokens.0,
            username,
            private_key_file: key_file,
            private_key,
        },
        flow_origin: flow.1,
        rotated_tokens_origin: rotated_tokens.1,
        username_origin,
        key_file_origin,
    }
}

/// A key that takes one of a few names: the value and its origin; the default (and a problem
/// that names the key and lists the names) when the value is none of them.
fn choice<T: Default>(
    r: &mut Reader<'_>,
    key: &str,
    parse: fn(&str) -> Option<T>,
    names: &[&str],
    what: &str,
    see: &str,
) -> (T, Origin) {
    let Some((text, origin)) = r.text(key) else {
        return (T::default(), Origin::Default);
    };
    if let Some(value) = parse(&text) {
        return (value, origin);
    }
    let names: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    r.problem(
        key,
        Some(origin.clone()),
        format!("{text:?} is not {what}; use one of {} (see {see})", names.join(", ")),
    );
    (T::default(), origin)
}

fn split<T>(value: Option<(T, Origin)>) -> (Option<T>, Origin) {
    match value {
        Some((value, origin)) => (Some(value), origin),
        None => (None, Origin::Default),
    }
}

/// The client credentials flow only works on the org's own My Domain: the generic login hosts
/// refuse it. Loopback hosts (the simulated org) pass.
pub(crate) fn check_client_credentials_host(url: &Url) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
    if host == "login.salesforce.com" || host == "test.salesforce.com" {
        return Err(format!(
            "is {url}, but auth.flow = \"client_credentials\" must use the org's own My Domain: set login_url to \
             https://NAME.my.salesforce.com (production) or https://NAME--SANDBOX.sandbox.my.salesforce.com \
             (sandbox), as shown in Setup > My Domain"
        ));
    }
    Ok(())
}

/// The file must hold an unencrypted PEM private key (PKCS#8 or PKCS#1 RSA).
fn check_pem(pem: &SecretString) -> Result<(), String> {
    let text = pem.expose_secret();
    if text.contains("BEGIN ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err("holds an encrypted private key, which sfconn cannot unlock: write an unencrypted copy \
                    readable only by sfconn's user (`openssl pkey -in KEY -out sfconn.key && chmod 600 \
                    sfconn.key`)"
            .to_string());
    }
    if text.contains("-----BEGIN PRIVATE KEY-----") || text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return Ok(());
    }
    if text.contains("-----BEGIN CERTIFICATE-----") {
        return Err("holds a certificate, not the private key: the certificate is uploaded to the app; \
                    auth.private_key_file names the key that signed it (-----BEGIN PRIVATE KEY-----)"
            .to_string());
    }
    Err("is not a PEM private key (a file starting with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA \
         PRIVATE KEY-----); see docs/setup.md for how to make one"
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_names_round_trip_and_tolerate_case() {
        for name in AuthFlow::NAMES {
            assert_eq!(AuthFlow::parse(name).map(AuthFlow::as_str), Some(name));
        }
        assert_eq!(AuthFlow::parse(" JWT-Bearer "), Some(AuthFlow::JwtBearer));
        assert_eq!(AuthFlow::parse("password"), None);
        assert!(AuthFlow::RefreshToken.uses_refresh_token() && !AuthFlow::JwtBearer.uses_refresh_token());
        assert!(
            !AuthFlow::JwtBearer.needs_client_secret() && AuthFlow::ClientCredentials.needs_client_secret()
        );
    }

    #[test]
    fn client_credentials_refuses_the_generic_login_hosts_only() {
        for refused in ["https://login.salesforce.com", "https://TEST.salesforce.com."] {
            let message = check_client_credentials_host(&Url::parse(refused).unwrap()).unwrap_err();
            assert!(message.contains("My Domain") && message.contains("NAME.my.salesforce.com"), "{message}");
        }
        for allowed in [
            "https://acme.my.salesforce.com",
            "https://acme--uat.sandbox.my.salesforce.com",
            "http://127.0.0.1:9",
        ] {
            assert!(check_client_credentials_host(&Url::parse(allowed).unwrap()).is_ok(), "{allowed}");
        }
    }

    #[test]
    fn pem_shapes_are_told_apart() {
        let check = |text: &str| check_pem(&SecretString::from(text.to_string()));
        assert!(check("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n").is_ok());
        assert!(check("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n").is_ok());
        assert!(check("-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n").unwrap_err().contains("encrypted"));
        assert!(check("-----BEGIN CERTIFICATE-----\nx\n").unwrap_err().contains("certificate"));
        assert!(check("hello").unwrap_err().contains("not a PEM private key"));
    }
}
