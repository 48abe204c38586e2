//! The settings schema: every key, its environment variable, flag, type and default.

/// What kind of value a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Text,
    /// A path to a file; `~/` is expanded, relative paths are resolved (see the docs).
    Path,
    /// A list of strings (`company_names`).
    List,
    /// `true` or `false` (in the environment also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A whole number within `min..=max`.
    Integer {
        /// Smallest allowed value.
        min: i128,
        /// Largest allowed value.
        max: i128,
    },
}

/// One setting of docs/contract.md §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// Key in the config file, dotted for tables: `http.timeout_secs`.
    pub name: &'static str,
    /// Environment variable: `SFCONN_` + upper-case key, `.` written as `__`.
    pub env: &'static str,
    /// Command-line flag, if there is one.
    pub flag: Option<&'static str>,
    /// Type of the value.
    pub kind: Kind,
    /// Never shown; `config check` prints `***`.
    pub secret: bool,
}

const fn key(name: &'static str, env: &'static str, flag: Option<&'static str>, kind: Kind) -> Key {
    Key { name, env, flag, kind, secret: false }
}

/// Every setting, in the order `config check` shows them.
pub const KEYS: &[Key] = &[
    key("client_id", "SFCONN_CLIENT_ID", Some("--client-id"), Kind::Text),
    Key { secret: true, ..key("client_secret", "SFCONN_CLIENT_SECRET", None, Kind::Text) },
    key("client_secret_file", "SFCONN_CLIENT_SECRET_FILE", Some("--client-secret-file"), Kind::Path),
    Key { secret: true, ..key("refresh_token", "SFCONN_REFRESH_TOKEN", None, Kind::Text) },
    key("refresh_token_file", "SFCONN_REFRESH_TOKEN_FILE", Some("--refresh-token-file"), Kind::Path),
    key("login_url", "SFCONN_LOGIN_URL", Some("--login-url"), Kind::Text),
    key("company_names", "SFCONN_COMPANY_NAMES", Some("--company-name"), Kind::List),
    key("api_version", "SFCONN_API_VERSION", Some("--api-version"), Kind::Text),
    // `collect --csv-raw` and `report --csv-raw`: CSV cells as they are, formulas included.
    key("csv_raw", "SFCONN_CSV_RAW", Some("--csv-raw"), Kind::Bool),
    // Login activity from LoginHistory (docs/data.md): days back, 0 = off; Salesforce keeps
    // six months of LoginHistory, so no more than 180.
    key(
        "login_activity_days",
        "SFCONN_LOGIN_ACTIVITY_DAYS",
        Some("--login-activity"),
        Kind::Integer { min: 0, max: 180 },
    ),
    // Above this many LoginHistory rows the run reads them through a Bulk API 2.0 query job.
    key(
        "login_activity_bulk_threshold",
        "SFCONN_LOGIN_ACTIVITY_BULK_THRESHOLD",
        None,
        Kind::Integer { min: 0, max: 1_000_000_000 },
    ),
    key("http.timeout_secs", "SFCONN_HTTP__TIMEOUT_SECS", None, Kind::Integer { min: 1, max: 3600 }),
    key("http.max_retries", "SFCONN_HTTP__MAX_RETRIES", None, Kind::Integer { min: 0, max: 20 }),
    key("http.concurrency", "SFCONN_HTTP__CONCURRENCY", None, Kind::Integer { min: 1, max: 32 }),
    key(
        "limits.max_api_usage_percent",
        "SFCONN_LIMITS__MAX_API_USAGE_PERCENT",
        None,
        Kind::Integer { min: 1, max: 100 },
    ),
    // The CLI's `--store` flag overrides it (sfconn_store).
    key("store.path", "SFCONN_STORE__PATH", None, Kind::Path),
    // PostgreSQL instead of the SQLite file (docs/configuration.md, "Snapshot store"). The
    // URL may hold a password (not from the flag: the CLI refuses that); it is shown redacted.
    key("store.url", "SFCONN_STORE__URL", Some("--store-url"), Kind::Text),
    key("store.url_file", "SFCONN_STORE__URL_FILE", None, Kind::Path),
    key("store.password_file", "SFCONN_STORE__PASSWORD_FILE", None, Kind::Path),
    // How sfconn gets its access token (docs/configuration.md).
    key("auth.flow", "SFCONN_AUTH__FLOW", None, Kind::Text),
    // Where a rotated refresh token goes: "refresh_token_file" or "state_dir" (docs/security.md).
    key("auth.rotated_tokens", "SFCONN_AUTH__ROTATED_TOKENS", None, Kind::Text),
    key("auth.username", "SFCONN_AUTH__USERNAME", None, Kind::Text),
    key("auth.private_key_file", "SFCONN_AUTH__PRIVATE_KEY_FILE", None, Kind::Path),
    // `collect --all-orgs`: how many orgs are collected at once; top level only.
    key("fleet.concurrency", "SFCONN_FLEET__CONCURRENCY", None, Kind::Integer { min: 1, max: 16 }),
    // `report`: fewer successful logins than this in the login-activity window is low activity.
    key(
        "report.min_logins",
        "SFCONN_REPORT__MIN_LOGINS",
        Some("--min-logins"),
        Kind::Integer { min: 1, max: 100_000 },
    ),
    // `report`: licence keys that are paid / free whatever the built-in table says.
    key("report.paid_keys", "SFCONN_REPORT__PAID_KEYS", None, Kind::List),
    key("report.free_keys", "SFCONN_REPORT__FREE_KEYS", None, Kind::List),
    // `collect`: PermissionSetLicenseKey values whose assignments are never unused, besides
    // the built-in exceptions (docs/unused-assignments.md); per org like the other collection
    // settings.
    key("unused_assignments.exception_keys", "SFCONN_UNUSED_ASSIGNMENTS__EXCEPTION_KEYS", None, Kind::List),
];

/// Tables that group keys: `[http]`, `[limits]`, `[store]`, `[auth]`, `[fleet]`, `[report]`,
/// `[unused_assignments]`.
pub const TABLES: &[&str] = &["http", "limits", "store", "auth", "fleet", "report", "unused_assignments"];

/// The table of named orgs: `[orgs.NAME]` holds what differs for the org NAME.
pub const ORGS_TABLE: &str = "orgs";

/// Keys that only make sense once per config file, not per org.
pub const TOP_LEVEL_ONLY: &[&str] =
    &["fleet.concurrency", "report.min_logins", "report.paid_keys", "report.free_keys"];

/// Prefix of the variables that set one named org's keys: `SFCONN_ORGS__NAME__KEY`.
pub const ORG_ENV_PREFIX: &str = "SFCONN_ORGS__";

/// Prefix of every sfconn environment variable.
pub const ENV_PREFIX: &str = "SFCONN_";

/// The variable that names the config file (not a setting itself).
pub const CONFIG_ENV: &str = "SFCONN_CONFIG";

/// Default `login_url`.
pub const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";
/// Default `csv_raw`: CSV cells that a spreadsheet would run as a formula are neutralised.
pub const DEFAULT_CSV_RAW: bool = false;
/// Default `login_activity_days`: off.
pub const DEFAULT_LOGIN_ACTIVITY_DAYS: u32 = 0;
/// Default `login_activity_bulk_threshold`: at or below it LoginHistory is paged through REST
/// (docs/benchmarks.md, "Login activity: REST or Bulk").
pub const DEFAULT_LOGIN_ACTIVITY_BULK_THRESHOLD: u64 = 100_000;
/// Default `http.timeout_secs`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// Default `http.max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// Default `http.concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Default `limits.max_api_usage_percent`.
pub const DEFAULT_MAX_API_USAGE_PERCENT: u8 = 90;
/// Default `fleet.concurrency`: orgs collected at once by `collect --all-orgs`.
pub const DEFAULT_FLEET_CONCURRENCY: usize = 2;
/// Default `report.min_logins`: fewer than 5 successful logins in the login-activity window
/// (about one a week over 30 days) is low activity (docs/report.md).
pub const DEFAULT_MIN_LOGINS: u32 = 5;
/// The file name of the default snapshot store, in sfconn's data directory.
pub const DEFAULT_STORE_FILE: &str = "history.db";

/// Whether `name` is a valid org name: `[a-z0-9][a-z0-9-]*`.
pub fn is_org_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The org name an `SFCONN_ORGS__NAME__KEY` variable's NAME part stands for: lower case, with
/// `_` read as `-` (a variable name cannot hold `-`).
pub fn org_name_from_env(part: &str) -> String {
    part.to_lowercase().replace('_', "-")
}

/// How an org's name is written in its variables: `acme-prod` -> `ACME_PROD`.
pub fn org_env_part(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// The declared org name nearest to an unknown one, if any is near enough to be a typo.
pub fn nearest_org<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|name| (strsim::jaro_winkler(unknown, name), name))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// A boolean as the environment writes it: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`,
/// ignoring case and surrounding white space.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The key with this dotted name.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The dotted key an `SFCONN_*` variable sets, e.g. `SFCONN_HTTP__TIMEOUT_SECS` ->
/// `http.timeout_secs`; `None` without the prefix or for `SFCONN_CONFIG`.
pub fn key_for_env(var: &str) -> Option<String> {
    if var == CONFIG_ENV {
        return None;
    }
    let rest = var.strip_prefix(ENV_PREFIX)?;
    Some(rest.to_lowercase().replace("__", "."))
}

/// The environment variable for a dotted key (known or not).
pub fn env_for_key(name: &str) -> String {
    format!("{ENV_PREFIX}{}", name.to_uppercase().replace('.', "__"))
}

/// The known key nearest to an unknown one, if any is near enough to be a likely typo.
///
/// Compares both the whole dotted key and its last part, so `timeout_secs` at the top level
/// suggests `http.timeout_secs`.
pub fn nearest(unknown: &str) -> Option<&'static str> {
    let leaf = |s: &str| s.rsplit('.').next().unwrap_or(s).to_string();
    let unknown_leaf = leaf(unknown);
    KEYS.iter()
        .map(|k| {
            let whole = strsim::jaro_winkler(unknown, k.name);
            let last = strsim::jaro_winkler(&unknown_leaf, &leaf(k.name));
            (whole.max(last), k.name)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_the_key() {
        for key in KEYS {
            assert_eq!(key.env, env_for_key(key.name));
            assert_eq!(key_for_env(key.env).as_deref(), Some(key.name));
        }
        assert_eq!(key_for_env(CONFIG_ENV), None);
        assert_eq!(key_for_env("HOME"), None);
    }

    #[test]
    fn flags_follow_the_key() {
        for key in KEYS {
            if let Some(flag) = key.flag {
                let expected = if key.name == "company_names" {
                    "--company-name".to_string()
                } else if let Some(leaf) = key.name.strip_prefix("report.") {
                    // The `[report]` table is the `report` command's: `report --min-logins`.
                    format!("--{}", leaf.replace('_', "-"))
                } else if key.name == "login_activity_days" {
                    // The issue names it `collect --login-activity DAYS`.
                    "--login-activity".to_string()
                } else {
                    // A table's key: `store.url` is `--store-url`.
                    format!("--{}", key.name.replace(['_', '.'], "-"))
                };
                assert_eq!(flag, expected);
            }
        }
    }

    #[test]
    fn nearest_suggests_likely_typos_only() {
        assert_eq!(nearest("client_secert"), Some("client_secret"));
        assert_eq!(nearest("company_name"), Some("company_names"));
        assert_eq!(nearest("timeout_secs"), Some("http.timeout_secs"));
        assert_eq!(nearest("http.timeout"), Some("http.timeout_secs"));
        assert_eq!(nearest("loginurl"), Some("login_url"));
        assert_eq!(nearest("colour"), None);
        assert_eq!(nearest("csv_row"), Some("csv_raw"));
    }

    #[test]
    fn org_names_are_slugs() {
        for good in ["prod", "acme-prod", "a", "0", "eu-2", "x-"] {
            assert!(is_org_name(good), "{good}");
        }
        for bad in ["", "-prod", "Prod", "acme_prod", "acme.prod", "acme prod", "é"] {
            assert!(!is_org_name(bad), "{bad}");
        }
        assert_eq!(org_env_part("acme-prod"), "ACME_PROD");
        assert_eq!(org_name_from_env("ACME_PROD"), "acme-prod");
        assert_eq!(nearest_org("prdo", ["prod", "sandbox"]), Some("prod"));
        assert_eq!(nearest_org("zzz", ["prod", "sandbox"]), None);
    }

    #[test]
    fn booleans_in_the_environment() {
        for text in ["true", " TRUE ", "1", "yes", "On"] {
            assert_eq!(parse_bool(text), Some(true), "{text}");
        }
        for text in ["false", "0", "No", "off"] {
            assert_eq!(parse_bool(text), Some(false), "{text}");
        }
        for text in ["", "maybe", "2", "t"] {
            assert_eq!(parse_bool(text), None, "{text}");
        }
    }
}
