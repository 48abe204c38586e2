//! The hardening tests' org (quick retries), and helpers to compare snapshots and inspect
//! output directories.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sfconn_testkit::OrgSpec;

pub use crate::common::{Org, Sandbox, mode, set_mode};
pub use sfconn_testkit::names_in;

/// A simulated org whose commands retry once and time out after 10 s, so that a staged fault
/// costs little time.
pub fn quick_org(spec: OrgSpec) -> Org {
    let (name, value) = sfconn_testkit::ONE_RETRY_ENV;
    Org::start(spec).with_env(name, value).with_env("SFCONN_HTTP__TIMEOUT_SECS", "10")
}

/// [`quick_org`] with [`OrgSpec::small`].
pub fn quick_small_org() -> Org {
    quick_org(OrgSpec::small())
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
