//! `sfconn report -f html` without a browser: the page pinned with insta, its numbers against
//! `-f json`, the caps, and the escaping of hostile text. The browser checks are in
//! `html_browser.rs`.

use crate::common;
use crate::html_support;

use common::*;
use html_support::*;
use serde_json::Value;
use sfconn_store::{HTML_MAX_CANDIDATES, Store};

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::Number(n) if n.is_f64() => format!("{:.1}", n.as_f64().unwrap()),
        other => other.to_string(),
    }
}

#[test]
fn week_3_html() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    insta::assert_snapshot!(render(&store, 3).0);
}

#[test]
fn every_figure_of_the_page_is_the_one_of_report_json() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    for id in 1..=3 {
        let (html, json) = render(&store, id);
        let mut checked = 0;
        for sub in json["subscriptions"].as_array().unwrap() {
            let sub_id = sub["id"].as_str().unwrap();
            for name in
                ["used", "free", "utilisation_percent", "reclaimable", "frozen_seats", "low_activity_seats"]
            {
                let shown = field(&html, "<section id=\"seats\">", sub_id, name);
                assert_eq!(
                    shown.as_deref(),
                    Some(text(&sub[name]).as_str()),
                    "snapshot {id}, {sub_id} {name}"
                );
                checked += 1;
            }
            let total = field(&html, "<section id=\"seats\">", sub_id, "total").unwrap();
            let expected =
                if sub["unlimited"] == true { "unlimited".to_owned() } else { text(&sub["total"]) };
            assert_eq!(total, expected, "snapshot {id}, {sub_id} total");
        }
        for over in json["over_assigned"].as_array().unwrap() {
            let over_id = over["id"].as_str().unwrap();
            let shown = field(&html, "<h3 id=\"over-assigned\">", over_id, "over_by");
            assert_eq!(shown, Some(text(&over["over_by"])), "snapshot {id}, {over_id}");
        }
        for candidate in json["reclaim_candidates"].as_array().unwrap() {
            let user = candidate["user_id"].as_str().unwrap();
            let days = field(&html, "<section id=\"reclaim\">", user, "days_since_login");
            assert_eq!(days, Some(text(&candidate["days_since_login"])), "snapshot {id}, {user}");
            checked += 1;
        }
        for kind in json["third_party"]["external_by_kind"].as_array().unwrap() {
            let name = kind["account_kind"].as_str().unwrap();
            for count in ["users", "active"] {
                let shown = field(&html, "<section id=\"third-party\">", name, count);
                assert_eq!(shown, Some(text(&kind[count])), "snapshot {id}, kind {name}");
            }
        }
        for domain in json["third_party"]["domains"].as_array().unwrap() {
            let name = domain["domain"].as_str().unwrap_or("(no email)");
            let shown = field(&html, "<section id=\"third-party\">", name, "users");
            assert_eq!(shown, Some(text(&domain["users"])), "snapshot {id}, domain {name}");
        }
        let candidates = json["reclaim_candidates"].as_array().unwrap().len();
        assert!(html.contains(&format!("<h2>Reclaim candidates ({candidates})</h2>")), "snapshot {id}");
        assert!(checked > 50, "only {checked} figures compared");
    }
}

#[test]
fn one_snapshot_shows_a_sentence_instead_of_an_empty_chart() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let (first, _) = render(&store, 1);
    assert!(first.contains("holds one snapshot of this org up to this one"), "{first}");
    assert!(!first.contains("chart-history"));
    // The third week's history has the two weeks before it, never a later one.
    let (third, _) = render(&store, 3);
    assert!(third.contains("in the 3 snapshots of this org up to this one"));
    let (second, _) = render(&store, 2);
    assert!(second.contains("in the 2 snapshots of this org up to this one"));
    assert!(!second.contains("<td>2024-06-15T08:00:00Z</td>"));
}

#[test]
fn the_history_follows_each_paid_subscription_through_the_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let report = report(&store, 3);
    let context = store.report_context(&report).unwrap();
    assert_eq!(context.snapshots_in_history, 3);
    let salesforce = context.history.iter().find(|s| s.name == "Salesforce").unwrap();
    let seats: Vec<(Option<i64>, Option<i64>)> =
        salesforce.points.iter().map(|p| (p.used, p.total)).collect();
    // README of the fixtures: Salesforce total 10 -> 12, used 8 -> 9 in week 3.
    assert_eq!(seats[2], (Some(9), Some(12)));
    assert_eq!(seats.len(), 3);
    // Only paid subscriptions with a seat limit are followed.
    for series in &context.history {
        let sub = report.subscriptions.iter().find(|s| s.id == series.id).unwrap();
        assert!(sub.paid && !sub.unlimited, "{}", series.name);
    }
    assert!(!context.history.iter().any(|s| s.name == "Chatter Free"));
    assert_eq!(context.edition.as_deref(), Some("Enterprise Edition"));
    assert_eq!(context.collected_by, "sfconn 0.1.0");
}

#[test]
fn reclaim_candidates_beyond_the_cap_are_counted_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = value(WEEK_1);
    let bob = doc["users"][1].clone();
    let users = doc["users"].as_array_mut().unwrap();
    for n in 0..HTML_MAX_CANDIDATES + 7 {
        let mut user = bob.clone();
        user["id"] = format!("005900000{n:06}AAA").into();
        user["username"] = format!("idle{n}@acme.com").into();
        users.push(user);
    }
    users.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let mut store = Store::open(&dir.path().join("h.db")).unwrap();
    store.insert_snapshot_json(&bytes(&doc)).unwrap();
    let (html, json) = render(&store, 1);
    let all = json["reclaim_candidates"].as_array().unwrap().len();
    assert!(all > HTML_MAX_CANDIDATES);
    let reclaim = &html
        [html.find("<section id=\"reclaim\">").unwrap()..html.find("<section id=\"third-party\">").unwrap()];
    assert_eq!(reclaim.matches("<tr data-id=").count(), HTML_MAX_CANDIDATES);
    assert!(reclaim.contains(&format!("… and {} more", all - HTML_MAX_CANDIDATES)), "{reclaim}");
}

#[test]
fn hostile_text_is_escaped_wherever_it_lands() {
    let dir = tempfile::tempdir().unwrap();
    let store = hostile_store(dir.path(), "http://127.0.0.1:9");
    let (html, _) = render(&store, 1);
    // The page's own script is the only one; no element or attribute comes from the data.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    for raw in [
        "<img",
        "<svg onload",
        "<iframe",
        "<style>@import",
        "<a href=\"javascript",
        "onerror=\"",
        "\u{202E}",
        "\u{2066}",
    ] {
        assert!(!html.contains(raw), "{raw:?} reached the page unescaped");
    }
    assert!(html.contains("&lt;script&gt;document.body.setAttribute(&#39;data-pwned&#39;,&#39;2&#39;)"));
    assert!(html.contains("&quot;&gt;&lt;img src=&quot;http://127.0.0.1:9/u&quot; onerror="));
    assert!(html.contains("Acme \u{FFFD}gnp.exe &lt;script&gt;"));
    assert!(html.contains("javascript:document.body"), "profile names show as text");
    assert!(!html.contains("href=\"javascript"));
}

/// docs/report-html.png is taken by `cargo xtask screenshot` from the page of the third test
/// snapshot, whose SHA-256 it records beside the picture: a change to the page without a new
/// screenshot fails here.
#[test]
fn the_screenshot_in_docs_shows_what_the_code_renders() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let (html, _) = render_as(&store, 3, env!("CARGO_PKG_VERSION"));
    let digest: String = Sha256::digest(html.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let recorded = std::fs::read_to_string(docs.join("report-html.sha256")).unwrap_or_default();
    assert_eq!(
        recorded.trim(),
        digest,
        "docs/report-html.png is not what the code renders now: run `cargo xtask screenshot` and commit docs/"
    );
    assert!(docs.join("report-html.png").is_file());
}
