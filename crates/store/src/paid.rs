//! Which licences cost money, for the reclaim candidates and the money view of `sfconn report`.
//!
//! The rule (documented in docs/report.md, "Which licences are paid"):
//! 1. a subscription whose key (`LicenseDefinitionKey` of a `UserLicense`,
//!    `PermissionSetLicenseKey` of a `PermissionSetLicense`) is in the settings
//!    `report.paid_keys` or `report.free_keys` is paid or free as they say ([`PaidRules`]);
//! 2. a `UserLicense` whose `LicenseDefinitionKey` is in [`USER_LICENCE_KEYS`] is paid or free as
//!    that table says;
//! 3. any other `UserLicense` (no key, or a key the table does not know) is paid unless its name
//!    or label is one Salesforce gives away ([`FREE_USER_LICENCE_NAMES`], or containing "guest");
//! 4. a `PermissionSetLicense` is paid unless its status is `Free`;
//! 5. a `PackageLicense` is paid unless its status is `Free` or it is a site licence
//!    (`AllowedLicenses = -1`, `unlimited`): a site licence covers everyone, so taking it from a
//!    user frees no seat.
//!
//! Keys and names are compared ignoring ASCII case and surrounding white space.
//!
//! The Salesforce Integration licence (`CLOUD_INTEGRATION_USER`) is paid, but Enterprise,
//! Unlimited and Performance editions include 5 of its seats at no cost and Developer Edition 1
//! ([`included_seats`]); the report counts neither those seats' cost nor them as reclaimable.

use crate::SubscriptionSource;

/// One `LicenseDefinitionKey` of [`USER_LICENCE_KEYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownKey {
    /// The `LicenseDefinitionKey`, as Salesforce spells it.
    pub key: &'static str,
    /// The licence's name in Setup.
    pub licence: &'static str,
    /// Whether holding it uses a seat the org pays for.
    pub paid: bool,
    /// Why, for people (docs/report.md repeats the table, in its own words; a test checks that
    /// its keys, names and paid column are these).
    pub why: &'static str,
}

const fn paid(key: &'static str, licence: &'static str, why: &'static str) -> KnownKey {
    KnownKey { key, licence, paid: true, why }
}

const fn free(key: &'static str, licence: &'static str, why: &'static str) -> KnownKey {
    KnownKey { key, licence, paid: false, why }
}

/// The `UserLicense` keys whose cost sfconn knows (keys from the UserLicense object reference,
/// `LicenseDefinitionKey`). A key not listed here falls back to the licence's name.
pub const USER_LICENCE_KEYS: &[KnownKey] = &[
    paid("SFDC", "Salesforce", "the full CRM licence, bought per seat"),
    paid("AUL", "Salesforce Platform", "the platform licence, bought per seat"),
    paid("AUL1", "Salesforce Platform One", "a platform licence, bought per seat"),
    paid("AUL_LIGHT", "Salesforce Platform Light", "a platform licence, bought per seat"),
    paid("FDC_ONE", "Force.com - One App", "a platform licence, bought per seat"),
    paid("FDC_SUB", "Force.com App Subscription", "a platform licence, bought per seat"),
    paid(
        "PID_Customer_Community",
        "Customer Community",
        "an Experience Cloud member licence, bought per member",
    ),
    paid(
        "PID_Customer_Community_Login",
        "Customer Community Login",
        "an Experience Cloud licence, bought per member (or as a pool of logins)",
    ),
    paid(
        "PID_Partner_Community",
        "Partner Community",
        "an Experience Cloud partner licence, bought per member",
    ),
    paid(
        "PID_Partner_Community_Login",
        "Partner Community Login",
        "an Experience Cloud partner licence, bought per member (or as a pool of logins)",
    ),
    paid(
        "PID_Customer_Portal_Basic",
        "Customer Portal Manager Standard",
        "a legacy portal licence, bought per seat",
    ),
    paid(
        "PID_Customer_Portal_Standard",
        "Customer Portal Manager Custom",
        "a legacy portal licence, bought per seat",
    ),
    paid("PID_STRATEGIC_PRM", "Gold Partner", "a legacy partner portal licence, bought per seat"),
    paid(
        "Overage_Platform_Portal_User",
        "Overage Authenticated Website",
        "a portal licence, bought per seat",
    ),
    paid(
        "High Volume Customer Portal_User",
        "High Volume Customer Portal",
        "a portal licence, bought per seat (the key holds a space)",
    ),
    paid("PID_CHATTER", "Chatter Only", "unlike Chatter Free, bought per seat"),
    paid(
        "CLOUD_INTEGRATION_USER",
        "Salesforce Integration",
        "API-only integration users; seats beyond the edition's included ones are bought",
    ),
    free("CSN_User", "Chatter Free", "given away with the org"),
    free("PID_Chatter_External", "Chatter External", "given away for people outside the company"),
    free("PID_FDC_FREE", "Force.com - Free", "given away with the org"),
    free(
        "PID_Guest_User",
        "Guest User License",
        "the guest user of a site or Experience Cloud site, at no cost",
    ),
];

/// The key of the Salesforce Integration licence.
pub const INTEGRATION_KEY: &str = "CLOUD_INTEGRATION_USER";

/// Names or labels of free user licences, for a `UserLicense` whose key is missing or not in
/// [`USER_LICENCE_KEYS`] (compared ignoring case).
pub const FREE_USER_LICENCE_NAMES: &[&str] =
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

/// The settings `report.paid_keys` and `report.free_keys`: keys that are paid or free whatever
/// [`USER_LICENCE_KEYS`] and the other rules say. Compared ignoring case; the settings refuse a
/// key in both lists (should one be in both anyway, it is paid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaidRules {
    paid_keys: Vec<String>,
    free_keys: Vec<String>,
}

fn same_key(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl PaidRules {
    /// The rules with these overrides (blank keys are left out).
    pub fn new(
        paid_keys: impl IntoIterator<Item = String>,
        free_keys: impl IntoIterator<Item = String>,
    ) -> Self {
        let clean = |keys: &mut dyn Iterator<Item = String>| -> Vec<String> {
            keys.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect()
        };
        PaidRules {
            paid_keys: clean(&mut paid_keys.into_iter()),
            free_keys: clean(&mut free_keys.into_iter()),
        }
    }

    pub fn paid_keys(&self) -> &[String] {
        &self.paid_keys
    }

    pub fn free_keys(&self) -> &[String] {
        &self.free_keys
    }

    /// What the settings say of this key, if anything.
    fn overridden(&self, key: &str) -> Option<bool> {
        if self.paid_keys.iter().any(|k| same_key(k, key)) {
            Some(true)
        } else if self.free_keys.iter().any(|k| same_key(k, key)) {
            Some(false)
        } else {
            None
        }
    }

    /// True when holding this licence uses a seat the org pays for (the rule of the module).
    pub fn is_paid(&self, licence: &LicenceFacts<'_>) -> bool {
        let key = licence.key.map(str::trim).filter(|key| !key.is_empty());
        if let Some(paid) = key.and_then(|key| self.overridden(key)) {
            return paid;
        }
        let status_free = licence.status.is_some_and(|status| status.trim().eq_ignore_ascii_case("free"));
        match licence.source {
            SubscriptionSource::UserLicense => {
                if let Some(known) = key.and_then(known_user_licence_key) {
                    return known.paid;
                }
                let named_free = |text: &str| {
                    let text = text.trim();
                    FREE_USER_LICENCE_NAMES.iter().any(|free| free.eq_ignore_ascii_case(text))
                        || text.to_ascii_lowercase().contains("guest")
                };
                !(named_free(licence.name) || licence.label.is_some_and(named_free))
            }
            SubscriptionSource::PermissionSetLicense => !status_free,
            SubscriptionSource::PackageLicense => !(status_free || licence.unlimited),
        }
    }
}

/// The entry of [`USER_LICENCE_KEYS`] for this key, ignoring case.
pub fn known_user_licence_key(key: &str) -> Option<&'static KnownKey> {
    USER_LICENCE_KEYS.iter().find(|known| same_key(known.key, key))
}

/// True when holding this licence uses a seat the org pays for, by the built-in rules (no
/// `report.paid_keys` / `report.free_keys`).
pub fn is_paid(licence: &LicenceFacts<'_>) -> bool {
    PaidRules::default().is_paid(licence)
}

/// Salesforce Integration seats the org's edition includes at no cost: 1 in Developer Edition,
/// else 5 (Enterprise, Unlimited and Performance include 5; the licence exists in no other
/// edition, and an unknown edition is taken for Enterprise). None for every other licence.
pub fn included_seats(source: SubscriptionSource, key: Option<&str>, edition: Option<&str>) -> Option<i64> {
    let integration =
        source == SubscriptionSource::UserLicense && key.is_some_and(|key| same_key(key, INTEGRATION_KEY));
    integration
        .then(|| if edition.is_some_and(|e| e.to_ascii_lowercase().contains("developer")) { 1 } else { 5 })
}

#[cfg(test)]
mod tests {
    /// docs/report.md's table of `LicenseDefinitionKey`s says what the code decides: the same
    /// keys, in the same order, with the same licence names and paid column.
    #[test]
    fn the_documented_key_table_is_the_codes() {
        const REPORT_MD: &str = include_str!("../../../docs/report.md");
        let start = REPORT_MD.find("| `LicenseDefinitionKey` | licence | paid | why |").expect("the table");
        let documented: Vec<(String, String, bool)> = REPORT_MD[start..]
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                (cells[1].trim_matches('`').to_owned(), cells[2].to_owned(), cells[3] == "yes")
            })
            .collect();
        let coded: Vec<(String, String, bool)> =
            USER_LICENCE_KEYS.iter().map(|k| (k.key.to_owned(), k.licence.to_owned(), k.paid)).collect();
        assert_eq!(documented, coded);
    }

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

    #[test]
    fn the_key_table_decides_before_the_name() {
        for key in [
            "SFDC",
            "AUL",
            "AUL1",
            "AUL_LIGHT",
            "FDC_ONE",
            "FDC_SUB",
            "PID_Customer_Community",
            "PID_Customer_Community_Login",
            "PID_Partner_Community",
            "PID_Partner_Community_Login",
            "PID_Customer_Portal_Basic",
            "PID_Customer_Portal_Standard",
            "PID_STRATEGIC_PRM",
            "Overage_Platform_Portal_User",
            "High Volume Customer Portal_User",
            "PID_CHATTER",
            "CLOUD_INTEGRATION_USER",
        ] {
            // Even named like a free licence: the key wins.
            assert!(is_paid(&user_licence("Guest User License", Some(key))), "{key}");
            assert!(known_user_licence_key(&key.to_ascii_lowercase()).is_some_and(|k| k.paid), "{key}");
        }
        for key in ["CSN_User", "PID_Chatter_External", "PID_FDC_FREE", "PID_Guest_User"] {
            assert!(!is_paid(&user_licence("Salesforce", Some(key))), "{key}");
        }
        // The key with its space, in another case and padded.
        assert!(known_user_licence_key(" high volume customer portal_user ").is_some());
        // Unknown key or none: the name decides.
        assert!(!is_paid(&user_licence("Chatter Free", Some("PID_SOMETHING_NEW"))));
        assert!(is_paid(&user_licence("Work.com Only", Some("PID_WDC_Only"))));
        assert!(!is_paid(&user_licence("Chatter External", Some("  "))));
    }

    #[test]
    fn every_key_of_the_table_is_listed_once_with_a_reason() {
        for (index, known) in USER_LICENCE_KEYS.iter().enumerate() {
            assert!(!known.licence.is_empty() && !known.why.is_empty(), "{}", known.key);
            assert_eq!(
                USER_LICENCE_KEYS.iter().position(|k| k.key.eq_ignore_ascii_case(known.key)),
                Some(index),
                "{} twice",
                known.key
            );
        }
    }

    #[test]
    fn the_settings_override_the_table_and_the_status() {
        let rules = PaidRules::new(
            vec!["csn_user".to_owned(), " InboxPsl ".to_owned(), String::new()],
            vec!["sfdc".to_owned(), "SalesCloudEinstein".to_owned()],
        );
        assert_eq!(rules.paid_keys(), ["csn_user", "InboxPsl"]);
        assert!(rules.is_paid(&user_licence("Chatter Free", Some("CSN_User"))));
        assert!(!rules.is_paid(&user_licence("Salesforce", Some("SFDC"))));
        let psl = |key, status| LicenceFacts {
            source: SubscriptionSource::PermissionSetLicense,
            name: "Some PSL",
            label: None,
            key: Some(key),
            status: Some(status),
            unlimited: false,
        };
        assert!(rules.is_paid(&psl("InboxPsl", "Free")));
        assert!(!rules.is_paid(&psl("SalesCloudEinstein", "Active")));
        // A key the settings do not name keeps the built-in rule.
        assert!(rules.is_paid(&psl("Other", "Active")));
        assert!(rules.is_paid(&user_licence("Salesforce Platform", Some("AUL"))));
        // A key in both lists (the settings refuse it) is paid.
        let both = PaidRules::new(vec!["AUL".to_owned()], vec!["aul".to_owned()]);
        assert!(both.is_paid(&user_licence("Salesforce Platform", Some("AUL"))));
    }

    #[test]
    fn integration_seats_included_by_edition() {
        let user = SubscriptionSource::UserLicense;
        for edition in ["Enterprise Edition", "Unlimited Edition", "Performance Edition"] {
            assert_eq!(included_seats(user, Some("CLOUD_INTEGRATION_USER"), Some(edition)), Some(5));
        }
        assert_eq!(included_seats(user, Some("cloud_integration_user"), Some("Developer Edition")), Some(1));
        assert_eq!(included_seats(user, Some("CLOUD_INTEGRATION_USER"), None), Some(5));
        assert_eq!(included_seats(user, Some("SFDC"), Some("Enterprise Edition")), None);
        assert_eq!(included_seats(user, None, Some("Enterprise Edition")), None);
        assert_eq!(
            included_seats(SubscriptionSource::PermissionSetLicense, Some("CLOUD_INTEGRATION_USER"), None),
            None
        );
    }
}
