//! The `login_url` setting: an authorization server's address, and the exact fix for the
//! addresses people paste by mistake.
//!
//! Salesforce serves one org under several host names, all derived from its My Domain name
//! (help "My Domain URL Formats"; enhanced domains, on in every org since Winter '24). Only the
//! My Domain login host (`NAME[.PARTITION].my.salesforce.com`), `login.salesforce.com` and
//! `test.salesforce.com` run the OAuth endpoints. For the hosts below the message gives the
//! exact My Domain URL, made by swapping the suffix and keeping everything before it (the My
//! Domain name, `--SANDBOX` and the partition such as `sandbox`, `develop`, `scratch`):
//!
//! | pasted host                         | use                                  |
//! |-------------------------------------|--------------------------------------|
//! | `X.lightning.force.com` (Lightning) | `https://X.my.salesforce.com`        |
//! | `X.my.salesforce-setup.com` (Setup) | `https://X.my.salesforce.com`        |
//! | `X.my.site.com` (Experience Cloud)  | `https://X.my.salesforce.com`        |
//! | `X.my.salesforce-sites.com` (Sites) | `https://X.my.salesforce.com`        |
//! | other `*.force.com` (legacy sites, Visualforce, files) | explained, no exact URL |
//!
//! A path, query or fragment is refused with the base URL to use (a trailing `/` alone is fine).

use url::{Host, Url};

/// The usual choices, ending messages that cannot name one exact URL.
pub(crate) const LOGIN_URL_CHOICES: &str = "use https://login.salesforce.com (production), https://test.salesforce.com (sandbox) \
     or your My Domain URL https://NAME.my.salesforce.com";

/// Host suffixes of an org's other domains, whose prefix is also its My Domain login host's.
const MY_DOMAIN_TWINS: [(&str, &str); 4] = [
    (".lightning.force.com", "is a Lightning Experience address, which cannot log in"),
    (".my.salesforce-setup.com", "is the Setup domain, which cannot log in"),
    (
        ".my.site.com",
        "is an Experience Cloud site, and sfconn logs in as an internal user, not through a site",
    ),
    (
        ".my.salesforce-sites.com",
        "is a Salesforce Site, and sfconn logs in as an internal user, not through a site",
    ),
];

/// A login URL must be https (or http on loopback), the server's address only (no path, query
/// or fragment), and not one of the org's other domains.
pub(crate) fn check_login_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e}); {LOGIN_URL_CHOICES}"))?;
    let host = url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
    if let Some(problem) = wrong_host(&host) {
        return Err(format!("{text:?} {problem}"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "{text:?} must use https (http is allowed only on loopback hosts: 127.0.0.0/8, ::1, localhost)"
            ));
        }
        other => {
            return Err(format!(
                "{text:?} has scheme {other:?}; it must be an https URL: {LOGIN_URL_CHOICES}"
            ));
        }
    }
    if url.host().is_none() {
        return Err(format!("{text:?} has no host; {LOGIN_URL_CHOICES}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    let base = url.origin().ascii_serialization();
    if url.path().contains("/services/") {
        return Err(format!(
            "{text:?} points at an endpoint; give the server's address only: {base} \
             (sfconn adds /services/oauth2/token itself)"
        ));
    }
    let extra = [
        (url.path() != "/", "a path"),
        (url.query().is_some(), "a query"),
        (url.fragment().is_some(), "a fragment"),
    ]
    .into_iter()
    .find_map(|(present, what)| present.then_some(what));
    if let Some(what) = extra {
        return Err(format!("{text:?} has {what}; give the server's address only: {base}"));
    }
    Ok(url)
}

/// What is wrong with a host that is not a login server, with the URL to use when one is known.
fn wrong_host(host: &str) -> Option<String> {
    for (suffix, what) in MY_DOMAIN_TWINS {
        if let Some(prefix) = host.strip_suffix(suffix).filter(|p| !p.is_empty()) {
            return Some(format!("{what}; use the org's My Domain URL https://{prefix}.my.salesforce.com"));
        }
    }
    if host == "lightning.force.com" {
        return Some(format!("is a Lightning Experience address, which cannot log in; {LOGIN_URL_CHOICES}"));
    }
    if host == "force.com" || host.ends_with(".force.com") {
        return Some(
            "is a site, Visualforce or file address on force.com, not a login server; sfconn logs in \
             through the org's My Domain URL https://NAME.my.salesforce.com (Setup > My Domain shows it) \
             or https://login.salesforce.com (https://test.salesforce.com for a sandbox)"
                .into(),
        );
    }
    None
}

/// 127.0.0.0/8, ::1 or `localhost`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        match check_login_url(text) {
            Ok(url) => panic!("{text} was accepted as {url}"),
            Err(message) => message,
        }
    }

    /// The one `https://…` URL a message tells the user to use, when it names exactly one.
    fn suggested(text: &str) -> String {
        let message = refused(text);
        let urls: Vec<&str> = message
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .filter(|word| word.starts_with("https://") && !word.contains("NAME"))
            .collect();
        assert_eq!(urls.len(), 1, "{text}: {message}");
        urls[0].to_string()
    }

    #[test]
    fn lightning_addresses_get_the_exact_my_domain_url() {
        let cases = [
            ("https://acme.lightning.force.com", "https://acme.my.salesforce.com"),
            ("https://acme--uat.sandbox.lightning.force.com", "https://acme--uat.sandbox.my.salesforce.com"),
            (
                "https://acme-dev-ed.develop.lightning.force.com",
                "https://acme-dev-ed.develop.my.salesforce.com",
            ),
            ("https://acme.scratch.lightning.force.com", "https://acme.scratch.my.salesforce.com"),
            ("https://ACME.Lightning.Force.COM/", "https://acme.my.salesforce.com"),
            ("https://acme.lightning.force.com./", "https://acme.my.salesforce.com"),
            (
                "https://acme.lightning.force.com/lightning/setup/SetupOneHome/home",
                "https://acme.my.salesforce.com",
            ),
            ("http://acme.lightning.force.com", "https://acme.my.salesforce.com"),
        ];
        for (pasted, fix) in cases {
            assert_eq!(suggested(pasted), fix, "{pasted}");
            assert!(refused(pasted).contains("Lightning Experience"), "{pasted}");
        }
    }

    #[test]
    fn setup_and_site_domains_get_the_my_domain_url() {
        let cases = [
            ("https://acme.my.salesforce-setup.com", "https://acme.my.salesforce.com", "Setup domain"),
            (
                "https://acme-dev-ed.develop.my.salesforce-setup.com/lightning/setup/Home",
                "https://acme-dev-ed.develop.my.salesforce.com",
                "Setup domain",
            ),
            (
                "https://acme--uat.sandbox.my.salesforce-setup.com",
                "https://acme--uat.sandbox.my.salesforce.com",
                "Setup domain",
            ),
            ("https://acme.my.site.com/partners", "https://acme.my.salesforce.com", "Experience Cloud site"),
            (
                "https://acme--uat.sandbox.my.site.com",
                "https://acme--uat.sandbox.my.salesforce.com",
                "Experience Cloud site",
            ),
            ("https://acme.my.salesforce-sites.com", "https://acme.my.salesforce.com", "Salesforce Site"),
        ];
        for (pasted, fix, what) in cases {
            assert_eq!(suggested(pasted), fix, "{pasted}");
            assert!(refused(pasted).contains(what), "{pasted}");
        }
    }

    #[test]
    fn other_force_com_addresses_are_explained() {
        for pasted in [
            "https://acme.force.com/customers",
            "https://acme.secure.force.com",
            "https://acme--c.vf.force.com",
            "https://lightning.force.com",
        ] {
            let message = refused(pasted);
            assert!(message.contains("https://NAME.my.salesforce.com"), "{pasted}: {message}");
            assert!(message.contains("https://login.salesforce.com"), "{pasted}: {message}");
        }
    }

    #[test]
    fn a_path_query_or_fragment_is_refused_with_the_base_url() {
        let cases = [
            ("https://login.salesforce.com/?locale=fr", "https://login.salesforce.com"),
            ("https://login.salesforce.com/#top", "https://login.salesforce.com"),
            ("https://acme.my.salesforce.com/lightning/setup/Home", "https://acme.my.salesforce.com"),
            ("https://ACME.My.Salesforce.com/home/home.jsp", "https://acme.my.salesforce.com"),
            ("https://test.salesforce.com//", "https://test.salesforce.com"),
            ("https://login.salesforce.com/services/oauth2/token", "https://login.salesforce.com"),
            ("https://acme.my.salesforce.com:8443/x", "https://acme.my.salesforce.com:8443"),
        ];
        for (pasted, base) in cases {
            assert_eq!(suggested(pasted), base, "{pasted}");
        }
        assert!(refused("https://login.salesforce.com/services/oauth2/token").contains("endpoint"));
        assert!(refused("http://127.0.0.1:8080/prefix").contains("http://127.0.0.1:8080"));
    }

    #[test]
    fn login_servers_are_accepted_with_or_without_a_trailing_slash() {
        for text in [
            "https://login.salesforce.com",
            "https://login.salesforce.com/",
            "https://test.salesforce.com",
            "https://acme.my.salesforce.com/",
            "https://acme--uat.sandbox.my.salesforce.com",
            "https://acme-dev-ed.develop.my.salesforce.com",
            "https://acme.scratch.my.salesforce.com",
            "https://ACME.MY.SALESFORCE.COM",
            "http://127.0.0.1:9",
            "http://localhost:8080/",
            "http://[::1]:8080",
        ] {
            assert!(check_login_url(text).is_ok(), "{text}: {:?}", check_login_url(text));
        }
    }
}
