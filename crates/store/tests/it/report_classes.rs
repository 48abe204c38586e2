//! The reclaim classes of issue 18 against a hand-written snapshot with known answers
//! (`fixtures/acme-labs-2024-06-20.json`, described in `fixtures/README.md`): frozen users
//! first, then no recent login, then low activity; the seats each class holds per subscription;
//! the login distribution; the feature licences; and what the report says when the snapshot
//! lacks what a class needs.

use crate::common;

use common::*;
use serde_json::Value;
use sfconn_store::{CsvCells, ReclaimClass, Report, ReportOptions, Store};

pub const LABS: &str = include_str!("../fixtures/acme-labs-2024-06-20.json");

fn labs_store(dir: &std::path::Path) -> Store {
    store_of(dir, LABS)
}

fn labs_report(store: &Store, min_logins: u32) -> Report {
    store.report(&snapshot(store, 1), &ReportOptions { min_logins, ..ReportOptions::default() }).unwrap()
}

fn candidates(report: &Report) -> Vec<(&str, ReclaimClass)> {
    report.reclaim_candidates.iter().map(|c| (c.username.split('@').next().unwrap(), c.reason)).collect()
}

fn class_counts(report: &Report) -> Vec<(&str, Option<i64>)> {
    report.classes.iter().map(|c| (c.class.as_str(), c.candidates)).collect()
}

#[test]
fn the_fixture_is_a_valid_snapshot() {
    assert_valid(&value(LABS));
    assert_valid(&value(crate::money::MONEY));
}

#[test]
fn frozen_first_then_no_recent_login_then_low_activity_each_user_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = labs_store(dir.path());
    let report = labs_report(&store, 5);
    use ReclaimClass::*;
    // ann: frozen though she logged in 2 days before. ben: frozen, inactive and low activity
    // at once: listed once, as frozen. cat never logged in, dan not since February (both also
    // below 5 logins). eve (2) and fay (4) log in rarely; gus (5) does not count; jon was
    // created within the 30-day window; ivy holds only Chatter Free; kim is deactivated; the
    // guest user is not a person.
    assert_eq!(
        candidates(&report),
        [
            ("ann", Frozen),
            ("ben", Frozen),
            ("cat", NeverLoggedIn),
            ("dan", Inactive),
            ("eve", LowActivity),
            ("fay", LowActivity)
        ]
    );
    assert_eq!(
        class_counts(&report),
        [
            ("frozen", Some(2)),
            ("never_logged_in", Some(1)),
            ("inactive", Some(1)),
            ("low_activity", Some(2)),
            // The fixture predates the unused assignments (tests/unused_assignments.rs).
            ("unused_assignment", None)
        ]
    );
    let ben = &report.reclaim_candidates[1];
    assert_eq!((ben.frozen, ben.logins_in_window, ben.days_since_login), (Some(true), Some(0), Some(201)));
    let eve = &report.reclaim_candidates[4];
    let held: Vec<&str> = eve.paid_licences.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(held, ["Salesforce", "Sales Cloud Einstein"]);
}

#[test]
fn each_subscription_counts_the_seats_of_frozen_and_low_activity_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = labs_store(dir.path());
    let report = labs_report(&store, 5);
    let seats: Vec<(&str, i64, Option<i64>, Option<i64>)> = report
        .subscriptions
        .iter()
        .map(|s| (s.name.as_str(), s.reclaimable, s.frozen_seats, s.low_activity_seats))
        .collect();
    assert_eq!(
        seats,
        [
            ("Salesforce", 6, Some(2), Some(2)),
            ("Chatter Free", 0, Some(0), Some(0)),
            ("Guest User License", 0, Some(0), Some(0)),
            ("SalesCloudEinstein", 2, Some(1), Some(1)),
            ("SBQQ", 2, Some(0), Some(1)),
        ]
    );
}

#[test]
fn min_logins_moves_the_low_activity_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = labs_store(dir.path());
    let low = |min| {
        let report = labs_report(&store, min);
        report
            .reclaim_candidates
            .iter()
            .filter(|c| c.reason == ReclaimClass::LowActivity)
            .map(|c| c.username.split('@').next().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(low(6), ["eve", "fay", "gus"]);
    assert_eq!(low(5), ["eve", "fay"]);
    assert_eq!(low(3), ["eve"]);
    // Nobody left has fewer than one login but is in an earlier class already.
    assert_eq!(low(1), Vec::<String>::new());
    assert_eq!(labs_report(&store, 1).classes[3].candidates, Some(0));
}

#[test]
fn the_login_distribution_counts_active_people_by_logins_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = labs_store(dir.path());
    let report = labs_report(&store, 5);
    let activity = &report.login_activity;
    assert_eq!(
        (activity.state, activity.days, activity.path.as_deref(), activity.rows),
        ("collected", Some(30), Some("bulk"), Some(55))
    );
    let buckets: Vec<(&str, i64, i64)> =
        activity.distribution.iter().map(|b| (b.label, b.users, b.paid_users)).collect();
    // 0: ben, cat, dan. 1-4: eve, fay, ivy (Chatter Free only), jon. 5-19: ann, gus. 20+: hal.
    // kim (deactivated) and the guest user are not counted.
    assert_eq!(buckets, [("0", 3, 3), ("1-4", 4, 3), ("5-19", 2, 2), ("20+", 1, 1)]);
}

#[test]
fn feature_licences_are_listed_with_used_and_total_or_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let store = labs_store(dir.path());
    let report = labs_report(&store, 5);
    let licences: Vec<(&str, i64, Option<i64>)> = report
        .feature_licences
        .as_ref()
        .unwrap()
        .iter()
        .map(|f| (f.name.as_str(), f.used, f.total))
        .collect();
    assert_eq!(
        licences,
        [("KnowledgeUser", 2, None), ("MarketingUser", 3, Some(5)), ("SupportUser", 0, Some(2))]
    );
    let mut table = Vec::new();
    report.write_table(&mut table).unwrap();
    let table = String::from_utf8(table).unwrap();
    assert!(table.contains("KnowledgeUser  Knowledge User         2  unknown"), "{table}");
}

#[test]
fn the_table_json_and_csv_carry_the_classes_and_seats() {
    let dir = tempfile::tempdir().unwrap();
    let store = labs_store(dir.path());
    let report = labs_report(&store, 5);
    let mut table = Vec::new();
    report.write_table(&mut table).unwrap();
    insta::assert_snapshot!("labs_table", String::from_utf8(table).unwrap());
    let mut json = Vec::new();
    report.write_json(&mut json).unwrap();
    let json: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["reclaim_candidates"][0]["reason"], "frozen");
    assert_eq!(json["subscriptions"][0]["frozen_seats"], 2);
    assert_eq!(json["subscriptions"][0]["low_activity_seats"], 2);
    assert_eq!(json["classes"][3]["candidates"], 2);
    assert_eq!(json["login_activity"]["distribution"][1]["users"], 4);
    assert_eq!(json["feature_licences"][0]["total"], Value::Null);
    let mut csv = Vec::new();
    report.write_csv(&mut csv, CsvCells::Neutralised).unwrap();
    insta::assert_snapshot!("labs_csv", String::from_utf8(csv).unwrap());
}

#[test]
fn without_login_activity_or_frozen_the_classes_say_they_were_not_computed() {
    let dir = tempfile::tempdir().unwrap();
    // The Acme weeks predate both: no `frozen`, no `login_activity`, no feature licences.
    let store = store_with_weeks(dir.path());
    let report = store.report(&snapshot(&store, 3), &ReportOptions::default()).unwrap();
    assert_eq!(
        class_counts(&report),
        [
            ("frozen", None),
            ("never_logged_in", Some(2)),
            ("inactive", Some(2)),
            ("low_activity", None),
            ("unused_assignment", None)
        ]
    );
    assert_eq!(report.login_activity.state, "not_collected");
    assert!(report.login_activity.distribution.is_empty());
    assert!(report.feature_licences.is_none());
    assert!(report.subscriptions.iter().all(|s| s.frozen_seats.is_none() && s.low_activity_seats.is_none()));
    let mut table = Vec::new();
    report.write_table(&mut table).unwrap();
    let table = String::from_utf8(table).unwrap();
    assert!(
        table.contains(
            "\n  low activity: not computed: the snapshot has no login activity (collect with --login-activity DAYS to count logins)\n"
        ),
        "{table}"
    );
    assert_eq!(table.matches("Login activity: not collected for this snapshot").count(), 1, "{table}");

    // LoginHistory unreadable (`organization.login_activity: null`): the users' counts are null too.
    let mut doc = value(LABS);
    doc["organization"]["login_activity"] = Value::Null;
    for user in doc["users"].as_array_mut().unwrap() {
        user["logins_in_window"] = Value::Null;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("h.db")).unwrap();
    store.insert_snapshot_json(&bytes(&doc)).unwrap();
    let report = labs_report(&store, 5);
    assert_eq!(report.login_activity.state, "unreadable");
    assert_eq!(report.classes[3].candidates, None);
    assert_eq!(report.classes[0].candidates, Some(2), "frozen is still known");
    let mut table = Vec::new();
    report.write_table(&mut table).unwrap();
    let table = String::from_utf8(table).unwrap();
    assert!(
        table.contains("Login activity: not in this snapshot: LoginHistory could not be read"),
        "{table}"
    );
}

#[test]
fn the_html_page_shows_the_classes_the_distribution_and_the_feature_licences() {
    let dir = tempfile::tempdir().unwrap();
    let store = labs_store(dir.path());
    let report = labs_report(&store, 5);
    let context = store.report_context(&report).unwrap();
    let mut html = Vec::new();
    report.write_html(&context, sfconn_store::HtmlOptions { sfconn_version: "test" }, &mut html).unwrap();
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("<li data-class=\"frozen\"><strong>frozen but licensed</strong>: <span data-field=\"candidates\">2</span></li>"), "{html}");
    assert!(html.contains("<section id=\"activity\">"));
    assert!(html.contains("id=\"chart-activity\""));
    let activity = &html[html.find("<section id=\"activity\">").unwrap()..];
    let activity = &activity[..activity.find("</section>").unwrap()];
    for (label, users) in [("0", 3), ("1-4", 4), ("5-19", 2), ("20+", 1)] {
        assert!(
            activity.contains(&format!(
                "<tr data-id=\"{label}\"><td>{label}</td><td class=\"num\" data-field=\"users\">{users}</td>"
            )),
            "{label}: {activity}"
        );
    }
    assert!(html.contains("<h3 id=\"feature-licences\">Feature licences</h3>"));
    let salesforce = &html[html.find("data-id=\"100000000000041AAA\"").unwrap()..];
    assert!(salesforce.contains("data-field=\"frozen_seats\">2<"), "{salesforce}");
    assert!(salesforce.contains("data-field=\"low_activity_seats\">2<"));

    // Without login activity, a sentence and no chart.
    let dir = tempfile::tempdir().unwrap();
    let weeks = store_with_weeks(dir.path());
    let report = weeks.report(&snapshot(&weeks, 3), &ReportOptions::default()).unwrap();
    let context = weeks.report_context(&report).unwrap();
    let mut html = Vec::new();
    report.write_html(&context, sfconn_store::HtmlOptions { sfconn_version: "test" }, &mut html).unwrap();
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("<p class=\"no-activity\">Login activity: not collected for this snapshot"),
        "{html}"
    );
    assert!(!html.contains("chart-activity"));
}
