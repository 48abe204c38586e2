//! The connector run (docs/contract.md §1, §4, §5): settings to token to sources to snapshot, and the
//! snapshot's output formats.
//!
//! Owns: the order and concurrency of sources, joins, the company filter's application, the
//! snapshot model and its json/ndjson/csv/table writers.
//! Must not: parse command lines, read the environment, or speak HTTP itself (that is `api`;
//! the session with the org is set up by `sfconn-session`).
//!
//! Entry points: [`output::open_sink`] checks `--output` and opens a [`SnapshotSink`] for a
//! [`Format`] (before any request is sent), [`StoreCopy::tee`] adds the `--store` copy; [`run`]
//! (or [`OrgRun`], one org's run as a value) then performs one collection into it and returns
//! the summary and warnings ([`RunOutcome`]) or a [`CollectError`] with its class
//! (`sfconn_errors::ErrorClass`).
//! The fields and their sources are described in `docs/data.md`, the requests in
//! `docs/api-calls.md`.

mod arrival;
mod budget;
mod error;
mod feature_licences;
mod login_activity;
pub mod mapping;
pub mod merge;
pub mod output;
mod progress;
mod run;
pub mod sandbox;
pub mod snapshot;
mod sources;
mod stop;
pub mod unused;
mod users;

pub use error::CollectError;
pub use output::{
    CsvCells, Format, OutputError, OutputOptions, SnapshotSink, StoreCopy, open_sink, open_sink_with,
};
pub use progress::{NoProgress, Progress, SOURCES, SourceStatus};
pub use run::{CLEANUP_WAIT, OrgRun, RunOutcome, run};
pub use sfconn_session::{BATCH_SIZE, ROTATED_REFRESH_TOKEN_FILE};
pub use snapshot::{Snapshot, SnapshotHeader, Summary, User, Warning};
pub use users::user_query;

/// The JSON Schema that every `json` snapshot validates against (docs/contract.md §5,
/// `schema_version` "1"): the repository's copy of the product's `snapshot.schema.json`, plus
/// the optional user properties sfconn adds ([`SCHEMA_ADDITIONS`]).
pub const SNAPSHOT_SCHEMA: &str = include_str!("../snapshot.schema.json");

/// The optional properties that sfconn's copy of the schema adds to the contract's
/// (docs/data.md), each as the JSON pointer of the object schema it is added to and its name:
/// new optional properties keep `schema_version` "1", and a snapshot stays valid against the
/// contract's schema (neither object forbids other properties).
pub const SCHEMA_ADDITIONS: &[(&str, &str)] = &[
    ("/$defs/user", "frozen"),
    ("/$defs/user", "feature_licences"),
    ("/properties/organization", "feature_licences"),
    ("/properties/organization", "login_activity"),
    ("/$defs/user", "logins_in_window"),
    ("/$defs/user", "last_login_application"),
    ("/$defs/user", "last_login_type"),
    ("/$defs/user", "unused_permission_set_license_ids"),
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sha2::{Digest, Sha256};

    /// The contract's schema as the contract gives it, kept in the repository so that the
    /// comparison never depends on a folder outside the checkout.
    const CONTRACT_SCHEMA: &str = include_str!("../contract.schema.json");

    /// SHA-256 of the product contract's `snapshot.schema.json` that `CONTRACT_SCHEMA` is.
    /// A new contract version means changing both on purpose, in the same commit.
    const CONTRACT_SCHEMA_SHA256: &str = "0f642fc08e63a647d9d3ae135ee3819244c5cad30ec804484a92d1321bf6f218";

    fn sha256_hex(bytes: &[u8]) -> String {
        Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The copy without [`super::SCHEMA_ADDITIONS`], as compact JSON: what the contract's
    /// schema must be.
    fn copy_without_additions() -> serde_json::Value {
        let mut copy: serde_json::Value = serde_json::from_str(super::SNAPSHOT_SCHEMA).unwrap();
        for (object, added) in super::SCHEMA_ADDITIONS {
            let schema = copy.pointer_mut(object).unwrap_or_else(|| panic!("no {object} in the copy"));
            assert!(
                schema["required"].as_array().is_none_or(|required| required.iter().all(|k| k != added)),
                "{object}/{added}: an addition must stay optional"
            );
            assert_ne!(schema["additionalProperties"], false, "{object} forbids additions in the contract");
            let properties = schema["properties"].as_object_mut().unwrap();
            assert!(
                properties.remove(*added).is_some(),
                "{object}/{added} is listed as an addition but is not in the copy"
            );
        }
        copy
    }

    /// The copy is always compared: without sfconn's optional additions it is, value for value,
    /// the contract's schema whose digest is recorded here (the recorded text is checked
    /// against that digest where the project's specification folder sits beside the checkout,
    /// `../shared/spec/`, as on the project's machines and in its CI).
    #[test]
    fn schema_copy_matches_the_product_contract() {
        let copy: serde_json::Value = serde_json::from_str(super::SNAPSHOT_SCHEMA).unwrap();
        assert_eq!(copy["properties"]["schema_version"]["const"], "1");
        assert_eq!(
            sha256_hex(CONTRACT_SCHEMA.as_bytes()),
            CONTRACT_SCHEMA_SHA256,
            "crates/collect/contract.schema.json is not the schema of the contract version recorded here"
        );
        let contract: serde_json::Value = serde_json::from_str(CONTRACT_SCHEMA).unwrap();
        assert_eq!(
            copy_without_additions(),
            contract,
            "crates/collect/snapshot.schema.json differs from the contract's schema by more than SCHEMA_ADDITIONS"
        );
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec/snapshot.schema.json");
        if let Ok(text) = std::fs::read(&spec) {
            assert_eq!(
                sha256_hex(&text),
                CONTRACT_SCHEMA_SHA256,
                "{} changed: review the change, copy it to crates/collect/snapshot.schema.json and \
                 update CONTRACT_SCHEMA_SHA256",
                spec.display()
            );
        }
    }
}
