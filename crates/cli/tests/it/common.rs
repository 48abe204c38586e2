//! The one way the cli tests run the real `sfconn` binary: in a [`Sandbox`] (nothing of the
//! environment but HOME and the XDG directories of a temporary directory, see
//! [`sfconn_testkit::Sandbox`]), alone or as an [`Org`] with a simulated org it talks to; and
//! checks on secrets and file modes.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sfconn_testkit::{BlockingOrg, OrgSpec, SimulatedOrg};

/// The binary under test.
pub const SFCONN: &str = env!("CARGO_BIN_EXE_sfconn");

/// A [`sfconn_testkit::Sandbox`] for the `sfconn` binary (the tests add their own helpers to it).
pub struct Sandbox(sfconn_testkit::Sandbox);

impl Sandbox {
    pub fn new() -> Self {
        Sandbox(sfconn_testkit::Sandbox::new(SFCONN))
    }

    /// `sfconn` with nothing but HOME, XDG_CONFIG_HOME and XDG_STATE_HOME, in the work directory.
    pub fn sfconn(&self) -> Command {
        self.command()
    }
}

impl Deref for Sandbox {
    type Target = sfconn_testkit::Sandbox;

    fn deref(&self) -> &sfconn_testkit::Sandbox {
        &self.0
    }
}

/// A simulated org on its own runtime while the binary talks to it, and the binary's sandbox.
pub struct Org {
    pub org: BlockingOrg,
    pub sandbox: Sandbox,
    /// Set on every command, after the org's credentials.
    env: Vec<(&'static str, &'static str)>,
}

impl Org {
    pub fn start(spec: OrgSpec) -> Org {
        Org { org: BlockingOrg::start(spec), sandbox: Sandbox::new(), env: Vec::new() }
    }

    pub fn small() -> Org {
        Org::start(OrgSpec::small())
    }

    /// Sets `name=value` on every command this org's tests run.
    pub fn with_env(mut self, name: &'static str, value: &'static str) -> Org {
        self.env.push((name, value));
        self
    }

    pub fn work(&self) -> PathBuf {
        self.sandbox.work()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.sandbox.state_dir()
    }

    /// `sfconn` in the sandbox with no credentials.
    pub fn bare(&self) -> Command {
        let mut cmd = self.sandbox.sfconn();
        cmd.envs(self.env.iter().copied());
        cmd
    }

    /// `sfconn` with every credential of the org in the environment.
    pub fn sfconn(&self) -> Command {
        let mut cmd = self.sandbox.sfconn();
        cmd.envs(self.org.sfconn_env()).envs(self.env.iter().copied());
        cmd
    }
}

/// Fails if any of `texts` holds the simulated org's client secret or refresh token.
pub fn assert_no_secrets(texts: &[&str]) {
    for secret in [SimulatedOrg::CLIENT_SECRET, SimulatedOrg::REFRESH_TOKEN] {
        for text in texts {
            assert!(!text.contains(secret), "a secret was printed:\n{text}");
        }
    }
}

/// The snapshot a successful `sfconn collect` printed on stdout: exit 0, valid against the
/// schema, no secret in stdout or stderr.
pub fn collected_document(output: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    sfconn_testkit::assert_valid_snapshot(&document);
    assert_no_secrets(&[&String::from_utf8_lossy(&output.stdout), &stderr]);
    document
}

/// User id → `account_kind` of a snapshot's users.
pub fn account_kinds(snapshot: &serde_json::Value) -> std::collections::BTreeMap<&str, &str> {
    let users = snapshot["users"].as_array().unwrap().iter();
    users.map(|u| (u["id"].as_str().unwrap(), u["account_kind"].as_str().unwrap())).collect()
}

/// The JSON `report` of `snapshot` (a collection from the simulated org) stored as if it had
/// been collected at the org's own present (`REFERENCE_TIME`, which its `LastLoginDate`s and
/// `LoginHistory` are relative to), with `report_args` added: what the report classes that
/// depend on dates must be checked on. `snapshot` gets that `collected_at`.
pub fn report_at_the_orgs_present(
    org: &Org,
    snapshot: &mut serde_json::Value,
    report_args: &[&str],
) -> serde_json::Value {
    use sfconn_testkit::{REFERENCE_TIME, SfDateTime};
    snapshot["collected_at"] = serde_json::Value::from(SfDateTime(REFERENCE_TIME).rfc3339());
    std::fs::write(org.work().join("snapshot.json"), serde_json::to_vec(&*snapshot).unwrap()).unwrap();
    let import =
        org.bare().args(["history", "import", "snapshot.json", "--store", "history.db"]).output().unwrap();
    assert_eq!(import.status.code(), Some(0), "{}", String::from_utf8_lossy(&import.stderr));
    let report = org
        .bare()
        .args(["report", "-f", "json", "--store", "history.db"])
        .args(report_args)
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(0), "{}", String::from_utf8_lossy(&report.stderr));
    serde_json::from_slice(&report.stdout).unwrap()
}

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Sets the permission bits of `path` (nothing on systems without them).
pub fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}
