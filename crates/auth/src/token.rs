//! The token response and the access token sfconn keeps from it.

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::AuthError;
use crate::urls::parse_returned_url;

/// The access token of a run, with what came with it. `Debug` never shows the secret.
#[derive(Debug)]
pub struct AccessToken {
    secret: SecretString,
    generation: u64,
    /// All REST calls go here (`instance_url`), checked per docs/contract.md §2.
    pub instance_url: Url,
    /// The identity URL (`id`), checked per docs/contract.md §2.
    pub identity_url: Url,
    /// Granted scopes (`scope`, space-separated on the wire).
    pub scopes: Vec<String>,
    /// `issued_at`: milliseconds since the epoch, when Salesforce sent a readable one.
    pub issued_at_ms: Option<u64>,
    /// `token_type`, normally `Bearer`.
    pub token_type: String,
}

impl AccessToken {
    /// The bearer secret. Only put it in an `Authorization` header.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// 1 for the first token of a run, one more for each refresh.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the given scope was granted (e.g. `api`, `refresh_token`).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }

    /// The org id: the part of the identity URL after `/id/`, when it has that shape.
    pub fn org_id(&self) -> Option<&str> {
        let mut segments = self.identity_url.path_segments()?;
        while let Some(segment) = segments.next() {
            if segment == "id" {
                return segments.next().filter(|id| !id.is_empty());
            }
        }
        None
    }

    pub(crate) fn from_response(
        response: TokenResponse,
        generation: u64,
    ) -> Result<(AccessToken, Option<SecretString>), AuthError> {
        let instance_url =
            parse_returned_url(&response.instance_url, "the instance_url returned by Salesforce")?;
        let identity_url = parse_returned_url(&response.id, "the identity URL (id) returned by Salesforce")?;
        let scopes = response.scope.unwrap_or_default().split_whitespace().map(str::to_string).collect();
        let issued_at_ms = response.issued_at.and_then(|raw| raw.trim().parse::<u64>().ok());
        let token = AccessToken {
            secret: response.access_token,
            generation,
            instance_url,
            identity_url,
            scopes,
            issued_at_ms,
            token_type: response.token_type.unwrap_or_else(|| "Bearer".to_string()),
        };
        Ok((token, response.refresh_token))
    }
}

/// The JSON of a successful token response. `issued_at` is a string of digits (milliseconds);
/// `refresh_token` comes with rotation and with the code and device grants.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: SecretString,
    pub(crate) instance_url: String,
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) scope: Option<String>,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub(crate) issued_at: Option<String>,
    #[serde(default)]
    pub(crate) refresh_token: Option<SecretString>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Raw>::deserialize(deserializer)?.map(|raw| match raw {
        Raw::Text(text) => text,
        Raw::Number(number) => number.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> TokenResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_a_modern_token_response() {
        let response = decode(
            r#"{"access_token":"00Dx!AR8","signature":"x","scope":"refresh_token api","instance_url":"https://acme.my.salesforce.com","id":"https://login.salesforce.com/id/00Dx0000000BV7zEAG/005x00000012Q9PAAU","token_type":"Bearer","issued_at":"1278448384422"}"#,
        );
        let (token, rotated) = AccessToken::from_response(response, 1).unwrap();
        assert!(rotated.is_none());
        assert_eq!(token.instance_url.as_str(), "https://acme.my.salesforce.com/");
        assert_eq!(token.scopes, ["refresh_token", "api"]);
        assert!(token.has_scope("api") && !token.has_scope("full"));
        assert_eq!(token.issued_at_ms, Some(1_278_448_384_422));
        assert_eq!(token.org_id(), Some("00Dx0000000BV7zEAG"));
        assert_eq!(token.generation(), 1);
        assert!(!format!("{token:?}").contains("00Dx!AR8"));
    }

    #[test]
    fn tolerates_missing_optional_fields_and_numeric_issued_at() {
        let response = decode(
            r#"{"access_token":"a","instance_url":"https://na1.salesforce.com","id":"https://login.salesforce.com/id/1/2","issued_at":1278448384422,"refresh_token":"r2"}"#,
        );
        let (token, rotated) = AccessToken::from_response(response, 3).unwrap();
        assert!(token.scopes.is_empty());
        assert_eq!(token.token_type, "Bearer");
        assert_eq!(token.issued_at_ms, Some(1_278_448_384_422));
        assert!(rotated.is_some());
    }

    #[test]
    fn refuses_http_instance_url_off_loopback() {
        let response = decode(
            r#"{"access_token":"a","instance_url":"http://acme.my.salesforce.com","id":"https://login.salesforce.com/id/1/2"}"#,
        );
        let error = AccessToken::from_response(response, 1).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the instance_url returned by Salesforce http://acme.my.salesforce.com/")
        );
    }
}
