//! Refresh-token rotation: a new refresh token replaces the old one, and is never lost.

use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use sfconn_errors::ErrorClass;

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
    /// Salesforce rotated it, no `refresh_token_file` is configured (or writing it failed), and
    /// the new token was saved to this file in sfconn's state directory instead (mode 0600): the
    /// old refresh token no longer works. The caller tells the user to point `refresh_token_file`
    /// at it and puts the warning `refresh_token_rotated` in the snapshot.
    SavedAside {
        /// The file in the state directory that now holds the new token.
        path: PathBuf,
    },
    /// Salesforce rotated it and, as `auth.rotated_tokens = "state_dir"` asks, the new token was
    /// kept in this file in the state directory (mode 0600); the read-only `refresh_token_file`
    /// was left alone. Later runs use the kept token while it is newer than `refresh_token_file`,
    /// so nothing needs doing.
    KeptInStateDir {
        /// The file in the state directory that now holds the new token.
        path: PathBuf,
    },
    /// Salesforce rotated it, `auth.rotated_tokens = "state_dir"` leaves the read-only
    /// `refresh_token_file` alone, and the state directory refused the new token: the old
    /// token no longer works and the new one ends with this run. The run still finishes its
    /// output, then ends with an I/O failure ([`Rotation::failure_class`]).
    StateDirUnwritable {
        /// The file in the state directory that could not be written.
        path: PathBuf,
        /// The operating system's error.
        problem: String,
    },
    /// Salesforce rotated it and there was nowhere to write it (no `refresh_token_file`, no
    /// state directory, or writing failed): the old refresh token no longer works. The caller
    /// tells the user what to do and puts the warning `refresh_token_rotated` in the snapshot.
    NotPersisted,
    /// Salesforce rotated it and the machine's storage refused to write `refresh_token_file`
    /// (disk full, quota exceeded, read-only file system): the file still holds the old token,
    /// which no longer works. The new token was saved to `saved_to` in the state directory when
    /// that worked. The run still finishes its output, then ends with an I/O failure
    /// ([`Rotation::failure_class`]) so that a scheduler notices before the next run fails.
    FileUnwritable {
        /// The configured `refresh_token_file`, unchanged.
        file: PathBuf,
        /// The operating system's error and what it means, e.g. `No space left on device (os
        /// error 28): no space left on the device: the disk is full`.
        problem: String,
        /// Where the new token was saved instead (mode 0600), if anywhere.
        saved_to: Option<PathBuf>,
    },
}

impl Rotation {
    /// Whether Salesforce rotated the refresh token during this run.
    pub fn rotated(&self) -> bool {
        !matches!(self, Rotation::NotRotated)
    }

    /// Whether the user must act: the new token is not where the settings will look next time.
    pub fn needs_action(&self) -> bool {
        matches!(
            self,
            Rotation::SavedAside { .. }
                | Rotation::NotPersisted
                | Rotation::FileUnwritable { .. }
                | Rotation::StateDirUnwritable { .. }
        )
    }

    /// The class of failure the run must end with because of the rotation:
    /// [`ErrorClass::Io`] when the storage refused the `refresh_token_file` (or, with
    /// `auth.rotated_tokens = "state_dir"`, the state directory); `None` otherwise (a rotation is
    /// no failure).
    pub fn failure_class(&self) -> Option<ErrorClass> {
        matches!(self, Rotation::FileUnwritable { .. } | Rotation::StateDirUnwritable { .. })
            .then_some(ErrorClass::Io)
    }

    /// The next step for the user, or `None` when there is nothing to do.
    pub fn next_step(&self) -> Option<String> {
        match self {
            Rotation::NotRotated => None,
            Rotation::Persisted { path } => Some(format!(
                "Salesforce rotated the refresh token; the new one was written to {}",
                path.display()
            )),
            Rotation::SavedAside { path } => Some(saved_aside_step(path)),
            Rotation::KeptInStateDir { path } => Some(format!(
                "Salesforce rotated the refresh token; the new one was kept in {} (auth.rotated_tokens = \
                 \"state_dir\"), and later runs use it while it is newer than refresh_token_file",
                path.display()
            )),
            Rotation::StateDirUnwritable { path, problem } => Some(format!(
                "Salesforce rotated the refresh token, so the old one no longer works, but sfconn could not keep \
                 the new one in the state directory ({}): {problem}; auth.rotated_tokens = \"state_dir\" writes it \
                 nowhere else, so it ends with this run. Next step: make the state directory writable (in \
                 Kubernetes: the sfconn-state volume, docs/deploy.md), then get a new refresh token \
                 (docs/setup.md) and put it where refresh_token_file points",
                path.display()
            )),
            Rotation::NotPersisted => Some(NOT_PERSISTED_STEP.to_string()),
            Rotation::FileUnwritable { file, problem, saved_to } => {
                Some(file_unwritable_step(file, problem, saved_to.as_deref()))
            }
        }
    }
}

/// What to do after the storage refused the `refresh_token_file`.
fn file_unwritable_step(file: &Path, problem: &str, saved_to: Option<&Path>) -> String {
    let file = file.display();
    let head = format!(
        "Salesforce rotated the refresh token, so the old one no longer works, but sfconn could not write the \
         new one to the refresh_token_file {file}: {problem}; the file still holds the old token"
    );
    match saved_to {
        Some(saved) => {
            let saved = saved.display();
            format!(
                "{head}. The new token was saved to {saved} (mode 0600) instead. Next step: free some space (or \
                 make the file system writable), then move it into place: `mv {saved} {file}`"
            )
        }
        None => format!(
            "{head}, and it could not be saved to the state directory either, so it ends with this run. Next \
             step: free some space (or make the file system writable), then get a new refresh token with \
             `sfconn auth device --refresh-token-file {file}`"
        ),
    }
}

/// What to do after the rotated token went to the state directory.
fn saved_aside_step(path: &Path) -> String {
    let path = path.display();
    format!(
        "Salesforce rotated the refresh token (refresh token rotation is on for this connected app), so the old \
         refresh token no longer works; no refresh_token_file is configured (or it could not be written), so the \
         new one was saved to {path} (mode 0600). Next step: set refresh_token_file = \"{path}\" (or \
         SFCONN_REFRESH_TOKEN_FILE={path} / --refresh-token-file {path}) and remove refresh_token / \
         SFCONN_REFRESH_TOKEN, so that later runs use it and keep future rotations"
    )
}

/// Saves a rotated token in the state directory: creates the directory (mode 0700) if needed,
/// then writes the file atomically (mode 0600).
pub(crate) fn save_aside(path: &Path, secret: &SecretString) -> std::io::Result<()> {
    if let Some(directory) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(directory)?;
    }
    write_secret_file(path, secret)
}

pub(crate) const NOT_PERSISTED_STEP: &str = "Salesforce rotated the refresh token (refresh token rotation is on \
     for this connected app) and no refresh_token_file is configured, so the old refresh token no longer works \
     and the new one ends with this run. Next step: get a new refresh token straight into a file with \
     `sfconn auth url --pkce` then `sfconn auth exchange --refresh-token-file PATH` and set refresh_token_file = \"PATH\" (or \
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
    fn saving_aside_creates_a_private_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("sfconn").join("refresh_token");
        save_aside(&path, &SecretString::from("rotated")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "rotated\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
    }

    #[test]
    fn next_steps() {
        let aside = Rotation::SavedAside { path: "/st/sfconn/refresh_token".into() };
        let step = aside.next_step().unwrap();
        assert!(step.contains("saved to /st/sfconn/refresh_token"), "{step}");
        assert!(step.contains("set refresh_token_file = \"/st/sfconn/refresh_token\""), "{step}");
        assert!(aside.needs_action() && Rotation::NotPersisted.needs_action());
        assert!(!Rotation::NotRotated.needs_action());
        assert!(!Rotation::Persisted { path: "/x".into() }.needs_action());
        assert_eq!(Rotation::NotRotated.next_step(), None);
        assert!(
            Rotation::NotPersisted.next_step().unwrap().contains("sfconn auth exchange --refresh-token-file")
        );
        assert!(Rotation::Persisted { path: "/x/rt".into() }.next_step().unwrap().contains("/x/rt"));
        for rotation in [Rotation::NotRotated, aside, Rotation::NotPersisted] {
            assert_eq!(rotation.failure_class(), None, "{rotation:?}");
        }
    }

    #[test]
    fn an_unwritable_token_file_ends_the_run_with_74_and_says_where_the_token_went() {
        let problem = "No space left on device (os error 28): no space left on the device: the disk is full";
        let saved = Rotation::FileUnwritable {
            file: "/full/rt".into(),
            problem: problem.into(),
            saved_to: Some("/st/sfconn/refresh_token".into()),
        };
        assert_eq!(saved.failure_class(), Some(ErrorClass::Io));
        assert!(saved.needs_action() && saved.rotated());
        let step = saved.next_step().unwrap();
        assert!(step.contains("could not write the new one to the refresh_token_file /full/rt"), "{step}");
        assert!(step.contains(problem), "{step}");
        assert!(step.contains("saved to /st/sfconn/refresh_token (mode 0600)"), "{step}");
        assert!(step.contains("`mv /st/sfconn/refresh_token /full/rt`"), "{step}");
        let lost =
            Rotation::FileUnwritable { file: "/full/rt".into(), problem: problem.into(), saved_to: None };
        assert_eq!(lost.failure_class(), Some(ErrorClass::Io));
        let step = lost.next_step().unwrap();
        assert!(step.contains("could not be saved to the state directory either"), "{step}");
        assert!(step.contains("`sfconn auth device --refresh-token-file /full/rt`"), "{step}");
    }
}
