//! The connector run (contract §1, §4, §5): settings to token to sources to snapshot, and the
//! snapshot's output formats.
//!
//! Owns: the order and concurrency of sources, joins, the company filter's application, the
//! snapshot model and its json/ndjson/csv/table writers.
//! Must not: parse command lines, read the environment, or speak HTTP itself (that is `api`).
//!
//! Entry points: [`output::open_sink`] checks `--output` and opens a [`SnapshotSink`] for a
//! [`Format`] (before any request is sent); [`run`] then performs one collection into it and
//! returns the summary and warnings ([`RunOutcome`]) or a [`CollectError`] with its exit code.
//! The fields and their sources are described in `docs/data.md`, the requests in
//! `docs/api-calls.md`.

mod arrival;
pub mod mapping;
pub mod output;
mod run;
pub mod snapshot;
mod stop;

pub use output::{Format, OutputError, SnapshotSink, open_sink};
pub use run::{
    BATCH_SIZE, CollectError, NoProgress, Progress, ROTATED_REFRESH_TOKEN_FILE, RunOutcome, SOURCES,
    SourceStatus, auth_options, client_options, run, token_source, user_query,
};
pub use snapshot::{Snapshot, SnapshotHeader, Summary, User, Warning};

/// The JSON Schema that every `json` snapshot validates against (contract §5,
/// `schema_version` "1"). A copy of the product's `spec/snapshot.schema.json`, kept identical
/// by a test.
pub const SNAPSHOT_SCHEMA: &str = include_str!("../snapshot.schema.json");

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The copy must not drift from the product spec. The spec lives beside the checkout
    /// (`../shared/spec/`), where CI and developers have it; a bare clone without it has only
    /// the copy, and the check says so instead of failing.
    #[test]
    fn schema_copy_matches_the_product_spec() {
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec/snapshot.schema.json");
        let copy: serde_json::Value = serde_json::from_str(super::SNAPSHOT_SCHEMA).unwrap();
        assert_eq!(copy["properties"]["schema_version"]["const"], "1");
        match std::fs::read_to_string(&spec) {
            Ok(text) => {
                let original: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    copy,
                    original,
                    "crates/collect/snapshot.schema.json differs from {}",
                    spec.display()
                );
            }
            Err(_) => eprintln!("note: {} not found; checked the copy only", spec.display()),
        }
    }
}
