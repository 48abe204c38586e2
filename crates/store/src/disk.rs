//! Telling a full or read-only disk ([`sfconn_errors::ErrorClass::Io`]) from other reasons SQLite
//! could not write.
//!
//! SQLite reports a full disk as `SQLITE_FULL` only for some writes: growing the `-shm` file
//! fails with `SQLITE_IOERR`, and a read-only file system looks like a read-only database or a
//! file it cannot open. So when SQLite reports one of those, the file system is asked directly:
//! a one-byte probe file is written beside the store and removed at once.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::StoreError;

/// Whether the directory of `store` refuses a write because of its storage, and why.
fn probe(store: &Path) -> Option<&'static str> {
    let directory = match store.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = store.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let probe = directory.join(format!(".{name}.sfconn-probe-{}", std::process::id()));
    let written =
        std::fs::OpenOptions::new().write(true).create_new(true).open(&probe).and_then(|mut file| {
            let written = file.write_all(b"x").and_then(|()| file.sync_all());
            drop(std::fs::remove_file(&probe));
            written
        });
    written.err().and_then(|error| sfconn_errors::storage_refusal(error.kind()))
}

impl StoreError {
    /// This error as [`StoreError::Storage`] when SQLite failed because the disk is full, the
    /// quota is exceeded or the file system is read-only; unchanged otherwise: a path that is
    /// wrong, or not writable for this user, keeps its code.
    pub(crate) fn on_storage(self, path: &Path) -> StoreError {
        let code = match &self {
            StoreError::Open { source, .. }
            | StoreError::NotADatabase { source, .. }
            | StoreError::Migration { source, .. }
            | StoreError::Sqlite { source, .. } => source.sqlite_error_code(),
            _ => return self,
        };
        let reason = match code {
            Some(rusqlite::ErrorCode::DiskFull) => {
                Some(probe(path).unwrap_or("no space left on the device: the disk is full"))
            }
            Some(
                rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::ReadOnly
                | rusqlite::ErrorCode::CannotOpen,
            ) => probe(path),
            _ => None,
        };
        let Some(reason) = reason else {
            return self;
        };
        let source: Box<dyn std::error::Error + Send + Sync> = match self {
            StoreError::Open { source, .. }
            | StoreError::NotADatabase { source, .. }
            | StoreError::Migration { source, .. }
            | StoreError::Sqlite { source, .. } => Box::new(source),
            other => Box::new(other),
        };
        StoreError::Storage { path: path.to_path_buf(), reason, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfconn_errors::{Classify, ErrorClass};

    fn sqlite(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn sqlite_full_is_a_storage_failure_naming_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        let error =
            StoreError::Sqlite { context: "storing a user", source: sqlite(rusqlite::ffi::SQLITE_FULL) }
                .on_storage(&path);
        assert_eq!(error.class(), ErrorClass::Io);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("cannot write the snapshot store {}: ", path.display())),
            "{message}"
        );
        assert!(message.contains("the disk is full"), "{message}");
        assert!(message.contains("the store is as it was before"), "{message}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the probe leaves nothing behind");
    }

    #[test]
    fn an_io_error_on_a_disk_with_room_keeps_its_code() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        for code in
            [rusqlite::ffi::SQLITE_IOERR, rusqlite::ffi::SQLITE_READONLY, rusqlite::ffi::SQLITE_CANTOPEN]
        {
            let error =
                StoreError::Sqlite { context: "storing a user", source: sqlite(code) }.on_storage(&path);
            assert!(matches!(error, StoreError::Sqlite { .. }), "{error:?}");
            assert_eq!(error.class(), ErrorClass::Internal);
        }
        let missing = StoreError::Missing { path: path.clone() }.on_storage(&path);
        assert_eq!(missing.class(), ErrorClass::Configuration);
    }
}
