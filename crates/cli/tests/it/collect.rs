//! `sfconn collect` end to end: the real binary against the simulated org on 127.0.0.1, in an
//! empty environment (only the org's `SFCONN_*` variables, HOME and the XDG directories of a
//! temporary home), checked against the org's ground truth and the snapshot schema.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use sfconn_testkit::{FaultKind, HiddenAs, Occurrence, SimulatedOrg, Target};
use std::process::Command;

use crate::common;
use common::{Org, assert_no_secrets};
use sfconn_testkit::{assert_valid_snapshot as assert_valid, names_in};

// ---------------------------------------------------------------------------------------------
// Harness

impl Org {
    fn faults(&self) -> &sfconn_testkit::Faults {
        self.org.faults()
    }

    /// `sfconn collect ARGS` with the org's credentials and nothing else of the environment.
    fn collect(&self, args: &[&str]) -> Command {
        let mut cmd = self.sfconn();
        cmd.arg("collect").args(args);
        cmd
    }

    /// Runs `sfconn collect ARGS` to its end.
    fn run(&self, args: &[&str]) -> Output {
        self.collect(args).output().unwrap()
    }

    /// Runs it and expects success and a JSON document on stdout, valid against the schema.
    fn json(&self, args: &[&str]) -> (Value, String) {
        let output = self.run(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "sfconn collect {args:?} failed:\n{stderr}");
        let document: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", text(&output.stdout)));
        assert_valid(&document);
        assert_no_secrets(&[&text(&output.stdout), &stderr]);
        (document, stderr)
    }

    /// The org's users as (id, email) with blank emails as none, in id order.
    fn truth_users(&self) -> Vec<sfconn_testkit::User> {
        let mut users: Vec<_> = self.org.data().users().collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        users
    }

    /// Ids of the org's users whose email domain is one of `domains` or below it (docs/contract.md §4),
    /// computed here independently of the filter crate.
    fn ids_in_domains(&self, domains: &[&str]) -> Vec<String> {
        self.truth_users()
            .into_iter()
            .filter(|user| {
                let Some(domain) =
                    email(user).and_then(|e| e.rsplit_once('@').map(|(_, d)| d.to_lowercase()))
                else {
                    return false;
                };
                domains.iter().any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
            })
            .map(|user| user.id)
            .collect()
    }
}

fn email(user: &sfconn_testkit::User) -> Option<&str> {
    user.email.as_deref().map(str::trim).filter(|e| !e.is_empty())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn user_ids(document: &Value) -> Vec<String> {
    document["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
}

fn subscription_ids(document: &Value) -> Vec<String> {
    document["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

fn warning_codes(document: &Value) -> Vec<(String, Option<String>)> {
    document["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["code"].as_str().unwrap().to_owned(), w["source"].as_str().map(str::to_owned)))
        .collect()
}
/// Run-dependent values of the table view: the port and the time.
/// An org-wide refusal (API disabled, the daily limit) meets `/limits` and the describes sent
/// beside it; whichever answer comes first is the one reported, so the request it names varies
/// from run to run while its Salesforce code and text do not.
fn first_refusal_filters() -> Vec<(&'static str, &'static str)> {
    let mut filters = table_filters();
    filters.push((
        r"the (API limits|\w+ describe) \(GET /services/data/v[0-9.]+/(limits|sobjects/\w+/describe)\)",
        "[the first request refused]",
    ));
    filters
}

fn table_filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"localhost:\d+", "localhost:[port]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"Collected at  \S+", "Collected at  [collected_at]"),
        // `/limits` is answered beside the describes: the usage before counts one to a few of
        // the run's own requests, whichever the org answers first.
        (r"daily usage \d+ of (\d+) before", "daily usage [before] of $1 before"),
    ]
}

/// The contract's UserType → account_kind table (§5), written out here so that the test does
/// not use the code it checks.
fn expected_kind(user_type: &str) -> &'static str {
    match user_type.to_ascii_lowercase().as_str() {
        "standard" => "internal",
        "powerpartner" => "partner",
        "powercustomersuccess" | "customersuccess" | "cspliteportal" | "selfservice" => "customer",
        "csnonly" => "chatter",
        "guest" => "guest",
        "automatedprocess" | "cloudintegrationuser" | "licensemanager" => "system",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------------------------
// Company names (docs/contract.md §4)

#[test]
fn everyone_collects_every_user_and_the_document_is_as_reviewed() {
    let org = Org::small();
    let (document, stderr) = org.json(&[]);

    let expected: Vec<String> = org.truth_users().into_iter().map(|u| u.id).collect();
    assert_eq!(user_ids(&document), expected, "every user, in ascending id order");
    assert_eq!(document["filter"], serde_json::json!({"all": true, "company_names": ["*"]}));
    assert_eq!(document["organization"]["id"], org.org.data().organization.id.as_str());
    assert!(warning_codes(&document).is_empty(), "{:?}", warning_codes(&document));
    // stderr: the summary line only (no progress: stderr is not a terminal).
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&format!("collected {} users", expected.len())), "{stderr}");
    assert!(stderr.contains("json written to stdout"), "{stderr}");

    // `/limits` is answered beside the describes, so the usage it reports already counts one to
    // a few of this run's requests, depending on which the org answers first: pinned by range.
    let used = |key: &str| document["summary"][key]["used"].as_u64().unwrap();
    let (initial, requests) =
        (org.org.spec().api_usage_used, document["summary"]["api_requests"].as_u64().unwrap());
    let (before, after) = (used("api_usage_before"), used("api_usage_after"));
    assert!(initial < before && before < after && after <= initial + requests, "{before} {after}");
    insta::assert_json_snapshot!("everyone_json", document, {
        ".collected_at" => "[collected_at]",
        ".generator.version" => "[version]",
        ".source.login_url" => "[login_url]",
        ".source.instance_url" => "[instance_url]",
        ".summary.api_usage_before.used" => "[asserted by range]",
    });
}

#[test]
fn one_domain_collects_its_users_and_subdomains_only() {
    let org = Org::small();
    let (document, stderr) = org.json(&["--company-name", "acme.com"]);

    let expected = org.ids_in_domains(&["acme.com"]);
    assert!(!expected.is_empty());
    assert_eq!(user_ids(&document), expected);
    for user in document["users"].as_array().unwrap() {
        let domain = user["email_domain"].as_str().unwrap();
        assert!(domain == "acme.com" || domain.ends_with(".acme.com"), "{domain}");
    }
    assert_eq!(document["filter"], serde_json::json!({"all": false, "company_names": ["acme.com"]}));
    let summary = &document["summary"];
    assert_eq!(summary["users_total"], expected.len());
    assert_eq!(summary["users_without_email"], 0);
    assert_eq!(
        summary["users_excluded_by_filter"].as_u64().unwrap() + summary["users_total"].as_u64().unwrap(),
        org.org.data().user_count() as u64
    );
    // Subscriptions stay org-wide, and the reader is told.
    let (everyone, _) = org.json(&[]);
    assert_eq!(subscription_ids(&document), subscription_ids(&everyone));
    assert_eq!(warning_codes(&document), vec![("company_filter_mismatch".to_owned(), None)]);
    assert!(stderr.contains("warning: [company_filter_mismatch]"), "{stderr}");
    assert!(stderr.contains("left out by the company filter"), "{stderr}");
}

/// A refreshed sandbox appends `.invalid` to every email, so company names match
/// nobody; the run still succeeds, and stderr says why the snapshot is empty.
#[test]
fn company_names_that_match_nobody_draw_the_sandbox_hint() {
    let org = Org::small();
    let (document, stderr) = org.json(&["--company-name", "nobody-here.example"]);
    assert_eq!(document["summary"]["users_total"], 0);
    assert!(stderr.contains("warning: company_names matched none of the org's"), "{stderr}");
    assert!(stderr.contains(".invalid"), "{stderr}");
    let (_, stderr) = org.json(&["--company-name", "acme.com"]);
    assert!(!stderr.contains(".invalid"), "users matched: no hint: {stderr}");
}

#[test]
fn several_domains_from_the_environment_and_flags_add_up() {
    let org = Org::small();
    let expected = org.ids_in_domains(&["acme.com", "acme.io"]);
    assert!(expected.len() > org.ids_in_domains(&["acme.com"]).len());

    let (from_env, _) = {
        let output = org.collect(&[]).env("SFCONN_COMPANY_NAMES", "acme.com, @ACME.IO\n").output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let document: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_valid(&document);
        (document, ())
    };
    assert_eq!(user_ids(&from_env), expected);
    assert_eq!(from_env["filter"]["all"], false);

    let (from_flags, _) = org.json(&["--company-name", "acme.io", "--company-name", "acme.com"]);
    let mut flag_ids = user_ids(&from_flags);
    flag_ids.sort();
    assert_eq!(flag_ids, expected);
}

#[test]
fn star_with_names_collects_everyone() {
    let org = Org::small();
    let (document, stderr) = org.json(&["--company-name", "acme.com", "--company-name", "*"]);
    assert_eq!(user_ids(&document).len(), org.org.data().user_count());
    assert_eq!(document["filter"]["all"], true);
    assert!(warning_codes(&document).is_empty());
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn every_user_type_gets_its_account_kind_and_users_without_email_are_kept() {
    let org = Org::small();
    let (document, _) = org.json(&[]);
    let written: BTreeMap<&str, &Value> =
        document["users"].as_array().unwrap().iter().map(|u| (u["id"].as_str().unwrap(), u)).collect();

    let mut kinds = BTreeSet::new();
    let mut without_email = 0;
    for truth in org.truth_users() {
        let user = written[truth.id.as_str()];
        assert_eq!(user["user_type"], truth.user_type.as_str());
        assert_eq!(user["account_kind"], expected_kind(&truth.user_type), "{}", truth.user_type);
        kinds.insert(expected_kind(&truth.user_type));
        if email(&truth).is_none() {
            without_email += 1;
            assert_eq!(user["email"], Value::Null, "{}", truth.id);
            assert_eq!(user["email_domain"], Value::Null, "{}", truth.id);
        }
    }
    assert_eq!(
        kinds,
        BTreeSet::from(["internal", "partner", "customer", "chatter", "guest", "system", "other"]),
        "the small org has every kind"
    );
    assert!(without_email > 0, "the small org has users without email");
    assert_eq!(document["summary"]["users_without_email"], without_email);
    assert_eq!(document["summary"]["users_by_domain"][""], without_email);

    // With a company name they are left out.
    let (filtered, _) = org.json(&["--company-name", "acme.com"]);
    assert!(filtered["users"].as_array().unwrap().iter().all(|u| !u["email"].is_null()));
}

// ---------------------------------------------------------------------------------------------
// What the org hides (docs/contract.md §7)

#[test]
fn unreadable_optional_sources_are_skipped_with_a_warning() {
    let org = Org::small();
    org.faults().hide_object("PackageLicense", HiddenAs::InvalidType);
    org.faults().hide_object("PermissionSetLicenseAssign", HiddenAs::InsufficientAccess);
    let (document, stderr) = org.json(&[]);

    let sources: BTreeSet<&str> =
        document["subscriptions"].as_array().unwrap().iter().map(|s| s["source"].as_str().unwrap()).collect();
    assert_eq!(sources, BTreeSet::from(["UserLicense", "PermissionSetLicense"]));
    assert!(
        document["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["permission_set_license_ids"] == serde_json::json!([]))
    );
    let codes = warning_codes(&document);
    assert!(codes.contains(&("source_skipped".to_owned(), Some("PackageLicense".to_owned()))), "{codes:?}");
    assert!(
        codes.contains(&("source_skipped".to_owned(), Some("PermissionSetLicenseAssign".to_owned()))),
        "{codes:?}"
    );
    assert!(stderr.contains("warning: [source_skipped]"), "{stderr}");
    assert!(
        stderr.contains("INSUFFICIENT_ACCESS: insufficient access rights"),
        "Salesforce's code is kept:\n{stderr}"
    );

    // -q: the run still succeeds, and stderr stays silent.
    let output = org.run(&["-q"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stderr), "");
    assert_valid(&serde_json::from_slice(&output.stdout).unwrap());
}

#[test]
fn hidden_optional_fields_are_null_with_a_warning() {
    let org = Org::small();
    org.faults().hide_field("User", "Department");
    org.faults().hide_field("Profile", "Description");
    let (document, stderr) = org.json(&[]);

    assert_eq!(user_ids(&document).len(), org.org.data().user_count());
    assert!(document["users"].as_array().unwrap().iter().all(|u| u["department"].is_null()));
    assert!(document["profiles"].as_array().unwrap().iter().all(|p| p["description"].is_null()));
    let codes = warning_codes(&document);
    assert!(
        codes.contains(&("field_unavailable".to_owned(), Some("User.Department".to_owned()))),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("field_unavailable".to_owned(), Some("Profile.Description".to_owned()))),
        "{codes:?}"
    );
    assert_eq!(stderr.matches("warning: [field_unavailable]").count(), 2, "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Formats (docs/contract.md §5)

#[test]
fn ndjson_holds_the_same_snapshot_as_json_one_typed_object_per_line() {
    let org = Org::small();
    org.faults().hide_object("PackageLicense", HiddenAs::InvalidType);
    let (json, _) = org.json(&[]);
    let output = org.run(&["-f", "ndjson"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let lines: Vec<Value> =
        text(&output.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    // organization, subscription*, profile*, user*, summary, warning* — in that order.
    let order = ["organization", "subscription", "profile", "user", "summary", "warning"];
    let ranks: Vec<usize> = types.iter().map(|t| order.iter().position(|o| o == t).unwrap()).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "organization").count(), 1);
    assert_eq!(types.iter().filter(|t| **t == "summary").count(), 1);

    let of_type = |kind: &str| -> Vec<&Value> { lines.iter().filter(|l| l["type"] == kind).collect() };
    let strip = |value: &Value| {
        let mut value = value.clone();
        value.as_object_mut().unwrap().remove("type");
        value
    };
    let users: Vec<Value> = of_type("user").into_iter().map(strip).collect();
    assert_eq!(&users, json["users"].as_array().unwrap());
    let subscriptions: Vec<Value> = of_type("subscription").into_iter().map(strip).collect();
    assert_eq!(&subscriptions, json["subscriptions"].as_array().unwrap());
    let profiles: Vec<Value> = of_type("profile").into_iter().map(strip).collect();
    assert_eq!(&profiles, json["profiles"].as_array().unwrap());
    let warnings: Vec<Value> = of_type("warning").into_iter().map(strip).collect();
    assert_eq!(&warnings, json["warnings"].as_array().unwrap());
    let organization = of_type("organization")[0];
    assert_eq!(organization["id"], json["organization"]["id"]);
    assert_eq!(organization["schema_version"], "1");
    let summary = strip(of_type("summary")[0]);
    assert_eq!(summary["users_total"], json["summary"]["users_total"]);
    assert_eq!(summary["users_by_kind"], json["summary"]["users_by_kind"]);
}

#[test]
fn csv_writes_a_directory_that_agrees_with_json() {
    let org = Org::small();
    let (json, _) = org.json(&["--company-name", "acme.com"]);
    let output = org.run(&["-f", "csv", "-o", "out", "--company-name", "acme.com"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(output.stdout.is_empty(), "csv writes files, not stdout");
    assert!(stderr.contains("csv written to the directory out"), "{stderr}");

    let dir = org.work().join("out");
    assert_eq!(names_in(&dir), ["profiles.csv", "snapshot.json", "subscriptions.csv", "users.csv"]);
    assert_eq!(names_in(&org.work()), ["out"], "no temporary directory left beside it");

    let mut users = csv::Reader::from_path(dir.join("users.csv")).unwrap();
    let headers = users.headers().unwrap().clone();
    assert_eq!(&headers[0], "id");
    let rows: Vec<csv::StringRecord> = users.records().map(Result::unwrap).collect();
    let ids: Vec<String> = rows.iter().map(|r| r[0].to_owned()).collect();
    assert_eq!(ids, user_ids(&json));
    // Lists are joined with `;`.
    let psl = headers.iter().position(|h| h == "permission_set_license_ids").unwrap();
    for (row, user) in rows.iter().zip(json["users"].as_array().unwrap()) {
        let listed: Vec<&str> = user["permission_set_license_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(&row[psl], listed.join(";"));
    }

    let mut subscriptions = csv::Reader::from_path(dir.join("subscriptions.csv")).unwrap();
    let ids: Vec<String> = subscriptions.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert_eq!(ids, subscription_ids(&json));
    let mut profiles = csv::Reader::from_path(dir.join("profiles.csv")).unwrap();
    assert_eq!(profiles.records().count(), json["profiles"].as_array().unwrap().len());

    let snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("snapshot.json")).unwrap()).unwrap();
    assert_valid(&snapshot);
    assert_eq!(snapshot["users"], serde_json::json!([]));
    assert_eq!(snapshot["summary"]["users_total"], json["summary"]["users_total"]);
    assert_eq!(snapshot["warnings"], json["warnings"]);
}

#[test]
fn csv_raw_is_a_setting_that_the_flag_overrides() {
    let org = Org::small();
    // A bad SFCONN_CSV_RAW stops collect before any request, naming the key and the variable.
    let output = org.collect(&["-f", "csv", "-o", "out"]).env("SFCONN_CSV_RAW", "maybe").output().unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(text(&output.stderr).contains("`csv_raw` (env SFCONN_CSV_RAW)"), "{}", text(&output.stderr));
    assert_eq!(org.org.token_requests(), 0);
    // --csv-raw sets it, over the environment.
    let output = org
        .collect(&["-f", "csv", "-o", "out", "--csv-raw"])
        .env("SFCONN_CSV_RAW", "maybe")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        names_in(&org.work().join("out")),
        ["profiles.csv", "snapshot.json", "subscriptions.csv", "users.csv"]
    );
}

#[test]
fn csv_to_stdout_is_a_command_line_error_before_any_request() {
    let org = Org::small();
    let output = org.run(&["-f", "csv"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("give --output DIR"), "{stderr}");
    assert_eq!(org.org.token_requests(), 0);
}

#[test]
fn table_is_a_summary_for_people() {
    let org = Org::small();
    let output = org.run(&["-f", "table", "--company-name", "acme.com", "--company-name", "acme.io"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    insta::with_settings!({ filters => table_filters() }, {
        insta::assert_snapshot!("table_two_domains", table);
    });
}

#[test]
fn output_file_is_written_atomically_and_kept_when_a_run_fails() {
    let org = Org::small();
    let out = org.work().join("reports");
    std::fs::create_dir(&out).unwrap();
    let target = out.join("snapshot.json");

    let output = org.run(&["-o", "reports/snapshot.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty(), "the data went to the file");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_valid(&written);
    assert_eq!(names_in(&out), ["snapshot.json"], "no temporary file left");

    // A failing run (the refresh token is refused) leaves the existing file as it was.
    std::fs::write(&target, "previous snapshot\n").unwrap();
    org.faults().revoke_refresh_tokens();
    let output = org.run(&["-o", "reports/snapshot.json"]);
    assert_eq!(output.status.code(), Some(77), "{}", text(&output.stderr));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous snapshot\n");
    assert_eq!(names_in(&out), ["snapshot.json"], "no temporary file left");
    assert!(output.stdout.is_empty());

    // A missing directory is a command-line error, found before any request.
    let before = org.org.requests().len();
    let output = org.run(&["-o", "missing/snapshot.json"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("does not exist"), "{}", text(&output.stderr));
    assert_eq!(org.org.requests().len(), before);
}

// ---------------------------------------------------------------------------------------------
// Failures (docs/contract.md §6): exit code, one clear message, nothing on stdout

/// Runs a failing collection; checks the code, that stdout is empty and that stderr is one
/// `error:` line; returns stderr with the port filtered out.
fn failure(org: &Org, code: i32) -> String {
    let output = org.collect(&[]).env("SFCONN_HTTP__MAX_RETRIES", "0").output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout: {}", text(&output.stdout));
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one message:\n{stderr}");
    assert_no_secrets(&[&stderr]);
    stderr
}

#[test]
fn refused_refresh_token_exits_77() {
    let org = Org::small();
    org.faults().revoke_refresh_tokens();
    let stderr = failure(&org, 77);
    assert!(stderr.contains("invalid_grant"), "{stderr}");
    insta::with_settings!({ filters => table_filters() }, {
        insta::assert_snapshot!("error_invalid_grant", stderr);
    });
}

#[test]
fn daily_limit_reached_exits_75() {
    let org = Org::small();
    org.faults().request_limit_exceeded(true);
    let stderr = failure(&org, 75);
    assert!(stderr.contains("REQUEST_LIMIT_EXCEEDED"), "{stderr}");
    insta::with_settings!({ filters => first_refusal_filters() }, {
        insta::assert_snapshot!("error_total_requests", stderr);
    });
}

#[test]
fn usage_above_the_guard_exits_75_before_reading_data() {
    let org = Org::small();
    org.faults().set_api_usage(95_000, 100_000);
    let stderr = failure(&org, 75);
    assert!(stderr.contains("limits.max_api_usage_percent"), "{stderr}");
    let queries = org.org.requests().iter().filter(|r| r.path().ends_with("/query")).count();
    assert_eq!(queries, 0, "no data read");
    insta::with_settings!({ filters => table_filters() }, {
        insta::assert_snapshot!("error_usage_guard", stderr);
    });

    // Raising the limit lets the run go.
    let output = org.collect(&[]).env("SFCONN_LIMITS__MAX_API_USAGE_PERCENT", "99").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn api_disabled_exits_69() {
    let org = Org::small();
    org.faults().api_disabled_for_org(true);
    let stderr = failure(&org, 69);
    assert!(stderr.contains("API_DISABLED_FOR_ORG"), "{stderr}");
    insta::with_settings!({ filters => first_refusal_filters() }, {
        insta::assert_snapshot!("error_api_disabled", stderr);
    });
}

#[test]
fn bad_configuration_exits_78_without_contacting_salesforce() {
    let org = Org::small();
    let output = org.collect(&[]).env("SFCONN_COMPANY_NAMES", "acme.com,acme corp").output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains("acme corp"), "names the bad value:\n{stderr}");
    assert!(org.org.requests().is_empty(), "no request sent");

    // A secret flag is a command-line error that does not echo the value.
    let output = org.run(&["--refresh-token", "hunter2"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!text(&output.stderr).contains("hunter2"));
}

// ---------------------------------------------------------------------------------------------
// Refresh-token rotation (docs/contract.md §7)

#[test]
fn a_rotated_token_is_saved_and_the_user_is_told_loudly_even_with_quiet() {
    let org = Org::small();
    org.faults().rotate_refresh_tokens(true);
    let output = org.run(&["-q"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_valid(&document);
    assert!(warning_codes(&document).iter().any(|(code, _)| code == "refresh_token_rotated"));
    assert!(stderr.contains("the old one no longer works"), "{stderr}");
    assert!(stderr.contains("[refresh_token_rotated]"), "{stderr}");
    assert!(stderr.contains("refresh_token_file"), "says what to do:\n{stderr}");
    assert_no_secrets(&[&stderr]);
    // The new token is where the message says; the old one is refused from now on.
    let saved = org.state_dir().join("sfconn");
    assert!(stderr.contains(&saved.display().to_string()), "{stderr}");
    assert_eq!(org.run(&[]).status.code(), Some(77), "the old token no longer works");
}

#[test]
fn a_rotated_token_goes_to_the_refresh_token_file() {
    let org = Org::small();
    org.faults().rotate_refresh_tokens(true);
    let token_file = org.work().join("refresh-token");
    std::fs::write(&token_file, SimulatedOrg::REFRESH_TOKEN).unwrap();
    let file_flag = token_file.display().to_string();

    for _ in 0..2 {
        let output = org
            .collect(&["--refresh-token-file", &file_flag])
            .env_remove("SFCONN_REFRESH_TOKEN")
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("no longer works"), "no alarm when the token was kept:\n{stderr}");
        assert!(stderr.contains(&format!("written to {file_flag}")), "{stderr}");
    }
    let rotated = std::fs::read_to_string(&token_file).unwrap();
    assert_ne!(rotated.trim(), SimulatedOrg::REFRESH_TOKEN);
}

/// A read-only refresh token file (a mounted Kubernetes Secret) with
/// `auth.rotated_tokens = "state_dir"`: the rotated token is kept in the state directory, the
/// run succeeds, the next run starts from the kept token, and a token put in the file later
/// (the Secret updated) wins again (docs/security.md, "Rotation").
#[test]
fn with_rotated_tokens_in_the_state_dir_each_run_starts_from_the_newest_token() {
    let org = Org::small();
    org.faults().rotate_refresh_tokens(true);
    let token_file = org.work().join("mounted-secret");
    std::fs::write(&token_file, format!("{}\n", SimulatedOrg::REFRESH_TOKEN)).unwrap();
    let file_flag = token_file.display().to_string();
    let kept = org.state_dir().join("sfconn").join("refresh_token");
    let run = || {
        org.collect(&["--refresh-token-file", &file_flag])
            .env_remove("SFCONN_REFRESH_TOKEN")
            .env("SFCONN_AUTH__ROTATED_TOKENS", "state_dir")
            .output()
            .unwrap()
    };

    for round in 0..3 {
        let output = run();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "round {round}: {stderr}");
        assert!(!stderr.contains("no longer works"), "no alarm when the token was kept:\n{stderr}");
        assert!(stderr.contains(&format!("kept in {}", kept.display())), "{stderr}");
        let document: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(
            !warning_codes(&document).iter().any(|(code, _)| code == "refresh_token_rotated"),
            "a kept token needs no action"
        );
        assert_no_secrets(&[&stderr]);
        assert_eq!(
            std::fs::read_to_string(&token_file).unwrap().trim(),
            SimulatedOrg::REFRESH_TOKEN,
            "the mounted file is never written"
        );
        let kept_token = std::fs::read_to_string(&kept).unwrap();
        assert_eq!(org.org.valid_refresh_tokens(), [kept_token.trim().to_string()]);
    }

    // Someone puts a token in the mounted file after the last rotation: the file is newer, so
    // it is presented (here a token the org does not know, hence the refusal).
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&token_file, "a-token-from-an-updated-secret\n").unwrap();
    let output = run();
    assert_eq!(output.status.code(), Some(77), "{}", text(&output.stderr));
}

/// `auth.rotated_tokens = "state_dir"` with the state directory unwritable: the snapshot is
/// still written, and the run ends with 74 saying the new token was not kept.
#[test]
fn with_rotated_tokens_in_an_unwritable_state_dir_the_run_exits_74() {
    let org = Org::small();
    org.faults().rotate_refresh_tokens(true);
    let token_file = org.work().join("mounted-secret");
    std::fs::write(&token_file, SimulatedOrg::REFRESH_TOKEN).unwrap();
    // A file where the state directory's `sfconn` folder should be: nothing can be created in it.
    std::fs::create_dir_all(org.state_dir()).unwrap();
    std::fs::write(org.state_dir().join("sfconn"), "not a directory").unwrap();
    let output = org
        .collect(&["--refresh-token-file", &token_file.display().to_string(), "-o", "out.json"])
        .env_remove("SFCONN_REFRESH_TOKEN")
        .env("SFCONN_AUTH__ROTATED_TOKENS", "state_dir")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(74), "{stderr}");
    assert!(stderr.contains("could not keep the new one in the state directory"), "{stderr}");
    assert!(org.work().join("out.json").exists(), "the snapshot is still written");
    assert_no_secrets(&[&stderr]);
}

// ---------------------------------------------------------------------------------------------
// stderr, stdout and the process

#[test]
fn diagnostics_go_to_stderr_and_stdout_holds_only_data() {
    let org = Org::small();
    let output = org.run(&["-vv", "--no-progress"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("API version chosen"), "-vv shows sfconn's debug events:\n{stderr}");
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_valid(&document);
    assert_no_secrets(&[&stderr]);

    let quiet = org.run(&[]);
    assert!(!text(&quiet.stderr).contains("API version chosen"), "debug events only with -vv");

    let both = org.run(&["-v", "-q"]);
    assert_eq!(both.status.code(), Some(2), "-v and -q contradict each other");
}

#[test]
fn store_keeps_the_snapshot_for_history() {
    let org = Org::small();
    let output = org.run(&["-f", "table", "--store", "history.db"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stored as snapshot 1 in history.db"), "{stderr}");
    assert!(text(&output.stdout).contains("Acme Corporation"));

    let listed =
        org.bare().args(["history", "list", "-f", "json", "--store", "history.db"]).output().unwrap();
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let snapshots: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(snapshots.as_array().unwrap().len(), 1);
    assert_eq!(snapshots[0]["users"], org.org.data().user_count());
    assert_eq!(names_in(&org.work()), ["history.db"], "no temporary copy left");

    // `--store` without a path and without store.path: the default store in the data directory.
    let output = org.run(&["--store"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let default_store = org.sandbox.home().join(".local/share/sfconn/history.db");
    assert!(text(&output.stderr).contains(&format!("stored as snapshot 1 in {}", default_store.display())));
    assert!(default_store.is_file());
}

/// The users the store's `frozen` class must find in the simulated org, from its ground truth:
/// active, frozen (the generator freezes internal users only, so none is a guest or system
/// account) and holding at least one paid licence by the report's rule.
fn frozen_and_paid(data: &sfconn_testkit::OrgData) -> BTreeSet<String> {
    let paid_holders = paid_holders(data);
    data.users()
        .filter(|user| user.is_active && user.is_frozen && paid_holders.contains(&user.id))
        .map(|user| user.id)
        .collect()
}

/// The users holding at least one paid licence by the report's rule (`sfconn_store::is_paid` on
/// the org's own licence definitions), from the simulated org's ground truth.
pub(crate) fn paid_holders(data: &sfconn_testkit::OrgData) -> BTreeSet<String> {
    use sfconn_store::{LicenceFacts, SubscriptionSource, is_paid};
    let mut paid_holders = BTreeSet::new();
    for user in data.users() {
        if let Some(licence) = data.license_of(&user) {
            let facts = LicenceFacts {
                source: SubscriptionSource::UserLicense,
                name: &licence.name,
                label: Some(&licence.master_label),
                key: Some(&licence.license_definition_key),
                status: Some(&licence.status),
                unlimited: false,
            };
            if is_paid(&facts) {
                paid_holders.insert(user.id.clone());
            }
        }
    }
    for assignment in data.psl_assignments() {
        let psl = data.permission_set_licenses.iter().find(|p| p.id == assignment.permission_set_license_id);
        if psl.is_some_and(|psl| {
            is_paid(&LicenceFacts {
                source: SubscriptionSource::PermissionSetLicense,
                name: &psl.developer_name,
                label: Some(&psl.master_label),
                key: None,
                status: Some(&psl.status),
                unlimited: false,
            })
        }) {
            paid_holders.insert(assignment.assignee_id.clone());
        }
    }
    for assignment in data.user_package_licenses() {
        let package = data.package_licenses.iter().find(|p| p.id == assignment.package_license_id);
        if package.is_some_and(|package| {
            is_paid(&LicenceFacts {
                source: SubscriptionSource::PackageLicense,
                name: &package.namespace_prefix,
                label: None,
                key: None,
                status: Some(&package.status),
                unlimited: package.allowed_licenses == -1,
            })
        }) {
            paid_holders.insert(assignment.user_id.clone());
        }
    }
    paid_holders
}

#[test]
fn the_reports_frozen_class_is_the_simulated_orgs_frozen_and_paid_users() {
    let org = Org::start(sfconn_testkit::OrgSpec::with_users(300));
    let output = org.run(&["-o", "snapshot.json", "--store", "history.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report = org.bare().args(["report", "-f", "json", "--store", "history.db"]).output().unwrap();
    assert_eq!(report.status.code(), Some(0), "{}", text(&report.stderr));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();

    let expected = frozen_and_paid(org.org.data());
    assert!(expected.len() >= 5, "the generator freezes about 8% of active internal users: {expected:?}");
    let frozen: BTreeSet<String> = report["reclaim_candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["reason"] == "frozen")
        .map(|c| c["user_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(frozen, expected);
    let class = report["classes"].as_array().unwrap().iter().find(|c| c["class"] == "frozen").unwrap();
    assert_eq!(class["candidates"], expected.len());
    // The frozen candidates come first.
    let reasons: Vec<&str> = report["reclaim_candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap())
        .collect();
    assert!(reasons[..expected.len()].iter().all(|r| *r == "frozen"), "{reasons:?}");
    // Per subscription, the frozen seats add up to the paid licences the frozen users hold.
    let seats: i64 =
        report["subscriptions"].as_array().unwrap().iter().map(|s| s["frozen_seats"].as_i64().unwrap()).sum();
    let held: usize = report["reclaim_candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["reason"] == "frozen")
        .map(|c| c["paid_licences"].as_array().unwrap().len())
        .sum();
    assert_eq!(seats, i64::try_from(held).unwrap());
    // The snapshot lists the feature licences; the report shows them as the org counts them.
    let snapshot: Value =
        serde_json::from_slice(&std::fs::read(org.work().join("snapshot.json")).unwrap()).unwrap();
    let listed: Vec<(&str, i64)> = snapshot["organization"]["feature_licences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["used"].as_i64().unwrap()))
        .collect();
    let mut reported: Vec<(&str, i64)> = report["feature_licences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["used"].as_i64().unwrap()))
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort_unstable();
    reported.sort_unstable();
    assert_eq!(reported, listed_sorted);
    assert_eq!(reported.len(), sfconn_testkit::FEATURE_LICENCES.len());
}

#[test]
fn ctrl_c_stops_the_run_leaving_nothing_behind() {
    let org = Org::small();
    // The User query hangs, so the run is certainly in flight with its temporary file open.
    org.faults().on(Target::query("User"), Occurrence::always(), FaultKind::Stall(Duration::from_secs(120)));
    let out = org.work().join("out");
    std::fs::create_dir(&out).unwrap();

    let mut command = org.sfconn();
    command
        .args(["collect", "-o", "out/snapshot.json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();

    let user_query_arrived = || {
        org.org.requests().iter().any(|r| {
            r.path().ends_with("/query")
                && sfconn_auth::Url::parse(&r.url)
                    .unwrap()
                    .query_pairs()
                    .any(|(k, v)| k == "q" && v.contains("FROM User") && !v.contains("count()"))
        })
    };
    while !user_query_arrived() {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(names_in(&out).len(), 1, "the staged temporary file exists while the run is in flight");

    let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(names_in(&out), Vec::<String>::new(), "no partial output, no temporary file");
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [("bash", "_sfconn()"), ("zsh", "#compdef sfconn"), ("fish", "complete -c sfconn")]
    {
        let output = common::Sandbox::new().sfconn().args(["completions", shell]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = text(&output.stdout);
        assert!(script.contains(marker), "{shell}:\n{script}");
        assert!(script.contains("collect"), "{shell} completes the commands");
        assert!(script.contains("ndjson"), "{shell} completes --format values");
    }
    let output = common::Sandbox::new().sfconn().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}
