//! What the crates' tests share besides the org itself: an in-memory writer, quick retries,
//! the snapshot schema check, a simulated org for synchronous tests and a sandbox to run a
//! program in.

use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sfconn_http::RetryPolicy;

use crate::{OrgSpec, SimulatedOrg};

/// A `Write` whose bytes the test can read after the writer's owner is done with it (clones
/// share the bytes).
#[derive(Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// The bytes written so far, as UTF-8 (panics when they are not).
    pub fn text(&self) -> String {
        match String::from_utf8(self.bytes()) {
            Ok(text) => text,
            Err(e) => panic!("the buffer is not UTF-8: {e}"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// Retries without waiting to speak of: `max_retries` retries, 1 ms backoff, 5 ms at the most.
pub fn quick_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy { max_retries, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) }
}

/// The environment variable and value that let sfconn retry a failed request once
/// (`http.max_retries = 1`), for tests that stage a fault and want its retry, but quickly.
pub const ONE_RETRY_ENV: (&str, &str) = ("SFCONN_HTTP__MAX_RETRIES", "1");

/// The JSON Schema of the snapshot document (`crates/collect/snapshot.schema.json`, which
/// `sfconn_collect::SNAPSHOT_SCHEMA` also compiles in), compiled once.
pub fn snapshot_schema() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../collect/snapshot.schema.json"))
                .unwrap_or_else(|e| panic!("snapshot.schema.json is not JSON: {e}"));
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("snapshot.schema.json: {e}"))
    })
}

/// Fails the test with every violation of the snapshot schema by `document`.
pub fn assert_valid_snapshot(document: &serde_json::Value) {
    let errors: Vec<String> =
        snapshot_schema().iter_errors(document).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

/// The names in a directory, sorted (panics when it cannot be read).
pub fn names_in(dir: &Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| match entry {
            Ok(entry) => entry.file_name().to_string_lossy().into_owned(),
            Err(e) => panic!("reading {}: {e}", dir.display()),
        })
        .collect();
    names.sort();
    names
}

/// A simulated org served by a runtime of its own, for synchronous tests (e.g. ones that run
/// a binary against it); dereferences to the [`SimulatedOrg`]. The org stops when this is
/// dropped.
pub struct BlockingOrg {
    // Dropped before the runtime that serves it.
    org: SimulatedOrg,
    runtime: tokio::runtime::Runtime,
}

impl BlockingOrg {
    /// Starts the org on a free loopback port, on a runtime with one worker thread.
    pub fn start(spec: OrgSpec) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("no runtime for the simulated org: {e}"));
        let org = runtime.block_on(SimulatedOrg::start(spec));
        BlockingOrg { org, runtime }
    }

    /// [`BlockingOrg::start`] with [`OrgSpec::small`].
    pub fn small() -> Self {
        Self::start(OrgSpec::small())
    }

    /// Runs `future` to its end on the org's runtime (e.g. to mount extra mocks).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Deref for BlockingOrg {
    type Target = SimulatedOrg;

    fn deref(&self) -> &SimulatedOrg {
        &self.org
    }
}

/// A temporary directory to run a program in isolation, removed when this is dropped:
/// `work` (its working directory), `home` (HOME), `config` (XDG_CONFIG_HOME) and `state`
/// (XDG_STATE_HOME). XDG_DATA_HOME is left unset, so data goes below `home/.local/share`.
pub struct Sandbox {
    dir: tempfile::TempDir,
    program: OsString,
}

impl Sandbox {
    /// The folders the sandbox creates.
    pub const FOLDERS: [&'static str; 4] = ["work", "home", "config", "state"];

    /// A sandbox for `program` (e.g. `env!("CARGO_BIN_EXE_sfconn")`).
    pub fn new(program: impl Into<OsString>) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
        let sandbox = Sandbox { dir, program: program.into() };
        for sub in Self::FOLDERS {
            sandbox.mkdir(sub);
        }
        sandbox
    }

    /// The sandbox's directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `relative` below the sandbox's directory.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.root().join(relative)
    }

    /// Creates `relative` (and its parents) below the sandbox's directory; returns its path.
    pub fn mkdir(&self, relative: impl AsRef<Path>) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        path
    }

    /// The program's working directory.
    pub fn work(&self) -> PathBuf {
        self.path("work")
    }

    /// HOME.
    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// XDG_STATE_HOME.
    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// The program with nothing of the environment but HOME, XDG_CONFIG_HOME and
    /// XDG_STATE_HOME, in the work directory.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.env_clear()
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.state_dir())
            .current_dir(self.work());
        cmd
    }

    /// Replaces the sandbox's directory in `text` with `[TMP]`.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&*self.root().to_string_lossy(), "[TMP]")
    }
}
