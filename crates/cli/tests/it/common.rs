//! Helpers shared by the cli test binaries: a sandbox with a temporary home for the real
//! `sfconn` binary, and checks on secrets and file modes.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin_cmd;
use sfconn_testkit::SimulatedOrg;
use tempfile::TempDir;

/// A temporary directory with `work` (the binary's working directory), `home` and `xdg`.
pub struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["work", "home", "xdg"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Sandbox { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn work(&self) -> PathBuf {
        self.root().join("work")
    }

    /// `sfconn` with nothing but HOME and XDG_CONFIG_HOME set, in the work directory.
    pub fn sfconn(&self) -> Command {
        let mut cmd = cargo_bin_cmd!("sfconn");
        cmd.env_clear()
            .env("HOME", self.root().join("home"))
            .env("XDG_CONFIG_HOME", self.root().join("xdg"))
            .current_dir(self.work());
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

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
