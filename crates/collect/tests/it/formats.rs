//! The four output formats on a small hand-built snapshot: exact output (insta), agreement
//! between formats, schema validity, and atomic publication.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sfconn_collect::output::{self, Format, OutputError, SnapshotSink, open_sink, open_sink_to_writer};
use sfconn_collect::snapshot::*;
use sfconn_errors::{Classify, ErrorClass};

use crate::common;
use common::{acme_header, blank_user, subscription};
use sfconn_testkit::{SharedBuffer, assert_valid_snapshot, names_in, snapshot_schema};

fn sample() -> Snapshot {
    let subscriptions = vec![
        Subscription {
            label: None,
            key: None,
            total: None,
            used: None,
            unlimited: true,
            expires_at: Some("2026-06-30T00:00:00Z".into()),
            ..subscription("0500X0000000001AAA", SubscriptionSource::PackageLicense, "acmepkg")
        },
        Subscription {
            label: Some("Salesforce".into()),
            key: Some("SFDC".into()),
            total: Some(20),
            used: Some(12),
            ..subscription("1000X0000000001AAA", SubscriptionSource::UserLicense, "Salesforce")
        },
        Subscription {
            label: Some("Partner Community".into()),
            key: Some("PID_Partner_Community".into()),
            total: Some(50),
            used: Some(3),
            ..subscription("1000X0000000002AAA", SubscriptionSource::UserLicense, "Partner Community")
        },
        Subscription {
            label: Some("Sales Cloud Einstein".into()),
            key: Some("SalesCloudEinsteinPsl".into()),
            total: Some(10),
            used: Some(1),
            expires_at: Some("2025-12-31".into()),
            ..subscription(
                "0PL0X0000000001AAA",
                SubscriptionSource::PermissionSetLicense,
                "SalesCloudEinsteinPsl",
            )
        },
    ];
    let profiles = vec![
        Profile {
            id: "00e0X0000000002AAA".into(),
            name: "Partner Community User".into(),
            user_type: Some("PowerPartner".into()),
            user_license_id: Some("1000X0000000002AAA".into()),
            description: None,
        },
        Profile {
            id: "00e0X0000000001AAA".into(),
            name: "System Administrator".into(),
            user_type: Some("Standard".into()),
            user_license_id: Some("1000X0000000001AAA".into()),
            description: Some("Full access, \"quoted\", with a comma".into()),
        },
    ];
    let mut header = acme_header(subscriptions, profiles);
    header.organization.edition = Some("Enterprise Edition".into());
    header.organization.instance_name = Some("NA224".into());
    header.filter = Filter { all: false, company_names: vec!["acme.com".into(), "partner.io".into()] };
    // Pinned so that the snapshots do not change with each release.
    header.generator.version = "0.0.0-test".into();
    let users = vec![
        User {
            email: Some("Ada.Lovelace@Acme.com".into()),
            email_domain: Some("acme.com".into()),
            name: Some("Ada Lovelace".into()),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            alias: Some("alove".into()),
            user_type: Some("Standard".into()),
            account_kind: AccountKind::Internal,
            profile_id: Some("00e0X0000000001AAA".into()),
            user_license_id: Some("1000X0000000001AAA".into()),
            permission_set_license_ids: vec!["0PL0X0000000001AAA".into()],
            package_license_ids: vec!["0500X0000000001AAA".into()],
            last_login_at: Some("2024-01-14T08:00:00Z".into()),
            created_at: Some("2020-03-01T12:00:00Z".into()),
            company_name: Some("Acme".into()),
            department: Some("R&D".into()),
            title: Some("Engineer, Principal".into()),
            city: Some("London".into()),
            country: Some("United Kingdom".into()),
            country_code: Some("GB".into()),
            federation_id: Some("ada@acme".into()),
            frozen: Some(false),
            feature_licences: vec!["KnowledgeUser".into(), "MarketingUser".into()],
            unused_permission_set_license_ids: Some(vec!["0PL0X0000000001AAA".into()]),
            ..blank_user("0050X0000000001AAA", "ada@acme.com")
        },
        User {
            email: Some("pat@eu.partner.io".into()),
            email_domain: Some("eu.partner.io".into()),
            name: Some("Pat Partner".into()),
            last_name: Some("Partner".into()),
            active: false,
            user_type: Some("PowerPartner".into()),
            account_kind: AccountKind::Partner,
            profile_id: Some("00e0X0000000002AAA".into()),
            user_license_id: Some("1000X0000000002AAA".into()),
            created_at: Some("2023-05-05T05:05:05Z".into()),
            ..blank_user("0050X0000000002AAA", "pat@partner.io.acme")
        },
        User {
            user_type: Some("FutureType".into()),
            account_kind: AccountKind::Other,
            ..blank_user("0050X0000000003AAA", "ghost@acme.com.sandbox")
        },
    ];
    let mut tally = UserTally::default();
    users.iter().for_each(|user| tally.count_written(user));
    tally.count_excluded();
    tally.count_excluded();
    let summary = tally.summary(
        header.subscriptions.len() as u64,
        14,
        Some(ApiUsageFigures { used: 1200, max: 15000 }),
        Some(ApiUsageFigures { used: 1214, max: 15000 }),
    );
    let warnings = vec![
        Warning::new(
            WARNING_COMPANY_FILTER_MISMATCH,
            "company names are set: subscriptions are org-wide, user counts are not",
        ),
        Warning::about(
            WARNING_FIELD_UNAVAILABLE,
            "User.FederationIdentifier",
            "not readable; written as null",
        ),
    ];
    Snapshot::from_parts(header, users, summary, warnings)
}

fn empty_sample() -> Snapshot {
    let mut snapshot = sample();
    snapshot.users.clear();
    snapshot.summary = UserTally::default().summary(4, 3, None, None);
    snapshot.warnings.clear();
    snapshot
}

fn render(format: Format, snapshot: &Snapshot) -> String {
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(format, Box::new(buffer.clone())).unwrap();
    output::write_snapshot(sink.as_mut(), snapshot).unwrap();
    buffer.text()
}

fn assert_valid(document: &str) {
    assert_valid_snapshot(&serde_json::from_str(document).unwrap());
}
#[test]
fn json_is_the_pretty_printed_snapshot_streamed() {
    for snapshot in [sample(), empty_sample()] {
        let text = render(Format::Json, &snapshot);
        assert_eq!(text, serde_json::to_string_pretty(&snapshot).unwrap() + "\n");
        let parsed: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, snapshot);
    }
}

#[test]
fn json_validates_against_the_schema() {
    assert_valid(&render(Format::Json, &sample()));
    assert_valid(&render(Format::Json, &empty_sample()));
}

#[test]
fn schema_check_is_real_it_rejects_a_broken_snapshot() {
    let mut value: serde_json::Value = serde_json::from_str(&render(Format::Json, &sample())).unwrap();
    value["users"][0]["account_kind"] = "employee".into();
    assert!(!snapshot_schema().is_valid(&value));
}

#[test]
fn json_output_snapshot() {
    insta::assert_snapshot!("json", render(Format::Json, &sample()));
}

#[test]
fn ndjson_output_snapshot() {
    insta::assert_snapshot!("ndjson", render(Format::Ndjson, &sample()));
}

#[test]
fn table_output_snapshot() {
    insta::assert_snapshot!("table", render(Format::Table, &sample()));
    insta::assert_snapshot!("table_empty", render(Format::Table, &empty_sample()));
}

/// Rebuilds a snapshot from ndjson lines, checking the line order on the way.
fn from_ndjson(text: &str) -> Snapshot {
    let order = ["organization", "subscription", "profile", "user", "summary", "warning"];
    let mut last_rank = 0;
    let mut document = serde_json::Map::new();
    let mut lists: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for line in text.lines() {
        let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
        let object = value.as_object_mut().unwrap();
        let kind = object.remove("type").unwrap();
        let rank = order.iter().position(|k| *k == kind.as_str().unwrap()).unwrap();
        let kind = order[rank];
        assert!(rank >= last_rank, "{kind} line after a later type");
        last_rank = rank;
        match kind {
            "organization" => {
                for key in ["schema_version", "generator", "collected_at", "source", "filter"] {
                    document.insert(key.into(), object.remove(key).unwrap());
                }
                document.insert("organization".into(), value);
            }
            "summary" => {
                document.insert("summary".into(), value);
            }
            _ => lists.entry(kind).or_default().push(value),
        }
    }
    for (kind, key) in [
        ("subscription", "subscriptions"),
        ("profile", "profiles"),
        ("user", "users"),
        ("warning", "warnings"),
    ] {
        document.insert(key.into(), lists.remove(kind).unwrap_or_default().into());
    }
    serde_json::from_value(document.into()).unwrap()
}

#[test]
fn ndjson_holds_the_same_snapshot_as_json() {
    for snapshot in [sample(), empty_sample()] {
        let text = render(Format::Ndjson, &snapshot);
        assert!(text.ends_with('\n'));
        assert_eq!(from_ndjson(&text), snapshot);
        let json: Snapshot = serde_json::from_str(&render(Format::Json, &snapshot)).unwrap();
        assert_eq!(from_ndjson(&text), json);
    }
}

fn write_csv(snapshot: &Snapshot, target: &Path) {
    let mut sink = open_sink(Format::Csv, target).unwrap();
    output::write_snapshot(sink.as_mut(), snapshot).unwrap();
}

#[test]
fn csv_output_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    write_csv(&sample(), &target);
    assert_eq!(names_in(dir.path()), ["out"], "no temporary directory left behind");
    assert_eq!(names_in(&target), ["profiles.csv", "snapshot.json", "subscriptions.csv", "users.csv"]);
    for file in ["users.csv", "subscriptions.csv", "profiles.csv"] {
        insta::assert_snapshot!(file, std::fs::read_to_string(target.join(file)).unwrap());
    }
}

fn cell(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn list(value: &str) -> Vec<String> {
    if value.is_empty() { vec![] } else { value.split(';').map(str::to_owned).collect() }
}

/// Reads a csv file into maps from column name to cell.
fn read_csv(path: &PathBuf) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            headers.iter().zip(record.unwrap().iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect()
        })
        .collect()
}

#[test]
fn csv_holds_the_same_snapshot_as_json() {
    let snapshot = sample();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    write_csv(&snapshot, &target);

    let users: Vec<User> = read_csv(&target.join("users.csv"))
        .iter()
        .map(|row| User {
            id: row["id"].clone(),
            username: row["username"].clone(),
            email: cell(&row["email"]),
            email_domain: cell(&row["email_domain"]),
            name: cell(&row["name"]),
            first_name: cell(&row["first_name"]),
            last_name: cell(&row["last_name"]),
            alias: cell(&row["alias"]),
            active: row["active"].parse().unwrap(),
            user_type: cell(&row["user_type"]),
            account_kind: serde_json::from_value(row["account_kind"].clone().into()).unwrap(),
            profile_id: cell(&row["profile_id"]),
            user_license_id: cell(&row["user_license_id"]),
            permission_set_license_ids: list(&row["permission_set_license_ids"]),
            package_license_ids: list(&row["package_license_ids"]),
            last_login_at: cell(&row["last_login_at"]),
            created_at: cell(&row["created_at"]),
            company_name: cell(&row["company_name"]),
            department: cell(&row["department"]),
            title: cell(&row["title"]),
            city: cell(&row["city"]),
            country: cell(&row["country"]),
            country_code: cell(&row["country_code"]),
            federation_id: cell(&row["federation_id"]),
            frozen: cell(&row["frozen"]).map(|value| value.parse().unwrap()),
            feature_licences: list(&row["feature_licences"]),
            logins_in_window: None,
            last_login_application: None,
            last_login_type: None,
            // An empty cell is "not computed" or "none unused" alike (docs/data.md): the sample
            // has only a list and a null.
            unused_permission_set_license_ids: cell(&row["unused_permission_set_license_ids"])
                .map(|ids| list(&ids)),
        })
        .collect();
    assert_eq!(users, snapshot.users);

    let subscriptions: Vec<Subscription> = read_csv(&target.join("subscriptions.csv"))
        .iter()
        .map(|row| Subscription {
            id: row["id"].clone(),
            source: serde_json::from_value(row["source"].clone().into()).unwrap(),
            name: row["name"].clone(),
            label: cell(&row["label"]),
            key: cell(&row["key"]),
            status: cell(&row["status"]),
            total: cell(&row["total"]).map(|n| n.parse().unwrap()),
            used: cell(&row["used"]).map(|n| n.parse().unwrap()),
            unlimited: row["unlimited"].parse().unwrap(),
            expires_at: cell(&row["expires_at"]),
        })
        .collect();
    assert_eq!(subscriptions, snapshot.subscriptions);

    let profiles: Vec<Profile> = read_csv(&target.join("profiles.csv"))
        .iter()
        .map(|row| Profile {
            id: row["id"].clone(),
            name: row["name"].clone(),
            user_type: cell(&row["user_type"]),
            user_license_id: cell(&row["user_license_id"]),
            description: cell(&row["description"]),
        })
        .collect();
    assert_eq!(profiles, snapshot.profiles);

    let document = std::fs::read_to_string(target.join("snapshot.json")).unwrap();
    assert_valid(&document);
    let without_users: Snapshot = serde_json::from_str(&document).unwrap();
    assert_eq!(without_users, Snapshot { users: vec![], ..snapshot });
}

#[test]
fn csv_into_an_existing_directory_replaces_its_files_and_keeps_others() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("users.csv"), "old").unwrap();
    std::fs::write(target.join("notes.txt"), "mine").unwrap();
    write_csv(&sample(), &target);
    assert_eq!(names_in(dir.path()), ["out"]);
    assert_eq!(
        names_in(&target),
        ["notes.txt", "profiles.csv", "snapshot.json", "subscriptions.csv", "users.csv"]
    );
    assert_eq!(std::fs::read_to_string(target.join("notes.txt")).unwrap(), "mine");
    assert!(std::fs::read_to_string(target.join("users.csv")).unwrap().starts_with("id,username,"));
}

#[test]
fn csv_run_that_fails_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("users.csv"), "old").unwrap();
    let snapshot = sample();
    {
        let mut sink = open_sink(Format::Csv, &target).unwrap();
        sink.begin(&snapshot.header()).unwrap();
        sink.user(&snapshot.users[0]).unwrap();
        // dropped without finish: the run failed
    }
    assert_eq!(names_in(dir.path()), ["out"]);
    assert_eq!(names_in(&target), ["users.csv"]);
    assert_eq!(std::fs::read_to_string(target.join("users.csv")).unwrap(), "old");
}

#[test]
fn csv_refuses_a_file_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.csv");
    std::fs::write(&file, "x").unwrap();
    let error = open_sink(Format::Csv, &file).err().unwrap();
    assert!(matches!(error, OutputError::NotADirectory { .. }), "{error}");
    assert_eq!(error.class(), ErrorClass::Usage);
    let error = open_sink(Format::Csv, Path::new("-")).err().unwrap();
    assert!(matches!(error, OutputError::CsvNeedsDirectory), "{error}");
}

#[test]
fn file_output_replaces_an_existing_file_only_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("snapshot.json");
    std::fs::write(&target, "previous").unwrap();
    let snapshot = sample();
    {
        let mut sink = open_sink(Format::Json, &target).unwrap();
        sink.begin(&snapshot.header()).unwrap();
        sink.user(&snapshot.users[0]).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous");
    assert_eq!(names_in(dir.path()), ["snapshot.json"], "no stray temporary file");

    let mut sink = open_sink(Format::Json, &target).unwrap();
    output::write_snapshot(sink.as_mut(), &snapshot).unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), render(Format::Json, &snapshot));
    assert_eq!(names_in(dir.path()), ["snapshot.json"]);
}

#[test]
fn users_out_of_order_fail_the_output_and_publish_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("snapshot.ndjson");
    let snapshot = sample();
    let mut sink = open_sink(Format::Ndjson, &target).unwrap();
    sink.begin(&snapshot.header()).unwrap();
    sink.user(&snapshot.users[1]).unwrap();
    let error = sink.user(&snapshot.users[0]).unwrap_err();
    assert!(matches!(error, OutputError::UsersOutOfOrder { .. }), "{error}");
    assert!(sink.finish(&snapshot.summary, &snapshot.warnings).is_err());
    drop(sink);
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn stream_output_appears_only_when_finished() {
    let snapshot = sample();
    let buffer = SharedBuffer::default();
    {
        let mut sink: Box<dyn SnapshotSink> =
            open_sink_to_writer(Format::Ndjson, Box::new(buffer.clone())).unwrap();
        sink.begin(&snapshot.header()).unwrap();
        for user in &snapshot.users {
            sink.user(user).unwrap();
        }
        assert_eq!(buffer.text(), "", "nothing reaches the stream before finish");
    }
    assert_eq!(buffer.text(), "", "an unfinished run prints nothing");
}

#[test]
fn bad_output_paths_are_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let error = open_sink(Format::Json, dir.path()).err().unwrap();
    assert!(matches!(error, OutputError::IsADirectory { .. }), "{error}");
    let missing = dir.path().join("no-such-dir").join("snapshot.json");
    let error = open_sink(Format::Table, &missing).err().unwrap();
    assert!(matches!(error, OutputError::MissingParent { .. }), "{error}");
    assert!(error.to_string().contains("no-such-dir"), "{error}");
    assert_eq!(error.class(), ErrorClass::Usage);
}

/// Snapshots hold personal data: docs/data.md promises owner-only files (0600) and, for a new
/// csv directory, an owner-only directory (0700), whatever the umask.
#[cfg(unix)]
#[test]
fn outputs_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = sample();

    for (format, name) in
        [(Format::Json, "snapshot.json"), (Format::Ndjson, "s.ndjson"), (Format::Table, "t.txt")]
    {
        let target = dir.path().join(name);
        std::fs::write(&target, "previous").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut sink = open_sink(format, &target).unwrap();
        output::write_snapshot(sink.as_mut(), &snapshot).unwrap();
        assert_eq!(mode(&target), 0o600, "{name}");
    }

    let csv = dir.path().join("csv");
    write_csv(&snapshot, &csv);
    assert_eq!(mode(&csv), 0o700);
    for file in ["users.csv", "subscriptions.csv", "profiles.csv", "snapshot.json"] {
        assert_eq!(mode(&csv.join(file)), 0o600, "{file}");
    }
}

#[test]
fn the_store_copy_is_the_json_snapshot_whatever_the_output_and_goes_away_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("snapshot.ndjson");
    let snapshot = sample();
    let copy = output::StoreCopy::new().unwrap();
    let mut sink = copy.tee(open_sink(Format::Ndjson, &target).unwrap()).unwrap();
    output::write_snapshot(sink.as_mut(), &snapshot).unwrap();
    drop(sink);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), render(Format::Ndjson, &snapshot));
    assert_eq!(std::fs::read_to_string(copy.path()).unwrap(), render(Format::Json, &snapshot));
    let copy_dir = copy.dir().to_owned();
    drop(copy);
    assert!(!copy_dir.exists(), "the copy's directory is removed");
}

#[test]
fn a_failed_run_through_the_store_copy_publishes_neither() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("snapshot.json");
    let snapshot = sample();
    let copy = output::StoreCopy::new().unwrap();
    {
        let mut sink = copy.tee(open_sink(Format::Json, &target).unwrap()).unwrap();
        sink.begin(&snapshot.header()).unwrap();
        sink.user(&snapshot.users[0]).unwrap();
        // dropped without finish: the run failed
    }
    assert_eq!(names_in(dir.path()), Vec::<String>::new());
    assert!(!copy.path().exists());
}
