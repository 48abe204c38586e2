//! Unused permission set licence assignments (docs/unused-assignments.md) against the simulated
//! org: its data rule (`OrgData::second_assignment` in the test kit) gives the known answers.

use std::collections::BTreeMap;

use sfconn_collect::output::{Format, open_sink_to_writer};
use sfconn_collect::snapshot::Snapshot;
use sfconn_collect::unused::KNOWN_EXCEPTIONS;
use sfconn_config::Settings;
use sfconn_errors::{Classify, ErrorClass};
use sfconn_testkit::{FaultKind, HiddenAs, Occurrence, OrgSpec, SharedBuffer, SimulatedOrg, Target};

use crate::common::settings;

async fn collect(settings: &Settings) -> Snapshot {
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    Box::pin(sfconn_collect::run(settings, sink.as_mut(), &sfconn_collect::NoProgress)).await.unwrap();
    let value: serde_json::Value = serde_json::from_str(&buffer.text()).unwrap();
    sfconn_testkit::assert_valid_snapshot(&value);
    serde_json::from_value(value).unwrap()
}

/// The test kit's ground truth: per user, the licences held that no permission set of the user
/// grants, less those whose key is an exception (built in, or `extra`).
fn expected(org: &SimulatedOrg, extra: &[&str]) -> BTreeMap<String, Vec<String>> {
    let data = org.data();
    let excepted: Vec<&str> = data
        .permission_set_licenses
        .iter()
        .filter(|licence| {
            let key = licence.permission_set_license_key.as_str();
            KNOWN_EXCEPTIONS.iter().any(|e| e.key.eq_ignore_ascii_case(key))
                || extra.iter().any(|e| e.eq_ignore_ascii_case(key))
        })
        .map(|licence| licence.id.as_str())
        .collect();
    let mut held: BTreeMap<String, Vec<String>> = data.users().map(|u| (u.id, Vec::new())).collect();
    for row in data.psl_assignments() {
        held.entry(row.assignee_id).or_default().push(row.permission_set_license_id);
    }
    held.into_iter()
        .map(|(user, mut licences)| {
            let index = data.user_index(&user).unwrap();
            let granted = data.granted_permission_set_licences(index);
            licences.retain(|l| !granted.contains(l) && !excepted.contains(&l.as_str()));
            licences.sort();
            (user, licences)
        })
        .collect()
}

fn actual(snapshot: &Snapshot) -> BTreeMap<String, Vec<String>> {
    snapshot
        .users
        .iter()
        .map(|u| (u.id.clone(), u.unused_permission_set_license_ids.clone().expect("computed")))
        .collect()
}

fn psl(org: &SimulatedOrg, key: &str) -> String {
    org.data().permission_set_license_by_key(key).unwrap().id.clone()
}

fn user(org: &SimulatedOrg, index: usize) -> String {
    org.data().user(index).unwrap().id
}

fn unused_of<'a>(snapshot: &'a Snapshot, id: &str) -> Option<&'a Vec<String>> {
    snapshot.users.iter().find(|u| u.id == id).unwrap().unused_permission_set_license_ids.as_ref()
}

/// The small org's known answers, user by user (docs/unused-assignments.md, "Worked example"):
/// a licence granted directly (CPQ of Sam), through the group (Sales Console of Ana), or by
/// nothing (Sales Console of Sam and Oscar, CPQ of Olga, Tom and Yuri), and Identity Connect,
/// granted by nothing but a known exception (Sam, Zed).
#[tokio::test]
async fn the_small_org_has_its_known_unused_assignments() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let snapshot = collect(&settings(&org, &[])).await;
    assert!(snapshot.warnings.is_empty(), "{:?}", snapshot.warnings);
    let (cpq, console) = (psl(&org, "SalesforceCPQ_CPQStandardPerm"), psl(&org, "SalesConsoleUser"));
    let identity = psl(&org, "IdentityConnect");
    // Sam Admin holds CPQ, Sales Console and Identity Connect; CPQ_User grants CPQ.
    let sam = snapshot.users.iter().find(|u| u.id == user(&org, 0)).unwrap();
    assert_eq!(sam.permission_set_license_ids, [cpq.clone(), console.clone(), identity.clone()]);
    assert_eq!(unused_of(&snapshot, &user(&org, 0)), Some(&vec![console.clone()]));
    // Ana Lopez: Sales Console through the group Sales_Team.
    assert_eq!(unused_of(&snapshot, &user(&org, 2)), Some(&vec![]));
    // Olga Ivanova: Sales_Console_Agent directly; her CPQ is unused.
    assert_eq!(unused_of(&snapshot, &user(&org, 5)), Some(&vec![cpq.clone()]));
    // Tom Consultant and Yuri Inactive: CPQ and only Report_Builder.
    assert_eq!(unused_of(&snapshot, &user(&org, 6)), Some(&vec![cpq.clone()]));
    assert_eq!(unused_of(&snapshot, &user(&org, 39)), Some(&vec![cpq.clone()]));
    // Zed Nodot: Identity Connect only, a known exception.
    assert_eq!(unused_of(&snapshot, &user(&org, 26)), Some(&vec![]));
    // Oscar Evil: Sales Console held, Report_Builder assigned.
    assert_eq!(unused_of(&snapshot, &user(&org, 32)), Some(&vec![console]));
    // Users without licences (the Automated Process user has no profile either) get [].
    assert_eq!(unused_of(&snapshot, &user(&org, 20)), Some(&vec![]));
    let total: usize = actual(&snapshot).values().map(Vec::len).sum();
    assert_eq!(total, 5, "five unused assignments in the small org");
    assert_eq!(actual(&snapshot), expected(&org, &[]));
}

/// `unused_assignments.exception_keys` adds exceptions, matched by key whatever the case.
#[tokio::test]
async fn configured_exception_keys_are_never_unused() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let extra = [("SFCONN_UNUSED_ASSIGNMENTS__EXCEPTION_KEYS", "salesconsoleuser")];
    let snapshot = collect(&settings(&org, &extra)).await;
    assert_eq!(unused_of(&snapshot, &user(&org, 0)), Some(&vec![]));
    assert_eq!(unused_of(&snapshot, &user(&org, 32)), Some(&vec![]));
    assert_eq!(actual(&snapshot), expected(&org, &["SalesConsoleUser"]));
    let total: usize = actual(&snapshot).values().map(Vec::len).sum();
    assert_eq!(total, 3);
}

/// The profile's own permission set grants what its `LicenseId` names, like any other: served
/// with the CPQ licence on the Standard User profile's set, Tom's and Yuri's CPQ is used.
#[tokio::test]
async fn the_profiles_own_permission_set_grants_its_licence() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let cpq = psl(&org, "SalesforceCPQ_CPQStandardPerm");
    let standard = org.data().profiles.iter().find(|p| p.name == "Standard User").unwrap().id.clone();
    let records: Vec<serde_json::Value> = org
        .data()
        .permission_sets
        .iter()
        .filter(|set| set.license_id.is_some())
        .map(|set| {
            let licence = if set.profile_id.as_deref() == Some(standard.as_str()) {
                cpq.clone()
            } else {
                set.license_id.clone().unwrap()
            };
            serde_json::json!({"attributes": {"type": "PermissionSet"}, "Id": set.id, "LicenseId": licence,
                "IsOwnedByProfile": set.is_owned_by_profile, "ProfileId": set.profile_id})
        })
        .collect();
    org.faults().on(
        Target::Query { object: Some("PermissionSet".into()), page: Some(1) },
        Occurrence::always(),
        FaultKind::Json {
            status: 200,
            body: serde_json::json!({"totalSize": records.len(), "done": true, "records": records}),
        },
    );
    let snapshot = collect(&settings(&org, &[])).await;
    assert_eq!(unused_of(&snapshot, &user(&org, 6)), Some(&vec![]));
    assert_eq!(unused_of(&snapshot, &user(&org, 39)), Some(&vec![]));
    // Olga's profile is Standard User too; Raj (Standard Platform User) is not concerned.
    assert_eq!(unused_of(&snapshot, &user(&org, 5)), Some(&vec![]));
    let total: usize = actual(&snapshot).values().map(Vec::len).sum();
    assert_eq!(total, 2, "Sam's and Oscar's Sales Console remain");
}

/// Any source the rule needs unreadable: the field is null for every user (not computed, never
/// an empty list that would read as "nothing unused"), with the object's `source_skipped`
/// warning; the run succeeds and everything else is collected.
#[tokio::test]
async fn an_unreadable_source_leaves_the_field_null_with_a_warning() {
    for (object, how) in [
        ("PermissionSetAssignment", HiddenAs::InsufficientAccess),
        ("PermissionSet", HiddenAs::InsufficientAccess),
        ("PermissionSetGroupComponent", HiddenAs::InvalidType),
        ("PermissionSetLicenseAssign", HiddenAs::InsufficientAccess),
        ("PermissionSetLicense", HiddenAs::InsufficientAccess),
    ] {
        let org = SimulatedOrg::start(OrgSpec::small()).await;
        org.faults().hide_object(object, how);
        let snapshot = collect(&settings(&org, &[])).await;
        let warnings: Vec<(&str, Option<&str>)> =
            snapshot.warnings.iter().map(|w| (w.code.as_str(), w.source.as_deref())).collect();
        if object == "PermissionSet" {
            // The assignments' filter names PermissionSet fields: it is refused too, and said so.
            assert_eq!(
                warnings,
                [("source_skipped", Some(object)), ("source_skipped", Some("PermissionSetAssignment"))],
            );
            assert!(snapshot.warnings[1].message.contains("filters on PermissionSet fields"));
            let asked = org.requests().iter().any(|request| request.url.contains("PermissionSetAssignment"));
            assert!(!asked, "a query Salesforce would refuse is not sent");
        } else {
            assert_eq!(warnings, [("source_skipped", Some(object))], "{object}");
        }
        assert!(snapshot.warnings[0].message.contains("View Setup and Configuration"), "{object}");
        assert!(snapshot.users.iter().all(|u| u.unused_permission_set_license_ids.is_none()), "{object}");
        assert_eq!(snapshot.users.len(), org.data().user_count(), "{object}");
    }
}

/// An `api_version` before permission set groups (45.0): the three objects are not queried
/// (the queries would fail and stop the run), each is a `source_skipped` warning saying why,
/// and the field is null.
#[tokio::test]
async fn an_api_version_before_permission_set_groups_skips_the_rule() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let snapshot = collect(&settings(&org, &[("SFCONN_API_VERSION", "44.0")])).await;
    let skipped: Vec<&str> = snapshot.warnings.iter().filter_map(|w| w.source.as_deref()).collect();
    assert_eq!(skipped, ["PermissionSet", "PermissionSetGroupComponent", "PermissionSetAssignment"]);
    assert!(snapshot.warnings.iter().all(|w| w.code == "source_skipped" && w.message.contains("45.0")));
    assert!(snapshot.users.iter().all(|u| u.unused_permission_set_license_ids.is_none()));
    assert!(snapshot.users.iter().any(|u| !u.permission_set_license_ids.is_empty()), "the rest is collected");
    let queries: Vec<String> = org
        .requests()
        .iter()
        .filter_map(|request| {
            let url = sfconn_auth::Url::parse(&request.url).unwrap();
            url.query_pairs().find(|(key, _)| key == "q").map(|(_, q)| q.into_owned())
        })
        .collect();
    assert!(queries.iter().any(|q| q.contains("FROM PermissionSetLicenseAssign")), "{queries:?}");
    let rule = ["FROM PermissionSet ", "FROM PermissionSetGroupComponent", "FROM PermissionSetAssignment"];
    assert!(!queries.iter().any(|q| rule.iter().any(|from| q.contains(from))), "{queries:?}");
}

/// Several pages of `PermissionSetAssignment` merged by user, with a company filter (rows of
/// users not fetched are skipped) and with an expired cursor on page 2 (the query restarts,
/// `ORDER BY AssigneeId, Id` being total).
#[tokio::test]
async fn assignments_merge_across_pages_with_a_filter_and_a_cursor_restart() {
    let org = SimulatedOrg::start(OrgSpec::with_users(20_000)).await;
    let rows = org.data().licence_granting_set_assignments().count();
    assert!(rows > 2 * 2_000, "PermissionSetAssignment spans pages: {rows}");
    let fault = org.faults().on(
        Target::Query { object: Some("PermissionSetAssignment".into()), page: Some(2) },
        Occurrence::times(1),
        FaultKind::ExpireQueryLocator,
    );
    let snapshot = collect(&settings(&org, &[])).await;
    assert_eq!(org.faults().fired(fault), 1);
    let truth = expected(&org, &[]);
    assert_eq!(actual(&snapshot), truth);
    assert!(truth.values().filter(|unused| !unused.is_empty()).count() > 300, "many users have unused ones");

    let snapshot = collect(&settings(&org, &[("SFCONN_COMPANY_NAMES", "acme.io")])).await;
    let fetched = actual(&snapshot);
    assert!(fetched.len() < 1_000 && !fetched.is_empty());
    for (id, unused) in &fetched {
        assert_eq!(Some(unused), truth.get(id), "{id}");
    }
}

/// `PermissionSetAssignment` rows out of user order stop the run (exit 65) naming the object
/// and both ids, as for the licence assignments.
#[tokio::test]
async fn set_assignments_out_of_order_fail_the_run_naming_both_ids() {
    let org = SimulatedOrg::start(OrgSpec::small()).await;
    let users: Vec<String> = org.data().users().take(2).map(|u| u.id).collect();
    let set = org.data().permission_sets[0].id.clone();
    let row = |id: &str, user: &str| {
        serde_json::json!({"attributes": {"type": "PermissionSetAssignment"}, "Id": id, "AssigneeId": user,
            "PermissionSetId": set, "PermissionSetGroupId": null})
    };
    org.faults().on(
        Target::Query { object: Some("PermissionSetAssignment".into()), page: Some(1) },
        Occurrence::always(),
        FaultKind::Json {
            status: 200,
            body: serde_json::json!({"totalSize": 2, "done": true,
                "records": [row("0Pa000000000001AAA", &users[1]), row("0Pa000000000002AAA", &users[0])]}),
        },
    );
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    let error = sfconn_collect::run(&settings(&org, &[]), sink.as_mut(), &sfconn_collect::NoProgress)
        .await
        .unwrap_err();
    drop(sink);
    assert!(buffer.is_empty());
    assert_eq!(error.class(), ErrorClass::BadData, "{error}");
    let message = error.to_string();
    assert!(message.contains("PermissionSetAssignment rows out of the order sfconn asked for"), "{message}");
    assert!(message.contains(&format!("`{}` came after `{}`", users[0], users[1])), "{message}");
}
