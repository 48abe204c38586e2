//! sfconn settings (docs/contract.md §2): the typed [`Settings`], where each value came from, and
//! validation that names the key.
//!
//! Owns: the settings schema, defaults < config file < environment < flags, the config-file
//! lookup, reading secret files, and every read of the process environment.
//! Must not: touch the network or print anything; callers decide what to show.
//!
//! Entry points: [`load`] (the process environment) and [`load_with`] (an injected
//! [`Environment`], for tests); [`load_org_with`] for one named org (`[orgs.NAME]`) and
//! [`load_fleet_with`] for every named org. They return every problem found at once in
//! [`ConfigError::Invalid`], each naming its key, where the value came from and what to do.
//!
//! Named orgs: an `[orgs.NAME]` table overrides the top-level keys for that org. The layers,
//! lowest first: defaults, the config file's top level, its `[orgs.NAME]` table, the top-level
//! `SFCONN_*` variables, the org's `SFCONN_ORGS__NAME__*` variables, the flags
//! (docs/configuration.md, "Named orgs").

mod auth;
mod environment;
mod error;
pub mod keys;
mod login_url;
mod orgs;
mod prices;
mod resolve;
mod sources;
mod store;

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use sfconn_filter::CompanyFilter;
use url::Url;

pub use auth::{AuthFlow, AuthSettings, RotatedTokens};
pub use environment::{Environment, MapEnvironment, ProcessEnvironment};
pub use error::{ConfigError, Origin, Problem};
pub use orgs::{
    Fleet, FleetOrg, load_fleet, load_fleet_with, load_org, load_org_at_index, load_org_at_index_with,
    load_org_with,
};
pub use prices::{PRICE_SCALE, PriceEntry, PriceList, read_prices_file};
pub use store::{StoreUrl, redact_url, url_has_password};

/// A commented template config file, written by `sfconn config init`.
pub const TEMPLATE: &str = include_str!("template.toml");

/// The effective, validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Consumer Key of the connected app.
    pub client_id: String,
    /// Consumer Secret, from `client_secret` or read from `client_secret_file`.
    pub client_secret: Option<SecretString>,
    /// File holding the Consumer Secret (absolute).
    pub client_secret_file: Option<PathBuf>,
    /// Refresh token, from `refresh_token` or read from `refresh_token_file`. With
    /// [`Need::ClientOnly`], a `refresh_token_file` is not read.
    pub refresh_token: Option<SecretString>,
    /// File holding the refresh token, rewritten on rotation (absolute).
    pub refresh_token_file: Option<PathBuf>,
    /// Authorization server: https, or http on a loopback host.
    pub login_url: Url,
    /// Company names as configured, trimmed, blank entries dropped.
    pub company_names: Vec<String>,
    /// The filter the company names make.
    pub company_filter: CompanyFilter,
    /// API version such as `62.0`; `None` means the newest the org offers.
    pub api_version: Option<String>,
    /// `csv_raw`: write CSV cells as they are; by default a cell of text from the org that a
    /// spreadsheet would run as a formula gets a leading `'` (docs/security.md).
    pub csv_raw: bool,
    /// `login_activity_days`: successful logins of the last N days per user, from LoginHistory;
    /// 0 = not collected.
    pub login_activity_days: u32,
    /// `login_activity_bulk_threshold`: more LoginHistory rows than this are read through a
    /// Bulk API 2.0 query job, fewer through REST paging.
    pub login_activity_bulk_threshold: u64,
    /// HTTP behaviour.
    pub http: HttpSettings,
    /// API budget guard.
    pub limits: LimitSettings,
    /// `store.path`: the snapshot store (SQLite file, absolute) for `collect --store`,
    /// `report` and `history`; the CLI's `--store` flag overrides it. When not set, the default
    /// store [`default_store_path`]; `None` only when no home directory is known.
    pub store_path: Option<PathBuf>,
    /// `store.url` / `store.url_file`: a PostgreSQL store, when it wins over `store.path`
    /// (a higher layer); then the store to use, and `store_path` is `None`.
    pub store_url: Option<StoreUrl>,
    /// sfconn's state directory ([`state_dir`]), where a rotated refresh token is saved when no
    /// `refresh_token_file` is configured; `None` when no home directory is known.
    pub state_dir: Option<PathBuf>,
    /// The `[auth]` table: which OAuth flow gets the access token.
    pub auth: AuthSettings,
    /// The named org these settings are for (`[orgs.NAME]`); `None` for a config without
    /// named orgs (or for `report`/`history`, which need no org).
    pub org: Option<String>,
    /// `fleet.concurrency`: orgs collected at once by `collect --all-orgs`.
    pub fleet_concurrency: usize,
    /// `report.min_logins`: `sfconn report`'s low-activity threshold (logins in the window).
    pub report_min_logins: u32,
    /// `report.paid_keys`: licence keys the report counts as paid whatever its table says.
    pub report_paid_keys: Vec<String>,
    /// `report.free_keys`: licence keys the report counts as free.
    pub report_free_keys: Vec<String>,
    /// The `[prices]` table: prices per seat per month in one currency; `None` when not set.
    pub prices: Option<PriceList>,
    /// `unused_assignments.exception_keys`: `PermissionSetLicenseKey` values (any case) whose
    /// assignments `collect` never reports as unused, besides its built-in exceptions.
    pub unused_assignment_exception_keys: Vec<String>,
}

/// The `[http]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Per-request timeout in seconds (1..=3600).
    pub timeout_secs: u64,
    /// Retries for transient failures (0..=20).
    pub max_retries: u32,
    /// Requests in flight at once (1..=32).
    pub concurrency: usize,
}

impl HttpSettings {
    /// [`HttpSettings::timeout_secs`] as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// The `[limits]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Refuse to start when the org has used more than this percentage of its daily API
    /// requests (1..=100).
    pub max_api_usage_percent: u8,
}

/// Setting values given as command-line flags; `None`/empty means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `-c/--config FILE`.
    pub config: Option<PathBuf>,
    /// `--client-id`.
    pub client_id: Option<String>,
    /// `--client-secret-file`.
    pub client_secret_file: Option<PathBuf>,
    /// `--refresh-token-file`.
    pub refresh_token_file: Option<PathBuf>,
    /// `--login-url`.
    pub login_url: Option<String>,
    /// `--company-name`, repeatable.
    pub company_names: Vec<String>,
    /// `--api-version`.
    pub api_version: Option<String>,
    /// `--csv-raw` (`collect`, `report`): `true` when given.
    pub csv_raw: bool,
    /// `collect --login-activity DAYS`.
    pub login_activity_days: Option<u32>,
    /// `--store-url` (`collect`, `history`, `report`). The CLI refuses one holding a password
    /// before it gets here.
    pub store_url: Option<String>,
    /// `report --min-logins`.
    pub min_logins: Option<u32>,
}

/// Which credentials the command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// What `auth.flow` needs (collect, auth check, config check): the client id, plus the
    /// client secret and refresh token (`refresh_token`), the client secret (`client_credentials`),
    /// or `auth.username` and the private key (`jwt_bearer`).
    Everything,
    /// Client id only (auth url/exchange/device): the secret is read if configured, the
    /// refresh token is neither required nor read (`refresh_token_file` may be the output).
    ClientOnly,
    /// No credentials (`report`, `history`: they read the snapshot store only). The secret
    /// and refresh-token files are not read; `client_id` may be missing (then empty).
    StoreOnly,
}

/// One effective setting as `config check` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    /// Dotted key, e.g. `http.timeout_secs`.
    pub key: String,
    /// The value; `null` when not set; secrets are the string `***`.
    pub value: serde_json::Value,
    /// Where the value came from.
    pub origin: Origin,
}

/// The result of loading settings.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated settings.
    pub settings: Settings,
    /// Every key in schema order, with its shown value and origin.
    pub entries: Vec<Entry>,
    /// Things that work but should be fixed, e.g. a config file holding a secret that
    /// others can read. Never contain a secret.
    pub warnings: Vec<String>,
    /// The config file used, if any.
    pub config_file: Option<PathBuf>,
}

/// sfconn's state directory (e.g. for the pending `auth url` → `auth exchange` state):
/// `$XDG_STATE_HOME/sfconn`, or `$HOME/.local/state/sfconn` when that is unset, empty or
/// relative (XDG spec). `None` when no home directory is known.
pub fn state_dir() -> Option<PathBuf> {
    state_dir_with(&ProcessEnvironment)
}

/// [`state_dir`] for a given environment.
pub fn state_dir_with(env: &dyn Environment) -> Option<PathBuf> {
    let base = env
        .var("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| sources::home_dir(env).map(|home| home.join(".local").join("state")))?;
    Some(base.join("sfconn"))
}

/// sfconn's data directory, where the default snapshot store lives: `$XDG_DATA_HOME/sfconn`,
/// or `$HOME/.local/share/sfconn` when that is unset, empty or relative (XDG spec).
pub fn data_dir_with(env: &dyn Environment) -> Option<PathBuf> {
    let base = env
        .var("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| sources::home_dir(env).map(|home| home.join(".local").join("share")))?;
    Some(base.join("sfconn"))
}

/// The snapshot store used when `store.path` is not set: `history.db` in [`data_dir_with`].
pub fn default_store_path(env: &dyn Environment) -> Option<PathBuf> {
    data_dir_with(env).map(|dir| dir.join(keys::DEFAULT_STORE_FILE))
}

/// Loads settings from the process environment. See [`load_with`].
pub fn load(flags: &Flags, need: Need) -> Result<Loaded, ConfigError> {
    load_with(flags, need, &ProcessEnvironment)
}

/// Loads and validates settings: defaults < config file < environment < flags. With named
/// orgs in the config file, a command that needs credentials must name one
/// ([`load_org_with`]): this refuses with [`ConfigError::OrgRequired`].
pub fn load_with(flags: &Flags, need: Need, env: &dyn Environment) -> Result<Loaded, ConfigError> {
    load_org_with(flags, need, env, None)
}

/// Every source of one org's settings merged in precedence order (`org`: `None` for the top
/// level): defaults, the file, its `[orgs.NAME]` table, the environment, the org's variables,
/// the flags. Variables that cannot be keys at all are added to `problems`.
pub(crate) fn layered(
    config_file: Option<&sources::ConfigFile>,
    flags: &Flags,
    env: &dyn Environment,
    org: Option<&str>,
    problems: &mut Vec<Problem>,
) -> figment::Figment {
    let mut figment = figment::Figment::from(sources::defaults());
    if let Some(file) = config_file {
        figment = figment.merge(sources::file(file));
        if let Some(name) = org {
            figment = figment.merge(sources::org_table(file, name));
        }
    }
    for layer in sources::environment(env, problems) {
        figment = figment.merge(layer);
    }
    if let Some(name) = org {
        for layer in sources::org_environment(env, name, problems) {
            figment = figment.merge(layer);
        }
    }
    for layer in sources::flags(flags) {
        figment = figment.merge(layer);
    }
    figment
}

/// Loads one org's settings from an already-read config file (`org`: `None` for the top level).
pub(crate) fn load_from(
    config_file: Option<&sources::ConfigFile>,
    flags: &Flags,
    need: Need,
    env: &dyn Environment,
    org: Option<&str>,
) -> Result<Loaded, ConfigError> {
    let mut problems = Vec::new();
    let figment = layered(config_file, flags, env, org, &mut problems);
    let defaults = resolve::Defaults { store_path: default_store_path(env) };
    let mut loaded = resolve::resolve(&figment, need, env, problems, &defaults)?;
    // Each org keeps its own state (a rotated refresh token, a pending authorization).
    loaded.settings.state_dir = match org {
        Some(name) => state_dir_with(env).map(|dir| dir.join("orgs").join(name)),
        None => state_dir_with(env),
    };
    loaded.settings.org = org.map(str::to_string);
    if let Some(file) = config_file {
        if let Some(warning) = resolve::exposed_config_file(file) {
            loaded.warnings.insert(0, warning);
        }
        loaded.config_file = Some(file.path.clone());
    }
    Ok(loaded)
}

#[cfg(test)]
mod state_dir_tests {
    use super::*;

    #[test]
    fn data_dir_follows_xdg_then_home() {
        let env = MapEnvironment::default().with("XDG_DATA_HOME", "/xdg/data").with("HOME", "/home/jo");
        assert_eq!(default_store_path(&env), Some(PathBuf::from("/xdg/data/sfconn/history.db")));
        let env = MapEnvironment::default().with("XDG_DATA_HOME", "").with("HOME", "/home/jo");
        assert_eq!(default_store_path(&env), Some(PathBuf::from("/home/jo/.local/share/sfconn/history.db")));
        assert_eq!(default_store_path(&MapEnvironment::default()), None);
    }

    #[test]
    fn state_dir_follows_xdg_then_home() {
        let env = MapEnvironment::default().with("XDG_STATE_HOME", "/xdg/state").with("HOME", "/home/jo");
        assert_eq!(state_dir_with(&env), Some(PathBuf::from("/xdg/state/sfconn")));
        let env = MapEnvironment::default().with("XDG_STATE_HOME", "relative").with("HOME", "/home/jo");
        assert_eq!(state_dir_with(&env), Some(PathBuf::from("/home/jo/.local/state/sfconn")));
        assert_eq!(state_dir_with(&MapEnvironment::default()), None);
    }
}
