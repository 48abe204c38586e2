//! Snapshot history: a database of snapshots (an embedded SQLite file, or PostgreSQL), the
//! licence report and the diff between two snapshots.
//!
//! Owns: the store's schema and its forward migrations (the same on both engines), storing a
//! snapshot document in one transaction, choosing snapshots (`--snapshot`, `--from`, `--to`),
//! computing and rendering `sfconn report` and `sfconn history list/diff`, and the connection to
//! PostgreSQL (TLS with libpq's `sslmode`s, the pgpass file's format). `db/` is the only module
//! that knows there are two engines; `db/dialect.rs` the only one that knows how their SQL
//! differs.
//! Must not: talk to Salesforce, read the environment (the CLI and `sfconn-config` give it the
//! URL, the password or the pgpass file's path), print a password (a [`PgTarget`] shows its URL
//! with `***`), or depend on `collect`'s Rust types: it reads the snapshot as the JSON document
//! of `snapshot.schema.json`, the public contract.
//!
//! Entry points: [`Store::open`] (creates and migrates) or [`Store::open_existing`] for SQLite,
//! [`Store::connect`] with a [`PgTarget`] for PostgreSQL, or [`Store::open_target`] /
//! [`Store::open_existing_target`] with a [`Target`] of either; the API is synchronous and may
//! be called from inside a tokio runtime (PostgreSQL runs on a worker thread of its own);
//! [`Store::import_file`] (what `sfconn collect --store` and `history import` call; it streams
//! the users, so memory stays flat) or [`Store::insert_snapshot_json`] for a document in memory;
//! [`Store::list`], [`Store::resolve`] / [`Store::resolve_pair`] with a [`Selector`];
//! [`Store::report`], [`Store::cross_org_report`] (`report --all-orgs`) and [`Store::diff`], each rendered by `write_table`, `write_json` (and
//! `write_csv` for the report, whose text from the org is neutralised for spreadsheets unless
//! [`CsvCells::Raw`]; and `write_html` with [`Store::report_context`]);
//! [`snapshot_file_html`] for the HTML report of a snapshot file that is in no store. docs/report.md defines every figure.

mod db;
mod diff;
mod disk;
mod doc;
mod error;
mod html;
mod import;
mod money;
mod one_off;
mod paid;
mod render;
mod report;
mod schema;
mod store;
mod timefmt;

pub use db::pg::{PgTarget, is_postgres_url, redact_url};
pub use db::{DbError, PgError};
pub use diff::{AssignmentChange, Diff, SubscriptionChange, UserChange};
pub use doc::{
    FeatureLicence, LoginActivity, LoginActivityPath, LoginActivityState, SUPPORTED_SCHEMA_VERSION,
    SnapshotDoc, SubscriptionSource,
};
pub use error::StoreError;
pub use money::{MONEY_SCALE, Money, Prices};
pub use one_off::snapshot_file_html;
pub use paid::{
    INTEGRATION_KEY, KnownKey, LicenceFacts, PaidRules, USER_LICENCE_KEYS, included_seats, is_paid,
    known_user_licence_key,
};
pub use report::{
    Activity, ApiUsage, ClassCount, CrossOrgReport, DEFAULT_INACTIVE_DAYS, DEFAULT_MIN_LOGINS, DomainCount,
    DuplicatePerson, FeatureLicenceUse, HTML_MAX_CANDIDATES, HTML_MAX_DOMAINS, HeldLicence, HtmlOptions,
    KindCount, LOGIN_BUCKETS, LoginActivityReport, LoginBucket, MatchedBy, MoneySummary, OrgAccount, OrgRef,
    OrgSubscriptions, OverAssigned, ReclaimCandidate, ReclaimClass, Report, ReportContext, ReportOptions,
    SnapshotWarning, SubscriptionUse, ThirdPartyFootprint, UnusedAssignment, UsagePoint, UsageSeries,
};
pub use schema::{MIGRATIONS, latest_version, postgres_migration};
pub use sfconn_csvcell::CsvCells;
pub use store::{Location, Selector, SnapshotId, SnapshotInfo, Store, Target};
