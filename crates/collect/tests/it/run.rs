//! The connector run against the simulated org: what it writes must match the org's ground
//! truth (`SimulatedOrg::data`), whatever the filter and whatever the org hides.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use sfconn_collect::output::{Format, open_sink_to_writer};
use sfconn_collect::snapshot::{AccountKind, Snapshot, SubscriptionSource};
use sfconn_collect::{CollectError, Progress, RunOutcome, SourceStatus, run};
use sfconn_config::Settings;
use sfconn_errors::{Classify, ErrorClass};
use sfconn_filter::CompanyFilter;
use sfconn_testkit::{HiddenAs, OrgSpec, SimulatedOrg};

use crate::common;
use common::settings;
use sfconn_testkit::SharedBuffer;

/// Records what the run reports, per source.
#[derive(Default)]
struct RecordingProgress {
    advanced: Mutex<BTreeMap<String, (u64, u64)>>,
    finished: Mutex<BTreeMap<String, SourceStatus>>,
}

impl Progress for RecordingProgress {
    fn advanced(&self, source: &str, done: u64, total: u64) {
        self.advanced.lock().unwrap().insert(source.to_owned(), (done, total));
    }
    fn finished(&self, source: &str, status: SourceStatus) {
        self.finished.lock().unwrap().insert(source.to_owned(), status);
    }
}

async fn small_org() -> SimulatedOrg {
    SimulatedOrg::start(OrgSpec::small()).await
}

/// Runs the connector into a json sink; checks the document against the schema.
async fn collect(settings: &Settings) -> (Snapshot, RunOutcome) {
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    let outcome = run(settings, sink.as_mut(), &sfconn_collect::NoProgress).await.unwrap();
    let value: serde_json::Value = serde_json::from_str(&buffer.text()).unwrap();
    sfconn_testkit::assert_valid_snapshot(&value);
    (serde_json::from_value(value).unwrap(), outcome)
}

/// Runs the connector expecting failure; checks that nothing was written.
async fn collect_error(settings: &Settings) -> CollectError {
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    let error = run(settings, sink.as_mut(), &sfconn_collect::NoProgress).await.unwrap_err();
    drop(sink);
    assert!(buffer.is_empty(), "a failed run must print nothing");
    error
}

fn codes(snapshot: &Snapshot) -> Vec<(&str, Option<&str>)> {
    snapshot.warnings.iter().map(|w| (w.code.as_str(), w.source.as_deref())).collect()
}

/// The expected ids of users that `filter` keeps, from the ground truth.
fn expected_user_ids(org: &SimulatedOrg, filter: &CompanyFilter) -> Vec<String> {
    let mut ids: Vec<String> =
        org.data().users().filter(|u| filter.matches(u.email.as_deref())).map(|u| u.id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn everyone_collects_every_user_with_licences_matching_the_org() {
    let org = small_org().await;
    let (snapshot, outcome) = collect(&settings(&org, &[])).await;
    let data = org.data();

    assert!(snapshot.filter.all);
    assert_eq!(snapshot.organization.id, data.organization.id);
    assert_eq!(snapshot.organization.name, data.organization.name);
    assert_eq!(snapshot.organization.edition.as_deref(), Some(data.organization.organization_type.as_str()));
    assert_eq!(snapshot.source.login_url, org.login_url().trim_end_matches('/'));
    assert_eq!(snapshot.source.instance_url, org.instance_url().trim_end_matches('/'));

    // Users: all of them, in id order, each mapped from its row.
    let ids: Vec<&str> = snapshot.users.iter().map(|u| u.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "users in ascending id order");
    assert_eq!(ids.len(), data.user_count());

    let mut psl_by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in data.psl_assignments() {
        psl_by_user.entry(row.assignee_id).or_default().push(row.permission_set_license_id);
    }
    let mut packages_by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in data.user_package_licenses() {
        packages_by_user.entry(row.user_id).or_default().push(row.package_license_id);
    }
    let written: BTreeMap<&str, _> = snapshot.users.iter().map(|u| (u.id.as_str(), u)).collect();
    for truth in data.users() {
        let user = written[truth.id.as_str()];
        assert_eq!(user.username, truth.username);
        assert_eq!(user.email, truth.email.clone().filter(|e| !e.trim().is_empty()), "{}", truth.id);
        assert_eq!(user.active, truth.is_active);
        assert_eq!(user.user_type.as_deref(), Some(truth.user_type.as_str()));
        assert_eq!(user.account_kind, AccountKind::from_user_type(Some(&truth.user_type)));
        assert_eq!(user.profile_id, truth.profile_id);
        assert_eq!(user.user_license_id, data.license_of(&truth).map(|l| l.id.clone()), "{}", truth.id);
        assert_eq!(user.last_login_at, truth.last_login_date.map(|d| d.rfc3339()));
        assert_eq!(user.created_at, Some(truth.created_date.rfc3339()));
        assert_eq!(user.federation_id, truth.federation_identifier);
        let mut psl = psl_by_user.remove(&truth.id).unwrap_or_default();
        psl.sort();
        assert_eq!(user.permission_set_license_ids, psl, "{}", truth.id);
        let mut packages = packages_by_user.remove(&truth.id).unwrap_or_default();
        packages.sort();
        assert_eq!(user.package_license_ids, packages, "{}", truth.id);
        assert_eq!(user.frozen, Some(truth.is_frozen), "{}", truth.id);
        let mut features: Vec<String> =
            truth.feature_licences.iter().map(|name| (*name).to_owned()).collect();
        features.sort();
        assert_eq!(user.feature_licences, features, "{}", truth.id);
    }
    assert!(data.users().any(|u| u.is_frozen), "the org has frozen users");
    assert!(data.users().any(|u| !u.feature_licences.is_empty()), "and feature licences");

    // Feature licences: every checkbox of the org, in describe's order, with its active holders.
    let features: Vec<(String, String, Option<String>, u64)> = snapshot
        .organization
        .feature_licences
        .iter()
        .map(|f| (f.name.clone(), f.field.clone(), f.label.clone(), f.used))
        .collect();
    let expected: Vec<(String, String, Option<String>, u64)> = sfconn_testkit::FEATURE_LICENCES
        .iter()
        .map(|(name, _)| {
            let used = data.users().filter(|u| u.is_active && u.feature_licences.contains(name)).count();
            let label = match *name {
                "MarketingUser" => "Marketing User",
                "KnowledgeUser" => "Knowledge User",
                "SupportUser" => "Service Cloud User",
                _ => "Flow User",
            };
            ((*name).to_owned(), format!("UserPermissions{name}"), Some(label.to_owned()), used as u64)
        })
        .collect();
    assert_eq!(features, expected);
    assert!(
        data.users().any(|u| !u.is_active && !u.feature_licences.is_empty()),
        "an inactive holder is not counted: the org must have one for this to be tested"
    );

    // Subscriptions: every row of the three objects, grouped by source then id.
    let expected_subscriptions =
        data.user_licenses.len() + data.permission_set_licenses.len() + data.package_licenses.len();
    assert_eq!(snapshot.subscriptions.len(), expected_subscriptions);
    let order: Vec<_> = snapshot.subscriptions.iter().map(|s| (s.source, s.id.clone())).collect();
    let mut sorted_order = order.clone();
    sorted_order.sort();
    assert_eq!(order, sorted_order);
    for truth in &data.package_licenses {
        let subscription = snapshot.subscriptions.iter().find(|s| s.id == truth.id).unwrap();
        assert_eq!(subscription.source, SubscriptionSource::PackageLicense);
        assert_eq!(subscription.unlimited, truth.allowed_licenses == -1);
        assert_eq!(subscription.total, (truth.allowed_licenses != -1).then_some(truth.allowed_licenses));
        assert_eq!(subscription.expires_at, truth.expiration_date.map(|d| d.rfc3339()));
    }
    assert!(snapshot.subscriptions.iter().any(|s| s.unlimited), "the org has a site licence");
    for truth in &data.permission_set_licenses {
        let subscription = snapshot.subscriptions.iter().find(|s| s.id == truth.id).unwrap();
        assert_eq!(subscription.name, truth.developer_name);
        assert_eq!(subscription.expires_at, truth.expiration_date.map(|d| d.iso()));
    }
    for truth in &data.user_licenses {
        let subscription = snapshot.subscriptions.iter().find(|s| s.id == truth.id).unwrap();
        assert_eq!(
            (subscription.total, subscription.used),
            (Some(truth.total_licenses), Some(truth.used_licenses))
        );
    }
    assert_eq!(snapshot.profiles.len(), data.profiles.len());

    // Summary from the ground truth.
    let summary = &snapshot.summary;
    assert_eq!(usize::try_from(summary.users_total).unwrap(), data.user_count());
    assert_eq!(usize::try_from(summary.users_active).unwrap(), data.users().filter(|u| u.is_active).count());
    let without_email =
        data.users().filter(|u| u.email.as_deref().is_none_or(|e| e.trim().is_empty())).count();
    assert!(without_email > 0, "the small org has users without email");
    assert_eq!(usize::try_from(summary.users_without_email).unwrap(), without_email);
    assert_eq!(
        usize::try_from(summary.users_by_domain[""]).unwrap(),
        data.users()
            .filter(|u| sfconn_filter::email_domain(u.email.as_deref().unwrap_or("")).is_none())
            .count()
    );
    assert_eq!(summary.users_excluded_by_filter, 0);
    assert_eq!(usize::try_from(summary.subscriptions_total).unwrap(), expected_subscriptions);
    assert_eq!(summary.users_by_kind.values().sum::<u64>(), summary.users_total);
    assert_eq!(usize::try_from(summary.api_requests).unwrap(), org.requests().len(), "every request counted");
    let before = summary.api_usage_before.unwrap();
    assert_eq!(before.max, org.api_usage().1);
    let after = summary.api_usage_after.unwrap();
    assert!(after.used > before.used);
    assert!(snapshot.warnings.is_empty(), "{:?}", snapshot.warnings);
    assert_eq!(outcome.summary, snapshot.summary);
}

#[tokio::test]
async fn every_user_type_gets_its_account_kind() {
    let org = small_org().await;
    let (snapshot, _) = collect(&settings(&org, &[])).await;
    let kinds: BTreeMap<&str, AccountKind> =
        snapshot.users.iter().map(|u| (u.user_type.as_deref().unwrap(), u.account_kind)).collect();
    let expected = [
        ("Standard", AccountKind::Internal),
        ("PowerPartner", AccountKind::Partner),
        ("PowerCustomerSuccess", AccountKind::Customer),
        ("CustomerSuccess", AccountKind::Customer),
        ("CspLitePortal", AccountKind::Customer),
        ("CsnOnly", AccountKind::Chatter),
        ("Guest", AccountKind::Guest),
        ("AutomatedProcess", AccountKind::System),
        ("CloudIntegrationUser", AccountKind::System),
    ];
    for (user_type, kind) in expected {
        assert_eq!(kinds.get(user_type), Some(&kind), "{user_type} in the org and mapped");
    }
    let other: Vec<_> = snapshot.users.iter().filter(|u| u.account_kind == AccountKind::Other).collect();
    assert!(!other.is_empty(), "the small org has an unknown user type");
    for user in other {
        assert!(user.user_type.is_some(), "raw value kept");
    }
}

#[tokio::test]
async fn one_domain_writes_only_its_users_and_pushes_the_filter_into_the_query() {
    let org = small_org().await;
    let (snapshot, _) = collect(&settings(&org, &[("SFCONN_COMPANY_NAMES", "acme.com")])).await;
    let filter = CompanyFilter::parse(["acme.com"]).unwrap();
    let expected = expected_user_ids(&org, &filter);
    let ids: Vec<String> = snapshot.users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(ids, expected);
    assert!(!ids.is_empty());
    for user in &snapshot.users {
        let domain = user.email_domain.as_deref().unwrap();
        assert!(domain == "acme.com" || domain.ends_with(".acme.com"), "{domain}");
    }
    assert!(!snapshot.filter.all);
    assert_eq!(snapshot.filter.company_names, ["acme.com"]);
    assert_eq!(snapshot.summary.users_without_email, 0);
    assert_eq!(
        usize::try_from(snapshot.summary.users_excluded_by_filter).unwrap(),
        org.data().user_count() - expected.len(),
    );
    assert_eq!(codes(&snapshot), [("company_filter_mismatch", None)]);
    // Subscriptions stay org-wide.
    let all = org.data().user_licenses.len()
        + org.data().permission_set_licenses.len()
        + org.data().package_licenses.len();
    assert_eq!(snapshot.subscriptions.len(), all);
    let user_query =
        org.requests().into_iter().map(|r| r.url).find(|url| url.contains("+FROM+User+")).unwrap_or_default();
    assert!(user_query.contains("LIKE"), "domain pushed into the User query: {user_query}");
}

#[tokio::test]
async fn several_domains_write_the_union() {
    let org = small_org().await;
    let (snapshot, _) = collect(&settings(&org, &[("SFCONN_COMPANY_NAMES", "acme.com,acme.io")])).await;
    let filter = CompanyFilter::parse(["acme.com", "acme.io"]).unwrap();
    let expected = expected_user_ids(&org, &filter);
    let ids: Vec<String> = snapshot.users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(ids, expected);
    let domains: BTreeSet<String> = snapshot.users.iter().filter_map(|u| u.email_domain.clone()).collect();
    assert!(domains.contains("acme.io"), "{domains:?}");
    assert!(domains.iter().any(|d| d == "acme.com" || d.ends_with(".acme.com")), "{domains:?}");
    assert_eq!(
        usize::try_from(snapshot.summary.users_excluded_by_filter).unwrap(),
        org.data().user_count() - expected.len(),
    );
}

#[tokio::test]
async fn star_with_names_collects_everyone_without_the_mismatch_warning() {
    let org = small_org().await;
    let (snapshot, _) = collect(&settings(&org, &[("SFCONN_COMPANY_NAMES", "acme.com,*")])).await;
    assert!(snapshot.filter.all);
    assert_eq!(snapshot.users.len(), org.data().user_count());
    assert!(snapshot.summary.users_without_email > 0, "users without email are kept with *");
    assert!(codes(&snapshot).is_empty());
}

#[tokio::test]
async fn hidden_optional_sources_are_skipped_with_a_warning() {
    let org = small_org().await;
    org.faults().hide_object("PackageLicense", HiddenAs::InvalidType);
    org.faults().hide_object("PermissionSetLicenseAssign", HiddenAs::InsufficientAccess);
    let progress = RecordingProgress::default();
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    run(&settings(&org, &[]), sink.as_mut(), &progress).await.unwrap();
    let snapshot: Snapshot = serde_json::from_slice(&buffer.bytes()).unwrap();

    assert_eq!(
        codes(&snapshot),
        [("source_skipped", Some("PackageLicense")), ("source_skipped", Some("PermissionSetLicenseAssign"))]
    );
    // A missing object answers describe with 404 NOT_FOUND; Salesforce's code is quoted.
    assert!(snapshot.warnings[0].message.contains("NOT_FOUND"), "{}", snapshot.warnings[0].message);
    assert!(snapshot.warnings[1].message.contains("INSUFFICIENT_ACCESS"), "{}", snapshot.warnings[1].message);
    assert!(snapshot.subscriptions.iter().all(|s| s.source != SubscriptionSource::PackageLicense));
    assert!(snapshot.subscriptions.iter().any(|s| s.source == SubscriptionSource::PermissionSetLicense));
    assert!(snapshot.users.iter().all(|u| u.permission_set_license_ids.is_empty()));
    // UserPackageLicense was readable, but its rows point at the hidden PackageLicense: a
    // user's licence ids only ever name subscriptions that are in the snapshot.
    assert!(org.data().user_package_licenses().next().is_some(), "the org does assign package licences");
    assert!(snapshot.users.iter().all(|u| u.package_license_ids.is_empty()));
    assert_eq!(snapshot.users.len(), org.data().user_count());

    let finished = progress.finished.lock().unwrap();
    assert_eq!(finished["PackageLicense"], SourceStatus::Skipped);
    assert_eq!(finished["User"], SourceStatus::Read { records: org.data().user_count() as u64 });
    let advanced = progress.advanced.lock().unwrap();
    let (done, total) = advanced["User"];
    assert_eq!((done, total), (org.data().user_count() as u64, org.data().user_count() as u64));
}

/// `UserLogin` unreadable: every user's `frozen` is null, with one `source_skipped` warning;
/// a hidden feature-licence checkbox is simply not selected (the user does not hold it as far
/// as the snapshot can tell), and the others still are.
#[tokio::test]
async fn unreadable_user_login_makes_frozen_null_and_a_hidden_checkbox_is_left_out() {
    let org = small_org().await;
    org.faults().hide_object("UserLogin", HiddenAs::InsufficientAccess);
    org.faults().hide_field("User", "UserPermissionsMarketingUser");
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    run(&settings(&org, &[]), sink.as_mut(), &sfconn_collect::NoProgress).await.unwrap();
    let snapshot: Snapshot = serde_json::from_slice(&buffer.bytes()).unwrap();
    assert_eq!(codes(&snapshot), [("source_skipped", Some("UserLogin"))]);
    assert!(snapshot.warnings[0].message.contains("INSUFFICIENT_ACCESS"), "{}", snapshot.warnings[0].message);
    assert!(snapshot.warnings[0].message.contains("\"Manage Users\""), "{}", snapshot.warnings[0].message);
    assert!(snapshot.users.iter().all(|u| u.frozen.is_none()));
    assert!(snapshot.users.iter().all(|u| !u.feature_licences.iter().any(|f| f == "MarketingUser")));
    assert!(snapshot.users.iter().any(|u| u.feature_licences.iter().any(|f| f == "SupportUser")));
    assert_eq!(snapshot.users.len(), org.data().user_count());
}

#[tokio::test]
async fn hidden_optional_fields_are_null_with_a_warning() {
    let org = small_org().await;
    org.faults().hide_field("User", "FederationIdentifier");
    org.faults().hide_field("PermissionSetLicense", "ExpirationDate");
    let (snapshot, _) = collect(&settings(&org, &[])).await;
    assert_eq!(
        codes(&snapshot),
        [
            ("field_unavailable", Some("PermissionSetLicense.ExpirationDate")),
            ("field_unavailable", Some("User.FederationIdentifier")),
        ]
    );
    assert!(snapshot.users.iter().all(|u| u.federation_id.is_none()));
    assert!(
        snapshot
            .subscriptions
            .iter()
            .filter(|s| s.source == SubscriptionSource::PermissionSetLicense)
            .all(|s| s.expires_at.is_none())
    );
    assert!(org.data().users().any(|u| u.federation_identifier.is_some()), "the org has federation ids");
}

#[tokio::test]
async fn hidden_required_source_or_field_fails_with_a_clear_error() {
    let org = small_org().await;
    org.faults().hide_object("Profile", HiddenAs::InsufficientAccess);
    let error = collect_error(&settings(&org, &[])).await;
    assert_eq!(error.class(), ErrorClass::Unavailable);
    assert!(error.to_string().contains("Profile"), "{error}");

    let org = small_org().await;
    org.faults().hide_field("User", "UserType");
    let error = collect_error(&settings(&org, &[])).await;
    assert_eq!(error.class(), ErrorClass::Unavailable);
    assert!(error.to_string().contains("UserType"), "{error}");
}

#[tokio::test]
async fn usage_guard_refuses_to_start_and_queries_nothing() {
    let org = small_org().await;
    org.faults().set_api_usage(95_000, 100_000);
    let error = collect_error(&settings(&org, &[("SFCONN_LIMITS__MAX_API_USAGE_PERCENT", "90")])).await;
    assert_eq!(error.class(), ErrorClass::Temporary);
    let message = error.to_string();
    // The /limits call itself is one more request: 95001.
    assert!(message.contains("used 95001 of its 100000"), "{message}");
    assert!(message.contains("limits.max_api_usage_percent = 90%"), "{message}");
    assert!(org.requests().iter().all(|r| !r.url.contains("/query")), "no query after the refusal");

    // Below the limit the run goes ahead.
    org.faults().set_api_usage(89_000, 100_000);
    let (snapshot, _) = collect(&settings(&org, &[("SFCONN_LIMITS__MAX_API_USAGE_PERCENT", "90")])).await;
    assert_eq!(snapshot.summary.api_usage_before.unwrap().max, 100_000);
}

#[tokio::test]
async fn rotated_refresh_token_without_a_file_is_a_warning() {
    let org = small_org().await;
    org.faults().rotate_refresh_tokens(true);
    let (snapshot, outcome) = collect(&settings(&org, &[])).await;
    assert_eq!(codes(&snapshot), [("refresh_token_rotated", None)]);
    assert!(snapshot.warnings[0].message.contains("refresh_token_file"));
    assert_eq!(outcome.rotation, sfconn_auth::Rotation::NotPersisted);
}

#[tokio::test]
async fn rotated_refresh_token_without_a_file_is_saved_in_the_state_directory() {
    let org = small_org().await;
    org.faults().rotate_refresh_tokens(true);
    let state = tempfile::tempdir().unwrap();
    let settings = settings(&org, &[("XDG_STATE_HOME", state.path().to_str().unwrap())]);
    let (snapshot, outcome) = collect(&settings).await;
    let saved = state.path().join("sfconn").join(sfconn_collect::ROTATED_REFRESH_TOKEN_FILE);
    assert_eq!(outcome.rotation, sfconn_auth::Rotation::SavedAside { path: saved.clone() });
    let token = std::fs::read_to_string(&saved).unwrap().trim().to_owned();
    assert_eq!(
        org.valid_refresh_tokens(),
        std::slice::from_ref(&token),
        "the saved token is the one that works now"
    );
    assert_eq!(codes(&snapshot), [("refresh_token_rotated", None)]);
    let message = &snapshot.warnings[0].message;
    assert!(message.contains(&format!("set refresh_token_file = \"{}\"", saved.display())), "{message}");
    assert!(!message.contains(&token), "the warning never holds the token");
}

/// The requests of a run, as `METHOD path [SOQL]`, sorted (the org-wide sources run
/// concurrently, so arrival order varies). Pins what `docs/api-calls.md` lists.
fn calls(org: &SimulatedOrg) -> Vec<String> {
    let mut calls: Vec<String> = org
        .requests()
        .iter()
        .map(|request| {
            let url = sfconn_auth::Url::parse(&request.url).unwrap();
            let soql = url.query_pairs().find(|(key, _)| key == "q").map(|(_, q)| format!(" {q}"));
            format!("{} {}{}", request.method, url.path(), soql.unwrap_or_default())
        })
        .collect();
    calls.sort();
    calls
}

#[tokio::test]
async fn api_calls_of_a_run() {
    let org = small_org().await;
    collect(&settings(&org, &[])).await;
    insta::assert_snapshot!("calls_everyone", calls(&org).join("\n"));

    let org = small_org().await;
    collect(&settings(&org, &[("SFCONN_COMPANY_NAMES", "acme.com")])).await;
    insta::assert_snapshot!("calls_one_domain", calls(&org).join("\n"));
}

#[tokio::test]
async fn users_stream_across_pages_in_id_order() {
    /// Keeps every progress report of the User source.
    #[derive(Default)]
    struct UserSteps(Mutex<Vec<(u64, u64)>>);
    impl Progress for UserSteps {
        fn advanced(&self, source: &str, done: u64, total: u64) {
            if source == "User" {
                self.0.lock().unwrap().push((done, total));
            }
        }
        fn finished(&self, _source: &str, _status: SourceStatus) {}
    }

    let org = SimulatedOrg::start(OrgSpec::with_users(4_500)).await;
    let steps = UserSteps::default();
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Ndjson, Box::new(buffer.clone())).unwrap();
    let outcome = Box::pin(run(&settings(&org, &[]), sink.as_mut(), &steps)).await.unwrap();
    assert_eq!(outcome.summary.users_total, 4_500);
    assert_eq!(*steps.0.lock().unwrap(), [(2_000, 4_500), (4_000, 4_500), (4_500, 4_500)]);
    let text = buffer.text();
    let ids: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|line| line["type"] == "user")
        .map(|line| line["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4_500);
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "ascending id order across pages");
}

#[tokio::test]
async fn a_run_failing_mid_stream_leaves_the_existing_output_untouched() {
    let org = SimulatedOrg::start(OrgSpec::with_users(2_500)).await;
    org.faults().server_unavailable(
        sfconn_testkit::Target::Query { object: Some("User".into()), page: Some(2) },
        sfconn_testkit::Occurrence::always(),
    );
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("snapshot.json");
    std::fs::write(&target, "previous snapshot").unwrap();
    let mut sink = sfconn_collect::open_sink(Format::Json, &target).unwrap();
    let settings = settings(&org, &[("SFCONN_HTTP__MAX_RETRIES", "0")]);
    let error = run(&settings, sink.as_mut(), &sfconn_collect::NoProgress).await.unwrap_err();
    drop(sink);
    assert_eq!(error.class(), ErrorClass::Temporary, "{error}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous snapshot");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["snapshot.json"], "no temporary file left behind");
}

/// Without "View Setup and Configuration" `/limits` is refused: the run does not fail on that
/// (docs/api-calls.md, step 3), and the summary's usage comes from `Sforce-Limit-Info`.
#[tokio::test]
async fn refused_limits_do_not_stop_the_run() {
    let org = small_org().await;
    org.faults().on(
        sfconn_testkit::Target::Limits,
        sfconn_testkit::Occurrence::always(),
        sfconn_testkit::FaultKind::Json {
            status: 403,
            body: sfconn_testkit::rest_error_body("INSUFFICIENT_ACCESS", "insufficient access rights"),
        },
    );
    let (snapshot, _) = collect(&settings(&org, &[])).await;
    assert_eq!(snapshot.users.len(), org.data().user_count());
    assert!(snapshot.warnings.is_empty(), "{:?}", snapshot.warnings);
    // The usage before is the Sforce-Limit-Info of an answer that came before /limits' refusal:
    // none when only the version discovery did (it carries no usage header), a describe's
    // when one of those sent beside /limits was quicker.
    assert!(snapshot.summary.api_usage_before.is_none_or(|usage| usage.max == 100_000));
    assert!(snapshot.summary.api_usage_after.is_some_and(|usage| usage.max == 100_000));
}

/// With `/limits` refused, the usage headers of the org-wide sources still guard the budget:
/// the run stops before any user is written.
#[tokio::test]
async fn refused_limits_still_guard_the_budget_before_users_are_written() {
    let org = small_org().await;
    org.faults().set_api_usage(95_000, 100_000);
    org.faults().on(
        sfconn_testkit::Target::Limits,
        sfconn_testkit::Occurrence::always(),
        sfconn_testkit::FaultKind::Json {
            status: 403,
            body: sfconn_testkit::rest_error_body("INSUFFICIENT_ACCESS", "insufficient access rights"),
        },
    );
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    let settings = settings(&org, &[("SFCONN_LIMITS__MAX_API_USAGE_PERCENT", "90")]);
    let error = run(&settings, sink.as_mut(), &sfconn_collect::NoProgress).await.unwrap_err();
    drop(sink);
    assert_eq!(error.class(), ErrorClass::Temporary, "{error}");
    assert!(error.to_string().contains("limits.max_api_usage_percent = 90%"), "{error}");
    assert!(buffer.is_empty(), "nothing is written when the budget is exceeded");
}

/// Each user's licence ids in the org's ground truth, sorted.
fn licences_by_user(org: &SimulatedOrg) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>) {
    let data = org.data();
    let mut psl: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in data.psl_assignments() {
        psl.entry(row.assignee_id).or_default().push(row.permission_set_license_id);
    }
    let mut packages: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in data.user_package_licenses() {
        packages.entry(row.user_id).or_default().push(row.package_license_id);
    }
    for ids in psl.values_mut().chain(packages.values_mut()) {
        ids.sort();
        ids.dedup();
    }
    (psl, packages)
}

/// Checks every written user's licence ids against the ground truth.
fn assert_licences_match(org: &SimulatedOrg, snapshot: &Snapshot) {
    let (psl, packages) = licences_by_user(org);
    for user in &snapshot.users {
        assert_eq!(
            user.permission_set_license_ids,
            psl.get(&user.id).cloned().unwrap_or_default(),
            "{}",
            user.id
        );
        assert_eq!(
            user.package_license_ids,
            packages.get(&user.id).cloned().unwrap_or_default(),
            "{}",
            user.id
        );
    }
}

/// The merge join over several pages of users and of assignments: with a company filter, the
/// assignment rows of users the User query did not fetch are skipped, never attached to the
/// next user; users with several licences get all of them, users with none get none.
#[tokio::test]
async fn the_merge_join_attaches_exactly_each_users_licences_across_pages() {
    let org = SimulatedOrg::start(OrgSpec::with_users(4_500)).await;
    let assignments = org.data().psl_assignments().count();
    assert!(assignments > 2_000, "PermissionSetLicenseAssign spans pages: {assignments}");
    for names in ["*", "acme.com"] {
        let progress = RecordingProgress::default();
        let buffer = SharedBuffer::default();
        let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
        let settings = settings(&org, &[("SFCONN_COMPANY_NAMES", names)]);
        Box::pin(run(&settings, sink.as_mut(), &progress)).await.unwrap();
        let snapshot: Snapshot = serde_json::from_slice(&buffer.bytes()).unwrap();
        let filter = CompanyFilter::parse([names]).unwrap();
        let ids: Vec<String> = snapshot.users.iter().map(|u| u.id.clone()).collect();
        assert_eq!(ids, expected_user_ids(&org, &filter), "{names}");
        assert_licences_match(&org, &snapshot);
        assert!(snapshot.users.iter().any(|u| u.permission_set_license_ids.len() >= 2), "{names}: several");
        assert!(snapshot.users.iter().any(|u| u.package_license_ids.len() >= 2), "{names}: several packages");
        assert!(snapshot.users.iter().any(|u| u.permission_set_license_ids.is_empty()), "{names}: none");
        if names != "*" {
            let (psl, _) = licences_by_user(&org);
            let skipped = psl.keys().filter(|user| !ids.contains(user)).count();
            assert!(skipped > 100, "rows of users not fetched were there to skip: {skipped}");
        }
        // Both assignment streams are read to the end and reported.
        let finished = progress.finished.lock().unwrap();
        assert_eq!(
            finished["PermissionSetLicenseAssign"],
            SourceStatus::Read { records: assignments as u64 }
        );
        assert_eq!(
            finished["UserPackageLicense"],
            SourceStatus::Read { records: org.data().user_package_licenses().count() as u64 }
        );
    }
}

/// `INVALID_QUERY_LOCATOR` in the middle of an assignment stream: the query runs again from
/// the start (`ORDER BY AssigneeId, Id` is a total order), the rows already merged are skipped.
#[tokio::test]
async fn an_expired_assignment_cursor_restarts_without_losing_or_repeating_rows() {
    let org = SimulatedOrg::start(OrgSpec::with_users(4_500)).await;
    let fault = org.faults().on(
        sfconn_testkit::Target::Query { object: Some("PermissionSetLicenseAssign".into()), page: Some(2) },
        sfconn_testkit::Occurrence::times(1),
        sfconn_testkit::FaultKind::ExpireQueryLocator,
    );
    let (snapshot, _) = Box::pin(collect(&settings(&org, &[]))).await;
    assert_eq!(org.faults().fired(fault), 1, "the cursor expired once");
    assert_eq!(snapshot.users.len(), 4_500);
    assert_licences_match(&org, &snapshot);
}

/// A page of an assignment object that fails after users were written is a failure, not a
/// skipped source: the snapshot would otherwise lack some users' licences without saying so.
#[tokio::test]
async fn an_assignment_page_refused_after_the_first_fails_the_run() {
    let org = SimulatedOrg::start(OrgSpec::with_users(4_500)).await;
    org.faults().on(
        sfconn_testkit::Target::Query { object: Some("PermissionSetLicenseAssign".into()), page: Some(2) },
        sfconn_testkit::Occurrence::always(),
        sfconn_testkit::FaultKind::Json {
            status: 403,
            body: sfconn_testkit::rest_error_body(
                "INSUFFICIENT_ACCESS",
                "insufficient access rights on object id",
            ),
        },
    );
    let error = Box::pin(collect_error(&settings(&org, &[]))).await;
    assert!(error.to_string().contains("PermissionSetLicenseAssign"), "{error}");
    assert!(error.to_string().contains("INSUFFICIENT_ACCESS"), "{error}");
}

/// A query page served in place of the org's own.
fn served_page(org: &SimulatedOrg, object: &str, records: &serde_json::Value) {
    let total = records.as_array().unwrap().len();
    org.faults().on(
        sfconn_testkit::Target::Query { object: Some(object.into()), page: Some(1) },
        sfconn_testkit::Occurrence::always(),
        sfconn_testkit::FaultKind::Json {
            status: 200,
            body: serde_json::json!({"totalSize": total, "done": true, "records": records}),
        },
    );
}

/// Salesforce sorting assignments differently from sfconn's byte order must stop the run
/// with a message naming the object and the two ids, never drop assignments silently.
#[tokio::test]
async fn assignments_out_of_order_fail_the_run_naming_both_ids() {
    let org = small_org().await;
    let users: Vec<String> = org.data().users().take(2).map(|u| u.id).collect();
    let package = org.data().package_licenses[0].id.clone();
    served_page(
        &org,
        "UserPackageLicense",
        &serde_json::json!([
            {"attributes": {"type": "UserPackageLicense"}, "Id": "0514W0000000001AAA", "UserId": users[1], "PackageLicenseId": package},
            {"attributes": {"type": "UserPackageLicense"}, "Id": "0514W0000000002AAA", "UserId": users[0], "PackageLicenseId": package},
        ]),
    );
    let error = collect_error(&settings(&org, &[])).await;
    assert_eq!(error.class(), ErrorClass::BadData, "{error}");
    let message = error.to_string();
    assert!(message.contains("UserPackageLicense rows out of the order"), "{message}");
    assert!(message.contains(&format!("`{}` came after `{}`", users[0], users[1])), "{message}");
}

/// The same guard on the User stream: users must come in strictly ascending Id.
#[tokio::test]
async fn users_out_of_order_fail_the_run_naming_both_ids() {
    let org = small_org().await;
    let users: Vec<String> = org.data().users().take(2).map(|u| u.id).collect();
    let user = |id: &str| {
        serde_json::json!({"attributes": {"type": "User"}, "Id": id, "Username": format!("{id}@example.test"),
            "IsActive": true, "UserType": "Standard"})
    };
    served_page(&org, "User", &serde_json::json!([user(&users[1]), user(&users[0])]));
    let error = collect_error(&settings(&org, &[])).await;
    assert_eq!(error.class(), ErrorClass::BadData, "{error}");
    let message = error.to_string();
    assert!(message.contains("User rows out of the order sfconn asked for (ORDER BY Id)"), "{message}");
    assert!(message.contains(&format!("`{}` came after `{}`", users[0], users[1])), "{message}");
}

/// The benchmark's simulated org counts the totals of the collection's assignment queries when
/// it starts (`sfconn_testkit::counted_at_start`); it keeps its own copy of their text, so a
/// query changed here without it would have the org scan every row on its one thread for the
/// first page, and the benchmark would charge that to sfconn.
#[test]
fn the_bench_org_counts_the_assignment_queries_totals_at_start() {
    use sfconn_collect::merge::{
        FROZEN_USER_LOGIN_SOQL, PERMISSION_SET_ASSIGNMENT_SOQL, PERMISSION_SET_LICENSE_ASSIGN_SOQL,
        USER_PACKAGE_LICENSE_SOQL,
    };
    for soql in [
        PERMISSION_SET_LICENSE_ASSIGN_SOQL,
        USER_PACKAGE_LICENSE_SOQL,
        FROZEN_USER_LOGIN_SOQL,
        PERMISSION_SET_ASSIGNMENT_SOQL,
    ] {
        assert!(sfconn_testkit::counted_at_start(soql), "{soql}");
    }
    assert!(!sfconn_testkit::counted_at_start(
        "SELECT Id FROM UserLogin WHERE IsFrozen = false ORDER BY UserId"
    ));
}
