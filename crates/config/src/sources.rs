//! The four sources of settings as figment providers, and the config-file lookup.
//!
//! Every provider carries [`Metadata`] that [`origin_of`] turns back into an [`Origin`]:
//! one provider for the defaults, one for the config file, one per environment variable and
//! one per flag, so each value knows exactly which variable or flag set it.

use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use crate::Flags;
use crate::environment::Environment;
use crate::error::{ConfigError, Origin, Problem};
use crate::keys::{self, Kind};

const DEFAULT: &str = "default";
const FILE: &str = "file";
/// An org table's provider is named `org-table:NAME`.
const ORG_TABLE: &str = "org-table:";
const ENV: &str = "env";
const FLAG: &str = "flag";

/// A fixed dictionary with the metadata that names where it came from.
struct Layer {
    metadata: Metadata,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// The origin of a merged value.
pub(crate) fn origin_of(figment: &Figment, value: &Value) -> Origin {
    let Some(metadata) = figment.get_metadata(value.tag()) else {
        return Origin::Default;
    };
    let custom = || metadata.source.as_ref().and_then(Source::custom).unwrap_or_default().to_string();
    match metadata.name.as_ref() {
        FILE => match metadata.source.as_ref().and_then(Source::file_path) {
            Some(path) => Origin::File { path: path.to_path_buf() },
            None => Origin::Default,
        },
        name if name.starts_with(ORG_TABLE) => match metadata.source.as_ref().and_then(Source::file_path) {
            Some(path) => {
                Origin::OrgTable { path: path.to_path_buf(), org: name[ORG_TABLE.len()..].to_string() }
            }
            None => Origin::Default,
        },
        ENV => Origin::Env { var: custom() },
        FLAG => Origin::Flag { flag: custom() },
        _ => Origin::Default,
    }
}

/// A config file that was found and parsed.
pub(crate) struct ConfigFile {
    pub path: PathBuf,
    pub dict: Dict,
    /// Unix permission bits, when known.
    pub mode: Option<u32>,
}

/// Puts `value` at the dotted `key` of a new dictionary.
fn nested(key: &str, value: Value) -> Dict {
    match figment::util::nest(key, value) {
        Value::Dict(_, dict) => dict,
        _ => Dict::new(),
    }
}

/// The built-in defaults of docs/contract.md §2.
pub(crate) fn defaults() -> impl Provider {
    let mut dict = Dict::new();
    dict.insert("login_url".into(), Value::from(keys::DEFAULT_LOGIN_URL));
    dict.insert("company_names".into(), Value::from(vec![Value::from("*")]));
    dict.insert("csv_raw".into(), Value::from(keys::DEFAULT_CSV_RAW));
    dict.insert("login_activity_days".into(), Value::from(keys::DEFAULT_LOGIN_ACTIVITY_DAYS));
    dict.insert(
        "login_activity_bulk_threshold".into(),
        Value::from(keys::DEFAULT_LOGIN_ACTIVITY_BULK_THRESHOLD),
    );
    let mut http = Dict::new();
    http.insert("timeout_secs".into(), Value::from(keys::DEFAULT_TIMEOUT_SECS));
    http.insert("max_retries".into(), Value::from(keys::DEFAULT_MAX_RETRIES));
    http.insert("concurrency".into(), Value::from(keys::DEFAULT_CONCURRENCY));
    dict.insert("http".into(), Value::from(http));
    let mut limits = Dict::new();
    limits.insert("max_api_usage_percent".into(), Value::from(keys::DEFAULT_MAX_API_USAGE_PERCENT));
    dict.insert("limits".into(), Value::from(limits));
    Layer { metadata: Metadata::named(DEFAULT), dict }
}

/// The config file's provider: its top-level keys and tables, without the `[orgs]` table.
pub(crate) fn file(config: &ConfigFile) -> impl Provider {
    let mut dict = config.dict.clone();
    dict.remove(keys::ORGS_TABLE);
    Layer { metadata: Metadata::named(FILE).source(Source::File(config.path.clone())), dict }
}

/// The provider of one `[orgs.NAME]` table (empty when the file has none of that name).
pub(crate) fn org_table(config: &ConfigFile, name: &str) -> impl Provider {
    let dict = match config.dict.get(keys::ORGS_TABLE) {
        Some(Value::Dict(_, orgs)) => match orgs.get(name) {
            Some(Value::Dict(_, table)) => table.clone(),
            _ => Dict::new(),
        },
        _ => Dict::new(),
    };
    Layer {
        metadata: Metadata::named(format!("{ORG_TABLE}{name}")).source(Source::File(config.path.clone())),
        dict,
    }
}

/// Splits `SFCONN_COMPANY_NAMES`: commas or new lines separate names.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// One provider per top-level `SFCONN_*` variable (blank ones are ignored, as if unset; the
/// `SFCONN_ORGS__*` ones are [`org_environment`]'s). Variables whose name cannot be a key at
/// all become problems right away.
pub(crate) fn environment(env: &dyn Environment, problems: &mut Vec<Problem>) -> Vec<impl Provider> {
    let vars = env
        .vars_with_prefix(keys::ENV_PREFIX)
        .into_iter()
        .filter(|(var, _)| !var.starts_with(keys::ORG_ENV_PREFIX))
        .filter_map(|(var, text)| Some((keys::key_for_env(&var)?, var, text)));
    env_layers(vars, problems)
}

/// One provider per `SFCONN_ORGS__NAME__*` variable of the org `name`; the key is what
/// follows `NAME__`, as for a top-level variable.
pub(crate) fn org_environment(
    env: &dyn Environment,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Vec<impl Provider> {
    let prefix = format!("{}{}__", keys::ORG_ENV_PREFIX, keys::org_env_part(name));
    let skip = prefix.len();
    let vars = env.vars_with_prefix(&prefix).into_iter().map(move |(var, text)| {
        let key = var[skip..].to_lowercase().replace("__", ".");
        (key, var, text)
    });
    env_layers(vars, problems)
}

/// The org names that `SFCONN_ORGS__NAME__KEY` variables refer to, each with one variable
/// naming it; a variable with no `__` after NAME is returned with an empty key part.
pub(crate) fn orgs_in_environment(env: &dyn Environment) -> Vec<(String, String)> {
    env.vars_with_prefix(keys::ORG_ENV_PREFIX)
        .into_iter()
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|(var, _)| {
            let rest = &var[keys::ORG_ENV_PREFIX.len()..];
            let part = rest.split_once("__").map_or(rest, |(part, _)| part);
            (keys::org_name_from_env(part), var)
        })
        .collect()
}

/// Providers for `(key, variable, value)` triples.
fn env_layers(
    vars: impl Iterator<Item = (String, String, String)>,
    problems: &mut Vec<Problem>,
) -> Vec<impl Provider> {
    let mut layers = Vec::new();
    for (key, var, text) in vars {
        if text.trim().is_empty() {
            continue;
        }
        if key.split('.').any(str::is_empty) {
            problems.push(Problem {
                key: var.clone(),
                origin: Some(Origin::Env { var }),
                message: "unknown sfconn environment variable; see `sfconn config check` and docs/configuration.md for the known ones".into(),
            });
            continue;
        }
        if text.contains(char::REPLACEMENT_CHARACTER) {
            // The process environment is read lossily: the value held bytes that are not UTF-8.
            problems.push(Problem {
                key: key.clone(),
                origin: Some(Origin::Env { var }),
                message: "the value is not valid UTF-8 text; set it again as plain text".into(),
            });
            continue;
        }
        let value = match keys::find(&key).map(|k| k.kind) {
            Some(Kind::List) => {
                Value::from(split_list(&text).into_iter().map(Value::from).collect::<Vec<_>>())
            }
            Some(Kind::Integer { .. }) => match text.trim().parse::<i64>() {
                Ok(number) => Value::from(number),
                Err(_) => Value::from(text),
            },
            Some(Kind::Bool) => keys::parse_bool(&text).map_or_else(|| Value::from(text), Value::from),
            _ => Value::from(text),
        };
        layers.push(Layer {
            metadata: Metadata::named(ENV).source(Source::Custom(var)),
            dict: nested(&key, value),
        });
    }
    layers
}

/// One provider per flag given on the command line.
pub(crate) fn flags(flags: &Flags) -> Vec<impl Provider> {
    let mut given: Vec<(&str, Value)> = Vec::new();
    if let Some(v) = &flags.client_id {
        given.push(("client_id", Value::from(v.as_str())));
    }
    if let Some(v) = &flags.client_secret_file {
        given.push(("client_secret_file", Value::from(v.to_string_lossy().as_ref())));
    }
    if let Some(v) = &flags.refresh_token_file {
        given.push(("refresh_token_file", Value::from(v.to_string_lossy().as_ref())));
    }
    if let Some(v) = &flags.login_url {
        given.push(("login_url", Value::from(v.as_str())));
    }
    if !flags.company_names.is_empty() {
        let names: Vec<Value> = flags.company_names.iter().map(|n| Value::from(n.as_str())).collect();
        given.push(("company_names", Value::from(names)));
    }
    if let Some(v) = &flags.api_version {
        given.push(("api_version", Value::from(v.as_str())));
    }
    if let Some(days) = flags.login_activity_days {
        given.push(("login_activity_days", Value::from(days)));
    }
    if flags.csv_raw {
        given.push(("csv_raw", Value::from(true)));
    }
    if let Some(v) = &flags.store_url {
        given.push(("store.url", Value::from(v.as_str())));
    }
    if let Some(v) = flags.min_logins {
        given.push(("report.min_logins", Value::from(v)));
    }
    given
        .into_iter()
        .filter_map(|(key, value)| {
            let flag = keys::find(key)?.flag?;
            Some(Layer {
                metadata: Metadata::named(FLAG).source(Source::Custom(flag.to_string())),
                dict: nested(key, value),
            })
        })
        .collect()
}

/// Resolves `path` against `base` when relative.
pub(crate) fn absolute(path: &Path, base: Option<&Path>) -> PathBuf {
    match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    }
}

/// Finds the config file: `--config`, else `$SFCONN_CONFIG`, else `./sfconn.toml` if present,
/// else `$XDG_CONFIG_HOME/sfconn/config.toml` (or `~/.config/sfconn/config.toml`) if present.
/// A file named explicitly must exist.
pub(crate) fn locate(flags: &Flags, env: &dyn Environment) -> Result<Option<PathBuf>, ConfigError> {
    let cwd = env.current_dir();
    let explicit = match &flags.config {
        Some(path) => Some((path.clone(), "--config")),
        None => env
            .var(keys::CONFIG_ENV)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (PathBuf::from(v), keys::CONFIG_ENV)),
    };
    if let Some((path, named_by)) = explicit {
        let path = absolute(&path, cwd.as_deref());
        return match path.try_exists() {
            Ok(false) => Err(ConfigError::FileNotFound { path, named_by: named_by.to_string() }),
            Ok(true) | Err(_) => Ok(Some(path)),
        };
    }
    let mut candidates = Vec::new();
    if let Some(cwd) = &cwd {
        candidates.push(cwd.join("sfconn.toml"));
    }
    if let Some(dir) = user_config_dir(env) {
        candidates.push(dir.join("sfconn").join("config.toml"));
    }
    // A candidate whose existence cannot even be checked is used, so that the read reports why.
    Ok(candidates.into_iter().find(|p| !matches!(p.try_exists(), Ok(false))))
}

/// `$XDG_CONFIG_HOME`, or `$HOME/.config` when that is unset, empty or relative (XDG spec).
fn user_config_dir(env: &dyn Environment) -> Option<PathBuf> {
    if let Some(xdg) = env.var("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        let xdg = PathBuf::from(xdg);
        if xdg.is_absolute() {
            return Some(xdg);
        }
    }
    home_dir(env).map(|home| home.join(".config"))
}

/// `$HOME` (or `%USERPROFILE%` on Windows), when set and not empty.
pub(crate) fn home_dir(env: &dyn Environment) -> Option<PathBuf> {
    env.var("HOME")
        .filter(|v| !v.is_empty())
        .or_else(|| env.var("USERPROFILE").filter(|v| !v.is_empty()))
        .map(PathBuf::from)
}

/// Reads and parses the config file.
pub(crate) fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
    let dict = read_toml(path, "the lookup")?;
    Ok(ConfigFile { path: path.to_path_buf(), dict, mode: unix_mode(path) })
}

/// Reads a TOML file into a dictionary; `named_by` says who named the file, for a missing one.
pub(crate) fn read_toml(path: &Path, named_by: &str) -> Result<Dict, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => {
            ConfigError::FileNotFound { path: path.to_path_buf(), named_by: named_by.into() }
        }
        _ => ConfigError::FileUnreadable { path: path.to_path_buf(), source },
    })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|source| ConfigError::FileSyntax { path: path.to_path_buf(), source })?;
    Ok(match Value::serialize(table) {
        Ok(Value::Dict(_, dict)) => dict,
        _ => Dict::new(),
    })
}

/// Permission bits of a file (unix only).
/// Whether `path` is a file of a Kubernetes Secret (or projected) volume: the kubelet writes
/// such a volume atomically, with each file a symlink into a `..data` folder beside it.
/// Kubernetes gives these files the group bits of the pod's `fsGroup` whatever `defaultMode`
/// says (kubernetes/kubernetes#57923): group-readable there means readable by the pod's own
/// group, not by other users of a machine.
pub(crate) fn in_kubernetes_secret_volume(path: &Path) -> bool {
    let Some(dir) = path.parent() else { return false };
    let data = dir.join("..data");
    let is_link =
        |p: &Path| std::fs::symlink_metadata(p).map(|m| m.file_type().is_symlink()).unwrap_or(false);
    is_link(&data) && is_link(path)
}

/// Whether a secret file's mode lets other users read it. Group bits are forgiven on a
/// Kubernetes Secret volume ([`in_kubernetes_secret_volume`]); world bits never are.
pub(crate) fn secret_file_exposed(path: &Path, mode: u32) -> bool {
    if mode & 0o007 != 0 {
        return true;
    }
    mode & 0o070 != 0 && !in_kubernetes_secret_volume(path)
}

pub(crate) fn unix_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}
