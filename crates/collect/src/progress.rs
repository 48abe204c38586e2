//! How a run reports its progress per source ([`Progress`]).

/// The sources of a run, as named to [`Progress`] (the Salesforce object names), in the order
/// they are reported.
pub const SOURCES: [&str; 12] = [
    "Organization",
    "UserLicense",
    "Profile",
    "PermissionSetLicense",
    "PackageLicense",
    "PermissionSetLicenseAssign",
    "UserPackageLicense",
    "UserLogin",
    "PermissionSet",
    "PermissionSetGroupComponent",
    "PermissionSetAssignment",
    "User",
];

/// How a source ended, for [`Progress::finished`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceStatus {
    /// All records read.
    Read {
        /// Records read.
        records: u64,
    },
    /// An optional source the integration user cannot read (`source_skipped`).
    Skipped,
}

/// Reports progress per source: records read so far out of Salesforce's `totalSize`. Called
/// from the run's task; implementations must be cheap (the CLI draws indicatif bars).
pub trait Progress: Send + Sync {
    /// `done` records of `total` read from `source` (one of [`SOURCES`]).
    fn advanced(&self, source: &str, done: u64, total: u64);
    /// `source` is complete or was skipped.
    fn finished(&self, source: &str, status: SourceStatus);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advanced(&self, _source: &str, _done: u64, _total: u64) {}
    fn finished(&self, _source: &str, _status: SourceStatus) {}
}
