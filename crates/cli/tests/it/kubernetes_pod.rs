//! The pod of `deploy/kubernetes` as the manifests wire it: the container's arguments and
//! environment from `cronjob.yaml`, `sfconn.toml` from `configmap.yaml`, the Secrets as files,
//! run by the real binary against a simulated org and a real PostgreSQL store. What the
//! manifests' validators (`cargo xtask k8s`) cannot see: that sfconn, started that way,
//! collects the org and keeps the snapshot in the shared store.

use std::path::Path;

use sfconn_testkit::postgres::{Cluster, PASSWORD};
use sfconn_testkit::{BlockingOrg, OrgSpec, SimulatedOrg};

use crate::common::Sandbox;

const CONFIGMAP: &str = include_str!("../../../../deploy/kubernetes/configmap.yaml");
const CRONJOB: &str = include_str!("../../../../deploy/kubernetes/cronjob.yaml");

/// The `sfconn.toml` key of `configmap.yaml`, unindented.
pub(crate) fn configmap_sfconn_toml() -> String {
    let mut lines = CONFIGMAP.lines().skip_while(|line| line.trim() != "sfconn.toml: |").skip(1);
    let toml: String = lines
        .by_ref()
        .take_while(|line| line.is_empty() || line.starts_with("    "))
        .map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line)))
        .collect();
    assert!(toml.contains("[orgs.acme-prod]"), "the ConfigMap's sfconn.toml was not found:\n{toml}");
    toml
}

/// The lines of the block under `key:` in the `sfconn` container (the first such key),
/// comments left out.
fn container_block(key: &str) -> Vec<&'static str> {
    let mut lines = CRONJOB.lines().skip_while(|line| line.trim() != key);
    let header = lines.next().unwrap_or_else(|| panic!("cronjob.yaml has no `{key}`"));
    let indent = header.len() - header.trim_start().len();
    lines
        .take_while(|line| line.len() - line.trim_start().len() > indent)
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect()
}

/// The container's `args`, `$(JOB_COMPLETION_INDEX)` expanded as Kubernetes does.
fn pod_args(index: usize) -> Vec<String> {
    container_block("args:")
        .iter()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .map(|arg| arg.replace("$(JOB_COMPLETION_INDEX)", &index.to_string()))
        .collect()
}

/// The container's `env` as (name, value) pairs.
fn pod_env() -> Vec<(String, String)> {
    let block = container_block("env:");
    let mut pairs = Vec::new();
    let mut name = None;
    for line in block {
        let line = line.trim();
        if let Some(found) = line.strip_prefix("- name: ") {
            name = Some(found.to_string());
        } else if let (Some(value), Some(found)) = (line.strip_prefix("value: "), name.take()) {
            pairs.push((found, value.to_string()));
        }
    }
    pairs
}

/// A path of the pod moved into the sandbox: `/etc/sfconn/x` → `<sandbox>/pod/etc/sfconn/x`.
fn in_pod(sandbox: &Sandbox, path: &str) -> String {
    sandbox.path(format!("pod{path}")).display().to_string()
}

fn write_secret(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    crate::common::set_mode(path, 0o600);
}

#[test]
fn the_manifests_pod_collects_one_org_into_the_shared_postgresql_store() {
    let org = BlockingOrg::start(OrgSpec::small());
    let cluster = Cluster::shared();
    let database = cluster.database();
    let sandbox = Sandbox::new();

    // The pod's files: the ConfigMap, the three Secrets (the store's URL with its password).
    let toml = configmap_sfconn_toml().replace("/etc/sfconn", &in_pod(&sandbox, "/etc/sfconn"));
    let config_path = in_pod(&sandbox, "/etc/sfconn/config/sfconn.toml");
    write_secret(Path::new(&config_path), &toml);
    write_secret(&sandbox.path("pod/etc/sfconn/client/client-secret"), SimulatedOrg::CLIENT_SECRET);
    write_secret(&sandbox.path("pod/etc/sfconn/tokens/acme-prod"), SimulatedOrg::REFRESH_TOKEN);
    write_secret(&sandbox.path("pod/etc/sfconn/store/url"), &format!("{}\n", cluster.url(&database)));
    std::fs::create_dir_all(sandbox.path("pod/out")).unwrap();

    let env: Vec<(String, String)> = pod_env();
    let names: Vec<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["SFCONN_CONFIG", "XDG_STATE_HOME", "SFCONN_STORE__URL_FILE"], "{env:?}");
    let args = pod_args(0);
    assert!(args.iter().any(|arg| arg == "--store"), "the pod keeps its snapshot in the store: {args:?}");

    let pod = |args: &[String]| {
        let mut command = sandbox.sfconn();
        for (name, value) in &env {
            command.env(name, in_pod(&sandbox, value));
        }
        // The simulated org instead of login.salesforce.com, and its client id instead of the
        // ConfigMap's placeholder; the secrets come from the Secret files.
        command.env("SFCONN_LOGIN_URL", org.login_url()).env("SFCONN_CLIENT_ID", SimulatedOrg::CLIENT_ID);
        command.args(args.iter().map(|arg| arg.replace("/out/", &in_pod(&sandbox, "/out/"))));
        command.output().unwrap()
    };

    let collected = pod(&args);
    let stderr = String::from_utf8_lossy(&collected.stderr);
    assert_eq!(collected.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "the store password was printed:\n{stderr}");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sandbox.path("pod/out/org-0.json")).unwrap()).unwrap();
    let org_id = file["organization"]["id"].as_str().unwrap().to_string();

    // The store has it: the same pod environment lists one snapshot of that org.
    let listed = pod(&["history".into(), "list".into(), "-f".into(), "json".into()]);
    assert_eq!(listed.status.code(), Some(0), "{}", String::from_utf8_lossy(&listed.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let snapshots = listed.as_array().unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(snapshots.len(), 1, "{listed}");
    assert_eq!(snapshots[0]["org_id"], org_id.as_str(), "{listed}");
    let rows = cluster.psql(&database, "SELECT count(*) FROM snapshots").unwrap();
    assert_eq!(rows.trim(), "1");
}
