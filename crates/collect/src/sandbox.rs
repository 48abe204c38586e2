//! Signs that the org is a freshly refreshed sandbox. A sandbox refresh appends
//! `.invalid` to every user's email address, so domain-based company names then match nobody.
//! Worked out from the run's [`Summary`] alone, after the run.

use crate::Summary;

/// The suffix Salesforce appends to every email address when it creates or refreshes a sandbox.
pub const INVALID_EMAIL_SUFFIX: &str = ".invalid";

/// A warning for stderr when most written users' email domains end in `.invalid`, or when
/// company names matched nobody although the org has users (only company names exclude users);
/// `None` otherwise.
pub fn invalid_email_warning(summary: &Summary) -> Option<String> {
    let with_email: u64 =
        summary.users_by_domain.iter().filter(|(domain, _)| !domain.is_empty()).map(|(_, n)| n).sum();
    let invalid: u64 = summary
        .users_by_domain
        .iter()
        .filter(|(domain, _)| domain.to_ascii_lowercase().ends_with(INVALID_EMAIL_SUFFIX))
        .map(|(_, n)| n)
        .sum();
    if with_email > 0 && invalid * 2 > with_email {
        return Some(format!(
            "{invalid} of {with_email} users' email addresses end in \"{INVALID_EMAIL_SUFFIX}\": this looks like a \
             sandbox, where Salesforce appends .invalid to every email on creation and refresh, so company_names \
             such as \"acme.com\" match nobody there; collect with company_names = [\"*\"], or check that login_url \
             is the org you meant (docs/setup.md, Sandboxes)"
        ));
    }
    if summary.users_total == 0 && summary.users_excluded_by_filter > 0 {
        return Some(format!(
            "company_names matched none of the org's {} users; if this org is a sandbox, Salesforce appended \
             \"{INVALID_EMAIL_SUFFIX}\" to every email address when it was created or refreshed: collect with \
             company_names = [\"*\"] there (docs/setup.md, Sandboxes)",
            summary.users_excluded_by_filter
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(domains: &[(&str, u64)], excluded: u64) -> Summary {
        let users_by_domain: std::collections::BTreeMap<String, u64> =
            domains.iter().map(|(d, n)| ((*d).to_owned(), *n)).collect();
        let mut summary = crate::snapshot::UserTally::default().summary(0, 0, None, None);
        summary.users_total = users_by_domain.values().sum();
        summary.users_excluded_by_filter = excluded;
        summary.users_by_domain = users_by_domain;
        summary
    }

    #[test]
    fn most_emails_ending_in_invalid_warn() {
        let refreshed =
            summary(&[("acme.com.invalid", 30), ("example.com.INVALID", 2), ("acme.com", 5), ("", 9)], 0);
        let warning = invalid_email_warning(&refreshed).unwrap();
        assert!(warning.starts_with("32 of 37 users' email addresses end in \".invalid\""), "{warning}");
        assert!(warning.contains("company_names = [\"*\"]"), "{warning}");
    }

    #[test]
    fn a_few_invalid_emails_or_none_do_not_warn() {
        assert_eq!(invalid_email_warning(&summary(&[("acme.com", 10), ("old.com.invalid", 5)], 0)), None);
        assert_eq!(invalid_email_warning(&summary(&[("", 4)], 0)), None);
        assert_eq!(invalid_email_warning(&summary(&[], 0)), None);
    }

    #[test]
    fn company_names_that_match_nobody_in_a_populated_org_warn() {
        let warning = invalid_email_warning(&summary(&[], 40)).unwrap();
        assert!(warning.starts_with("company_names matched none of the org's 40 users"), "{warning}");
        assert_eq!(invalid_email_warning(&summary(&[("acme.com", 1)], 39)), None);
    }
}
