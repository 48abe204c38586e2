//! Unused permission set licence assignments end to end: the real `sfconn collect` against the
//! simulated org, whose data rule (docs/unused-assignments.md, "Worked example") gives the
//! known answers; the exception setting from the environment; the CSV column; an unreadable
//! `PermissionSetAssignment`.

use std::collections::BTreeMap;

use serde_json::Value;
use sfconn_testkit::HiddenAs;

use crate::common::{Org, collected_document as document};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Username → its unused licence ids, for the users that have some.
fn unused_by_username(document: &Value) -> BTreeMap<String, Vec<String>> {
    document["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|user| {
            let ids: Vec<String> = user["unused_permission_set_license_ids"]
                .as_array()
                .expect("computed for every user")
                .iter()
                .map(|id| id.as_str().unwrap().to_owned())
                .collect();
            (!ids.is_empty()).then(|| (user["username"].as_str().unwrap().to_owned(), ids))
        })
        .collect()
}

fn licence(org: &Org, key: &str) -> String {
    org.org.data().permission_set_license_by_key(key).unwrap().id.clone()
}

#[test]
fn collect_writes_the_small_orgs_known_unused_assignments() {
    let org = Org::small();
    let output = org.sfconn().args(["collect"]).output().unwrap();
    let snapshot = document(&output);
    let cpq = licence(&org, "SalesforceCPQ_CPQStandardPerm");
    let console = licence(&org, "SalesConsoleUser");
    let expected: BTreeMap<String, Vec<String>> = [
        ("sam.admin@acme.com.sim", &console),
        ("olga.ivanova@acme.com.sim", &cpq),
        ("tom@partnerco.com.sim", &cpq),
        ("oscar@acme.com.evil.io.sim", &console),
        ("yuri@gmail.com.sim", &cpq),
    ]
    .into_iter()
    .map(|(username, id)| (username.to_owned(), vec![id.clone()]))
    .collect();
    assert_eq!(unused_by_username(&snapshot), expected);

    // The setting (per org, here from the environment) adds an exception by key, any case.
    let output = org
        .sfconn()
        .args(["collect"])
        .env("SFCONN_UNUSED_ASSIGNMENTS__EXCEPTION_KEYS", "salesconsoleuser")
        .output()
        .unwrap();
    let unused = unused_by_username(&document(&output));
    assert_eq!(
        unused.keys().collect::<Vec<_>>(),
        ["olga.ivanova@acme.com.sim", "tom@partnerco.com.sim", "yuri@gmail.com.sim"]
    );

    // CSV: one more column, the ids joined by `;`.
    let output = org.sfconn().args(["collect", "-f", "csv", "-o", "out"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let users = std::fs::read_to_string(org.work().join("out/users.csv")).unwrap();
    let header: Vec<&str> = users.lines().next().unwrap().split(',').collect();
    assert_eq!(header.last(), Some(&"unused_permission_set_license_ids"));
    let sam = users.lines().find(|line| line.contains("sam.admin@acme.com.sim")).unwrap();
    assert!(sam.ends_with(&format!(",{console}")), "{sam}");
}

#[test]
fn an_unreadable_permission_set_assignment_leaves_the_field_null_and_says_so() {
    let org = Org::small();
    org.org.faults().hide_object("PermissionSetAssignment", HiddenAs::InsufficientAccess);
    let output = org.sfconn().args(["collect"]).output().unwrap();
    let snapshot = document(&output);
    assert!(
        snapshot["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["unused_permission_set_license_ids"].is_null())
    );
    let warnings = snapshot["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["code"], "source_skipped");
    assert_eq!(warnings[0]["source"], "PermissionSetAssignment");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("PermissionSetAssignment"), "the warning is shown: {stderr}");
}

/// From the simulated org to the report, through the real binary: `collect`, `history import`,
/// `report -f json`. The `unused_assignment` class must list exactly the (user, licence) pairs
/// the test kit's own data rule makes unused (held, granted by none of the user's permission
/// sets, not an exception), for the active people who are not already reclaim candidates of a
/// user-level class, and each subscription's `unused_assignment_seats` must add up to them.
#[test]
fn the_report_lists_the_simulated_orgs_unused_assignments_not_already_reclaimed() {
    use std::collections::BTreeSet;

    use sfconn_collect::unused::KNOWN_EXCEPTIONS;
    use sfconn_testkit::OrgSpec;

    let org = Org::start(OrgSpec::with_users(600));
    let output = org.sfconn().args(["collect"]).output().unwrap();
    let mut snapshot = document(&output);
    // Prices for the permission set licences (by key), so the money of the class is checked too.
    let prices = org.work().join("prices.toml");
    std::fs::write(
        &prices,
        "[prices]\ncurrency = \"EUR\"\nSalesforceCPQ_CPQStandardPerm = 30\nSalesConsoleUser = 20\nIdentityConnect = 5\n",
    )
    .unwrap();
    let report = crate::common::report_at_the_orgs_present(
        &org,
        &mut snapshot,
        &["--prices", prices.to_str().unwrap()],
    );

    let data = org.org.data();
    let excepted: BTreeSet<&str> = data
        .permission_set_licenses
        .iter()
        .filter(|l| {
            KNOWN_EXCEPTIONS.iter().any(|e| e.key.eq_ignore_ascii_case(&l.permission_set_license_key))
        })
        .map(|l| l.id.as_str())
        .collect();
    let candidates: BTreeSet<&str> = report["reclaim_candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_str().unwrap())
        .collect();
    let kinds = crate::common::account_kinds(&snapshot);
    let mut expected = BTreeSet::new();
    for row in data.psl_assignments() {
        let index = data.user_index(&row.assignee_id).unwrap();
        let user = data.user(index).unwrap();
        let person = !matches!(kinds[user.id.as_str()], "guest" | "system");
        let unused = !data.granted_permission_set_licences(index).contains(&row.permission_set_license_id)
            && !excepted.contains(row.permission_set_license_id.as_str());
        if unused && user.is_active && person && !candidates.contains(user.id.as_str()) {
            expected.insert((row.assignee_id.clone(), row.permission_set_license_id.clone()));
        }
    }
    let listed: Vec<(String, String)> = report["unused_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["user_id"].as_str().unwrap().to_owned(), a["licence_id"].as_str().unwrap().to_owned()))
        .collect();
    assert!(expected.len() >= 10, "the generator leaves assignments unused: {}", expected.len());
    assert_eq!(listed.len(), expected.len(), "each assignment once");
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), expected);
    let seats: u64 = report["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["unused_assignment_seats"].as_u64())
        .sum();
    assert_eq!(seats, expected.len() as u64);
    let class =
        report["classes"].as_array().unwrap().iter().find(|c| c["class"] == "unused_assignment").unwrap();
    assert_eq!(class["candidates"], expected.len());

    // Money: a paid permission set licence's reclaimable seats are its holders among the
    // user-level candidates plus its unused assignments, each at the licence's price.
    let held: BTreeMap<&str, Vec<&str>> = snapshot["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let ids = u["permission_set_license_ids"].as_array().unwrap();
            (u["id"].as_str().unwrap(), ids.iter().map(|id| id.as_str().unwrap()).collect())
        })
        .collect();
    // The prices file's; other licences are unpriced (their money is null, their seats count).
    let price = |key: &str| match key {
        "SalesforceCPQ_CPQStandardPerm" => Some(30),
        "SalesConsoleUser" => Some(20),
        "IdentityConnect" => Some(5),
        _ => None,
    };
    let mut priced = 0;
    for subscription in report["subscriptions"].as_array().unwrap() {
        if subscription["source"] != "PermissionSetLicense" || subscription["paid"] != true {
            continue;
        }
        let id = subscription["id"].as_str().unwrap();
        let key = subscription["key"].as_str().unwrap();
        let by_candidates = candidates.iter().filter(|user| held[*user].contains(&id)).count();
        let unused = expected.iter().filter(|(_, licence)| licence == id).count();
        assert_eq!(subscription["reclaimable"], by_candidates + unused, "{key}");
        let Some(price) = price(key) else {
            assert_eq!(subscription["reclaimable_monthly"], Value::Null, "{key}");
            continue;
        };
        let monthly = (by_candidates + unused) * price;
        assert_eq!(subscription["reclaimable_monthly"], format!("{monthly}.00"), "{key}");
        assert_eq!(subscription["reclaimable_yearly"], format!("{}.00", monthly * 12), "{key}");
        priced += 1;
    }
    assert!(priced >= 2, "the CPQ and Sales Console licences are paid and priced");
    for entry in report["unused_assignments"].as_array().unwrap() {
        let key = entry["key"].as_str().unwrap();
        let expected_monthly = match price(key) {
            Some(price) if entry["paid"] == true => Value::from(format!("{price}.00")),
            _ => Value::Null,
        };
        assert_eq!(entry["monthly"], expected_monthly, "{key}");
    }
}
