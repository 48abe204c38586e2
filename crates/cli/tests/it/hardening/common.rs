//! The simulated org on its own runtime, the `sfconn` command in a clean environment, and
//! helpers to compare snapshots and inspect output directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sfconn_testkit::{OrgSpec, SimulatedOrg};
use tempfile::TempDir;

/// The binary under test.
pub const SFCONN: &str = env!("CARGO_BIN_EXE_sfconn");

/// A simulated org kept alive on its own runtime while the binary talks to it, with a private
/// home directory for the binary.
pub struct Org {
    pub org: SimulatedOrg,
    pub _runtime: tokio::runtime::Runtime,
    pub home: TempDir,
}

impl Org {
    pub fn start(spec: OrgSpec) -> Org {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let org = runtime.block_on(SimulatedOrg::start(spec));
        let home = tempfile::tempdir().unwrap();
        for sub in ["work", "state", "config"] {
            std::fs::create_dir_all(home.path().join(sub)).unwrap();
        }
        Org { org, _runtime: runtime, home }
    }

    pub fn small() -> Org {
        Org::start(OrgSpec::small())
    }

    pub fn work(&self) -> PathBuf {
        self.home.path().join("work")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.home.path().join("state")
    }

    /// `sfconn` with nothing but HOME, XDG dirs and few quick retries; no credentials.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::new(SFCONN);
        cmd.env_clear()
            .env("HOME", self.home.path())
            .env("XDG_STATE_HOME", self.state_dir())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("SFCONN_HTTP__MAX_RETRIES", "1")
            .env("SFCONN_HTTP__TIMEOUT_SECS", "10")
            .current_dir(self.work());
        cmd
    }

    /// `sfconn` with every credential of the org in the environment.
    pub fn sfconn(&self) -> Command {
        let mut cmd = self.bare();
        for (name, value) in self.org.sfconn_env() {
            cmd.env(name, value);
        }
        cmd
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stderr(output: &Output) -> String {
    text(&output.stderr)
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// The parts of a snapshot that must be identical between two runs of the same org: without
/// the time, the org's port, the request count and the usage figures.
pub fn stable(snapshot: &Value) -> Value {
    let mut snapshot = snapshot.clone();
    let object = snapshot.as_object_mut().unwrap();
    object.remove("collected_at");
    object.remove("source");
    let summary = object.get_mut("summary").unwrap().as_object_mut().unwrap();
    for volatile in ["api_requests", "api_usage_before", "api_usage_after"] {
        summary.remove(volatile);
    }
    snapshot
}

/// The names in a directory, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Replaces the port of every loopback URL (`127.0.0.1:PORT`, `localhost:PORT`) with `PORT`.
pub fn scrub_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) =
        ["127.0.0.1:", "localhost:"].iter().filter_map(|host| rest.find(host).map(|i| i + host.len())).min()
    {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str("PORT");
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}
