//! Refresh-token rotation: a new refresh token replaces the old one, and is never lost.

use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// What happened to the refresh token during this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Salesforce did not rotate the refresh token.
    NotRotated,
    /// Salesforce rotated it and the new one was written to this file (mode 0600).
    Persisted {
        /// The `refresh_token_file` that now holds the new token.
        path: PathBuf,
    },
    /// Salesforce rotated it and there was no `refresh_token_file` to write it to (or writing
    /// failed): the old refresh token no longer works. The caller tells the user what to do and
    /// puts the warning `refresh_token_rotated` in the snapshot.
    NotPersisted,
}

impl Rotation {
    /// Whether Salesforce rotated the refresh token during this run.
    pub fn rotated(&self) -> bool {
        !matches!(self, Rotation::NotRotated)
    }

    /// The next step for the user, or `None` when there is nothing to do.
    pub fn next_step(&self) -> Option<String> {
        match self {
            Rotation::NotRotated => None,
            Rotation::Persisted { path } => Some(format!(
                "Salesforce rotated the refresh token; the new one was written to {}",
                path.display()
            )),
            Rotation::NotPersisted => Some(NOT_PERSISTED_STEP.to_string()),
        }
    }
}

pub(crate) const NOT_PERSISTED_STEP: &str = "Salesforce rotated the refresh token (refresh token rotation is on \
     for this connected app) and no refresh_token_file is configured, so the old refresh token no longer works \
     and the new one ends with this run. Next step: get a new refresh token straight into a file with \
     `sfconn auth device --refresh-token-file PATH` and set refresh_token_file = \"PATH\" (or \
     SFCONN_REFRESH_TOKEN_FILE / --refresh-token-file) so sfconn can keep rotated tokens";

/// Writes a secret to `path` atomically: a temporary file in the same directory (mode 0600),
/// flushed and synced, then renamed over the target. Nothing else is ever left behind.
pub fn write_secret_file(path: &Path, secret: &SecretString) -> std::io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut file = tempfile::Builder::new().prefix(".sfconn-secret-").tempfile_in(&directory)?;
    restrict_permissions(file.as_file())?;
    file.write_all(secret.expose_secret().as_bytes())?;
    file.write_all(b"\n")?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(unix)]
fn restrict_permissions(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_permissions(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_atomically_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh_token");
        std::fs::write(&path, "old-token\n").unwrap();
        write_secret_file(&path, &SecretString::from("new-token")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new-token\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        assert_eq!(names, [std::ffi::OsString::from("refresh_token")]);
    }

    #[test]
    fn a_missing_directory_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("refresh_token");
        assert!(write_secret_file(&path, &SecretString::from("x")).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn next_steps() {
        assert_eq!(Rotation::NotRotated.next_step(), None);
        assert!(
            Rotation::NotPersisted.next_step().unwrap().contains("sfconn auth device --refresh-token-file")
        );
        assert!(Rotation::Persisted { path: "/x/rt".into() }.next_step().unwrap().contains("/x/rt"));
    }
}
