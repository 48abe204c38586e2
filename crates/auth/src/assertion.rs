//! The JWT bearer assertion (RFC 7523) that Salesforce's `jwt_bearer` flow exchanges for an
//! access token: RS256, `iss` = consumer key, `sub` = username, `aud` = the authorization
//! server, `exp` = a short time ahead. Signed with `jsonwebtoken`; the key never leaves here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use crate::AuthError;
use crate::urls::is_loopback_host;

/// How far ahead `exp` is set. Salesforce wants the assertion to expire within 3 minutes;
/// two leave room for a clock that runs a little fast.
const LIFETIME: Duration = Duration::from_secs(120);

/// Signs assertions for one user of one app. `Debug` never shows the key.
pub struct JwtSigner {
    key: EncodingKey,
    issuer: String,
    subject: String,
    audience: String,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audience", &self.audience)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

impl JwtSigner {
    /// Reads the PEM private key (PKCS#8 or PKCS#1 RSA). `login_url` decides the audience
    /// ([`audience_for`]).
    pub fn new(
        client_id: &str,
        username: &str,
        private_key_pem: &SecretString,
        login_url: &Url,
    ) -> Result<JwtSigner, AuthError> {
        let key = EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes()).map_err(|error| {
            AuthError::Key(format!(
                "the private key (auth.private_key_file) is not a readable RSA key ({}); it must be the \
                 unencrypted PEM key whose certificate is uploaded to the app, e.g. made with `openssl req \
                 -x509 -newkey rsa:2048 -nodes -keyout sfconn.key -out sfconn.crt`",
                error.kind_text()
            ))
        })?;
        Ok(JwtSigner {
            key,
            issuer: client_id.to_string(),
            subject: username.to_string(),
            audience: audience_for(login_url),
        })
    }

    /// The `aud` claim this signer uses.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The `sub` claim (the username).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// A fresh signed assertion.
    pub(crate) fn assertion(&self) -> Result<SecretString, AuthError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let claims = Claims {
            iss: &self.issuer,
            sub: &self.subject,
            aud: &self.audience,
            exp: (now + LIFETIME).as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(SecretString::from)
            .map_err(|error| AuthError::Key(format!("cannot sign the JWT assertion: {}", error.kind_text())))
    }
}

/// The `aud` Salesforce expects: `https://test.salesforce.com` for sandboxes
/// (`test.salesforce.com` itself, or a `*.sandbox.my.salesforce.com` My Domain),
/// `https://login.salesforce.com` for every other Salesforce host, and the login URL itself on
/// loopback (the simulated org).
pub fn audience_for(login_url: &Url) -> String {
    if is_loopback_host(login_url) {
        return login_url.as_str().trim_end_matches('/').to_string();
    }
    let host = login_url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
    if host == "test.salesforce.com" || host.ends_with(".sandbox.my.salesforce.com") {
        "https://test.salesforce.com".to_string()
    } else {
        "https://login.salesforce.com".to_string()
    }
}

/// The error's kind without its `Display`, which for some kinds may quote key material.
trait KindText {
    fn kind_text(&self) -> String;
}

impl KindText for jsonwebtoken::errors::Error {
    fn kind_text(&self) -> String {
        use jsonwebtoken::errors::ErrorKind;
        match self.kind() {
            ErrorKind::InvalidKeyFormat => "invalid key format".to_string(),
            ErrorKind::InvalidRsaKey(_) => "invalid RSA key".to_string(),
            ErrorKind::Base64(_) => "bad base64 inside the PEM".to_string(),
            other => format!("{other:?}").chars().take_while(|c| c.is_ascii_alphanumeric()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_follows_the_kind_of_org() {
        let aud = |url: &str| audience_for(&Url::parse(url).unwrap());
        assert_eq!(aud("https://login.salesforce.com"), "https://login.salesforce.com");
        assert_eq!(aud("https://acme.my.salesforce.com"), "https://login.salesforce.com");
        assert_eq!(aud("https://test.salesforce.com"), "https://test.salesforce.com");
        assert_eq!(aud("https://acme--uat.sandbox.my.salesforce.com/"), "https://test.salesforce.com");
        assert_eq!(aud("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
    }

    #[test]
    fn the_assertion_carries_the_claims_salesforce_checks_and_expires_within_three_minutes() {
        use base64::Engine;
        let pem = SecretString::from(
            include_str!("../../../fixtures/test-only-jwt/TEST-ONLY-sfconn-jwt.key").to_string(),
        );
        let url = Url::parse("https://acme--uat.sandbox.my.salesforce.com").unwrap();
        let signer = JwtSigner::new("3MVG9-key", "jo@acme.com.uat", &pem, &url).unwrap();
        assert!(!format!("{signer:?}").contains("BEGIN"), "Debug hides the key");
        let assertion = signer.assertion().unwrap();
        let parts: Vec<&str> = assertion.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |part: &str| -> serde_json::Value {
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap())
                .unwrap()
        };
        assert_eq!(decode(parts[0])["alg"], "RS256");
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "3MVG9-key");
        assert_eq!(claims["sub"], "jo@acme.com.uat");
        assert_eq!(claims["aud"], "https://test.salesforce.com");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let exp = claims["exp"].as_u64().unwrap();
        assert!(exp > now && exp <= now + 180, "exp {exp} must be in the next 3 minutes after {now}");
    }

    #[test]
    fn a_key_that_is_not_rsa_pem_is_a_clear_error_without_its_content() {
        let pem = SecretString::from(
            "-----BEGIN PRIVATE KEY-----\nTk9UQUtFWVNFQ1JFVENPTlRFTlQ=\n-----END PRIVATE KEY-----\n"
                .to_string(),
        );
        let url = Url::parse("https://acme.my.salesforce.com").unwrap();
        let error = JwtSigner::new("CID", "jo@acme.com", &pem, &url).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("auth.private_key_file") && message.contains("openssl req"), "{message}");
        assert!(!message.contains("Tk9UQUtF"), "{message}");
        assert_eq!(sfconn_errors::Classify::class(&error), sfconn_errors::ErrorClass::Configuration);
    }
}
