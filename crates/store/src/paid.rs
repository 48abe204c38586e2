//! Which licences cost money, for the reclaim candidates of `sfconn report`.
//!
//! The rule (documented in docs/report.md):
//! - a `UserLicense` is paid unless it is one Salesforce gives away: Chatter Free, Chatter
//!   External, the guest licences of sites and Experience Cloud, and Force.com Free (by
//!   `LicenseDefinitionKey` or, since keys are not documented for all of them, by name/label);
//! - a `PermissionSetLicense` is paid unless its status is `Free`;
//! - a `PackageLicense` is paid unless its status is `Free` or it is a site licence
//!   (`AllowedLicenses = -1`, `unlimited`): a site licence covers everyone, so taking it from a
//!   user frees no seat.

use crate::SubscriptionSource;

/// `LicenseDefinitionKey`s of free user licences (compared ignoring case).
const FREE_USER_LICENCE_KEYS: &[&str] =
    &["CSN_User", "PID_Chatter_External", "PID_FDC_FREE", "PID_Guest_User"];

/// Names or labels of free user licences (compared ignoring case).
const FREE_USER_LICENCE_NAMES: &[&str] =
    &["Chatter Free", "Chatter External", "Force.com - Free", "Guest User License"];

/// The fields of a subscription the rule looks at.
#[derive(Debug, Clone, Copy)]
pub struct LicenceFacts<'a> {
    pub source: SubscriptionSource,
    pub name: &'a str,
    pub label: Option<&'a str>,
    pub key: Option<&'a str>,
    pub status: Option<&'a str>,
    pub unlimited: bool,
}

/// True when holding this licence uses a seat the org pays for.
pub fn is_paid(licence: &LicenceFacts<'_>) -> bool {
    let status_free = licence.status.is_some_and(|status| status.trim().eq_ignore_ascii_case("free"));
    match licence.source {
        SubscriptionSource::UserLicense => {
            let key_free = licence.key.is_some_and(|key| {
                FREE_USER_LICENCE_KEYS.iter().any(|free| free.eq_ignore_ascii_case(key.trim()))
            });
            let named_free = |text: &str| {
                let text = text.trim();
                FREE_USER_LICENCE_NAMES.iter().any(|free| free.eq_ignore_ascii_case(text))
                    || text.to_ascii_lowercase().contains("guest")
            };
            !(key_free || named_free(licence.name) || licence.label.is_some_and(named_free))
        }
        SubscriptionSource::PermissionSetLicense => !status_free,
        SubscriptionSource::PackageLicense => !(status_free || licence.unlimited),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_licence<'a>(name: &'a str, key: Option<&'a str>) -> LicenceFacts<'a> {
        LicenceFacts {
            source: SubscriptionSource::UserLicense,
            name,
            label: None,
            key,
            status: Some("Active"),
            unlimited: false,
        }
    }

    #[test]
    fn free_user_licences_by_key_or_name() {
        assert!(!is_paid(&user_licence("Chatter Free", Some("CSN_User"))));
        assert!(!is_paid(&user_licence("Something", Some("csn_user"))));
        assert!(!is_paid(&user_licence("chatter external", None)));
        assert!(!is_paid(&user_licence("Guest User License", Some("PID_Guest_User"))));
        assert!(!is_paid(&user_licence("Customer Community Guest", None)));
        assert!(!is_paid(&user_licence("Force.com - Free", Some("PID_FDC_FREE"))));
        let mut labelled = user_licence("Whatever", None);
        labelled.label = Some("Chatter Free");
        assert!(!is_paid(&labelled));
    }

    #[test]
    fn other_user_licences_are_paid() {
        assert!(is_paid(&user_licence("Salesforce", Some("SFDC"))));
        assert!(is_paid(&user_licence("Salesforce Platform", Some("AUL"))));
        assert!(is_paid(&user_licence("Customer Community Login", Some("PID_Customer_Community_Login"))));
        assert!(is_paid(&user_licence("Chatter Only", Some("PID_CHATTER"))));
    }

    #[test]
    fn permission_set_and_package_licences() {
        let psl = |status| LicenceFacts {
            source: SubscriptionSource::PermissionSetLicense,
            name: "SalesforceCPQ_CPQStandardPerm",
            label: None,
            key: None,
            status,
            unlimited: false,
        };
        assert!(is_paid(&psl(Some("Active"))));
        assert!(is_paid(&psl(None)));
        assert!(!is_paid(&psl(Some("Free"))));
        let package = |status, unlimited| LicenceFacts {
            source: SubscriptionSource::PackageLicense,
            name: "SBQQ",
            label: None,
            key: None,
            status,
            unlimited,
        };
        assert!(is_paid(&package(Some("Active"), false)));
        assert!(is_paid(&package(Some("Trial"), false)));
        assert!(!is_paid(&package(Some("FREE"), false)));
        assert!(!is_paid(&package(Some("Active"), true)));
    }
}
