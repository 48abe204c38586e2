//! From merged sources to validated [`Settings`]: types, ranges, required values, URLs,
//! company names and secret files. Collects every problem instead of stopping at the first.

use std::path::{Path, PathBuf};

/// The longest text setting accepted: a path may be 4096 bytes (PATH_MAX); Consumer Keys,
/// secrets, tokens, URLs and versions are far shorter.
const MAX_TEXT_CHARS: usize = 4096;

use figment::value::{Dict, Value};
use figment::{Figment, Provider};
use secrecy::SecretString;
use sfconn_filter::CompanyFilter;

use crate::auth::AuthFlow;
use crate::environment::Environment;
use crate::error::{ConfigError, Origin, Problem};
use crate::keys::{self, Kind};
use crate::login_url::{LOGIN_URL_CHOICES, check_login_url};
use crate::sources::{self, ConfigFile};
use crate::{Entry, HttpSettings, LimitSettings, Loaded, Need, Settings};

/// Reads typed values out of the merged dictionary, recording problems.
pub(crate) struct Reader<'a> {
    figment: &'a Figment,
    merged: Dict,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        let mut parts = name.split('.');
        let mut value = self.merged.get(parts.next()?)?;
        for part in parts {
            match value {
                Value::Dict(_, dict) => value = dict.get(part)?,
                _ => return None,
            }
        }
        Some(value)
    }

    fn origin(&self, value: &Value) -> Origin {
        sources::origin_of(self.figment, value)
    }

    pub(crate) fn problem(&mut self, key: &str, origin: Option<Origin>, message: impl Into<String>) {
        self.problems.push(Problem { key: key.to_string(), origin, message: message.into() });
    }

    pub(crate) fn has_problem(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.key == key)
    }

    fn wrong_type(&mut self, key: &keys::Key, value: &Value, expected: &str) {
        let origin = self.origin(value);
        let found = describe(value, key.secret);
        self.problem(key.name, Some(origin), format!("must be {expected}, found {found}"));
    }

    /// A string setting, trimmed; blank counts as not set.
    /// A text setting; longer than [`MAX_TEXT_CHARS`] is a problem (never echoed).
    pub(crate) fn text(&mut self, name: &str) -> Option<(String, Origin)> {
        let key = keys::find(name)?;
        let value = self.lookup(name)?.clone();
        match &value {
            Value::String(_, s) if s.trim().is_empty() => None,
            Value::String(_, s) if s.trim().chars().count() > MAX_TEXT_CHARS => {
                let origin = self.origin(&value);
                let length = s.trim().chars().count();
                self.problem(
                    name,
                    Some(origin),
                    format!(
                        "the value is {length} characters long, more than any valid value (at most \
                         {MAX_TEXT_CHARS}); check what was pasted there"
                    ),
                );
                None
            }
            Value::String(_, s) => Some((s.trim().to_string(), self.origin(&value))),
            _ => {
                let expected = match key.kind {
                    Kind::Path => "a path (a string)",
                    _ if name == "api_version" => "a string such as \"62.0\" (in TOML, in quotes)",
                    _ => "a string",
                };
                self.wrong_type(key, &value, expected);
                None
            }
        }
    }

    fn integer(&mut self, name: &str) -> Option<(i128, Origin)> {
        let key = keys::find(name)?;
        let Kind::Integer { min, max } = key.kind else {
            return None;
        };
        let value = self.lookup(name)?.clone();
        let origin = self.origin(&value);
        let number = match &value {
            Value::Num(_, n) => whole_number(*n),
            _ => None,
        };
        match number {
            Some(n) if (min..=max).contains(&n) => Some((n, origin)),
            Some(n) => {
                self.problem(name, Some(origin), format!("must be from {min} to {max}, found {n}"));
                None
            }
            None => {
                self.wrong_type(key, &value, &format!("a whole number from {min} to {max}"));
                None
            }
        }
    }

    fn boolean(&mut self, name: &str) -> Option<(bool, Origin)> {
        let key = keys::find(name)?;
        let value = self.lookup(name)?.clone();
        match &value {
            Value::Bool(_, b) => Some((*b, self.origin(&value))),
            _ => {
                let expected = match self.origin(&value) {
                    Origin::Env { .. } => "true or false (also 1/0, yes/no, on/off)",
                    _ => "true or false (in TOML, without quotes)",
                };
                self.wrong_type(key, &value, expected);
                None
            }
        }
    }

    fn list(&mut self, name: &str) -> Option<(Vec<String>, Origin)> {
        let key = keys::find(name)?;
        let value = self.lookup(name)?.clone();
        let expected = "a list of strings, e.g. [\"acme.com\"]";
        let Value::Array(_, items) = &value else {
            self.wrong_type(key, &value, expected);
            return None;
        };
        let mut strings = Vec::new();
        for item in items {
            match item {
                Value::String(_, s) => strings.push(s.clone()),
                _ => {
                    self.wrong_type(key, &value, expected);
                    return None;
                }
            }
        }
        Some((strings, self.origin(&value)))
    }

    /// Reports keys that are not part of the schema, with the nearest known key.
    fn unknown_keys(&mut self) {
        let merged = self.merged.clone();
        for (name, value) in &merged {
            if keys::find(name).is_some() {
                continue;
            }
            if name == crate::prices::PRICES_TABLE {
                // Its keys are licence names: read by `prices`.
                continue;
            }
            if keys::TABLES.contains(&name.as_str()) {
                match value {
                    Value::Dict(_, table) => {
                        for (sub, sub_value) in table {
                            let full = format!("{name}.{sub}");
                            if keys::find(&full).is_none() {
                                self.unknown(&full, sub_value);
                            }
                        }
                    }
                    _ => {
                        let origin = self.origin(value);
                        let found = describe(value, false);
                        self.problem(
                            name,
                            Some(origin),
                            format!("must be a table (a [{name}] section), found {found}"),
                        );
                    }
                }
                continue;
            }
            self.unknown(name, value);
        }
    }

    fn unknown(&mut self, name: &str, value: &Value) {
        let origin = self.origin(value);
        let suggestion = keys::nearest(name);
        let message = match (&origin, suggestion) {
            (Origin::Env { .. }, Some(near)) => {
                format!("unknown sfconn environment variable; did you mean {}?", keys::env_for_key(near))
            }
            (Origin::Env { .. }, None) => {
                "unknown sfconn environment variable; see docs/configuration.md for the known ones"
                    .to_string()
            }
            (_, Some(near)) => format!("unknown key; did you mean `{near}`?"),
            (_, None) => "unknown key; see docs/configuration.md or `sfconn config init` for the known keys"
                .to_string(),
        };
        self.problem(name, Some(origin), message);
    }
}

/// The value of an integer of any width; `None` for floats and values beyond `i128`.
fn whole_number(n: figment::value::Num) -> Option<i128> {
    n.to_i128().or_else(|| n.to_u128().and_then(|u| i128::try_from(u).ok()))
}

/// How a wrong value is described in a message; secrets are described by type only.
fn describe(value: &Value, secret: bool) -> String {
    match value {
        Value::String(_, s) if !secret => format!("the string {s:?}"),
        Value::String(..) | Value::Char(..) => "a string".into(),
        Value::Num(_, n) if !secret => match (whole_number(*n), n.to_f64()) {
            (Some(i), _) => format!("the number {i}"),
            (None, Some(f)) => format!("the number {f:?}"),
            _ => "a number".into(),
        },
        Value::Num(..) => "a number".into(),
        Value::Bool(_, b) if !secret => format!("the boolean {b}"),
        Value::Bool(..) => "a boolean".into(),
        Value::Empty(..) => "an empty value".into(),
        Value::Dict(..) => "a table".into(),
        Value::Array(..) => "a list".into(),
    }
}

/// Defaults that depend on the environment.
pub(crate) struct Defaults {
    /// The default snapshot store, when `store.path` is not set.
    pub(crate) store_path: Option<PathBuf>,
}

/// Validates everything and builds [`Loaded`] (without `config_file`, set by the caller).
pub(crate) fn resolve(
    figment: &Figment,
    need: Need,
    env: &dyn Environment,
    early_problems: Vec<Problem>,
    defaults: &Defaults,
) -> Result<Loaded, ConfigError> {
    let merged = figment
        .data()
        .map_err(|e| ConfigError::Merge(Box::new(e)))?
        .remove(&figment::Profile::Default)
        .unwrap_or_default();
    let mut r = Reader { figment, merged, problems: early_problems };
    r.unknown_keys();
    let mut warnings = Vec::new();
    let cwd = env.current_dir();
    let home = sources::home_dir(env);

    let client_id = r.text("client_id");
    let client_secret = r.text("client_secret");
    let client_secret_file =
        r.text("client_secret_file").map(|(p, o)| (resolve_path(&p, &o, cwd.as_deref(), home.as_deref()), o));
    let refresh_token = r.text("refresh_token");
    let refresh_token_file =
        r.text("refresh_token_file").map(|(p, o)| (resolve_path(&p, &o, cwd.as_deref(), home.as_deref()), o));
    let login_url_setting = r.text("login_url");
    let company_names = r.list("company_names");
    let api_version = r.text("api_version");
    let csv_raw = r.boolean("csv_raw");
    let login_activity_days = r.integer("login_activity_days");
    let login_activity_bulk_threshold = r.integer("login_activity_bulk_threshold");
    let timeout_secs = r.integer("http.timeout_secs");
    let max_retries = r.integer("http.max_retries");
    let concurrency = r.integer("http.concurrency");
    let max_api_usage_percent = r.integer("limits.max_api_usage_percent");
    let fleet_concurrency = r.integer("fleet.concurrency");
    let min_logins = r.integer("report.min_logins");
    let paid_keys = r.list("report.paid_keys");
    let free_keys = r.list("report.free_keys");
    check_key_lists(&mut r, paid_keys.as_ref(), free_keys.as_ref());
    let exception_keys = r.list("unused_assignments.exception_keys");
    check_exception_keys(&mut r, exception_keys.as_ref());
    let prices = read_prices(&mut r);
    let store_path = r
        .text("store.path")
        .map(|(p, o)| (resolve_path(&p, &o, cwd.as_deref(), home.as_deref()), o))
        .or_else(|| defaults.store_path.clone().map(|p| (p, Origin::Default)));
    let explicit_path = store_path.clone().filter(|(_, origin)| *origin != Origin::Default);
    let given = crate::store::Given {
        path: explicit_path.as_ref(),
        url: r.text("store.url"),
        url_file: r
            .text("store.url_file")
            .map(|(p, o)| (resolve_path(&p, &o, cwd.as_deref(), home.as_deref()), o)),
        password_file: r
            .text("store.password_file")
            .map(|(p, o)| (resolve_path(&p, &o, cwd.as_deref(), home.as_deref()), o)),
    };
    let store = crate::store::resolve(&mut r, env, home.as_deref(), &given);
    // config check shows a store.path that was set even when the URL wins over it; the
    // default one only when it is the store.
    let shown_store_path =
        store_path.clone().filter(|(_, origin)| store.path_in_effect || *origin != Origin::Default);
    let store_path = store_path.filter(|_| store.path_in_effect);
    let auth = crate::auth::read(&mut r, need, &mut warnings, cwd.as_deref(), home.as_deref());
    let flow = auth.settings.flow;

    if client_id.is_none() && need != Need::StoreOnly && !r.problems.iter().any(|p| p.key == "client_id") {
        r.problem(
            "client_id",
            None,
            "missing: set the connected app's Consumer Key as client_id in the config file, SFCONN_CLIENT_ID or --client-id",
        );
    }

    // The client secret: inline or from a file, not both.
    let secret = secret_setting(
        &mut r,
        &mut warnings,
        SecretKeys { value: "client_secret", file: "client_secret_file", what: "Consumer Secret" },
        client_secret.as_ref(),
        client_secret_file.as_ref(),
        need != Need::StoreOnly,
    );
    if secret.is_none()
        && need == Need::Everything
        && flow.needs_client_secret()
        && !r.problems.iter().any(|p| p.key.starts_with("client_secret"))
    {
        r.problem(
            "client_secret",
            None,
            "missing: set SFCONN_CLIENT_SECRET to the connected app's Consumer Secret, or point client_secret_file \
             (--client-secret-file, SFCONN_CLIENT_SECRET_FILE) to a file holding it",
        );
    }
    let token = secret_setting(
        &mut r,
        &mut warnings,
        SecretKeys { value: "refresh_token", file: "refresh_token_file", what: "refresh token" },
        refresh_token.as_ref(),
        refresh_token_file.as_ref(),
        need == Need::Everything && flow.uses_refresh_token(),
    );
    if token.is_none()
        && need == Need::Everything
        && flow.uses_refresh_token()
        && !r.problems.iter().any(|p| p.key.starts_with("refresh_token"))
    {
        r.problem(
            "refresh_token",
            None,
            "missing: set SFCONN_REFRESH_TOKEN, or point refresh_token_file (--refresh-token-file, \
             SFCONN_REFRESH_TOKEN_FILE) to a file holding it; get one with `sfconn auth url --pkce` \
             and `sfconn auth exchange`, or choose a flow without one (auth.flow, docs/setup.md)",
        );
    }

    if auth.settings.rotated_tokens == crate::RotatedTokens::StateDir
        && flow.uses_refresh_token()
        && refresh_token_file.is_none()
        && need != Need::StoreOnly
        && !r.has_problem("auth.rotated_tokens")
    {
        r.problem(
            "auth.rotated_tokens",
            Some(auth.rotated_tokens_origin.clone()),
            "is \"state_dir\", which keeps rotated tokens beside a read-only refresh_token_file, but no \
             refresh_token_file is set: point refresh_token_file at the mounted token file, or remove \
             auth.rotated_tokens",
        );
    }

    let url = match &login_url_setting {
        Some((text, origin)) => match check_login_url(text).and_then(|url| {
            if flow == AuthFlow::ClientCredentials && need == Need::Everything {
                crate::auth::check_client_credentials_host(&url)?;
            }
            Ok(url)
        }) {
            Ok(url) => Some(url),
            Err(message) => {
                r.problem("login_url", Some(origin.clone()), message);
                None
            }
        },
        None => {
            if !r.problems.iter().any(|p| p.key == "login_url") {
                let origin = r.lookup("login_url").map(|v| r.origin(v));
                r.problem("login_url", origin, format!("is empty; {LOGIN_URL_CHOICES}"));
            }
            None
        }
    };

    if let Some((version, origin)) = &api_version
        && let Err(message) = check_api_version(version)
    {
        r.problem("api_version", Some(origin.clone()), message);
    }

    let names: Vec<String> = company_names
        .as_ref()
        .map(|(names, _)| names.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect())
        .unwrap_or_default();
    let mut filter = None;
    if let Some((_, origin)) = &company_names {
        let mut bad = false;
        for name in &names {
            if let Err(err) = CompanyFilter::parse([name]) {
                r.problem("company_names", Some(origin.clone()), err.to_string());
                bad = true;
            }
        }
        if !bad {
            filter = CompanyFilter::parse(&names).ok();
        }
    }

    let mut problems = r.problems;
    if !problems.is_empty() {
        let order = |key: &str| keys::KEYS.iter().position(|k| key.starts_with(k.name)).unwrap_or(usize::MAX);
        problems.sort_by_key(|p| order(&p.key));
        return Err(ConfigError::Invalid { problems });
    }

    let client_id = client_id.or_else(|| (need == Need::StoreOnly).then(|| (String::new(), Origin::Default)));
    // Every value below was validated above; a `None` here means "not set".
    let (Some((client_id, client_id_origin)), Some(login_url), Some(login_url_setting), Some(company_filter)) =
        (client_id, url, login_url_setting, filter)
    else {
        return Err(ConfigError::Invalid {
            problems: vec![Problem {
                key: "login_url".into(),
                origin: None,
                message: "internal error: a validated value is missing".into(),
            }],
        });
    };
    let number = |n: Option<(i128, Origin)>, default: i128| n.map_or((default, Origin::Default), |v| v);
    let (login_activity_days, days_origin) =
        number(login_activity_days, keys::DEFAULT_LOGIN_ACTIVITY_DAYS.into());
    let login_activity_days = u32::try_from(login_activity_days).unwrap_or(keys::DEFAULT_LOGIN_ACTIVITY_DAYS);
    let (login_activity_bulk_threshold, threshold_origin) =
        number(login_activity_bulk_threshold, keys::DEFAULT_LOGIN_ACTIVITY_BULK_THRESHOLD.into());
    let login_activity_bulk_threshold =
        u64::try_from(login_activity_bulk_threshold).unwrap_or(keys::DEFAULT_LOGIN_ACTIVITY_BULK_THRESHOLD);
    let (timeout_secs, timeout_origin) = number(timeout_secs, keys::DEFAULT_TIMEOUT_SECS.into());
    let (max_retries, retries_origin) = number(max_retries, keys::DEFAULT_MAX_RETRIES.into());
    let (concurrency, concurrency_origin) = number(concurrency, keys::DEFAULT_CONCURRENCY as i128);
    let (max_api_usage_percent, usage_origin) =
        number(max_api_usage_percent, keys::DEFAULT_MAX_API_USAGE_PERCENT.into());
    let (csv_raw, csv_raw_origin) = csv_raw.unwrap_or((keys::DEFAULT_CSV_RAW, Origin::Default));
    let (fleet_concurrency, fleet_origin) =
        number(fleet_concurrency, keys::DEFAULT_FLEET_CONCURRENCY as i128);
    let fleet_concurrency = usize::try_from(fleet_concurrency).unwrap_or(keys::DEFAULT_FLEET_CONCURRENCY);
    let (min_logins, min_logins_origin) = number(min_logins, keys::DEFAULT_MIN_LOGINS.into());
    let report_min_logins = u32::try_from(min_logins).unwrap_or(keys::DEFAULT_MIN_LOGINS);

    let timeout_secs = u64::try_from(timeout_secs).unwrap_or(keys::DEFAULT_TIMEOUT_SECS);
    let max_retries = u32::try_from(max_retries).unwrap_or(keys::DEFAULT_MAX_RETRIES);
    let concurrency = usize::try_from(concurrency).unwrap_or(keys::DEFAULT_CONCURRENCY);
    let max_api_usage_percent =
        u8::try_from(max_api_usage_percent).unwrap_or(keys::DEFAULT_MAX_API_USAGE_PERCENT);
    let shown_path = |p: &Option<(PathBuf, Origin)>| match p {
        Some((path, origin)) => (serde_json::Value::from(path.to_string_lossy().as_ref()), origin.clone()),
        None => (serde_json::Value::Null, Origin::Default),
    };
    let shown_secret = |s: &Option<SecretValue>| match s {
        Some(secret) => (serde_json::Value::from("***"), secret.origin.clone()),
        None => (serde_json::Value::Null, Origin::Default),
    };
    let (login_text, login_origin) = login_url_setting;
    let (company_value, company_origin) = match company_names {
        Some((_, origin)) => (serde_json::Value::from(names.clone()), origin),
        None => (serde_json::Value::from(vec!["*"]), Origin::Default),
    };
    let mut entries = vec![
        ("client_id", (serde_json::Value::from(client_id.as_str()), client_id_origin)),
        ("client_secret", shown_secret(&secret)),
        ("client_secret_file", shown_path(&client_secret_file)),
        ("refresh_token", shown_secret(&token)),
        ("refresh_token_file", shown_path(&refresh_token_file)),
        ("login_url", (serde_json::Value::from(login_text), login_origin)),
        ("company_names", (company_value, company_origin)),
        (
            "api_version",
            match &api_version {
                Some((v, o)) => (serde_json::Value::from(v.as_str()), o.clone()),
                None => (serde_json::Value::Null, Origin::Default),
            },
        ),
        ("csv_raw", (serde_json::Value::from(csv_raw), csv_raw_origin)),
        ("login_activity_days", (serde_json::Value::from(login_activity_days), days_origin)),
        (
            "login_activity_bulk_threshold",
            (serde_json::Value::from(login_activity_bulk_threshold), threshold_origin),
        ),
        ("http.timeout_secs", (serde_json::Value::from(timeout_secs), timeout_origin)),
        ("http.max_retries", (serde_json::Value::from(max_retries), retries_origin)),
        ("http.concurrency", (serde_json::Value::from(concurrency), concurrency_origin)),
        ("limits.max_api_usage_percent", (serde_json::Value::from(max_api_usage_percent), usage_origin)),
        ("store.path", shown_path(&shown_store_path)),
        ("auth.flow", (serde_json::Value::from(flow.as_str()), auth.flow_origin)),
        (
            "auth.rotated_tokens",
            (
                serde_json::Value::from(auth.settings.rotated_tokens.as_str()),
                auth.rotated_tokens_origin.clone(),
            ),
        ),
        (
            "auth.username",
            (
                auth.settings.username.as_deref().map_or(serde_json::Value::Null, serde_json::Value::from),
                auth.username_origin,
            ),
        ),
        (
            "auth.private_key_file",
            (
                auth.settings.private_key_file.as_ref().map_or(serde_json::Value::Null, |p| {
                    serde_json::Value::from(p.to_string_lossy().as_ref())
                }),
                auth.key_file_origin,
            ),
        ),
        ("fleet.concurrency", (serde_json::Value::from(fleet_concurrency), fleet_origin)),
        ("report.min_logins", (serde_json::Value::from(report_min_logins), min_logins_origin)),
        ("report.paid_keys", shown_list(paid_keys.as_ref())),
        ("report.free_keys", shown_list(free_keys.as_ref())),
        ("unused_assignments.exception_keys", shown_list(exception_keys.as_ref())),
    ];
    let (prices, price_entries) = prices.unwrap_or((None, Vec::new()));
    if price_entries.is_empty() {
        entries.push(("prices", (serde_json::Value::Null, Origin::Default)));
    }
    let after_path =
        entries.iter().position(|(key, _)| *key == "store.path").map_or(entries.len(), |at| at + 1);
    entries.splice(after_path..after_path, store.entries);
    let entries = entries
        .into_iter()
        .map(|(key, (value, origin))| Entry { key: key.to_string(), value, origin })
        .chain(price_entries)
        .collect();

    let settings = Settings {
        client_id,
        client_secret: secret.map(|s| s.value),
        client_secret_file: client_secret_file.map(|(p, _)| p),
        refresh_token: token.map(|s| s.value),
        refresh_token_file: refresh_token_file.map(|(p, _)| p),
        login_url,
        company_names: names,
        company_filter,
        api_version: api_version.map(|(v, _)| v),
        csv_raw,
        login_activity_days,
        login_activity_bulk_threshold,
        http: HttpSettings { timeout_secs, max_retries, concurrency },
        limits: LimitSettings { max_api_usage_percent },
        store_path: store_path.map(|(p, _)| p),
        store_url: store.url,
        state_dir: None,
        auth: auth.settings,
        org: None,
        fleet_concurrency,
        report_min_logins,
        report_paid_keys: clean_keys(paid_keys),
        report_free_keys: clean_keys(free_keys),
        prices,
        unused_assignment_exception_keys: clean_keys(exception_keys),
    };
    Ok(Loaded { settings, entries, warnings, config_file: None })
}

/// A list setting as `config check` shows it (`[]` by default).
fn shown_list(list: Option<&(Vec<String>, Origin)>) -> (serde_json::Value, Origin) {
    match list {
        Some((items, origin)) => {
            (serde_json::Value::from(clean_keys(Some((items.clone(), origin.clone())))), origin.clone())
        }
        None => (serde_json::Value::from(Vec::<String>::new()), Origin::Default),
    }
}

/// The keys of a list setting, trimmed, blank ones left out.
fn clean_keys(list: Option<(Vec<String>, Origin)>) -> Vec<String> {
    list.map(|(items, _)| items.into_iter().map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect())
        .unwrap_or_default()
}

/// A key in both `report.paid_keys` and `report.free_keys` (ignoring case) is refused.
fn check_key_lists(
    r: &mut Reader<'_>,
    paid: Option<&(Vec<String>, Origin)>,
    free: Option<&(Vec<String>, Origin)>,
) {
    let (Some((paid, paid_origin)), Some((free, free_origin))) = (paid, free) else {
        return;
    };
    for key in paid.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        if free.iter().any(|f| f.trim().eq_ignore_ascii_case(key)) {
            r.problem(
                "report.paid_keys",
                Some(paid_origin.clone()),
                format!(
                    "{key:?} is in both report.paid_keys and report.free_keys ({free_origin}): keep it in one"
                ),
            );
        }
    }
}

/// The longest `PermissionSetLicenseKey` Salesforce allows (the field's length).
const MAX_LICENCE_KEY_LEN: usize = 81;

/// Each `unused_assignments.exception_keys` entry must be able to be a `PermissionSetLicenseKey`:
/// at most 81 characters of letters, digits and `_` (a name with spaces or a label is refused,
/// so that a wrong entry does not silently except nothing).
fn check_exception_keys(r: &mut Reader<'_>, keys: Option<&(Vec<String>, Origin)>) {
    let Some((keys, origin)) = keys else {
        return;
    };
    for key in keys.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        let valid =
            key.len() <= MAX_LICENCE_KEY_LEN && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            r.problem(
                "unused_assignments.exception_keys",
                Some(origin.clone()),
                format!(
                    "{key:?} is not a PermissionSetLicenseKey (at most {MAX_LICENCE_KEY_LEN} letters, digits or \
                     `_`, e.g. \"IdentityConnect\"): use the key, not the licence's label"
                ),
            );
        }
    }
}

/// The `[prices]` table: the price list and its `config check` entries; None when it has
/// problems (recorded). Only the config file's top level may hold it.
fn read_prices(r: &mut Reader<'_>) -> Option<(Option<crate::PriceList>, Vec<Entry>)> {
    use crate::prices::{CURRENCY_KEY, PRICES_TABLE, from_table, price_key};
    let value = r.merged.get(PRICES_TABLE)?.clone();
    let origin = r.origin(&value);
    let Value::Dict(_, table) = &value else {
        let found = describe(&value, false);
        r.problem(PRICES_TABLE, Some(origin), format!("must be a table (a [prices] section), found {found}"));
        return None;
    };
    let mut bad_origin = false;
    for (name, item) in table {
        let item_origin = r.origin(item);
        if !matches!(item_origin, Origin::File { .. }) {
            r.problem(
                &price_key(name),
                Some(item_origin),
                "prices are read from the [prices] table at the top level of the config file, or from report --prices FILE; not from the environment or an [orgs.NAME] table",
            );
            bad_origin = true;
        }
    }
    if bad_origin {
        return None;
    }
    let mut problems = Vec::new();
    let list = from_table(table, |v| sources::origin_of(r.figment, v), &mut problems);
    let failed = !problems.is_empty();
    r.problems.extend(problems);
    if failed {
        return None;
    }
    let mut entries = Vec::new();
    if let Some(list) = &list {
        let currency_origin = table.get(CURRENCY_KEY).map_or(Origin::Default, |v| r.origin(v));
        entries.push(Entry {
            key: format!("{PRICES_TABLE}.{CURRENCY_KEY}"),
            value: serde_json::Value::from(list.currency.as_str()),
            origin: currency_origin,
        });
        for price in &list.entries {
            let origin = table.get(&price.licence).map_or(Origin::Default, |v| r.origin(v));
            entries.push(Entry { key: price_key(&price.licence), value: price.shown.clone(), origin });
        }
    }
    Some((list, entries))
}

/// A secret and where it came from.
pub(crate) struct SecretValue {
    pub(crate) value: SecretString,
    pub(crate) origin: Origin,
}

/// The pair of keys that can provide one secret.
#[derive(Clone, Copy)]
pub(crate) struct SecretKeys {
    pub(crate) value: &'static str,
    pub(crate) file: &'static str,
    pub(crate) what: &'static str,
}

/// The secret from its inline key or its file key (read only when `read_file`).
pub(crate) fn secret_setting(
    r: &mut Reader<'_>,
    warnings: &mut Vec<String>,
    keys: SecretKeys,
    inline: Option<&(String, Origin)>,
    file: Option<&(PathBuf, Origin)>,
    read_file: bool,
) -> Option<SecretValue> {
    match (inline, file) {
        (Some((_, inline_origin)), Some((_, file_origin))) if read_file => {
            r.problem(
                keys.value,
                Some(inline_origin.clone()),
                format!("both `{}` and `{}` ({file_origin}) are set; keep only one", keys.value, keys.file),
            );
            None
        }
        (Some((text, origin)), _) => {
            Some(SecretValue { value: SecretString::from(text.clone()), origin: origin.clone() })
        }
        (None, Some((path, origin))) if read_file => match read_secret_file(path, keys.what) {
            Ok(value) => {
                if let Some(mode) =
                    sources::unix_mode(path).filter(|m| sources::secret_file_exposed(path, *m))
                {
                    warnings.push(format!(
                        "{} {} holds the {} and other users can read it (mode {mode:03o}); run `chmod 600 {}`",
                        keys.file,
                        path.display(),
                        keys.what,
                        path.display()
                    ));
                }
                Some(SecretValue { value, origin: Origin::SecretFile { path: path.clone() } })
            }
            Err(message) => {
                r.problem(keys.file, Some(origin.clone()), message);
                None
            }
        },
        _ => None,
    }
}

/// Reads a file holding one secret; the content is trimmed and must not be blank.
fn read_secret_file(path: &Path, what: &str) -> Result<SecretString, String> {
    let text = std::fs::read_to_string(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => format!(
            "{} does not exist; create it holding only the {what}, or correct the path",
            path.display()
        ),
        std::io::ErrorKind::InvalidData => {
            format!("{} is not UTF-8 text; it must hold only the {what}", path.display())
        }
        _ => format!("cannot read {}: {err}", path.display()),
    })?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("{} is empty; it must hold the {what}", path.display()));
    }
    Ok(SecretString::from(trimmed.to_string()))
}

/// Expands a leading `~` and makes a relative path absolute: relative to the config file's
/// directory for a value from the config file, else to the current directory.
pub(crate) fn resolve_path(text: &str, origin: &Origin, cwd: Option<&Path>, home: Option<&Path>) -> PathBuf {
    let path = match (text.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home.to_path_buf(),
        (Some(rest), Some(home)) if rest.starts_with('/') || rest.starts_with(std::path::MAIN_SEPARATOR) => {
            home.join(&rest[1..])
        }
        _ => PathBuf::from(text),
    };
    let base = match origin {
        Origin::File { path } | Origin::OrgTable { path, .. } => path.parent(),
        _ => cwd,
    };
    sources::absolute(&path, base)
}

/// `62.0`: a major version, a dot, a minor version.
fn check_api_version(text: &str) -> Result<(), String> {
    let valid = |s: &str| {
        s.split_once('.').is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && !major.starts_with('0')
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
    };
    if valid(text) {
        return Ok(());
    }
    let hint = match text.strip_prefix(['v', 'V']) {
        Some(rest) if valid(rest) => format!(" (did you mean \"{rest}\"?)"),
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => {
            format!(" (did you mean \"{rest}.0\"?)")
        }
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            format!(" (did you mean \"{text}.0\"?)")
        }
        _ => String::new(),
    };
    Err(format!(
        "{text:?} is not an API version: it must look like \"62.0\"{hint}, or be left unset for the newest the org offers"
    ))
}

/// A warning when the config file holds a secret and others can read it.
pub(crate) fn exposed_config_file(file: &ConfigFile) -> Option<String> {
    let secrets: Vec<&str> =
        ["client_secret", "refresh_token"].into_iter().filter(|k| file.dict.contains_key(*k)).collect();
    let mode = file.mode?;
    if secrets.is_empty() || mode & 0o077 == 0 {
        return None;
    }
    Some(format!(
        "config file {} holds {} and other users can read it (mode {mode:03o}); run `chmod 600 {}`, \
         or move the secret to SFCONN_{} or a *_file setting",
        file.path.display(),
        secrets.join(" and "),
        file.path.display(),
        secrets[0].to_uppercase()
    ))
}
