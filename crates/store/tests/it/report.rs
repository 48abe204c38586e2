//! `sfconn report` on the test snapshots: every output format pinned with insta, and the
//! figures that matter checked one by one.

#![allow(clippy::type_complexity)]

use crate::common;

use common::*;
use sfconn_store::{CsvCells, Report, ReportOptions, Store};

fn report_of(store: &Store, id: i64, inactive_days: u32) -> Report {
    store.report(&snapshot(store, id), &ReportOptions { inactive_days, ..ReportOptions::default() }).unwrap()
}

fn table(report: &Report) -> String {
    let mut out = Vec::new();
    report.write_table(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn usernames(report: &Report) -> Vec<&str> {
    report.reclaim_candidates.iter().map(|c| c.username.as_str()).collect()
}

#[test]
fn week_1_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    insta::assert_snapshot!(table(&report_of(&store, 1, 90)));
}

#[test]
fn week_3_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    insta::assert_snapshot!(table(&report_of(&store, 3, 90)));
}

#[test]
fn week_1_json() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let mut out = Vec::new();
    report_of(&store, 1, 90).write_json(&mut out).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

#[test]
fn week_1_csv() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let mut out = Vec::new();
    report_of(&store, 1, 90).write_csv(&mut out, CsvCells::default()).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

/// Week 1 with text that a spreadsheet would run: a package named `=dsfs` (over-assigned), a
/// user named `-Bob-` and a profile named `+Standard User`.
fn hostile_week_1_csv(cells: CsvCells) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = value(WEEK_1);
    for sub in doc["subscriptions"].as_array_mut().unwrap() {
        if sub["name"] == "dsfs" {
            sub["name"] = "=dsfs".into();
        }
    }
    for profile in doc["profiles"].as_array_mut().unwrap() {
        if profile["name"] == "Standard User" {
            profile["name"] = "+Standard User".into();
        }
    }
    doc["users"][1]["name"] = "-Bob-".into();
    let mut store = Store::open(&dir.path().join("history.db")).unwrap();
    store.insert_snapshot_json(&bytes(&doc)).unwrap();
    let mut out = Vec::new();
    report_of(&store, 1, 90).write_csv(&mut out, cells).unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(out.as_slice());
    reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
}

fn row<'a>(rows: &'a [Vec<String>], section: &str, id: &str) -> &'a [String] {
    rows.iter().find(|r| r[0] == section && r[1..].iter().any(|c| c == id)).unwrap()
}

#[test]
fn csv_text_from_the_org_is_neutralised_and_computed_figures_are_not() {
    let rows = hostile_week_1_csv(CsvCells::Neutralised);
    let dsfs = row(&rows, "subscription", "050000000000003AAA");
    assert_eq!(dsfs[3], "'=dsfs");
    assert_eq!(&dsfs[6..10], ["3", "4", "0", "133.3"], "figures stay numbers");
    let over = row(&rows, "over_assigned", "050000000000003AAA");
    assert_eq!((over[3].as_str(), over[6].as_str()), ("'=dsfs", "1"));
    let bob = row(&rows, "reclaim_candidate", "005000000000002AAA");
    assert_eq!((bob[4].as_str(), bob[6].as_str()), ("'-Bob-", "'+Standard User"));
    // A joined list is one cell: only its first character counts.
    let carol = row(&rows, "reclaim_candidate", "005000000000003AAA");
    assert_eq!(carol[13], "Salesforce;Salesforce CPQ License;SBQQ;=dsfs");
    assert!(rows.iter().flatten().all(|cell| !cell.starts_with(['=', '+', '-', '@'])), "{rows:?}");
}

#[test]
fn csv_raw_writes_the_org_text_as_it_is() {
    let rows = hostile_week_1_csv(CsvCells::Raw);
    assert_eq!(row(&rows, "subscription", "050000000000003AAA")[3], "=dsfs");
    assert_eq!(row(&rows, "reclaim_candidate", "005000000000002AAA")[4], "-Bob-");
}

#[test]
fn reclaim_candidates_follow_logins_and_activations_between_weeks() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    // Week 1: bob never logged in, carol last on 2024-01-10, frank on 2023-12-01, ivan (customer
    // community login) never; mallory's 2024-02-15 login is 106 days old. Not: grace (Chatter
    // Free is free), dave (inactive), guest and system users, the others logged in recently.
    assert_eq!(
        usernames(&report_of(&store, 1, 90)),
        [
            "bob@acme.com",
            "carol@acme.com",
            "frank@consultco.io",
            "ivan@gmail.com.acmecommunity",
            "mallory@eu.acme.com"
        ]
    );
    // Week 2: bob logged in, carol was deactivated, frank left; dave was reactivated with an old
    // login; kate never logged in but her account is 3 days old.
    assert_eq!(
        usernames(&report_of(&store, 2, 90)),
        ["dave@acme.com", "ivan@gmail.com.acmecommunity", "mallory@eu.acme.com"]
    );
    // A shorter window catches more people, counted from the snapshot's collected_at.
    let short = report_of(&store, 2, 7);
    assert_eq!(
        usernames(&short),
        [
            "alice@acme.com",
            "dave@acme.com",
            "erin@consultco.io",
            "heidi@partnerco.example",
            "ivan@gmail.com.acmecommunity",
            "judy@acme.com",
            "mallory@eu.acme.com"
        ]
    );
    assert_eq!(short.inactive_before, "2024-06-01T08:00:00Z");
}

#[test]
fn a_reclaim_candidate_lists_only_the_paid_licences_held() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let report = report_of(&store, 1, 90);
    let carol = report.reclaim_candidates.iter().find(|c| c.username == "carol@acme.com").unwrap();
    let held: Vec<&str> = carol.paid_licences.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(held, ["Salesforce", "Salesforce CPQ License", "SBQQ", "dsfs"]);
    assert_eq!(carol.days_since_login, Some(143));
    assert_eq!(carol.reason, sfconn_store::ReclaimClass::Inactive);
    let salesforce = report.subscriptions.iter().find(|s| s.name == "Salesforce").unwrap();
    assert_eq!(salesforce.reclaimable, 3, "bob, carol and mallory hold a Salesforce licence");
}

#[test]
fn seats_free_utilisation_and_over_assignment() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let week2 = report_of(&store, 2, 90);
    let platform = week2.subscriptions.iter().find(|s| s.name == "Salesforce Platform").unwrap();
    assert_eq!((platform.total, platform.used, platform.free), (Some(5), Some(6), Some(0)));
    assert_eq!(platform.utilisation_percent, Some(120.0));
    let over: Vec<(&str, i64)> = week2.over_assigned.iter().map(|o| (o.name.as_str(), o.over_by)).collect();
    assert_eq!(over, [("Salesforce Platform", 1)]);
    let dlrs = week2.subscriptions.iter().find(|s| s.name == "dlrs").unwrap();
    assert!(dlrs.unlimited && !dlrs.paid);
    assert_eq!((dlrs.total, dlrs.free, dlrs.utilisation_percent), (None, None, None));
}

#[test]
fn with_company_names_only_domains_outside_them_are_third_party() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("history.db")).unwrap();
    // `sfconn collect` with company names keeps only matching users, so such a snapshot's
    // domain list is normally empty. Here week 1 with its users cut to acme.com, eu.acme.com and
    // consultco.io, as if collected for `acme.com` and `consultco.io`, then relabelled
    // `acme.com` only: consultco.io is outside, eu.acme.com (a subdomain) is not.
    let mut doc = value(WEEK_1);
    doc["filter"] = serde_json::json!({"all": false, "company_names": ["acme.com"]});
    let kept: Vec<serde_json::Value> = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| matches!(u["email_domain"].as_str(), Some("acme.com" | "eu.acme.com" | "consultco.io")))
        .cloned()
        .collect();
    doc["users"] = serde_json::Value::Array(kept);
    let id = store.insert_snapshot_json(&bytes(&doc)).unwrap();
    let report = store.report(&snapshot(&store, id.0), &ReportOptions::default()).unwrap();
    assert!(!report.third_party.all_domains_shown);
    let domains: Vec<(Option<&str>, i64)> =
        report.third_party.domains.iter().map(|d| (d.domain.as_deref(), d.users)).collect();
    assert_eq!(domains, [(Some("consultco.io"), 2)]);
    let text = table(&report);
    assert!(text.contains("Users by email domain outside acme.com (1)\n"), "{text}");
}

#[test]
fn an_inactivity_window_longer_than_history_finds_nobody_and_does_not_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let report = report_of(&store, 1, u32::MAX);
    assert!(report.reclaim_candidates.is_empty());
    assert!(report.inactive_before.starts_with('-'), "{}", report.inactive_before);
    // And a window of 0 days: every active user with a paid licence and any earlier login.
    // (week 1: all but dave, inactive; grace, Chatter Free only; the guest and system users).
    assert_eq!(report_of(&store, 1, 0).reclaim_candidates.len(), 9);
}
