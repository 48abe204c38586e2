//! The rotated refresh token kept in the state directory, and when it wins over
//! `refresh_token_file`.
//!
//! A refresh token that Salesforce rotated is kept in the state directory when
//! `refresh_token_file` cannot take it (a mounted Secret, a full disk) or must not
//! (`auth.rotated_tokens = "state_dir"`). The next run must present that token, not the one
//! it replaced: where rotation is on, presenting a replaced token revokes the newer one too.
//! The rule is the files' modification times: the kept token wins while it is newer than
//! `refresh_token_file`; once someone puts a new token in `refresh_token_file` (a Secret
//! updated, `sfconn auth exchange`), that file is newer and wins again.

use std::path::Path;

use secrecy::SecretString;

/// The kept token when `kept` exists and was written after `file`; `Ok(None)` when there is
/// no kept token or `file` is as new or newer; `Err` when the kept token is newer but cannot
/// be read or is blank.
pub(crate) fn newer_than(kept: &Path, file: &Path) -> Result<Option<SecretString>, String> {
    let kept_time = match std::fs::metadata(kept).and_then(|meta| meta.modified()) {
        Ok(time) => time,
        // No kept token, also when a path component is not a directory.
        Err(error)
            if matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(error.to_string()),
    };
    // The configured token was read from `file` a moment ago; a file whose time cannot be
    // read is taken as the newer one, so that the configured token is what is presented.
    let Ok(file_time) = std::fs::metadata(file).and_then(|meta| meta.modified()) else {
        return Ok(None);
    };
    if kept_time <= file_time {
        return Ok(None);
    }
    let text = std::fs::read_to_string(kept).map_err(|error| error.to_string())?;
    let token = text.trim();
    if token.is_empty() {
        return Err("the file is empty".to_string());
    }
    Ok(Some(SecretString::from(token.to_string())))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use secrecy::ExposeSecret;

    use super::*;

    fn write_at(path: &Path, text: &str, age: Duration) {
        std::fs::write(path, text).unwrap();
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn the_kept_token_wins_while_it_is_newer_than_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, file) = (dir.path().join("kept"), dir.path().join("file"));
        write_at(&file, "from-secret\n", Duration::from_secs(3600));
        write_at(&kept, "rotated\n", Duration::from_secs(60));
        let token = newer_than(&kept, &file).unwrap().unwrap();
        assert_eq!(token.expose_secret(), "rotated");
    }

    #[test]
    fn a_file_written_after_the_kept_token_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, file) = (dir.path().join("kept"), dir.path().join("file"));
        write_at(&kept, "rotated\n", Duration::from_secs(3600));
        write_at(&file, "replaced-by-the-admin\n", Duration::from_secs(60));
        assert!(newer_than(&kept, &file).unwrap().is_none());
    }

    #[test]
    fn equal_times_keep_the_configured_token() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, file) = (dir.path().join("kept"), dir.path().join("file"));
        write_at(&kept, "rotated\n", Duration::from_secs(60));
        write_at(&file, "from-secret\n", Duration::from_secs(60));
        assert!(newer_than(&kept, &file).unwrap().is_none());
    }

    #[test]
    fn no_kept_token_keeps_the_configured_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        write_at(&file, "from-secret\n", Duration::from_secs(60));
        assert!(newer_than(&dir.path().join("absent"), &file).unwrap().is_none());
    }

    #[test]
    fn a_newer_blank_kept_token_is_an_error_not_a_silent_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, file) = (dir.path().join("kept"), dir.path().join("file"));
        write_at(&file, "from-secret\n", Duration::from_secs(3600));
        write_at(&kept, " \n", Duration::from_secs(60));
        assert_eq!(newer_than(&kept, &file).unwrap_err(), "the file is empty");
    }
}
