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

pub mod mapping;
pub mod output;
mod run;
pub mod snapshot;

pub use output::{Format, OutputError, SnapshotSink, open_sink};
pub use run::{
    BATCH_SIZE, CollectError, NoProgress, Progress, ROTATED_REFRESH_TOKEN_FILE, RunOutcome, SOURCES,
    SourceStatus, run, user_query,
};
pub use snapshot::{Snapshot, SnapshotHeader, Summary, User, Warning};
