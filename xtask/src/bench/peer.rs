//! The peers: the same collection written with other tools, run against the same simulated org
//! and measured the same way as sfconn. simple-salesforce (Python, in `target/bench/venv`) and
//! jsforce (Node.js, in `target/bench/node`); each pinned, installed from its package registry
//! on first use, and skipped with a message when its runtime or the package cannot be had.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use sfconn_testkit::SimulatedOrg;

use super::Run;
use super::measure::run_measured;
use super::plan::Workload;
use crate::project_root;

/// The pinned Python peer, installed with pip into `target/bench/venv`.
pub(crate) const SIMPLE_SALESFORCE: &str = "simple-salesforce==1.12.10";
/// The pinned Node.js peer, installed with `npm install --prefix target/bench/node`.
pub(crate) const JSFORCE: &str = "jsforce@3.10.9";
/// jsforce 3.10.9 needs Node.js 18 or later (from 3.10.19 on it needs 22, and this machine has 20).
const NODE_MAJOR_AT_LEAST: u32 = 18;

/// One peer, ready to run: the program and the arguments before the output file.
#[derive(Debug, Clone)]
pub(super) struct Peer {
    pub tool: &'static str,
    program: PathBuf,
    /// Arguments before the output path (the script).
    leading: Vec<OsString>,
    /// Arguments after the output path.
    trailing: Vec<OsString>,
}

/// Every peer that can run here, installing what is missing; a message for each that cannot.
pub(super) fn available(bench_dir: &Path) -> Vec<Peer> {
    [simple_salesforce(bench_dir), jsforce(bench_dir)].into_iter().flatten().collect()
}

/// `target/bench/venv/bin/python` with simple-salesforce installed, or `None` (with a
/// message) when Python or the package cannot be had.
fn simple_salesforce(bench_dir: &Path) -> Option<Peer> {
    let venv = bench_dir.join("venv");
    let python = venv.join("bin/python");
    let has_peer = |python: &Path| {
        Command::new(python)
            .args(["-c", "import simple_salesforce, requests"])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if !python.exists() {
        let created = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
        if !created.is_ok_and(|s| s.success()) {
            eprintln!("xtask bench: simple-salesforce peer skipped: `python3 -m venv` is not available");
            return None;
        }
    }
    if !has_peer(&python) {
        eprintln!("xtask bench: installing {SIMPLE_SALESFORCE} into {}", venv.display());
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", SIMPLE_SALESFORCE])
            .status();
        if !installed.is_ok_and(|s| s.success()) || !has_peer(&python) {
            eprintln!(
                "xtask bench: simple-salesforce peer skipped: pip could not install {SIMPLE_SALESFORCE}"
            );
            return None;
        }
    }
    Some(Peer {
        tool: "simple-salesforce",
        program: python,
        leading: vec![project_root().join("xtask/bench/peer_simple_salesforce.py").into()],
        trailing: Vec::new(),
    })
}

/// `node` with jsforce installed under `target/bench/node`, or `None` (with a message) when
/// Node.js or npm is missing, too old, or the package cannot be installed.
fn jsforce(bench_dir: &Path) -> Option<Peer> {
    let version = Command::new("node").arg("--version").output();
    let Some(major) = version
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| node_major(&String::from_utf8_lossy(&out.stdout)))
    else {
        eprintln!("xtask bench: jsforce peer skipped: `node` is not available");
        return None;
    };
    if major < NODE_MAJOR_AT_LEAST {
        eprintln!(
            "xtask bench: jsforce peer skipped: jsforce 3 needs Node.js {NODE_MAJOR_AT_LEAST}+, found {major}"
        );
        return None;
    }
    let prefix = bench_dir.join("node");
    let wanted = JSFORCE.rsplit_once('@').map_or("", |(_, version)| version);
    let installed = |prefix: &Path| {
        fs::read_to_string(prefix.join("node_modules/jsforce/package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .is_some_and(|package| package["version"] == wanted)
    };
    if !installed(&prefix) {
        eprintln!("xtask bench: installing {JSFORCE} into {}", prefix.display());
        if let Err(error) = fs::create_dir_all(&prefix) {
            eprintln!("xtask bench: jsforce peer skipped: cannot create {}: {error}", prefix.display());
            return None;
        }
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--save-exact", "--prefix"])
            .arg(&prefix)
            .arg(JSFORCE)
            .status();
        if !status.is_ok_and(|s| s.success()) || !installed(&prefix) {
            eprintln!("xtask bench: jsforce peer skipped: npm could not install {JSFORCE} (is npm there?)");
            return None;
        }
    }
    Some(Peer {
        tool: "jsforce",
        program: PathBuf::from("node"),
        leading: vec![project_root().join("xtask/bench/peer_jsforce.mjs").into()],
        trailing: vec![prefix.into()],
    })
}

/// The major version of `node --version` (`v20.20.2` → 20).
fn node_major(text: &str) -> Option<u32> {
    text.trim().strip_prefix('v')?.split('.').next()?.parse().ok()
}

/// Runs `peer` against `org` and measures it; fails if it fails or writes fewer users than the
/// org has. Its files are `target/bench/<tool>-N.{json,stdout,stderr}`.
pub(super) fn run(
    peer: &Peer,
    org: &SimulatedOrg,
    bench_dir: &Path,
    home: &Path,
    workload: Workload,
) -> Result<Run> {
    let users = workload.users;
    let file = |ext: &str| bench_dir.join(format!("{}-{users}.{ext}", peer.tool));
    let (output, stdout, stderr) = (file("json"), file("stdout"), file("stderr"));
    let mut command = super::isolated(&peer.program, home);
    command.args(&peer.leading).arg(&output).args(&peer.trailing).envs(org.sfconn_env());
    org.clear_requests();
    eprintln!("xtask bench: {users} users: {}", peer.tool);
    let finished = run_measured(command, &stdout, &stderr)?;
    let requests = org.requests().len() as u64;
    if !finished.status.success() {
        bail!(
            "the {} peer failed at {users} users ({}); its stderr is in {}:\n{}",
            peer.tool,
            finished.status,
            stderr.display(),
            fs::read_to_string(&stderr).unwrap_or_default()
        );
    }
    let report: Value = serde_json::from_str(&fs::read_to_string(&stdout)?)
        .with_context(|| format!("the {} peer printed no summary (see {})", peer.tool, stdout.display()))?;
    let written = report["users"].as_u64().unwrap_or(0);
    ensure!(
        written == users,
        "the {} peer wrote {written} users of {users} (see {})",
        peer.tool,
        output.display()
    );
    Ok(Run {
        tool: peer.tool,
        users,
        usage: finished.usage,
        requests,
        minimum_requests: workload.peer_minimum_requests(),
        reported_requests: report["requests"].as_u64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_major_version_is_read_from_its_banner() {
        assert_eq!(node_major("v20.20.2\n"), Some(20));
        assert_eq!(node_major("v18.0.0"), Some(18));
        assert_eq!(node_major("20.1.0"), None);
        assert_eq!(node_major(""), None);
    }

    #[test]
    fn the_pinned_versions_are_exact() {
        assert!(SIMPLE_SALESFORCE.split_once("==").is_some_and(|(_, v)| v.split('.').count() == 3));
        assert!(JSFORCE.rsplit_once('@').is_some_and(|(_, v)| v.split('.').count() == 3));
    }
}
