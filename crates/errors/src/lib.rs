//! What kind of failure an error is, without its exit number.
//!
//! Owns: [`ErrorClass`], the [`Classify`] trait every library error implements, and
//! [`storage_refusal`], the one rule for "the machine's storage refused a write".
//! Must not: know exit numbers (only the CLI maps a class to a code of docs/contract.md §6),
//! depend on any other crate, or do I/O.

use std::io::ErrorKind;

/// The kind of a failure, as the user must act on it. The CLI maps each class to one exit
/// code (docs/architecture.md, "Errors and exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Try again later: retries exhausted, the org's daily API limit, the usage threshold, a
    /// busy store.
    Temporary,
    /// Salesforce is unavailable for this org or user: the API is disabled, the version is not
    /// offered, an object cannot be read, the host never answered.
    Unavailable,
    /// Data sfconn cannot read or use: from Salesforce, a snapshot file or the store.
    BadData,
    /// Salesforce refused the authentication.
    AuthRefused,
    /// The settings are wrong: a missing or invalid setting, a URL or path that leads nowhere.
    Configuration,
    /// This machine's storage refused a write: disk full, quota exceeded, read-only file system.
    Io,
    /// The command line asks for something that cannot be done (an output path that is a
    /// directory, a snapshot selector that names nothing).
    Usage,
    /// A bug or impossible state inside sfconn.
    Internal,
}

/// An error that knows its [`ErrorClass`].
pub trait Classify {
    /// The class of this failure.
    fn class(&self) -> ErrorClass;

    /// Salesforce's own code for this failure (`errorCode`, or the OAuth `error` such as
    /// `invalid_grant`) when it is an answer of Salesforce's; `None` for failures on sfconn's
    /// side. A fleet summary shows it beside the message.
    fn salesforce_code(&self) -> Option<&str> {
        None
    }
}

/// Why the machine's storage refused a write (disk full, quota exceeded, read-only file
/// system), or `None` for any other I/O error: a missing directory or a permission denied is
/// a wrong path or setting, and keeps the class of the operation it interrupted.
pub fn storage_refusal(kind: ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::StorageFull => Some("no space left on the device: the disk is full"),
        ErrorKind::QuotaExceeded => Some("the disk quota is exceeded"),
        ErrorKind::ReadOnlyFilesystem => Some("the file system is read-only"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_quota_and_read_only_are_storage_refusals() {
        let os = |code| std::io::Error::from_raw_os_error(code).kind();
        // ENOSPC 28, EDQUOT 122, EROFS 30 on Linux.
        #[cfg(target_os = "linux")]
        {
            assert_eq!(storage_refusal(os(28)), Some("no space left on the device: the disk is full"));
            assert_eq!(storage_refusal(os(122)), Some("the disk quota is exceeded"));
            assert_eq!(storage_refusal(os(30)), Some("the file system is read-only"));
            // EACCES 13, ENOENT 2: a wrong path or permission, not the disk.
            assert_eq!(storage_refusal(os(13)), None);
            assert_eq!(storage_refusal(os(2)), None);
        }
        assert!(storage_refusal(ErrorKind::StorageFull).is_some());
        assert_eq!(storage_refusal(ErrorKind::PermissionDenied), None);
        assert_eq!(storage_refusal(std::io::Error::other("disk full").kind()), None);
    }
}
