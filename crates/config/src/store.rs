//! Which snapshot store: the SQLite file (`store.path`) or PostgreSQL (`store.url`, or
//! `store.url_file`), and where PostgreSQL's password comes from (docs/configuration.md,
//! "Snapshot store").
//!
//! - `store.url` and `store.url_file` name the same thing: the one from the higher layer wins
//!   (file < environment < flag); both in one layer is a problem naming both keys.
//! - `store.path` and a URL: the URL wins when it is given in the same layer or a higher one;
//!   `store.path` only from a higher layer (`SFCONN_STORE__PATH` over a URL in the file). The
//!   default `store.path` is the lowest layer of all.
//! - The password, when the URL has none: `store.password_file`, else `PGPASSWORD`, else the
//!   pgpass file (`PGPASSFILE`, else `~/.pgpass`; the store looks up the matching line).
//!
//! The URL is never shown with its password: `config check` prints `***` in its place.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::environment::Environment;
use crate::error::Origin;
use crate::resolve::Reader;

/// A PostgreSQL store as configured.
#[derive(Debug, Clone)]
pub struct StoreUrl {
    /// The URL, which may hold a password.
    pub url: SecretString,
    /// The URL as it may be shown (its password as `***`).
    pub shown: String,
    /// The password to use when the URL has none.
    pub password: Option<SecretString>,
    /// The pgpass file to look the password up in, when neither the URL nor `password` has one.
    pub passfile: Option<PathBuf>,
}

/// What the store settings resolve to, with what `config check` shows.
pub(crate) struct Resolved {
    pub(crate) url: Option<StoreUrl>,
    /// `false` when the URL wins over `store.path`.
    pub(crate) path_in_effect: bool,
    pub(crate) entries: Vec<(&'static str, (serde_json::Value, Origin))>,
}

/// How high a layer is: default < file < environment < flag.
fn rank(origin: &Origin) -> u8 {
    match origin {
        Origin::Default => 0,
        Origin::File { .. } | Origin::OrgTable { .. } | Origin::SecretFile { .. } => 1,
        Origin::Env { .. } => 2,
        Origin::Flag { .. } => 3,
    }
}

/// Whether `text` is a PostgreSQL URL.
fn is_postgres_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `url` with its password, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
                return "(a URL that cannot be shown)".to_owned();
            }
            parsed.to_string()
        }
        Err(_) => "(a URL that cannot be parsed)".to_owned(),
    }
}

/// Whether the URL carries a password.
pub fn url_has_password(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|parsed| parsed.password().is_some())
}

pub(crate) struct Given<'a> {
    pub(crate) path: Option<&'a (PathBuf, Origin)>,
    pub(crate) url: Option<(String, Origin)>,
    pub(crate) url_file: Option<(PathBuf, Origin)>,
    pub(crate) password_file: Option<(PathBuf, Origin)>,
}

fn shown_path(value: Option<&(PathBuf, Origin)>) -> (serde_json::Value, Origin) {
    match value {
        Some((path, origin)) => (serde_json::Value::from(path.to_string_lossy().as_ref()), origin.clone()),
        None => (serde_json::Value::Null, Origin::Default),
    }
}

fn read_trimmed(path: &Path, what: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => {
            format!(
                "{} does not exist; create it holding only the {what}, or correct the path",
                path.display()
            )
        }
        _ => format!("cannot read {}: {error}", path.display()),
    })?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("{} is empty; it must hold the {what}", path.display()));
    }
    Ok(trimmed.to_owned())
}

pub(crate) fn resolve(
    r: &mut Reader<'_>,
    env: &dyn Environment,
    home: Option<&Path>,
    given: &Given<'_>,
) -> Resolved {
    let mut entries = Vec::new();
    // The URL, and where it came from (for the password's source).
    let from_key = given.url.as_ref().map(|(url, origin)| (url.clone(), origin.clone(), origin.clone()));
    let from_file = match &given.url_file {
        Some((path, origin)) => match read_trimmed(path, "PostgreSQL URL") {
            Ok(url) => Some((url, origin.clone(), Origin::SecretFile { path: path.clone() })),
            Err(message) => {
                r.problem("store.url_file", Some(origin.clone()), message);
                None
            }
        },
        None => None,
    };
    let chosen = match (from_key, from_file) {
        (Some(key), Some(file)) if rank(&key.1) == rank(&file.1) => {
            r.problem(
                "store.url",
                Some(key.1.clone()),
                format!("both `store.url` and `store.url_file` ({}) are set; keep only one", file.1),
            );
            None
        }
        (Some(key), Some(file)) => Some(if rank(&key.1) > rank(&file.1) { key } else { file }),
        (key, file) => key.or(file),
    };
    let chosen = chosen.filter(|(url, origin, _)| {
        if is_postgres_url(url) {
            return true;
        }
        r.problem(
            "store.url",
            Some(origin.clone()),
            "must be a postgres:// or postgresql:// URL (an SQLite file is store.path)",
        );
        false
    });
    entries.push((
        "store.url",
        match &chosen {
            Some((url, _, shown_origin)) => (serde_json::Value::from(redact_url(url)), shown_origin.clone()),
            None => (serde_json::Value::Null, Origin::Default),
        },
    ));
    entries.push(("store.url_file", shown_path(given.url_file.as_ref())));
    entries.push(("store.password_file", shown_path(given.password_file.as_ref())));

    // store.path against the URL.
    let mut path_in_effect = true;
    let chosen = match (chosen, given.path) {
        (Some(url), Some((_, path_origin))) if rank(&url.1) < rank(path_origin) => None,
        (Some(url), _) => {
            path_in_effect = false;
            Some(url)
        }
        (None, _) => None,
    };

    let Some((url, _, url_origin)) = chosen else {
        entries.push(("store.password", (serde_json::Value::Null, Origin::Default)));
        return Resolved { url: None, path_in_effect, entries };
    };
    let secret_shown = || serde_json::Value::from("***");
    let mut password = None;
    let mut passfile = None;
    let source = if url_has_password(&url) {
        Some(url_origin)
    } else if let Some((path, origin)) = &given.password_file {
        match read_trimmed(path, "PostgreSQL password") {
            Ok(text) => {
                password = Some(SecretString::from(text));
                Some(Origin::SecretFile { path: path.clone() })
            }
            Err(message) => {
                r.problem("store.password_file", Some(origin.clone()), message);
                None
            }
        }
    } else if let Some(text) = env.var("PGPASSWORD").filter(|text| !text.is_empty()) {
        password = Some(SecretString::from(text));
        Some(Origin::Env { var: "PGPASSWORD".into() })
    } else {
        let file = match env.var("PGPASSFILE").filter(|text| !text.is_empty()) {
            Some(path) => Some((PathBuf::from(path), Origin::Env { var: "PGPASSFILE".into() })),
            None => home.map(|home| home.join(".pgpass")).filter(|path| path.exists()).map(|path| {
                let origin = Origin::SecretFile { path: path.clone() };
                (path, origin)
            }),
        };
        file.map(|(path, origin)| {
            passfile = Some(path);
            origin
        })
    };
    entries.push((
        "store.password",
        match source {
            Some(origin) => (secret_shown(), origin),
            None => (serde_json::Value::Null, Origin::Default),
        },
    ));
    let shown = redact_url(&url);
    let url = SecretString::from(url);
    Resolved { url: Some(StoreUrl { url, shown, password, passfile }), path_in_effect, entries }
}
