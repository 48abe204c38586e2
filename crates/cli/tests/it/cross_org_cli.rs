//! `sfconn report --all-orgs`, run as the real binary on a store of three orgs (the store's
//! fixtures: Acme Corp's three weeks, Acme EU, Acme APAC), in an empty environment.

use std::path::{Path, PathBuf};

use crate::common;
use common::Sandbox;

pub(crate) const FIXTURES: [&str; 5] = [
    "acme-2024-06-01.json",
    "acme-2024-06-08.json",
    "acme-2024-06-15.json",
    "acme-eu-2024-06-14.json",
    "acme-apac-2024-06-13.json",
];

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/tests/fixtures").join(name)
}

/// `sfconn ARGS --store DB`: (exit code, stdout, stderr).
fn run(sandbox: &Sandbox, db: &Path, args: &[&str]) -> (i32, String, String) {
    let output = sandbox.sfconn().args(args).arg("--store").arg(db).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn three_orgs() -> (Sandbox, PathBuf) {
    let sandbox = Sandbox::new();
    let db = sandbox.work().join("history.db");
    for name in FIXTURES {
        let (code, _, stderr) = run(&sandbox, &db, &["history", "import", fixture(name).to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
    }
    (sandbox, db)
}

#[test]
fn all_orgs_table_shows_every_org_and_the_people_paid_for_twice() {
    let (sandbox, db) = three_orgs();
    let (code, out, stderr) = run(&sandbox, &db, &["report", "--all-orgs"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(out.starts_with("Cross-org licence view: 3 orgs, the latest snapshot of each;"), "{out}");
    for heading in [
        "Acme APAC (00D000000000003AAA), snapshot 5 collected 2024-06-13T08:00:00Z",
        "Acme Corp (00D000000000001AAA), snapshot 3 collected 2024-06-15T08:00:00Z",
        "Acme EU (00D000000000002AAA), snapshot 4 collected 2024-06-14T08:00:00Z",
        "Paid in more than one org (7 people, 14 accounts)",
        "Reclaim candidates among them (4): no login within 90 days in this org, active in another",
    ] {
        assert!(out.lines().any(|line| line == heading || line.starts_with(heading)), "{heading}:\n{out}");
    }
    // Dave's unused Acme Corp seat, in the last section (the store pins the whole table).
    let dave = out.lines().rfind(|l| l.starts_with("  dave@acme.com ")).unwrap();
    assert!(
        dave.contains("Acme Corp") && dave.contains("Salesforce Platform") && dave.ends_with("Acme EU"),
        "{dave}"
    );
}

#[test]
fn all_orgs_json_and_csv() {
    let (sandbox, db) = three_orgs();
    let (code, out, stderr) =
        run(&sandbox, &db, &["report", "--all-orgs", "--inactive-days", "365", "-f", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let view: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(view["inactive_days"], 365);
    assert_eq!(view["orgs"].as_array().unwrap().len(), 3);
    let keys: Vec<&str> =
        view["duplicates"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "alice@acme.com",
            "bob@acme.com",
            "dave@acme.com",
            "E1001",
            "E3003",
            "ivan@gmail.com",
            "kate@acme.com"
        ]
    );
    let flagged: Vec<&str> = view["duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["accounts"].as_array().unwrap())
        .filter(|a| a["reclaim_candidate"] == true)
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(flagged, ["ivan@gmail.com.acmecommunity"], "a year's window");

    let output = sandbox.work().join("cross.csv");
    let (code, out, stderr) =
        run(&sandbox, &db, &["report", "--all-orgs", "-f", "csv", "-o", output.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (0, ""), "{stderr}");
    let csv = std::fs::read_to_string(&output).unwrap();
    let blocks: Vec<&str> = csv.split("\n\n").collect();
    assert_eq!(blocks.len(), 3, "{csv}");
    assert!(blocks[0].starts_with("section,org_id,org_name,snapshot,currency,reclaimable_seats,"), "{csv}");
    assert_eq!(blocks[0].lines().count(), 1 + 1 + 3, "a header, the total and each org's money");
    assert!(blocks[1].starts_with("section,org_id,org_name,snapshot,source,id,name,"), "{csv}");
    assert_eq!(blocks[1].lines().count(), 1 + 4 + 14 + 4, "a header and every org's subscriptions");
    assert!(blocks[2].starts_with("section,person,person_matched_by,org_id,"), "{csv}");
    assert_eq!(blocks[2].lines().filter(|l| l.starts_with("duplicate,")).count(), 14);
}

#[test]
fn all_orgs_with_an_org_or_a_snapshot_or_html_is_a_usage_error() {
    let (sandbox, db) = three_orgs();
    for (args, names) in [
        (&["report", "--all-orgs", "--org", "00D000000000001AAA"][..], ["--all-orgs", "--org"]),
        (&["report", "--all-orgs", "--snapshot", "3"][..], ["--all-orgs", "--snapshot"]),
        (&["report", "--all-orgs", "-f", "html"][..], ["--all-orgs", "-f html"]),
    ] {
        let (code, out, stderr) = run(&sandbox, &db, args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(out.is_empty());
        for name in names {
            assert!(stderr.contains(name), "{args:?} names {name}: {stderr}");
        }
    }
}

#[test]
fn all_orgs_on_an_empty_store_says_how_to_fill_it() {
    let sandbox = Sandbox::new();
    let db = sandbox.work().join("empty.db");
    std::fs::write(&db, b"").unwrap(); // SQLite takes an empty file as an empty database
    let (code, out, stderr) = run(&sandbox, &db, &["report", "--all-orgs"]);
    assert_eq!(code, 65, "{stderr}");
    assert!(out.is_empty());
    assert!(stderr.contains("holds no snapshot") && stderr.contains("sfconn history import"), "{stderr}");
}
