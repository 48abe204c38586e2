//! `sfconn history diff` between the test snapshots: tables pinned with insta, each kind of
//! change checked.

#![allow(clippy::type_complexity)]

use crate::common;

use common::*;
use sfconn_store::{Diff, Store};

fn diff(store: &Store, from: i64, to: i64) -> Diff {
    store.diff(&snapshot(store, from), &snapshot(store, to)).unwrap()
}

fn table(diff: &Diff) -> String {
    let mut out = Vec::new();
    diff.write_table(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn names(users: &[sfconn_store::UserChange]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

fn assignments(changes: &[sfconn_store::AssignmentChange]) -> Vec<(&str, &str)> {
    changes.iter().map(|a| (a.username.as_str(), a.subscription.as_str())).collect()
}

#[test]
fn week_1_to_week_2_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    insta::assert_snapshot!(table(&diff(&store, 1, 2)));
}

#[test]
fn week_2_to_week_3_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    insta::assert_snapshot!(table(&diff(&store, 2, 3)));
}

#[test]
fn week_2_to_week_3_json() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let mut out = Vec::new();
    diff(&store, 2, 3).write_json(&mut out).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

#[test]
fn users_added_removed_activated_deactivated() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let d = diff(&store, 1, 2);
    assert_eq!(names(&d.users_added), ["kate@acme.com"]);
    assert_eq!(names(&d.users_removed), ["frank@consultco.io"]);
    assert_eq!(names(&d.users_activated), ["dave@acme.com"]);
    assert_eq!(names(&d.users_deactivated), ["carol@acme.com"]);
    assert!(!d.filter_changed);

    let d = diff(&store, 2, 3);
    assert_eq!(names(&d.users_added), ["oscar@partnerco.example"]);
    assert!(d.users_removed.is_empty());
    assert!(d.users_activated.is_empty());
    assert_eq!(names(&d.users_deactivated), ["heidi@partnerco.example"]);
}

#[test]
fn licence_assignments_gained_and_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let d = diff(&store, 1, 2);
    assert_eq!(
        assignments(&d.licences_gained),
        [
            ("kate@acme.com", "Salesforce"),
            ("kate@acme.com", "Salesforce CPQ License"),
            ("alice@acme.com", "Inbox"),
            ("kate@acme.com", "SBQQ"),
        ]
    );
    assert_eq!(
        assignments(&d.licences_lost),
        [("frank@consultco.io", "Salesforce Platform"), ("erin@consultco.io", "dsfs")]
    );
    // Week 3: grace's profile moved her from Chatter Free to Salesforce.
    let d = diff(&store, 2, 3);
    assert_eq!(
        assignments(&d.licences_gained),
        [("grace@acme.com", "Salesforce"), ("oscar@partnerco.example", "Partner Community")]
    );
    assert_eq!(assignments(&d.licences_lost), [("grace@acme.com", "Chatter Free")]);
}

#[test]
fn subscription_total_and_used_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let d = diff(&store, 1, 2);
    let changes: Vec<(&str, Option<i64>, Option<i64>, Option<i64>, Option<i64>)> = d
        .subscriptions
        .iter()
        .map(|s| (s.name.as_str(), s.total_from, s.total_to, s.used_from, s.used_to))
        .collect();
    assert_eq!(
        changes,
        [
            ("Salesforce Platform", Some(5), Some(5), Some(4), Some(6)),
            ("Salesforce CPQ License", Some(5), Some(10), Some(3), Some(4)),
            ("Inbox", Some(10), Some(10), Some(1), Some(2)),
            ("dsfs", Some(3), Some(3), Some(4), Some(3)),
        ]
    );
    assert!(d.subscriptions.iter().all(|s| s.change == "changed"));
}

#[test]
fn a_snapshot_compared_with_itself_has_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let d = diff(&store, 2, 2);
    assert!(d.users_added.is_empty() && d.users_removed.is_empty());
    assert!(d.users_activated.is_empty() && d.users_deactivated.is_empty());
    assert!(d.licences_gained.is_empty() && d.licences_lost.is_empty() && d.subscriptions.is_empty());
}

#[test]
fn subscriptions_added_and_removed_and_a_filter_change_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_weeks(dir.path());
    let mut doc = value(WEEK_3);
    doc["collected_at"] = serde_json::json!("2024-06-22T08:00:00Z");
    doc["filter"] = serde_json::json!({"all": false, "company_names": ["acme.com"]});
    let subs = doc["subscriptions"].as_array_mut().unwrap();
    subs.retain(|s| s["name"] != "dsfs");
    let mut new_package = subs.last().unwrap().clone();
    new_package["id"] = serde_json::json!("050000000000004AAA");
    new_package["name"] = serde_json::json!("pse");
    new_package["total"] = serde_json::json!(20);
    new_package["used"] = serde_json::json!(0);
    new_package["unlimited"] = serde_json::json!(false);
    new_package["status"] = serde_json::json!("Active");
    subs.push(new_package);
    store.insert_snapshot_json(&bytes(&doc)).unwrap();
    let d = diff(&store, 3, 4);
    assert!(d.filter_changed);
    let changes: Vec<(&str, &str)> = d.subscriptions.iter().map(|s| (s.name.as_str(), s.change)).collect();
    assert_eq!(changes, [("dsfs", "removed"), ("pse", "added")]);
    let text = table(&d);
    assert!(text.contains("Note: the company names differ (* -> acme.com)"), "{text}");
    assert!(text.contains("PackageLicense  pse   added    - -> 20"), "{text}");
}
