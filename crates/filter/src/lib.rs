//! Company-name filter (docs/contract.md §4): decides which users a snapshot keeps.
//!
//! Owns: parsing company names into a [`CompanyFilter`] that is either everyone or a set of
//! domains, and matching an optional email against it.
//! Must not: do any I/O, read the environment, or know about Salesforce.
//!
//! Rules, in the contract's words and a few decisions of ours:
//! - `*` collects every user, including users without an email address; it wins over names.
//! - An empty list (after blank entries are dropped) means `*`.
//! - A name such as `acme.com` keeps users whose email domain is `acme.com` or a subdomain of
//!   it (`eu.acme.com`), and never users without an email address.
//! - Matching ignores case, surrounding white space, a leading `@` and a trailing dot.
//! - A name that is not a plausible domain is an [`InvalidCompanyName`] naming it. Besides the
//!   contract's cases (white space inside, `/`, `:`, a second `@`, an empty label) we also
//!   reject a single label such as `acme` (a company's mail domain has a dot; `acme` would
//!   silently match nobody) and characters that cannot appear in a domain.

use std::fmt;

/// The entry that stands for "every user".
pub const EVERYONE: &str = "*";

/// Which users a snapshot keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CompanyFilter {
    /// Every user, with or without an email address.
    #[default]
    Everyone,
    /// Users whose email domain is one of these or a subdomain of one of them. Each domain is
    /// lower-case, without a leading `@` or a trailing dot; no duplicates; never empty.
    Domains(Vec<String>),
}

impl CompanyFilter {
    /// Parses configured company names.
    ///
    /// Blank entries are dropped; `*` anywhere means [`CompanyFilter::Everyone`] (but every
    /// other entry must still be a plausible domain, so a typo never hides behind a `*`).
    pub fn parse<I, S>(names: I) -> Result<CompanyFilter, InvalidCompanyName>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut everyone = false;
        let mut domains: Vec<String> = Vec::new();
        for name in names {
            let name = name.as_ref();
            let trimmed = name.trim();
            if trimmed.is_empty() {
                continue;
            }
            if trimmed == EVERYONE {
                everyone = true;
                continue;
            }
            let domain = normalize_name(name)?;
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        if everyone || domains.is_empty() {
            Ok(CompanyFilter::Everyone)
        } else {
            Ok(CompanyFilter::Domains(domains))
        }
    }

    /// Whether a user with this email address is kept.
    ///
    /// `None` or an address without a domain is kept only by [`CompanyFilter::Everyone`].
    pub fn matches(&self, email: Option<&str>) -> bool {
        match self {
            CompanyFilter::Everyone => true,
            CompanyFilter::Domains(domains) => {
                let Some(domain) = email.and_then(email_domain) else {
                    return false;
                };
                domains.iter().any(|name| domain_matches(&domain, name))
            }
        }
    }

    /// True for [`CompanyFilter::Everyone`].
    pub fn is_everyone(&self) -> bool {
        matches!(self, CompanyFilter::Everyone)
    }

    /// The domains of a [`CompanyFilter::Domains`] filter; empty for everyone.
    pub fn domains(&self) -> &[String] {
        match self {
            CompanyFilter::Everyone => &[],
            CompanyFilter::Domains(domains) => domains,
        }
    }
}

impl fmt::Display for CompanyFilter {
    /// `*`, or the domains joined with `, `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompanyFilter::Everyone => f.write_str(EVERYONE),
            CompanyFilter::Domains(domains) => f.write_str(&domains.join(", ")),
        }
    }
}

/// The lower-case domain part of an email address (after the last `@`, trailing dot removed),
/// or `None` when there is no `@` or nothing after it.
pub fn email_domain(email: &str) -> Option<String> {
    let (_, domain) = email.trim().rsplit_once('@')?;
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() { None } else { Some(domain.to_lowercase()) }
}

/// `domain` is `name` or a subdomain of it. Both lower-case.
fn domain_matches(domain: &str, name: &str) -> bool {
    match domain.strip_suffix(name) {
        Some("") => true,
        Some(prefix) => prefix.ends_with('.'),
        None => false,
    }
}

/// Why a company name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// White space between characters, e.g. `acme com`.
    WhiteSpace,
    /// A character that cannot appear in a domain (`/`, `:`, `*`, `,` ...).
    Character(char),
    /// An `@` after the optional leading one, e.g. `jo@acme.com`.
    SecondAt,
    /// Two dots in a row, a leading dot, or nothing left after `@`/trailing-dot removal.
    EmptyLabel,
    /// No dot at all, e.g. `acme`.
    SingleLabel,
    /// A label longer than 63 characters.
    LabelTooLong,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::WhiteSpace => f.write_str("it contains white space"),
            Problem::Character(c) => write!(f, "it contains {c:?}, which cannot appear in a domain"),
            Problem::SecondAt => {
                f.write_str("it contains an `@` after the start (give the domain only, not an email address)")
            }
            Problem::EmptyLabel => {
                f.write_str("it has an empty label (two dots in a row, a leading dot, or nothing at all)")
            }
            Problem::SingleLabel => {
                f.write_str("it has no dot; give the email domain, e.g. `acme.com`, not the company's name")
            }
            Problem::LabelTooLong => f.write_str("one of its labels is longer than 63 characters"),
        }
    }
}

/// A company name that is not a plausible email domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "company name {name:?} is not a plausible email domain: {problem}; use a domain such as `acme.com`, or `*` for every user"
)]
pub struct InvalidCompanyName {
    /// The name as configured.
    pub name: String,
    /// What is wrong with it.
    pub problem: Problem,
}

/// Normalises one non-blank, non-`*` name into a domain, or says why it is not one.
fn normalize_name(name: &str) -> Result<String, InvalidCompanyName> {
    let invalid = |problem| InvalidCompanyName { name: name.to_string(), problem };
    let trimmed = name.trim();
    let without_at = trimmed.strip_prefix('@').unwrap_or(trimmed);
    let domain = without_at.strip_suffix('.').unwrap_or(without_at);
    for c in domain.chars() {
        if c.is_whitespace() {
            return Err(invalid(Problem::WhiteSpace));
        }
        if c == '@' {
            return Err(invalid(Problem::SecondAt));
        }
        if !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.') {
            return Err(invalid(Problem::Character(c)));
        }
    }
    let domain = domain.to_lowercase();
    let mut labels = 0;
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(invalid(Problem::EmptyLabel));
        }
        if label.chars().count() > 63 {
            return Err(invalid(Problem::LabelTooLong));
        }
        labels += 1;
    }
    if labels < 2 {
        return Err(invalid(Problem::SingleLabel));
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(names: &[&str]) -> Result<CompanyFilter, InvalidCompanyName> {
        CompanyFilter::parse(names)
    }

    fn domains(names: &[&str]) -> Vec<String> {
        parse(names).unwrap().domains().to_vec()
    }

    fn problem(name: &str) -> Problem {
        let err = parse(&[name]).unwrap_err();
        assert_eq!(err.name, name, "the error names the entry as configured");
        err.problem
    }

    #[test]
    fn star_means_everyone() {
        assert_eq!(parse(&["*"]).unwrap(), CompanyFilter::Everyone);
        assert_eq!(parse(&[" * "]).unwrap(), CompanyFilter::Everyone);
    }

    #[test]
    fn star_wins_over_names_in_any_position() {
        assert_eq!(parse(&["acme.com", "*"]).unwrap(), CompanyFilter::Everyone);
        assert_eq!(parse(&["*", "acme.com"]).unwrap(), CompanyFilter::Everyone);
    }

    #[test]
    fn star_does_not_hide_an_invalid_name() {
        assert_eq!(parse(&["*", "acme com"]).unwrap_err().problem, Problem::WhiteSpace);
    }

    #[test]
    fn empty_list_and_blank_entries_mean_everyone() {
        assert_eq!(parse(&[]).unwrap(), CompanyFilter::Everyone);
        assert_eq!(parse(&["", "  ", "\n\t"]).unwrap(), CompanyFilter::Everyone);
        assert_eq!(domains(&["", "acme.com", " "]), ["acme.com"]);
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(domains(&["  ACME.com  "]), ["acme.com"]);
        assert_eq!(domains(&["@acme.com"]), ["acme.com"]);
        assert_eq!(domains(&[" @Acme.Com. "]), ["acme.com"]);
        assert_eq!(domains(&["acme.com."]), ["acme.com"]);
    }

    #[test]
    fn duplicates_are_dropped_keeping_order() {
        assert_eq!(domains(&["b.io", "acme.com", "ACME.com", "@acme.com.", "b.io"]), ["b.io", "acme.com"]);
    }

    #[test]
    fn everyone_keeps_users_with_and_without_email() {
        let filter = CompanyFilter::Everyone;
        assert!(filter.matches(Some("jo@acme.com")));
        assert!(filter.matches(None));
        assert!(filter.matches(Some("")));
        assert!(filter.matches(Some("not-an-email")));
        assert!(filter.is_everyone());
        assert!(filter.domains().is_empty());
    }

    #[test]
    fn domains_exclude_users_without_email() {
        let filter = parse(&["acme.com"]).unwrap();
        assert!(!filter.is_everyone());
        assert!(!filter.matches(None));
        assert!(!filter.matches(Some("")));
        assert!(!filter.matches(Some("   ")));
        assert!(!filter.matches(Some("acme.com")), "no @: no domain");
        assert!(!filter.matches(Some("jo@")), "nothing after @: no domain");
    }

    #[test]
    fn exact_and_parent_domain_match() {
        let filter = parse(&["acme.com"]).unwrap();
        assert!(filter.matches(Some("jo@acme.com")));
        assert!(filter.matches(Some("jo@eu.acme.com")));
        assert!(filter.matches(Some("jo@a.b.acme.com")));
    }

    #[test]
    fn lookalike_domains_do_not_match() {
        let filter = parse(&["acme.com"]).unwrap();
        assert!(!filter.matches(Some("jo@notacme.com")));
        assert!(!filter.matches(Some("jo@acme.com.evil.io")));
        assert!(!filter.matches(Some("jo@acme.co")));
        assert!(!filter.matches(Some("jo@com")));
        assert!(!filter.matches(Some("acme.com@evil.io")), "the domain is after the last @");
    }

    #[test]
    fn a_subdomain_name_does_not_match_its_parent() {
        let filter = parse(&["eu.acme.com"]).unwrap();
        assert!(filter.matches(Some("jo@eu.acme.com")));
        assert!(!filter.matches(Some("jo@acme.com")));
        assert!(!filter.matches(Some("jo@us.acme.com")));
    }

    #[test]
    fn matching_ignores_case_whitespace_and_trailing_dot_of_email() {
        let filter = parse(&["Acme.COM"]).unwrap();
        assert!(filter.matches(Some("Jo@ACME.com")));
        assert!(filter.matches(Some("  jo@Eu.Acme.Com  ")));
        assert!(filter.matches(Some("jo@acme.com.")));
    }

    #[test]
    fn any_of_several_domains_matches() {
        let filter = parse(&["acme.com", "acme.io"]).unwrap();
        assert!(filter.matches(Some("jo@acme.io")));
        assert!(filter.matches(Some("jo@acme.com")));
        assert!(!filter.matches(Some("jo@acme.net")));
    }

    #[test]
    fn email_domain_takes_the_part_after_the_last_at() {
        assert_eq!(email_domain("jo@Acme.COM").as_deref(), Some("acme.com"));
        assert_eq!(email_domain(" jo@acme.com. ").as_deref(), Some("acme.com"));
        assert_eq!(email_domain("\"a@b\"@acme.com").as_deref(), Some("acme.com"));
        assert_eq!(email_domain("jo"), None);
        assert_eq!(email_domain("jo@"), None);
        assert_eq!(email_domain("jo@."), None);
        assert_eq!(email_domain(""), None);
    }

    #[test]
    fn white_space_inside_is_refused() {
        assert_eq!(problem("acme com"), Problem::WhiteSpace);
        assert_eq!(problem("acme.\tcom"), Problem::WhiteSpace);
    }

    #[test]
    fn slash_and_colon_are_refused() {
        assert_eq!(problem("https://acme.com"), Problem::Character(':'));
        assert_eq!(problem("acme.com/x"), Problem::Character('/'));
        assert_eq!(problem("acme.com:443"), Problem::Character(':'));
    }

    #[test]
    fn other_non_domain_characters_are_refused() {
        assert_eq!(problem("*.acme.com"), Problem::Character('*'));
        assert_eq!(problem("acme.com,acme.io"), Problem::Character(','));
    }

    #[test]
    fn a_second_at_is_refused() {
        assert_eq!(problem("jo@acme.com"), Problem::SecondAt);
        assert_eq!(problem("@@acme.com"), Problem::SecondAt);
    }

    #[test]
    fn empty_labels_are_refused() {
        assert_eq!(problem("acme..com"), Problem::EmptyLabel);
        assert_eq!(problem(".acme.com"), Problem::EmptyLabel);
        assert_eq!(problem("acme.com.."), Problem::EmptyLabel);
        assert_eq!(problem("@"), Problem::EmptyLabel);
        assert_eq!(problem("."), Problem::EmptyLabel);
    }

    #[test]
    fn a_single_label_is_refused() {
        assert_eq!(problem("acme"), Problem::SingleLabel);
        assert_eq!(problem("Acme."), Problem::SingleLabel);
    }

    #[test]
    fn an_overlong_label_is_refused() {
        let name = format!("{}.com", "a".repeat(64));
        assert_eq!(problem(&name), Problem::LabelTooLong);
        let fits = format!("{}.com", "a".repeat(63));
        assert!(parse(&[fits.as_str()]).is_ok());
    }

    #[test]
    fn international_and_hyphenated_domains_are_accepted() {
        assert_eq!(domains(&["Bücher.DE", "my-co_x.example"]), ["bücher.de", "my-co_x.example"]);
    }

    #[test]
    fn error_message_names_the_entry_and_what_to_do() {
        let err = parse(&["acme.com", " Acme Corp "]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "company name \" Acme Corp \" is not a plausible email domain: it contains white space; \
             use a domain such as `acme.com`, or `*` for every user"
        );
    }

    #[test]
    fn display_shows_star_or_domains() {
        assert_eq!(CompanyFilter::Everyone.to_string(), "*");
        assert_eq!(parse(&["a.com", "b.io"]).unwrap().to_string(), "a.com, b.io");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn label() -> impl Strategy<Value = String> {
            "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?"
        }

        fn domain(min: usize, max: usize) -> impl Strategy<Value = String> {
            proptest::collection::vec(label(), min..=max).prop_map(|labels| labels.join("."))
        }

        /// An email domain that is often related to `name`: equal, a subdomain, a lookalike
        /// with a prefix glued on, or the name followed by more labels.
        fn related_domain(name: String) -> impl Strategy<Value = (String, String)> {
            let n = name.clone();
            prop_oneof![
                Just(name.clone()),
                label().prop_map(move |l| format!("{l}.{n}")),
                label().prop_map({
                    let n = name.clone();
                    move |l| format!("{l}{n}")
                }),
                label().prop_map({
                    let n = name.clone();
                    move |l| format!("{n}.{l}")
                }),
                domain(1, 4),
            ]
            .prop_map(move |domain| (name.clone(), domain))
        }

        fn random_case(s: &str, mask: u64) -> String {
            s.chars()
                .enumerate()
                .map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect()
        }

        proptest! {
            #[test]
            fn matches_iff_equal_or_subdomain(
                (name, domain) in domain(2, 3).prop_flat_map(related_domain),
                local in "[a-z0-9._+-]{1,10}",
            ) {
                let filter = CompanyFilter::parse([&name]).unwrap();
                let email = format!("{local}@{domain}");
                let expected = domain == name || domain.ends_with(&format!(".{name}"));
                prop_assert_eq!(filter.matches(Some(&email)), expected);
            }

            #[test]
            fn case_whitespace_at_and_trailing_dot_do_not_change_the_result(
                (name, domain) in domain(2, 3).prop_flat_map(related_domain),
                name_mask in any::<u64>(),
                email_mask in any::<u64>(),
                at in any::<bool>(),
                dot in any::<bool>(),
                pad in "[ \t]{0,2}",
            ) {
                let plain = CompanyFilter::parse([&name]).unwrap();
                let dressed_name = format!(
                    "{pad}{}{}{}{pad}",
                    if at { "@" } else { "" },
                    random_case(&name, name_mask),
                    if dot { "." } else { "" },
                );
                let dressed = CompanyFilter::parse([&dressed_name]).unwrap();
                prop_assert_eq!(&dressed, &plain);
                let email = format!("jo@{domain}");
                let dressed_email = format!("{pad}{}{pad}", random_case(&email, email_mask));
                prop_assert_eq!(dressed.matches(Some(&dressed_email)), plain.matches(Some(&email)));
            }

            #[test]
            fn star_anywhere_keeps_everyone(names in proptest::collection::vec(domain(2, 3), 0..4), pos in 0usize..4) {
                let mut names = names;
                let pos = pos.min(names.len());
                names.insert(pos, "*".to_string());
                let filter = CompanyFilter::parse(&names).unwrap();
                prop_assert!(filter.is_everyone());
                prop_assert!(filter.matches(None));
            }

            #[test]
            fn email_domain_is_lowercase_text_after_last_at(local in "[A-Za-z0-9.@]{0,8}", domain in domain(1, 3), mask in any::<u64>()) {
                let email = format!("{local}@{}", random_case(&domain, mask));
                prop_assert_eq!(email_domain(&email), Some(domain));
            }

            #[test]
            fn any_input_is_accepted_or_refused_naming_it_and_never_panics(names in proptest::collection::vec(".{0,24}", 0..4), email in proptest::option::of(".{0,40}")) {
                match CompanyFilter::parse(&names) {
                    Ok(filter) => {
                        let _ = filter.matches(email.as_deref());
                        // Every accepted domain matches an address at itself and at a subdomain.
                        for domain in filter.domains() {
                            let at_itself = format!("jo@{domain}");
                            let at_subdomain = format!("jo@eu.{domain}");
                            prop_assert!(filter.matches(Some(&at_itself)), "{}", domain);
                            prop_assert!(filter.matches(Some(&at_subdomain)), "{}", domain);
                        }
                    }
                    Err(error) => prop_assert!(names.contains(&error.name), "{:?} not in {:?}", error.name, names),
                }
                let _ = email.as_deref().map(email_domain);
            }

            #[test]
            fn names_with_inner_white_space_are_refused(a in label(), b in domain(1, 2), ws in "[ \t\n]{1,3}") {
                let name = format!("{a}{ws}{b}");
                let err = CompanyFilter::parse([&name]).unwrap_err();
                prop_assert_eq!(err.problem, Problem::WhiteSpace);
                prop_assert_eq!(err.name, name);
            }
        }
    }
}
