//! The JSON copy of a snapshot that `collect --store` puts into the snapshot store: written
//! at the same time as the chosen output, whatever its format, into a private temporary
//! directory that is removed on every exit.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::{Format, OutputError, SnapshotSink, open_sink};
use crate::snapshot::{SnapshotHeader, Summary, User, Warning};

/// File name of the copy inside its directory.
const COPY_FILE: &str = "snapshot.json";

/// Where the copy goes: a private temporary directory, removed when this is dropped.
#[derive(Debug)]
pub struct StoreCopy {
    dir: TempDir,
}

impl StoreCopy {
    /// Creates the private temporary directory for the copy.
    pub fn new() -> Result<StoreCopy, OutputError> {
        let dir = tempfile::Builder::new().prefix("sfconn-collect-").tempdir().map_err(|source| {
            OutputError::Io {
                action: "create a temporary directory for the snapshot store's copy in",
                path: std::env::temp_dir(),
                source,
            }
        })?;
        Ok(StoreCopy { dir })
    }

    /// `primary` with every snapshot event also written to the copy. The copy finishes first,
    /// so the output is only published when both succeeded.
    pub fn tee(&self, primary: Box<dyn SnapshotSink>) -> Result<Box<dyn SnapshotSink>, OutputError> {
        let copy = open_sink(Format::Json, &self.path())?;
        Ok(Box::new(TeeSink { primary, copy }))
    }

    /// The copy: a complete `json` snapshot once the sink of [`StoreCopy::tee`] has finished.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join(COPY_FILE)
    }

    /// The directory the copy is in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Writes every snapshot event to the chosen output and to the copy.
struct TeeSink {
    primary: Box<dyn SnapshotSink>,
    copy: Box<dyn SnapshotSink>,
}

impl SnapshotSink for TeeSink {
    fn begin(&mut self, header: &SnapshotHeader) -> Result<(), OutputError> {
        self.copy.begin(header)?;
        self.primary.begin(header)
    }

    fn user(&mut self, user: &User) -> Result<(), OutputError> {
        self.copy.user(user)?;
        self.primary.user(user)
    }

    fn finish(&mut self, summary: &Summary, warnings: &[Warning]) -> Result<(), OutputError> {
        self.copy.finish(summary, warnings)?;
        self.primary.finish(summary, warnings)
    }
}
