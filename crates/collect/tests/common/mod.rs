//! Helpers shared by the collect crate's test binaries: an in-memory sink target and the
//! snapshot schema check.

#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A `Write` whose bytes the test can read after the sink is done with it.
#[derive(Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuffer {
    /// The bytes written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    /// The bytes written so far, as UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).unwrap()
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
}

/// The snapshot schema (`snapshot.schema.json`) as a validator.
pub fn schema() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(sfconn_collect::SNAPSHOT_SCHEMA).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// Fails the test with every schema violation of `document`.
pub fn assert_valid(document: &serde_json::Value) {
    let errors: Vec<String> =
        schema().iter_errors(document).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

/// Settings as the CLI would load them, from the org's environment plus `extra`.
pub fn settings(org: &sfconn_testkit::SimulatedOrg, extra: &[(&str, &str)]) -> sfconn_config::Settings {
    let dir = tempfile::tempdir().unwrap();
    let mut env = sfconn_config::MapEnvironment::in_dir(dir.path());
    for (name, value) in org.sfconn_env() {
        env = env.with(&name, &value);
    }
    env = env.with("SFCONN_HTTP__MAX_RETRIES", "1");
    for (name, value) in extra {
        env = env.with(name, value);
    }
    sfconn_config::load_with(&sfconn_config::Flags::default(), sfconn_config::Need::Everything, &env)
        .unwrap()
        .settings
}
