//! Unused permission set licence assignments (docs/unused-assignments.md).
//!
//! A user's `PermissionSetLicenseAssign` row is **unused** when none of the user's permission
//! sets has that licence as `PermissionSet.LicenseId`: neither a permission set assigned
//! directly, nor one in a permission set group assigned to the user
//! (`PermissionSetGroupComponent`), nor the profile's own permission set
//! (`PermissionSet.IsOwnedByProfile = true`, found by `PermissionSet.ProfileId` and the user's
//! `ProfileId`), and the licence is not a known exception ([`KNOWN_EXCEPTIONS`], extended by
//! `unused_assignments.exception_keys`).
//!
//! `PermissionSet` (only the rows with a `LicenseId`) and `PermissionSetGroupComponent` are
//! small org-wide lists, read whole before the snapshot header ([`read_permission_sets`],
//! [`read_group_components`]) into the maps of [`UnusedRule`]. `PermissionSetAssignment`,
//! which grows with the users, is merged by user like the licence assignments
//! (`crate::merge`, [`crate::merge::PERMISSION_SET_ASSIGNMENT_SOQL`]): memory stays per page.
//! Only its rows that can grant a permission set licence are asked for (groups, and permission
//! sets with a licence that no profile owns); the profile's own permission set, which every
//! user has, comes from the profile instead, so the query moves a fraction of the rows.

use std::collections::{HashMap, HashSet};

use sfconn_api::{ApiClient, ApiError, records};

use crate::budget::GuardGate;
use crate::progress::{Progress, SourceStatus};
use crate::snapshot::{Subscription, SubscriptionSource, WARNING_SOURCE_SKIPPED, Warning};
use crate::sources::{self, Optional};

/// The first API version with permission set groups (`PermissionSetGroupComponent`,
/// `PermissionSetAssignment.PermissionSetGroupId`); `PermissionSet.LicenseId` is older (38.0).
/// With an older `api_version` the three objects are skipped ([`needs_newer_api`]).
pub const MIN_API_MAJOR: u32 = 45;

/// One of the rule's objects as an optional source ([`crate::sources::optional`]): `reading`
/// is not started when the run's `api_version` is older than [`MIN_API_MAJOR`] (the query would
/// fail with `INVALID_FIELD` or `INVALID_TYPE` and stop the run); the object is skipped with a
/// `source_skipped` warning instead.
pub(crate) async fn optional<T>(
    client: &ApiClient,
    reading: impl Future<Output = Result<T, ApiError>>,
    object: &'static str,
    progress: &dyn Progress,
) -> Result<Optional<T>, ApiError> {
    if let Some(skipped) = needs_newer_api(client.api_version(), object, progress) {
        return Ok(skipped);
    }
    crate::sources::optional(reading, object, progress).await
}

/// `PermissionSetAssignment` when `PermissionSet` was skipped: not asked for (its query filters
/// on `PermissionSet` fields, which Salesforce would refuse), and said so.
/// With an `api_version` too old for the rule, the warning says that instead.
pub(crate) fn skipped_without_permission_sets<T>(client: &ApiClient, progress: &dyn Progress) -> Optional<T> {
    const OBJECT: &str = "PermissionSetAssignment";
    if let Some(skipped) = needs_newer_api(client.api_version(), OBJECT, progress) {
        return skipped;
    }
    progress.finished(OBJECT, SourceStatus::Skipped);
    Optional::Skipped(Warning::about(
        WARNING_SOURCE_SKIPPED,
        OBJECT,
        format!(
            "PermissionSetAssignment was not read: its query filters on PermissionSet fields, and \
             PermissionSet could not be read (see its warning); unused_permission_set_license_ids \
             is null. Grant the integration user {} to include it",
            sources::permission_for("PermissionSet")
        ),
    ))
}

/// With an `api_version` older than [`MIN_API_MAJOR`], the `source_skipped` warning of one of
/// the rule's objects; `None` when the version is recent enough.
fn needs_newer_api<T>(
    api_version: &str,
    object: &'static str,
    progress: &dyn Progress,
) -> Option<Optional<T>> {
    let major = api_version.split('.').next().and_then(|major| major.parse::<u32>().ok())?;
    if major >= MIN_API_MAJOR {
        return None;
    }
    progress.finished(object, SourceStatus::Skipped);
    Some(Optional::Skipped(Warning::about(
        WARNING_SOURCE_SKIPPED,
        object,
        format!(
            "{object} was not read: the unused permission set licence assignments need API version \
             {MIN_API_MAJOR}.0 or later (permission set groups), and api_version is {api_version}; \
             unused_permission_set_license_ids is null. Leave api_version unset to use the newest"
        ),
    )))
}

/// The permission sets that need a licence (`LicenseId` set: a permission set licence, or the
/// user licence of a profile's own permission set), with the owning profile of a profile's own
/// set. `LicenseId` is filterable (object reference), so the others are not transferred.
pub const PERMISSION_SET_SOQL: &str = "SELECT Id, LicenseId, IsOwnedByProfile, ProfileId FROM PermissionSet WHERE LicenseId != null ORDER BY Id";

/// Every permission set of every permission set group.
pub const PERMISSION_SET_GROUP_COMPONENT_SOQL: &str =
    "SELECT Id, PermissionSetGroupId, PermissionSetId FROM PermissionSetGroupComponent ORDER BY Id";

/// A licence Salesforce assigns, or admins must assign, without any permission set using it:
/// its assignments are never reported as unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownException {
    /// `PermissionSetLicense.PermissionSetLicenseKey` (matched ignoring case).
    pub key: &'static str,
    /// Why an assignment of it without a permission set is not waste.
    pub reason: &'static str,
}

/// The licences whose assignments are never unused, by `PermissionSetLicenseKey`. Each entry
/// says why; docs/unused-assignments.md has the table with its sources. Only licences whose
/// assignment is needed while no permission set names them belong here; anything else an org
/// wants kept goes in `unused_assignments.exception_keys`.
pub const KNOWN_EXCEPTIONS: &[KnownException] = &[
    KnownException {
        key: "SalesforceAPIIntegrationPsl",
        reason: "Salesforce API Integration: each user of the Salesforce Integration user licence \
                 needs it assigned before permission sets can grant that user object access, and \
                 the usual setup gives those permission sets no licence, so often none names it",
    },
    KnownException {
        key: "IdentityConnect",
        reason: "Identity Connect: the seat of each user that Identity Connect provisions from \
                 Active Directory; the provisioning needs the assignment, not a permission set",
    },
];

/// The part of a `PermissionSetAssignment` row the merge keeps: the permission set group when
/// the row assigns one, else the permission set. Both kinds of id are looked up in
/// [`UnusedRule`] (Salesforce ids are unique across objects).
pub(crate) fn granted_by(row: records::PermissionSetAssignment) -> (String, String) {
    let granted =
        row.permission_set_group_id.filter(|group| !group.is_empty()).unwrap_or(row.permission_set_id);
    (row.assignee_id, granted)
}

/// The permission sets that need a licence, as [`read_permission_sets`] keeps them.
#[derive(Debug, Clone, Default)]
pub(crate) struct LicensedSets {
    /// Permission set id → its `LicenseId`.
    pub(crate) licence_of: HashMap<String, String>,
    /// Profile id → the id of the profile's own permission set (`IsOwnedByProfile`).
    pub(crate) own_set_of_profile: HashMap<String, String>,
}

/// Reads the permission sets that need a licence.
pub(crate) async fn read_permission_sets(
    client: &ApiClient,
    gate: &GuardGate,
    progress: &dyn Progress,
) -> Result<LicensedSets, ApiError> {
    let mut sets = LicensedSets::default();
    let keep = |set: records::PermissionSet| {
        let Some(licence) = set.license_id.filter(|id| !id.is_empty()) else { return };
        if set.is_owned_by_profile == Some(true)
            && let Some(profile) = set.profile_id.filter(|id| !id.is_empty())
        {
            sets.own_set_of_profile.insert(profile, set.id.clone());
        }
        sets.licence_of.insert(set.id, licence);
    };
    sources::read_all(client, "PermissionSet", PERMISSION_SET_SOQL.to_owned(), gate, progress, keep).await?;
    Ok(sets)
}

/// Reads the permission set groups: group id → its permission sets.
pub(crate) async fn read_group_components(
    client: &ApiClient,
    gate: &GuardGate,
    progress: &dyn Progress,
) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let mut sets_of: HashMap<String, Vec<String>> = HashMap::new();
    let keep = |component: records::PermissionSetGroupComponent| {
        sets_of.entry(component.permission_set_group_id).or_default().push(component.permission_set_id);
    };
    let soql = PERMISSION_SET_GROUP_COMPONENT_SOQL.to_owned();
    sources::read_all(client, "PermissionSetGroupComponent", soql, gate, progress, keep).await?;
    Ok(sets_of)
}

/// The rule, once the org-wide parts are read: which permission set licences each permission
/// set and group grants, and which licences are exceptions.
#[derive(Debug, Clone, Default)]
pub(crate) struct UnusedRule {
    /// Permission set or group id → the permission set licences it grants (only ids of the
    /// snapshot's permission set licences: a profile's own permission set names a user
    /// licence, which no `PermissionSetLicenseAssign` row holds).
    grants: HashMap<String, Vec<String>>,
    /// Profile id → the id of the profile's own permission set.
    own_set_of_profile: HashMap<String, String>,
    /// Permission set licence ids that are never unused.
    excepted: HashSet<String>,
}

impl UnusedRule {
    /// The rule for an org: `sets` from [`read_permission_sets`], `sets_of` from
    /// [`read_group_components`], the snapshot's subscriptions (for each permission set
    /// licence's key) and the extra exception keys of the settings.
    pub(crate) fn new(
        LicensedSets { licence_of, own_set_of_profile }: LicensedSets,
        sets_of: HashMap<String, Vec<String>>,
        subscriptions: &[Subscription],
        extra_exception_keys: &[String],
    ) -> UnusedRule {
        let licences: Vec<&Subscription> = subscriptions
            .iter()
            .filter(|subscription| subscription.source == SubscriptionSource::PermissionSetLicense)
            .collect();
        let known: HashSet<&str> = licences.iter().map(|licence| licence.id.as_str()).collect();
        let is_exception = |key: &str| {
            KNOWN_EXCEPTIONS.iter().any(|exception| exception.key.eq_ignore_ascii_case(key))
                || extra_exception_keys.iter().any(|extra| extra.eq_ignore_ascii_case(key))
        };
        // The key decides; a licence whose key could not be read (field-level security) is
        // matched by its DeveloperName, which Salesforce gives the same value for its own
        // licences.
        let excepted = licences
            .iter()
            .filter(|licence| is_exception(licence.key.as_deref().unwrap_or(&licence.name)))
            .map(|licence| licence.id.clone())
            .collect();
        let mut grants: HashMap<String, Vec<String>> = HashMap::new();
        for (group, sets) in sets_of {
            let mut granted: Vec<String> = sets
                .iter()
                .filter_map(|set| licence_of.get(set))
                .filter(|licence| known.contains(licence.as_str()))
                .cloned()
                .collect();
            if !granted.is_empty() {
                granted.sort_unstable();
                granted.dedup();
                grants.insert(group, granted);
            }
        }
        for (set, licence) in licence_of {
            if known.contains(licence.as_str()) {
                grants.entry(set).or_default().push(licence);
            }
        }
        UnusedRule { grants, own_set_of_profile, excepted }
    }

    /// The unused ones among `held` (the user's permission set licence ids, sorted), given the
    /// permission sets and groups the user is assigned (`assigned`) and the user's profile
    /// (whose own permission set the user holds too): sorted, a subset of `held`.
    pub(crate) fn unused(&self, held: &[String], assigned: &[String], profile: Option<&str>) -> Vec<String> {
        let own_set = profile.and_then(|profile| self.own_set_of_profile.get(profile));
        held.iter()
            .filter(|licence| !self.excepted.contains(*licence))
            .filter(|licence| {
                !assigned.iter().chain(own_set).any(|granted| {
                    self.grants.get(granted).is_some_and(|licences| licences.iter().any(|l| l == *licence))
                })
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn licence(id: &str, key: Option<&str>, name: &str) -> Subscription {
        Subscription {
            id: id.into(),
            source: SubscriptionSource::PermissionSetLicense,
            name: name.into(),
            label: None,
            key: key.map(Into::into),
            status: Some("Active".into()),
            total: Some(10),
            used: Some(5),
            unlimited: false,
            expires_at: None,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    /// CPQ (0PL1) granted by a permission set, Sales Console (0PL2) only through a group,
    /// Identity Connect (0PL3) a known exception, Einstein (0PL4) granted by nothing, and a
    /// profile's own permission set naming the user licence (100…).
    fn rule(extra: &[&str]) -> UnusedRule {
        let licence_of: HashMap<String, String> = [
            ("0PS_cpq", "0PL1"),
            ("0PS_console", "0PL2"),
            ("0PS_profile", "1001"),
            ("0PS_profile_cpq", "0PL1"),
        ]
        .into_iter()
        .map(|(set, licence)| (set.to_owned(), licence.to_owned()))
        .collect();
        let own_set_of_profile: HashMap<String, String> =
            [("00e_standard", "0PS_profile"), ("00e_cpq", "0PS_profile_cpq")]
                .into_iter()
                .map(|(profile, set)| (profile.to_owned(), set.to_owned()))
                .collect();
        let sets_of: HashMap<String, Vec<String>> =
            [("0PG_sales".to_owned(), strings(&["0PS_console", "0PS_nolicence"]))].into_iter().collect();
        let subscriptions = [
            licence("0PL1", Some("SalesforceCPQ_CPQStandardPerm"), "SalesforceCPQ_CPQStandardPerm"),
            licence("0PL2", Some("SalesConsoleUser"), "SalesConsoleUser"),
            licence("0PL3", Some("identityconnect"), "IdentityConnect"),
            licence("0PL4", None, "EinsteinAnalyticsPlusPsl"),
        ];
        UnusedRule::new(
            LicensedSets { licence_of, own_set_of_profile },
            sets_of,
            &subscriptions,
            &strings(extra),
        )
    }

    #[test]
    fn a_licence_no_assigned_permission_set_needs_is_unused() {
        let held = strings(&["0PL1", "0PL2", "0PL4"]);
        assert_eq!(rule(&[]).unused(&held, &[], None), held);
        assert_eq!(rule(&[]).unused(&held, &strings(&["0PS_cpq"]), None), ["0PL2", "0PL4"]);
    }

    #[test]
    fn a_group_grants_the_licences_of_its_permission_sets() {
        let held = strings(&["0PL1", "0PL2"]);
        assert_eq!(rule(&[]).unused(&held, &strings(&["0PG_sales"]), None), ["0PL1"]);
    }

    #[test]
    fn the_profiles_own_permission_set_counts_like_any_other() {
        let held = strings(&["0PL1"]);
        assert_eq!(rule(&[]).unused(&held, &strings(&["0PS_profile"]), None), ["0PL1"]);
        assert!(rule(&[]).unused(&held, &strings(&["0PS_profile_cpq"]), None).is_empty());
        // The query leaves the profiles' own permission sets out: the user's profile finds it.
        assert_eq!(rule(&[]).unused(&held, &[], Some("00e_standard")), ["0PL1"]);
        assert!(rule(&[]).unused(&held, &[], Some("00e_cpq")).is_empty());
        assert_eq!(rule(&[]).unused(&held, &[], Some("00e_unknown")), ["0PL1"]);
    }

    #[test]
    fn known_and_configured_exceptions_are_never_unused_whatever_the_case() {
        let held = strings(&["0PL3", "0PL4"]);
        // IdentityConnect is in the table (the org spells its key in lower case).
        assert_eq!(rule(&[]).unused(&held, &[], None), ["0PL4"]);
        // The setting adds one; without a readable key the DeveloperName is matched.
        assert!(rule(&["EINSTEINANALYTICSPLUSPSL"]).unused(&held, &[], None).is_empty());
    }

    #[test]
    fn a_group_assignment_is_kept_by_its_group_id() {
        let row = |group: Option<&str>| records::PermissionSetAssignment {
            assignee_id: "005A".into(),
            permission_set_id: "0PS_aggregate".into(),
            permission_set_group_id: group.map(Into::into),
        };
        assert_eq!(granted_by(row(Some("0PG_sales"))), ("005A".to_owned(), "0PG_sales".to_owned()));
        assert_eq!(granted_by(row(None)), ("005A".to_owned(), "0PS_aggregate".to_owned()));
        assert_eq!(granted_by(row(Some(""))), ("005A".to_owned(), "0PS_aggregate".to_owned()));
    }

    #[test]
    fn an_api_version_before_permission_set_groups_skips_the_objects() {
        let skipped = needs_newer_api::<()>("44.0", "PermissionSetAssignment", &crate::NoProgress);
        let Some(Optional::Skipped(warning)) = skipped else { panic!("44.0 is too old") };
        assert_eq!(warning.source.as_deref(), Some("PermissionSetAssignment"));
        assert!(warning.message.contains("API version 45.0 or later") && warning.message.contains("44.0"));
        assert!(needs_newer_api::<()>("45.0", "PermissionSet", &crate::NoProgress).is_none());
        assert!(needs_newer_api::<()>("66.0", "PermissionSet", &crate::NoProgress).is_none());
    }

    #[test]
    fn every_known_exception_gives_its_reason() {
        for exception in KNOWN_EXCEPTIONS {
            assert!(!exception.key.is_empty() && exception.reason.len() > 40, "{exception:?}");
        }
    }
}
