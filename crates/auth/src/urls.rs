//! Contract §2: every URL sfconn talks to is https, except http on loopback hosts.

use std::net::IpAddr;

use url::{Host, Url};

use crate::AuthError;

/// Whether the URL's host is a loopback host: `127.0.0.0/8`, `::1` or `localhost`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost"
        }
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Accepts `https` URLs, and `http` only on loopback hosts; refuses anything else.
/// `what` names the URL in the error, e.g. `the instance_url returned by Salesforce`.
pub fn check_salesforce_url(url: &Url, what: &str) -> Result<(), AuthError> {
    let allowed = match url.scheme() {
        "https" => url.host().is_some(),
        "http" => is_loopback_host(url),
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    let hint = if url.scheme() == "http" {
        "; Salesforce itself only uses https".to_string()
    } else {
        String::new()
    };
    Err(AuthError::InsecureUrl { what: what.to_string(), url: url.to_string(), hint, from_settings: false })
}

/// Like [`check_salesforce_url`] for a URL from the user's settings (a configuration error instead of bad data).
pub(crate) fn check_configured_url(url: &Url, what: &str) -> Result<(), AuthError> {
    check_salesforce_url(url, what).map_err(|error| match error {
        AuthError::InsecureUrl { what, url, .. } => AuthError::InsecureUrl {
            what,
            url,
            hint:
                "; use https://login.salesforce.com, https://test.salesforce.com or the org's My Domain URL"
                    .to_string(),
            from_settings: true,
        },
        other => other,
    })
}

/// Parses a URL handed back by Salesforce and checks it.
pub(crate) fn parse_returned_url(raw: &str, what: &str) -> Result<Url, AuthError> {
    let url = Url::parse(raw.trim()).map_err(|error| AuthError::Unreadable {
        what: what.to_string(),
        detail: format!("{raw:?} is not a URL: {error}"),
    })?;
    check_salesforce_url(&url, what)?;
    Ok(url)
}

/// `{base}/services/oauth2/{leaf}`, keeping any path prefix of the base (a My Domain URL has none,
/// a test server may have one).
pub(crate) fn oauth_endpoint(base: &Url, leaf: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    let path = format!("{}/services/oauth2/{leaf}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfconn_errors::{Classify, ErrorClass};

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback_host(&url("http://127.0.0.1:8080")));
        assert!(is_loopback_host(&url("http://127.3.4.5/")));
        assert!(is_loopback_host(&url("http://[::1]:99/")));
        assert!(is_loopback_host(&url("http://localhost:1/")));
        assert!(is_loopback_host(&url("http://LocalHost./")));
        assert!(!is_loopback_host(&url("http://128.0.0.1/")));
        assert!(!is_loopback_host(&url("http://localhost.evil.io/")));
        assert!(!is_loopback_host(&url("http://[::2]/")));
        assert!(!is_loopback_host(&url("http://example.my.salesforce.com/")));
    }

    #[test]
    fn https_everywhere_http_only_on_loopback() {
        assert!(check_salesforce_url(&url("https://acme.my.salesforce.com"), "x").is_ok());
        assert!(check_salesforce_url(&url("http://127.0.0.1:9/"), "x").is_ok());
        let refused =
            check_salesforce_url(&url("http://acme.my.salesforce.com"), "the instance_url").unwrap_err();
        assert_eq!(refused.class(), ErrorClass::BadData);
        assert!(refused.to_string().contains("the instance_url http://acme.my.salesforce.com/"));
        assert!(check_salesforce_url(&url("ftp://127.0.0.1/"), "x").is_err());
        assert_eq!(
            check_configured_url(&url("http://login.salesforce.com"), "login_url").unwrap_err().class(),
            ErrorClass::Configuration
        );
    }

    #[test]
    fn endpoints_keep_a_path_prefix() {
        assert_eq!(
            oauth_endpoint(&url("https://login.salesforce.com"), "token").as_str(),
            "https://login.salesforce.com/services/oauth2/token"
        );
        assert_eq!(
            oauth_endpoint(&url("http://127.0.0.1:5/org1/"), "authorize").as_str(),
            "http://127.0.0.1:5/org1/services/oauth2/authorize"
        );
    }
}
