//! Which failed writes are this machine's storage refusing them (contract §6, exit 74).

use std::io::ErrorKind;

/// Exit code 74 (EX_IOERR): the output, the store or the token file could not be written
/// because the disk is full, the quota is exceeded or the file system is read-only.
pub const EXIT_STORAGE: u8 = 74;

/// Why the machine's storage refused a write (disk full, quota exceeded, read-only file
/// system), or `None` for any other I/O error: a missing directory or a permission denied is a
/// wrong path or setting, and keeps the exit code of the operation it interrupted.
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
