//! `sfconn report --all-orgs` on three orgs: Acme Corp (the three weeks; the latest is week 3),
//! Acme EU and Acme APAC (tests/fixtures/README.md lists who is where). The people found, the
//! seats to reclaim, and the table, JSON and CSV output pinned with insta.

#![allow(clippy::type_complexity)]

use crate::common;

use common::*;
use sfconn_store::{Activity, CrossOrgReport, CsvCells, ReportOptions, Store, StoreError};

const EU: &str = include_str!("../fixtures/acme-eu-2024-06-14.json");
const APAC: &str = include_str!("../fixtures/acme-apac-2024-06-13.json");

/// The three weeks of Acme Corp (ids 1-3), then Acme EU (4) and Acme APAC (5).
fn three_orgs(dir: &std::path::Path) -> Store {
    let mut store = store_with_weeks(dir);
    store.insert_snapshot_json(EU.as_bytes()).unwrap();
    store.insert_snapshot_json(APAC.as_bytes()).unwrap();
    store
}

fn view(store: &Store, inactive_days: u32) -> CrossOrgReport {
    store.cross_org_report(&ReportOptions { inactive_days, ..ReportOptions::default() }).unwrap()
}

/// Each person as (key, matched_by, [(org name, username, activity, reclaim candidate)]).
fn people(view: &CrossOrgReport) -> Vec<(&str, &str, Vec<(&str, &str, &str, bool)>)> {
    view.duplicates
        .iter()
        .map(|p| {
            (
                p.key.as_str(),
                p.matched_by.as_str(),
                p.accounts
                    .iter()
                    .map(|a| {
                        (a.org_name.as_str(), a.username.as_str(), a.activity.as_str(), a.reclaim_candidate)
                    })
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn the_fixtures_are_valid_snapshots() {
    assert_valid(&value(EU));
    assert_valid(&value(APAC));
}

#[test]
fn every_org_is_read_at_its_latest_snapshot_with_the_single_org_figures() {
    let dir = tempfile::tempdir().unwrap();
    let store = three_orgs(dir.path());
    let view = view(&store, 90);
    let orgs: Vec<(&str, &str, i64)> = view
        .orgs
        .iter()
        .map(|o| (o.snapshot.org_name.as_str(), o.snapshot.org_id.as_str(), o.snapshot.id.0))
        .collect();
    assert_eq!(
        orgs,
        [
            ("Acme APAC", "00D000000000003AAA", 5),
            ("Acme Corp", "00D000000000001AAA", 3),
            ("Acme EU", "00D000000000002AAA", 4)
        ]
    );
    // The subscriptions are those of the single-org report of the same snapshot.
    let acme = store
        .report(&snapshot(&store, 3), &ReportOptions { inactive_days: 90, ..ReportOptions::default() })
        .unwrap();
    let figures = |subs: &[sfconn_store::SubscriptionUse]| -> Vec<(String, Option<i64>, Option<i64>, Option<i64>, i64)> {
        subs.iter().map(|s| (s.id.clone(), s.used, s.total, s.free, s.reclaimable)).collect()
    };
    assert_eq!(figures(&view.orgs[1].subscriptions), figures(&acme.subscriptions));
    assert_eq!(view.orgs[1].inactive_before, acme.inactive_before);
}

#[test]
fn people_paid_for_in_two_orgs_are_found_by_federation_id_or_email() {
    let dir = tempfile::tempdir().unwrap();
    let store = three_orgs(dir.path());
    let view = view(&store, 90);
    let yes = true;
    let no = false;
    assert_eq!(
        people(&view),
        [
            // Email in another case: Alice@ACME.com in Acme EU.
            (
                "alice@acme.com",
                "email",
                vec![
                    ("Acme Corp", "alice@acme.com", "active", no),
                    ("Acme EU", "alice@acme.eu", "active", no)
                ]
            ),
            // BOB@acme.com has not logged in to Acme APAC since January, and uses Acme Corp.
            (
                "bob@acme.com",
                "email",
                vec![
                    ("Acme APAC", "bob@acme.apac", "inactive", yes),
                    ("Acme Corp", "bob@acme.com", "active", no)
                ]
            ),
            (
                "dave@acme.com",
                "email",
                vec![
                    ("Acme Corp", "dave@acme.com", "inactive", yes),
                    ("Acme EU", "dave@acme.eu", "active", no)
                ]
            ),
            // The same federation id, different emails.
            (
                "E1001",
                "federation_id",
                vec![
                    ("Acme APAC", "p.nguyen@acme-apac.example", "inactive", yes),
                    ("Acme EU", "phuong.nguyen@acme.eu", "active", no)
                ]
            ),
            // A federation id in Acme APAC; Acme Corp's snapshot has none, so by email.
            (
                "E3003",
                "federation_id",
                vec![
                    ("Acme APAC", "mallory@acme.apac", "active", no),
                    ("Acme Corp", "mallory@eu.acme.com", "inactive", yes)
                ]
            ),
            // Paid twice, but inactive in both: nothing says which seat to keep.
            (
                "ivan@gmail.com",
                "email",
                vec![
                    ("Acme APAC", "ivan@gmail.com.acmeapac", "inactive", no),
                    ("Acme Corp", "ivan@gmail.com.acmecommunity", "never_logged_in", no)
                ]
            ),
            // Created in Acme APAC three days before the snapshot: not a waste yet.
            (
                "kate@acme.com",
                "email",
                vec![
                    ("Acme APAC", "kate@acme.apac", "new", no),
                    ("Acme Corp", "kate@acme.com", "active", no)
                ]
            ),
        ]
    );
    let mallory = &view.duplicates[4];
    let matched: Vec<&str> = mallory.accounts.iter().map(|a| a.matched_by.as_str()).collect();
    assert_eq!(matched, ["federation_id", "email"]);
    let active_in: Vec<&str> = mallory.active_in.iter().map(|o| o.org_name.as_str()).collect();
    assert_eq!(active_in, ["Acme APAC"]);
    let licences: Vec<&str> = mallory.accounts[0].paid_licences.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(licences, ["Salesforce", "Einstein Analytics Plus"]);
}

#[test]
fn free_deactivated_system_and_differently_federated_accounts_are_not_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = three_orgs(dir.path());
    let view = view(&store, 90);
    let usernames: Vec<&str> =
        view.duplicates.iter().flat_map(|p| &p.accounts).map(|a| a.username.as_str()).collect();
    for absent in [
        "grace@acme.eu",                      // Chatter Free in Acme EU (paid in Acme Corp)
        "judy@acme.eu",                       // deactivated in Acme EU
        "integration@00d000000000002aaa.com", // a system account, same email as Acme Corp's
        "sam@acme.eu",                        // sam@acme.com, federation id E2001 ...
        "sam@acme.com.apac",                  // ... and E2002: two people
        "lee@acme.eu",                        // in one org only
    ] {
        assert!(!usernames.contains(&absent), "{absent} is not a duplicate: {usernames:?}");
    }
}

#[test]
fn the_window_decides_the_seats_to_reclaim() {
    let dir = tempfile::tempdir().unwrap();
    let store = three_orgs(dir.path());
    // With a year's window, everyone who logged in at all is active: the never-logged-in
    // accounts are all that remains, and Ivan's APAC account (last login December) is active.
    let view = view(&store, 365);
    let flagged: Vec<&str> = view
        .duplicates
        .iter()
        .flat_map(|p| &p.accounts)
        .filter(|a| a.reclaim_candidate)
        .map(|a| a.username.as_str())
        .collect();
    assert_eq!(flagged, ["ivan@gmail.com.acmecommunity"]);
    let kate = view.duplicates.iter().find(|p| p.key == "kate@acme.com").unwrap();
    assert_eq!(kate.accounts[0].activity, Activity::New);
}

#[test]
fn an_empty_store_says_how_to_fill_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("empty.db")).unwrap();
    let error = store.cross_org_report(&ReportOptions::default()).unwrap_err();
    assert!(matches!(error, StoreError::NoSnapshots { org_id: None, .. }), "{error:?}");
    assert!(error.to_string().contains("run `sfconn collect --store"), "{error}");
}

#[test]
fn one_org_has_no_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let view = view(&store, 90);
    assert_eq!(view.orgs.len(), 1);
    assert!(view.duplicates.is_empty());
}

#[test]
fn cross_org_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = three_orgs(dir.path());
    let mut out = Vec::new();
    view(&store, 90).write_table(&mut out).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

#[test]
fn cross_org_json() {
    let dir = tempfile::tempdir().unwrap();
    let store = three_orgs(dir.path());
    let mut out = Vec::new();
    view(&store, 90).write_json(&mut out).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

#[test]
fn cross_org_csv() {
    let dir = tempfile::tempdir().unwrap();
    let store = three_orgs(dir.path());
    let mut out = Vec::new();
    view(&store, 90).write_csv(&mut out, CsvCells::default()).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}
