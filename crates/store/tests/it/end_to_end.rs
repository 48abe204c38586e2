//! The whole path: the connector collects a simulated org twice while the org changes, both
//! snapshots go into the store as `sfconn collect --store` hands them over (the JSON document),
//! and the diff and report agree with the org's ground truth.

use std::collections::BTreeSet;

use sfconn_collect::output::{Format, open_sink_to_writer};
use sfconn_config::{MapEnvironment, Need, Settings};
use sfconn_store::{ReportOptions, Store};
use sfconn_testkit::{OrgSpec, SPECIAL_USER_COUNT, SharedBuffer, SimulatedOrg, UserChanges};

fn settings(org: &SimulatedOrg) -> Settings {
    let dir = tempfile::tempdir().unwrap();
    let mut env = MapEnvironment::in_dir(dir.path());
    for (name, value) in org.sfconn_env() {
        env = env.with(&name, &value);
    }
    sfconn_config::load_with(&sfconn_config::Flags::default(), Need::Everything, &env).unwrap().settings
}

/// One run of the connector: the snapshot as `-f json` writes it.
async fn collect(org: &SimulatedOrg) -> Vec<u8> {
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    sfconn_collect::run(&settings(org), sink.as_mut(), &sfconn_collect::NoProgress).await.unwrap();
    drop(sink);
    buffer.bytes()
}

/// Sets the document's `collected_at`: two runs in the same second would be one snapshot.
fn collected_at(json: &[u8], at: &str) -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(json).unwrap();
    doc["collected_at"] = serde_json::json!(at);
    serde_json::to_vec(&doc).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_of_a_changing_org_are_stored_compared_and_reported() {
    let before = SimulatedOrg::start(OrgSpec::with_users(80)).await;
    let first = collect(&before).await;

    // A week later: 10 more users, one removed, one deactivated (an active generic user).
    let removed = SPECIAL_USER_COUNT + 3;
    let deactivated = (SPECIAL_USER_COUNT + 4..80)
        .find(|&index| before.data().user(index).is_some_and(|user| user.is_active))
        .unwrap();
    let mut spec = OrgSpec::with_users(90);
    spec.user_changes =
        UserChanges { removed: BTreeSet::from([removed]), deactivated: BTreeSet::from([deactivated]) };
    let after = SimulatedOrg::start(spec).await;
    let second = collect(&after).await;

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("history.db")).unwrap();
    let first_id = store.insert_snapshot_json(&collected_at(&first, "2024-06-01T08:00:00Z")).unwrap();
    let second_id = store.insert_snapshot_json(&collected_at(&second, "2024-06-08T08:00:00Z")).unwrap();

    let listed = store.list().unwrap();
    assert_eq!(listed.iter().map(|s| s.users).collect::<Vec<_>>(), [80, 89]);

    let (from, to) = store.resolve_pair(None, None, None).unwrap();
    assert_eq!((from.id, to.id), (first_id, second_id));
    let diff = store.diff(&from, &to).unwrap();
    let ids = |users: &[sfconn_store::UserChange]| users.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    let added: Vec<String> = (80..90).map(|index| after.data().user(index).unwrap().id).collect();
    assert_eq!(ids(&diff.users_added), added);
    assert_eq!(ids(&diff.users_removed), [before.data().user(removed).unwrap().id]);
    assert_eq!(ids(&diff.users_deactivated), [before.data().user(deactivated).unwrap().id]);
    assert!(diff.users_activated.is_empty());
    // Every licence the removed user held is lost; nobody else's changed except added users'.
    let removed_id = before.data().user(removed).unwrap().id;
    assert!(diff.licences_lost.iter().all(|a| a.user_id == removed_id), "{:?}", diff.licences_lost);
    let added_ids: BTreeSet<&String> = added.iter().collect();
    assert!(
        diff.licences_gained.iter().all(|a| added_ids.contains(&a.user_id)),
        "{:?}",
        diff.licences_gained
    );

    // The report's candidates are active users of the second run whose last login (per the
    // org's ground truth) is missing or older than the cutoff.
    assert!(!diff.licences_lost.is_empty() && !diff.licences_gained.is_empty());
    // The org's seat counts moved with its users.
    assert!(diff.subscriptions.iter().any(|s| s.used_from != s.used_to), "{:?}", diff.subscriptions);

    let report = store.report(&to, &ReportOptions::default()).unwrap();
    let cutoff =
        time::OffsetDateTime::parse(&report.inactive_before, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp();
    assert!(!report.reclaim_candidates.is_empty());
    for candidate in &report.reclaim_candidates {
        let index = after.data().user_index(&candidate.user_id).unwrap();
        let truth = after.data().user(index).unwrap();
        assert!(truth.is_active, "{}", candidate.username);
        assert_eq!(candidate.frozen, Some(truth.is_frozen), "{}", candidate.username);
        if candidate.reason == sfconn_store::ReclaimClass::Frozen {
            // Frozen comes first, whatever the last login.
            assert!(truth.is_frozen, "{}", candidate.username);
            assert!(!candidate.paid_licences.is_empty());
            continue;
        }
        assert!(
            truth.last_login_date.is_none_or(|login| login.unix_seconds() < cutoff),
            "{} logged in after the cutoff",
            candidate.username
        );
        assert!(!candidate.paid_licences.is_empty());
    }
    assert_eq!(i64::try_from(report.subscriptions.len()).unwrap(), to.subscriptions);
}
