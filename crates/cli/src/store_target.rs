//! Which snapshot store a command uses: `--store PATH` (SQLite), `--store-url URL`
//! (PostgreSQL), else the settings (`store.url` / `store.url_file` over `store.path` when
//! given in a higher layer; docs/configuration.md, "Snapshot store").

use sfconn_config::{Settings, StoreUrl};
use sfconn_store::{PgTarget, Target};

use crate::exit::{Failure, code, code_of};
use sfconn_errors::Classify;

/// `--store-url` must not carry a password: a flag shows in the process list and in the shell's
/// history. Refused (exit 2) before anything is read, naming where a password may come from.
pub(crate) fn check_url_flag(url: Option<&str>) -> Result<(), Failure> {
    match url {
        Some(url) if sfconn_config::url_has_password(url) => Err(Failure::new(
            code::USAGE,
            format!(
                "--store-url {} carries a password, which a command line must not (other users can \
                 see it in the process list, and it stays in the shell's history): give the URL \
                 without it and the password with PGPASSWORD, PGPASSFILE or store.password_file, \
                 or the whole URL with store.url_file (or store.url in the config file or \
                 SFCONN_STORE__URL)",
                sfconn_config::redact_url(url)
            ),
        )),
        _ => Ok(()),
    }
}

/// The PostgreSQL store of the settings.
pub(crate) fn postgres(url: &StoreUrl) -> Result<Target, Failure> {
    let target =
        PgTarget::new(&url.url).map_err(|error| Failure::new(code_of(error.class()), error.to_string()))?;
    let target = match (&url.password, &url.passfile) {
        (Some(password), _) => target.with_password(password.clone()),
        (None, Some(passfile)) => target.with_passfile(passfile.clone()),
        (None, None) => target,
    };
    Ok(Target::Postgres(target))
}

/// The store of the settings: PostgreSQL when `store.url` won, else the `store.path` file.
pub(crate) fn from_settings(settings: &Settings, missing: &str) -> Result<Target, Failure> {
    if let Some(url) = &settings.store_url {
        return postgres(url);
    }
    settings
        .store_path
        .clone()
        .map(Target::Sqlite)
        .ok_or_else(|| Failure::new(code::CONFIG, missing.to_owned()))
}
