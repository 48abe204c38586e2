//! Settings loading end to end over real files in a temporary directory and an injected
//! environment: precedence per key, config-file lookup, every validation error, secrets.

use std::fs;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use serde_json::json;
use sfconn_config::{
    ConfigError, Flags, Loaded, MapEnvironment, Need, Origin, RotatedTokens, TEMPLATE, keys, load_with,
};
use sfconn_errors::{Classify, ErrorClass};
use sfconn_filter::CompanyFilter;
use tempfile::TempDir;

/// A temporary working directory with a home directory inside it.
struct Sandbox {
    dir: TempDir,
    env: MapEnvironment,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let home = dir.path().join("home");
        fs::create_dir_all(&work).unwrap();
        fs::create_dir_all(&home).unwrap();
        let env = MapEnvironment::in_dir(&work).with("HOME", home.to_str().unwrap());
        Sandbox { dir, env }
    }

    /// The required credentials in the environment.
    fn with_credentials() -> Self {
        let mut sandbox = Self::new();
        sandbox.set("SFCONN_CLIENT_ID", "env-id");
        sandbox.set("SFCONN_CLIENT_SECRET", "env-secret");
        sandbox.set("SFCONN_REFRESH_TOKEN", "env-token");
        sandbox
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn work(&self) -> PathBuf {
        self.root().join("work")
    }

    fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    fn set(&mut self, var: &str, value: &str) {
        self.env.vars.insert(var.to_string(), value.to_string());
    }

    fn unset(&mut self, var: &str) {
        self.env.vars.remove(var);
    }

    /// Writes `text` at `relative` (under the sandbox root) with mode 0600; returns the path.
    fn file(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.root().join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        set_mode(&path, 0o600);
        path
    }

    /// Writes `./sfconn.toml` in the working directory.
    fn config(&self, text: &str) -> PathBuf {
        self.file("work/sfconn.toml", text)
    }

    fn load(&self, flags: &Flags) -> Result<Loaded, ConfigError> {
        load_with(flags, Need::Everything, &self.env)
    }

    fn load_ok(&self, flags: &Flags) -> Loaded {
        match self.load(flags) {
            Ok(loaded) => loaded,
            Err(err) => panic!("expected valid settings, got: {err}"),
        }
    }

    /// The error message with the sandbox path replaced by `[TMP]`.
    fn error(&self, flags: &Flags, need: Need) -> String {
        match load_with(flags, need, &self.env) {
            Ok(loaded) => panic!("expected an error, got {:?}", loaded.settings),
            Err(err) => {
                assert_eq!(err.class(), ErrorClass::Configuration);
                err.to_string().replace(self.root().to_str().unwrap(), "[TMP]")
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn entry(loaded: &Loaded, key: &str) -> (serde_json::Value, Origin) {
    let entry = loaded.entries.iter().find(|e| e.key == key).unwrap();
    (entry.value.clone(), entry.origin.clone())
}

fn env_origin(var: &str) -> Origin {
    Origin::Env { var: var.into() }
}

fn flag_origin(flag: &str) -> Origin {
    Origin::Flag { flag: flag.into() }
}

// ---------------------------------------------------------------- defaults and precedence

#[test]
fn defaults_apply_when_nothing_else_is_set() {
    let sandbox = Sandbox::with_credentials();
    let loaded = sandbox.load_ok(&Flags::default());
    let s = &loaded.settings;
    assert_eq!(s.login_url.as_str(), "https://login.salesforce.com/");
    assert_eq!(s.company_names, ["*"]);
    assert_eq!(s.company_filter, CompanyFilter::Everyone);
    assert_eq!(s.api_version, None);
    assert_eq!((s.http.timeout_secs, s.http.max_retries, s.http.concurrency), (60, 5, 4));
    assert_eq!(s.limits.max_api_usage_percent, 90);
    assert_eq!(s.client_secret_file, None);
    assert_eq!(s.refresh_token_file, None);
    assert_eq!(loaded.config_file, None);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    for key in
        ["login_url", "company_names", "api_version", "http.timeout_secs", "limits.max_api_usage_percent"]
    {
        assert_eq!(entry(&loaded, key).1, Origin::Default, "{key}");
    }
    assert_eq!(entry(&loaded, "company_names").0, json!(["*"]));
    assert_eq!(entry(&loaded, "api_version").0, json!(null));
    assert!(!s.csv_raw, "CSV cells are neutralised unless asked otherwise");
    assert_eq!(entry(&loaded, "csv_raw"), (json!(false), Origin::Default));
}

#[test]
fn csv_raw_reads_the_usual_spellings_of_a_boolean_from_the_environment() {
    for (text, expected) in [("1", true), ("TRUE", true), ("on", true), ("0", false), ("false", false)] {
        let mut sandbox = Sandbox::with_credentials();
        sandbox.set("SFCONN_CSV_RAW", text);
        assert_eq!(sandbox.load_ok(&Flags::default()).settings.csv_raw, expected, "{text}");
    }
}

#[test]
fn entries_list_every_key_in_schema_order() {
    let loaded = Sandbox::with_credentials().load_ok(&Flags::default());
    // `store.password` is shown (where the store's password comes from), never set; `prices`
    // (not set) last, the price list not being a key of the schema.
    let listed: Vec<&str> = loaded
        .entries
        .iter()
        .map(|e| e.key.as_str())
        .filter(|key| *key != "store.password" && *key != "prices")
        .collect();
    assert_eq!(
        loaded.entries.last().map(|e| (e.key.as_str(), e.value.clone())),
        Some(("prices", json!(null)))
    );
    let schema: Vec<&str> = keys::KEYS.iter().map(|k| k.name).collect();
    assert_eq!(listed, schema);
}

/// Sets one flag.
type SetFlag = fn(&mut Flags);

/// One key of the precedence matrix: its value at each level, as TOML, env text and flag.
struct Row {
    key: &'static str,
    default: Option<serde_json::Value>,
    file: (&'static str, serde_json::Value),
    env: (&'static str, serde_json::Value),
    flag: Option<(SetFlag, serde_json::Value)>,
    /// Base keys to leave out of the file for this row (a conflicting sibling).
    without: &'static [&'static str],
}

#[test]
fn precedence_matrix_default_file_env_flag_for_every_key() {
    let base = [
        ("client_id", "\"base-id\""),
        ("client_secret", "\"base-secret\""),
        ("refresh_token", "\"base-token\""),
    ];
    let rows = vec![
        Row {
            key: "client_id",
            default: None,
            file: ("\"file-id\"", json!("file-id")),
            env: ("env-id", json!("env-id")),
            flag: Some((|f| f.client_id = Some("flag-id".into()), json!("flag-id"))),
            without: &[],
        },
        Row {
            key: "client_secret",
            default: None,
            file: ("\"file-secret\"", json!("***")),
            env: ("env-secret", json!("***")),
            flag: None,
            without: &[],
        },
        Row {
            key: "refresh_token",
            default: None,
            file: ("\"file-token\"", json!("***")),
            env: ("env-token", json!("***")),
            flag: None,
            without: &[],
        },
        Row {
            key: "client_secret_file",
            default: None,
            file: ("\"s-file\"", json!("[TMP]/work/s-file")),
            env: ("s-env", json!("[TMP]/work/s-env")),
            flag: Some((|f| f.client_secret_file = Some("s-flag".into()), json!("[TMP]/work/s-flag"))),
            without: &["client_secret"],
        },
        Row {
            key: "refresh_token_file",
            default: None,
            file: ("\"t-file\"", json!("[TMP]/work/t-file")),
            env: ("t-env", json!("[TMP]/work/t-env")),
            flag: Some((|f| f.refresh_token_file = Some("t-flag".into()), json!("[TMP]/work/t-flag"))),
            without: &["refresh_token"],
        },
        Row {
            key: "login_url",
            default: Some(json!("https://login.salesforce.com")),
            file: ("\"https://test.salesforce.com\"", json!("https://test.salesforce.com")),
            env: ("https://acme.my.salesforce.com", json!("https://acme.my.salesforce.com")),
            flag: Some((
                |f| f.login_url = Some("http://127.0.0.1:8080".into()),
                json!("http://127.0.0.1:8080"),
            )),
            without: &[],
        },
        Row {
            key: "company_names",
            default: Some(json!(["*"])),
            file: ("[\"file.com\"]", json!(["file.com"])),
            env: ("env.com, env.io", json!(["env.com", "env.io"])),
            flag: Some((
                |f| f.company_names = vec!["flag.com".into(), "flag.io".into()],
                json!(["flag.com", "flag.io"]),
            )),
            without: &[],
        },
        Row {
            key: "api_version",
            default: Some(json!(null)),
            file: ("\"60.0\"", json!("60.0")),
            env: ("61.0", json!("61.0")),
            flag: Some((|f| f.api_version = Some("62.0".into()), json!("62.0"))),
            without: &[],
        },
        Row {
            key: "csv_raw",
            default: Some(json!(false)),
            file: ("true", json!(true)),
            env: ("no", json!(false)),
            flag: Some((|f| f.csv_raw = true, json!(true))),
            without: &[],
        },
        Row {
            key: "login_activity_days",
            default: Some(json!(0)),
            file: ("30", json!(30)),
            env: ("90", json!(90)),
            flag: Some((|f| f.login_activity_days = Some(7), json!(7))),
            without: &[],
        },
        Row {
            key: "login_activity_bulk_threshold",
            default: Some(json!(100_000)),
            file: ("5", json!(5)),
            env: ("0", json!(0)),
            flag: None,
            without: &[],
        },
        Row {
            key: "http.timeout_secs",
            default: Some(json!(60)),
            file: ("10", json!(10)),
            env: ("20", json!(20)),
            flag: None,
            without: &[],
        },
        Row {
            key: "http.max_retries",
            default: Some(json!(5)),
            file: ("0", json!(0)),
            env: ("20", json!(20)),
            flag: None,
            without: &[],
        },
        Row {
            key: "http.concurrency",
            default: Some(json!(4)),
            file: ("1", json!(1)),
            env: ("32", json!(32)),
            flag: None,
            without: &[],
        },
        Row {
            key: "limits.max_api_usage_percent",
            default: Some(json!(90)),
            file: ("50", json!(50)),
            env: ("100", json!(100)),
            flag: None,
            without: &[],
        },
        Row {
            key: "store.path",
            default: Some(json!("[TMP]/home/.local/share/sfconn/history.db")),
            file: ("\"history.db\"", json!("[TMP]/work/history.db")),
            env: ("env.db", json!("[TMP]/work/env.db")),
            flag: None,
            without: &[],
        },
        Row {
            key: "store.url",
            default: Some(json!(null)),
            file: ("\"postgres://file@db.example/h\"", json!("postgres://file@db.example/h")),
            env: ("postgresql://env@db.example/h", json!("postgresql://env@db.example/h")),
            flag: Some((
                |f| f.store_url = Some("postgres://flag@db.example/h".into()),
                json!("postgres://flag@db.example/h"),
            )),
            without: &[],
        },
        Row {
            key: "store.url_file",
            default: None,
            file: ("\"u-file\"", json!("[TMP]/work/u-file")),
            env: ("u-env", json!("[TMP]/work/u-env")),
            flag: None,
            without: &[],
        },
        Row {
            key: "store.password_file",
            default: None,
            file: ("\"p-file\"", json!("[TMP]/work/p-file")),
            env: ("p-env", json!("[TMP]/work/p-env")),
            flag: None,
            without: &[],
        },
        Row {
            key: "auth.flow",
            default: Some(json!("refresh_token")),
            file: ("\"refresh_token\"", json!("refresh_token")),
            env: ("Refresh-Token", json!("refresh_token")),
            flag: None,
            without: &[],
        },
        Row {
            key: "auth.rotated_tokens",
            default: Some(json!("refresh_token_file")),
            // "state_dir" needs a refresh_token_file, which the base has not: the origins show
            // the precedence here, the values are one.
            file: ("\"refresh_token_file\"", json!("refresh_token_file")),
            env: ("Refresh-Token-File", json!("refresh_token_file")),
            flag: None,
            without: &[],
        },
        Row {
            key: "auth.username",
            default: Some(json!(null)),
            file: ("\"file@acme.com\"", json!("file@acme.com")),
            env: ("env@acme.com", json!("env@acme.com")),
            flag: None,
            without: &[],
        },
        Row {
            key: "auth.private_key_file",
            default: Some(json!(null)),
            file: ("\"file.key\"", json!("[TMP]/work/file.key")),
            env: ("env.key", json!("[TMP]/work/env.key")),
            flag: None,
            without: &[],
        },
        Row {
            key: "fleet.concurrency",
            default: Some(json!(2)),
            file: ("1", json!(1)),
            env: ("16", json!(16)),
            flag: None,
            without: &[],
        },
        Row {
            key: "report.min_logins",
            default: Some(json!(5)),
            file: ("3", json!(3)),
            env: ("12", json!(12)),
            flag: Some((|f| f.min_logins = Some(20), json!(20))),
            without: &[],
        },
        Row {
            key: "report.paid_keys",
            default: Some(json!([])),
            file: ("[\"PID_WDC_Only\", \" \"]", json!(["PID_WDC_Only"])),
            env: ("AUL, sfdc", json!(["AUL", "sfdc"])),
            flag: None,
            without: &[],
        },
        Row {
            key: "report.free_keys",
            default: Some(json!([])),
            file: ("[\"CLOUD_INTEGRATION_USER\"]", json!(["CLOUD_INTEGRATION_USER"])),
            env: ("PID_CHATTER", json!(["PID_CHATTER"])),
            flag: None,
            without: &[],
        },
        Row {
            key: "unused_assignments.exception_keys",
            default: Some(json!([])),
            file: ("[\"SalesConsoleUser\", \"\"]", json!(["SalesConsoleUser"])),
            env: ("IdentityConnect, CPQ_Perm", json!(["IdentityConnect", "CPQ_Perm"])),
            flag: None,
            without: &[],
        },
    ];
    assert_eq!(rows.len(), keys::KEYS.len(), "every key has a row");

    for row in &rows {
        let key = keys::find(row.key).unwrap();
        let run = |with_file: bool, with_env: bool, with_flag: bool| {
            let sandbox = Sandbox::new();
            for name in ["s-file", "s-env", "s-flag", "t-file", "t-env", "t-flag", "p-file", "p-env"] {
                sandbox.file(&format!("work/{name}"), &format!("{name}-content\n"));
            }
            for name in ["u-file", "u-env"] {
                sandbox.file(&format!("work/{name}"), &format!("postgres://{name}@db.example/h\n"));
            }
            let mut toml = String::new();
            for (k, v) in base {
                if k != row.key && !row.without.contains(&k) {
                    toml.push_str(&format!("{k} = {v}\n"));
                }
            }
            if with_file {
                toml.push_str(&format!("{} = {}\n", row.key, row.file.0));
            }
            let config = sandbox.config(&toml);
            let mut sandbox = sandbox;
            if with_env {
                sandbox.set(key.env, row.env.0);
            }
            let mut flags = Flags::default();
            if with_flag {
                (row.flag.as_ref().unwrap().0)(&mut flags);
            }
            let loaded = sandbox.load_ok(&flags);
            let (value, origin) = entry(&loaded, row.key);
            let root = sandbox.root().to_str().unwrap().to_string();
            let value: serde_json::Value =
                serde_json::from_str(&value.to_string().replace(&root, "[TMP]")).unwrap();
            (value, origin, config, loaded)
        };

        if let Some(default) = &row.default {
            let (value, origin, ..) = run(false, false, false);
            assert_eq!(&value, default, "{}: default value", row.key);
            assert_eq!(origin, Origin::Default, "{}: default origin", row.key);
        }
        let (value, origin, config, _) = run(true, false, false);
        assert_eq!(value, row.file.1, "{}: file value", row.key);
        assert_eq!(origin, Origin::File { path: config }, "{}: file origin", row.key);

        let (value, origin, ..) = run(true, true, false);
        assert_eq!(value, row.env.1, "{}: env beats file", row.key);
        assert_eq!(origin, env_origin(key.env), "{}: env origin", row.key);

        if let Some((_, flag_value)) = &row.flag {
            let (value, origin, ..) = run(true, true, true);
            assert_eq!(&value, flag_value, "{}: flag beats env", row.key);
            assert_eq!(origin, flag_origin(key.flag.unwrap()), "{}: flag origin", row.key);
        }
    }
}

#[test]
fn secrets_reach_settings_from_each_level() {
    let sandbox = Sandbox::with_credentials();
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(loaded.settings.client_secret.as_ref().unwrap().expose_secret(), "env-secret");
    assert_eq!(loaded.settings.refresh_token.as_ref().unwrap().expose_secret(), "env-token");

    let mut sandbox = Sandbox::new();
    sandbox.config("client_id = \"id\"\nclient_secret = \" file-secret \"\nrefresh_token = \"file-token\"\n");
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(loaded.settings.client_secret.as_ref().unwrap().expose_secret(), "file-secret");
    sandbox.set("SFCONN_REFRESH_TOKEN", "env-token");
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(loaded.settings.refresh_token.as_ref().unwrap().expose_secret(), "env-token");
}

#[test]
fn secret_files_are_read_trimmed_and_shown_as_read_from() {
    let mut sandbox = Sandbox::new();
    let secret = sandbox.file("secrets/secret", "  the-secret \n");
    let token = sandbox.file("secrets/token", "the-token\r\n");
    sandbox.set("SFCONN_CLIENT_ID", "id");
    sandbox.set("SFCONN_CLIENT_SECRET_FILE", secret.to_str().unwrap());
    let flags = Flags { refresh_token_file: Some(token.clone()), ..Flags::default() };
    let loaded = sandbox.load_ok(&flags);
    let s = &loaded.settings;
    assert_eq!(s.client_secret.as_ref().unwrap().expose_secret(), "the-secret");
    assert_eq!(s.refresh_token.as_ref().unwrap().expose_secret(), "the-token");
    assert_eq!(s.client_secret_file.as_deref(), Some(secret.as_path()));
    assert_eq!(s.refresh_token_file.as_deref(), Some(token.as_path()));
    assert_eq!(entry(&loaded, "client_secret"), (json!("***"), Origin::SecretFile { path: secret.clone() }));
    assert_eq!(entry(&loaded, "refresh_token"), (json!("***"), Origin::SecretFile { path: token.clone() }));
    assert_eq!(entry(&loaded, "refresh_token_file").1, flag_origin("--refresh-token-file"));
}

#[test]
fn relative_paths_follow_their_source_and_tilde_is_home() {
    let mut sandbox = Sandbox::new();
    sandbox.file("etc/sfconn/secret", "s");
    sandbox.file("home/token", "t");
    let config = sandbox.file(
        "etc/sfconn/config.toml",
        "client_id = \"id\"\nclient_secret_file = \"secret\"\nrefresh_token_file = \"~/token\"\n",
    );
    let flags = Flags { config: Some(config), ..Flags::default() };
    let loaded = sandbox.load_ok(&flags);
    assert_eq!(
        loaded.settings.client_secret_file,
        Some(sandbox.root().join("etc/sfconn/secret")),
        "relative to the config file's directory"
    );
    assert_eq!(loaded.settings.refresh_token_file, Some(sandbox.home().join("token")));

    // From the environment, relative to the current directory.
    sandbox.file("work/token2", "t2");
    sandbox.set("SFCONN_REFRESH_TOKEN_FILE", "token2");
    let loaded = sandbox.load_ok(&flags);
    assert_eq!(loaded.settings.refresh_token_file, Some(sandbox.work().join("token2")));
    assert_eq!(loaded.settings.refresh_token.as_ref().unwrap().expose_secret(), "t2");
}

#[test]
fn company_names_env_is_comma_or_newline_separated() {
    let mut sandbox = Sandbox::with_credentials();
    sandbox.set("SFCONN_COMPANY_NAMES", "acme.com, @Acme.IO\n\n eu.example.org ,");
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(loaded.settings.company_names, ["acme.com", "@Acme.IO", "eu.example.org"]);
    assert_eq!(loaded.settings.company_filter.domains(), ["acme.com", "acme.io", "eu.example.org"]);
}

#[test]
fn company_names_blank_or_star_mean_everyone() {
    let mut sandbox = Sandbox::with_credentials();
    sandbox.config("company_names = [\"\", \"  \"]\n");
    assert!(sandbox.load_ok(&Flags::default()).settings.company_filter.is_everyone());
    sandbox.set("SFCONN_COMPANY_NAMES", "acme.com,*");
    assert!(sandbox.load_ok(&Flags::default()).settings.company_filter.is_everyone());
}

#[test]
fn blank_environment_variables_count_as_unset() {
    let mut sandbox = Sandbox::with_credentials();
    sandbox.config("api_version = \"60.0\"\n");
    sandbox.set("SFCONN_API_VERSION", "  ");
    sandbox.set("SFCONN_COMPANY_NAMES", "");
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(loaded.settings.api_version.as_deref(), Some("60.0"));
}

#[test]
fn loopback_hosts_may_use_http() {
    for url in [
        "http://127.0.0.1:1234",
        "http://127.8.9.10",
        "http://localhost:99",
        "http://[::1]:8080",
        "https://acme.my.salesforce.com",
        "https://acme--uat.sandbox.my.salesforce.com",
    ] {
        let sandbox = Sandbox::with_credentials();
        let flags = Flags { login_url: Some(url.into()), ..Flags::default() };
        let loaded = sandbox.load_ok(&flags);
        assert_eq!(loaded.settings.login_url.as_str().trim_end_matches('/'), url, "{url}");
    }
}

#[test]
fn client_only_needs_just_the_client_id_and_does_not_read_the_token_file() {
    let mut sandbox = Sandbox::new();
    sandbox.set("SFCONN_CLIENT_ID", "id");
    sandbox.set("SFCONN_REFRESH_TOKEN_FILE", "not-yet-written");
    let loaded = load_with(&Flags::default(), Need::ClientOnly, &sandbox.env).unwrap();
    assert!(loaded.settings.client_secret.is_none());
    assert!(loaded.settings.refresh_token.is_none());
    assert_eq!(loaded.settings.refresh_token_file, Some(sandbox.work().join("not-yet-written")));
}

#[test]
fn store_only_needs_no_credentials_and_reads_the_store_path() {
    let mut sandbox = Sandbox::new();
    sandbox.set("SFCONN_CLIENT_SECRET_FILE", "not-there");
    sandbox.config("[store]\npath = \"history.db\"\n");
    let loaded = load_with(&Flags::default(), Need::StoreOnly, &sandbox.env).unwrap();
    assert_eq!(loaded.settings.store_path, Some(sandbox.work().join("history.db")));
    assert!(loaded.settings.client_secret.is_none() && loaded.settings.refresh_token.is_none());
    sandbox.set("SFCONN_STORE__PATH", "~/h.db");
    let loaded = load_with(&Flags::default(), Need::StoreOnly, &sandbox.env).unwrap();
    assert_eq!(loaded.settings.store_path, Some(sandbox.home().join("h.db")));
    // Other settings are still checked.
    sandbox.set("SFCONN_HTTP__TIMEOUT_SEC", "5");
    let message = sandbox.error(&Flags::default(), Need::StoreOnly);
    assert!(message.contains("SFCONN_HTTP__TIMEOUT_SEC"), "{message}");
}

// ---------------------------------------------------------------- config file lookup

#[test]
fn file_lookup_order() {
    let mut sandbox = Sandbox::with_credentials();
    let xdg = sandbox.file("xdg/sfconn/config.toml", "api_version = \"51.0\"\n");
    let home = sandbox.file("home/.config/sfconn/config.toml", "api_version = \"52.0\"\n");
    let local = sandbox.config("api_version = \"53.0\"\n");
    let named_by_env = sandbox.file("env.toml", "api_version = \"54.0\"\n");
    let named_by_flag = sandbox.file("flag.toml", "api_version = \"55.0\"\n");
    sandbox.set("XDG_CONFIG_HOME", sandbox.root().join("xdg").to_str().unwrap());
    sandbox.set("SFCONN_CONFIG", named_by_env.to_str().unwrap());
    let flags = Flags { config: Some(named_by_flag.clone()), ..Flags::default() };

    let used = |sandbox: &Sandbox, flags: &Flags| {
        let loaded = sandbox.load_ok(flags);
        (loaded.config_file.clone(), loaded.settings.api_version.clone().unwrap_or_default())
    };
    assert_eq!(used(&sandbox, &flags), (Some(named_by_flag), "55.0".into()), "--config first");
    let flags = Flags::default();
    assert_eq!(used(&sandbox, &flags), (Some(named_by_env), "54.0".into()), "then SFCONN_CONFIG");
    sandbox.unset("SFCONN_CONFIG");
    assert_eq!(used(&sandbox, &flags), (Some(local.clone()), "53.0".into()), "then ./sfconn.toml");
    fs::remove_file(&local).unwrap();
    assert_eq!(used(&sandbox, &flags), (Some(xdg), "51.0".into()), "then $XDG_CONFIG_HOME");
    sandbox.set("XDG_CONFIG_HOME", "");
    assert_eq!(used(&sandbox, &flags), (Some(home.clone()), "52.0".into()), "empty XDG: ~/.config");
    sandbox.unset("XDG_CONFIG_HOME");
    assert_eq!(used(&sandbox, &flags), (Some(home.clone()), "52.0".into()), "unset XDG: ~/.config");
    fs::remove_file(&home).unwrap();
    assert_eq!(used(&sandbox, &flags), (None, String::new()), "no file at all");
}

#[test]
fn a_relative_config_flag_is_relative_to_the_current_directory() {
    let sandbox = Sandbox::with_credentials();
    let path = sandbox.file("work/conf/x.toml", "api_version = \"58.0\"\n");
    let flags = Flags { config: Some("conf/x.toml".into()), ..Flags::default() };
    let loaded = sandbox.load_ok(&flags);
    assert_eq!(loaded.config_file, Some(path));
}

// ---------------------------------------------------------------- validation errors

/// Loads with `toml` as ./sfconn.toml, plus extra variables, and returns the error message.
/// Valid credentials come from the environment unless `toml` sets them.
fn error_for(toml: &str, vars: &[(&str, &str)]) -> String {
    let mut sandbox = Sandbox::with_credentials();
    for (key, var) in [
        ("client_id", "SFCONN_CLIENT_ID"),
        ("client_secret", "SFCONN_CLIENT_SECRET"),
        ("refresh_token", "SFCONN_REFRESH_TOKEN"),
    ] {
        if toml.contains(key) {
            sandbox.unset(var);
        }
    }
    sandbox.config(toml);
    for (var, value) in vars {
        sandbox.set(var, value);
    }
    sandbox.error(&Flags::default(), Need::Everything)
}

#[test]
fn error_unknown_key_suggests_the_nearest() {
    insta::assert_snapshot!(error_for("client_secert = \"x\"\n", &[]));
    insta::assert_snapshot!("unknown_top_level_timeout", error_for("timeout_secs = 5\n", &[]));
    insta::assert_snapshot!("unknown_nested", error_for("[http]\ntimeout = 5\n", &[]));
    insta::assert_snapshot!("unknown_far", error_for("colour = \"red\"\n", &[]));
}

#[test]
fn error_unknown_environment_variable_suggests_the_nearest() {
    insta::assert_snapshot!(error_for("", &[("SFCONN_COMPANY_NAME", "acme.com")]));
    insta::assert_snapshot!("unknown_env_far", error_for("", &[("SFCONN_VERBOSE", "1")]));
    insta::assert_snapshot!("unknown_env_empty_part", error_for("", &[("SFCONN_HTTP____X", "1")]));
}

#[test]
fn error_table_expected() {
    insta::assert_snapshot!(error_for("http = 5\n", &[]));
}

#[test]
fn error_missing_required_values_are_all_reported() {
    let sandbox = Sandbox::new();
    insta::assert_snapshot!(sandbox.error(&Flags::default(), Need::Everything));
    insta::assert_snapshot!(
        "missing_client_id_client_only",
        sandbox.error(&Flags::default(), Need::ClientOnly)
    );
}

#[test]
fn error_blank_client_id_counts_as_missing() {
    let sandbox = Sandbox::with_credentials();
    let flags = Flags { client_id: Some("  ".into()), ..Flags::default() };
    let message = sandbox.error(&flags, Need::Everything);
    assert!(message.starts_with("invalid setting `client_id`: missing"), "{message}");
}

#[test]
fn error_wrong_types() {
    insta::assert_snapshot!("type_client_id", error_for("client_id = 5\n", &[]));
    insta::assert_snapshot!("type_timeout_file", error_for("[http]\ntimeout_secs = \"abc\"\n", &[]));
    insta::assert_snapshot!("type_timeout_env", error_for("", &[("SFCONN_HTTP__TIMEOUT_SECS", "1m")]));
    insta::assert_snapshot!("type_float", error_for("http.concurrency = 2.5\n", &[]));
    insta::assert_snapshot!("type_company_names", error_for("company_names = \"acme.com\"\n", &[]));
    insta::assert_snapshot!("type_api_version", error_for("api_version = 62.0\n", &[]));
    insta::assert_snapshot!("type_path", error_for("refresh_token_file = true\n", &[]));
    insta::assert_snapshot!("type_csv_raw_file", error_for("csv_raw = \"yes\"\n", &[]));
    insta::assert_snapshot!("type_csv_raw_env", error_for("", &[("SFCONN_CSV_RAW", "maybe")]));
}

#[test]
fn error_wrong_type_of_a_secret_does_not_show_it() {
    let message = error_for("client_secret = 123456789\n", &[]);
    assert!(!message.contains("123456789"), "{message}");
    insta::assert_snapshot!(message);
}

#[test]
fn error_login_url() {
    let cases = [
        ("login_url_http", "http://login.salesforce.com"),
        ("login_url_lightning", "https://acme.lightning.force.com"),
        ("login_url_not_a_url", "login.salesforce.com"),
        ("login_url_scheme", "ftp://login.salesforce.com"),
        ("login_url_endpoint", "https://login.salesforce.com/services/oauth2/token"),
        ("login_url_query", "https://login.salesforce.com/?x=1"),
        ("login_url_path", "https://acme.my.salesforce.com/lightning/setup/SetupOneHome/home"),
        ("login_url_lightning_sandbox", "https://acme--uat.sandbox.lightning.force.com"),
        ("login_url_setup", "https://acme-dev-ed.develop.my.salesforce-setup.com"),
        ("login_url_site", "https://acme.my.site.com/partners"),
        ("login_url_force_site", "https://acme.force.com/customers"),
        ("login_url_empty", ""),
        ("login_url_http_lookalike", "http://127.0.0.1.example.com"),
    ];
    for (name, url) in cases {
        let sandbox = Sandbox::with_credentials();
        let flags = Flags { login_url: Some(url.into()), ..Flags::default() };
        insta::assert_snapshot!(name, sandbox.error(&flags, Need::Everything));
    }
}

#[test]
fn error_api_version() {
    for (name, version) in
        [("api_version_v", "v62.0"), ("api_version_major_only", "62"), ("api_version_word", "latest")]
    {
        insta::assert_snapshot!(name, error_for("", &[("SFCONN_API_VERSION", version)]));
    }
}

#[test]
fn error_numbers_out_of_range() {
    let cases = [
        ("http.timeout_secs", 0, 1, 3600),
        ("http.max_retries", -1, 0, 20),
        ("http.concurrency", 0, 1, 32),
        ("limits.max_api_usage_percent", 0, 1, 100),
        ("report.min_logins", 0, 1, 100_000),
        ("login_activity_days", 0, 0, 180),
        ("login_activity_bulk_threshold", 0, 0, 1_000_000_000),
    ];
    for (key, _, min, max) in cases {
        for bad in [min - 1, max + 1] {
            let message = error_for(&format!("{key} = {bad}\n"), &[]);
            assert!(
                message.contains(&format!(
                    "`{key}` (file [TMP]/work/sfconn.toml): must be from {min} to {max}, found {bad}"
                )),
                "{message}"
            );
        }
        for good in [min, max] {
            let sandbox = Sandbox::with_credentials();
            sandbox.config(&format!("{key} = {good}\n"));
            let loaded = sandbox.load_ok(&Flags::default());
            assert_eq!(entry(&loaded, key).0, json!(good));
        }
    }
    insta::assert_snapshot!("range_timeout", error_for("http.timeout_secs = 3601\n", &[]));
}

#[test]
fn error_company_names_names_each_bad_entry() {
    let sandbox = Sandbox::with_credentials();
    let flags = Flags {
        company_names: vec!["acme.com".into(), "Acme Corp".into(), "https://acme.io".into()],
        ..Flags::default()
    };
    insta::assert_snapshot!(sandbox.error(&flags, Need::Everything));
}

#[test]
fn error_secret_and_secret_file_both_set() {
    let sandbox = Sandbox::with_credentials();
    sandbox.file("work/s", "x");
    sandbox.config("client_secret_file = \"s\"\n");
    insta::assert_snapshot!(sandbox.error(&Flags::default(), Need::Everything));
}

#[test]
fn error_secret_files() {
    let mut sandbox = Sandbox::new();
    sandbox.set("SFCONN_CLIENT_ID", "id");
    sandbox.file("work/empty", "");
    sandbox.file("work/blank", " \n\t\n");
    sandbox.file("work/binary", "");
    fs::write(sandbox.work().join("binary"), [0xff, 0xfe, 0x00]).unwrap();
    fs::create_dir_all(sandbox.work().join("a-directory")).unwrap();
    for (name, secret_file, token_file) in [
        ("secret_file_missing", "missing", "blank"),
        ("secret_file_empty", "empty", "binary"),
        ("secret_file_unreadable", "a-directory", "empty"),
    ] {
        sandbox.set("SFCONN_CLIENT_SECRET_FILE", secret_file);
        sandbox.set("SFCONN_REFRESH_TOKEN_FILE", token_file);
        insta::assert_snapshot!(name, sandbox.error(&Flags::default(), Need::Everything));
    }
}

#[test]
fn error_explicit_config_file_missing() {
    let mut sandbox = Sandbox::with_credentials();
    let flags = Flags { config: Some("nope.toml".into()), ..Flags::default() };
    insta::assert_snapshot!("config_flag_missing", sandbox.error(&flags, Need::Everything));
    sandbox.set("SFCONN_CONFIG", "/nonexistent/sfconn.toml");
    insta::assert_snapshot!("config_env_missing", sandbox.error(&Flags::default(), Need::Everything));
}

#[test]
fn error_config_file_syntax() {
    insta::assert_snapshot!(error_for("client_id = \"unterminated\n", &[]));
}

#[test]
fn error_many_problems_are_reported_together_in_key_order() {
    let message = error_for(
        "limits.max_api_usage_percent = 0\ncolour = 1\nlogin_url = \"http://x.io\"\nclient_id = 1\n",
        &[("SFCONN_HTTP__CONCURRENCY", "99")],
    );
    insta::assert_snapshot!(message);
}

// ---------------------------------------------------------------- secrets and warnings

#[test]
fn debug_output_never_contains_secrets() {
    let mut sandbox = Sandbox::new();
    sandbox.set("SFCONN_CLIENT_ID", "id");
    sandbox.set("SFCONN_CLIENT_SECRET", "s3cr3t-client-value");
    sandbox.file("work/token", "r3fr3sh-token-value");
    sandbox.set("SFCONN_REFRESH_TOKEN_FILE", "token");
    let loaded = sandbox.load_ok(&Flags::default());
    let shown =
        format!("{loaded:?} {:?} {}", loaded.settings, serde_json::to_string(&loaded.entries).unwrap());
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(!shown.contains("r3fr3sh"), "{shown}");
    assert_eq!(entry(&loaded, "client_secret").0, json!("***"));
    assert_eq!(loaded.settings.client_secret.as_ref().unwrap().expose_secret(), "s3cr3t-client-value");
}

#[cfg(unix)]
#[test]
fn a_config_file_with_a_secret_readable_by_others_draws_a_warning() {
    let sandbox = Sandbox::new();
    let path = sandbox.config("client_id = \"id\"\nclient_secret = \"s\"\nrefresh_token = \"t\"\n");
    assert!(sandbox.load_ok(&Flags::default()).warnings.is_empty(), "0600 is fine");
    set_mode(&path, 0o640);
    let warnings = sandbox.load_ok(&Flags::default()).warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    insta::assert_snapshot!(warnings[0].replace(sandbox.root().to_str().unwrap(), "[TMP]"));
    assert!(!warnings[0].contains("\"s\""));
}

#[cfg(unix)]
#[test]
fn a_config_file_without_secrets_may_be_readable() {
    let sandbox = Sandbox::with_credentials();
    let path = sandbox.config("client_id = \"id\"\n");
    set_mode(&path, 0o644);
    assert!(sandbox.load_ok(&Flags::default()).warnings.is_empty());
}

#[cfg(unix)]
#[test]
fn a_secret_file_readable_by_others_draws_a_warning() {
    let mut sandbox = Sandbox::with_credentials();
    sandbox.unset("SFCONN_REFRESH_TOKEN");
    let token = sandbox.file("work/token", "t");
    set_mode(&token, 0o644);
    sandbox.set("SFCONN_REFRESH_TOKEN_FILE", "token");
    let warnings = sandbox.load_ok(&Flags::default()).warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("refresh_token_file "), "{}", warnings[0]);
    assert!(warnings[0].contains("chmod 600"), "{}", warnings[0]);
}

/// A Secret volume as the kubelet writes it: `..data` -> a timestamped folder, and each key a
/// symlink `NAME -> ..data/NAME`. With `fsGroup`, Kubernetes makes the files 0440 whatever
/// `defaultMode` says: the pod's own group, so no warning; world bits still warn.
#[cfg(unix)]
#[test]
fn a_kubernetes_secret_file_readable_by_the_pods_group_draws_no_warning() {
    let mut sandbox = Sandbox::with_credentials();
    sandbox.unset("SFCONN_REFRESH_TOKEN");
    let volume = sandbox.root().join("work/tokens");
    let data = volume.join("..2026_12_04_20_00_00.123456789");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("acme-prod"), "t\n").unwrap();
    std::os::unix::fs::symlink("..2026_12_04_20_00_00.123456789", volume.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/acme-prod", volume.join("acme-prod")).unwrap();
    sandbox.set("SFCONN_REFRESH_TOKEN_FILE", "tokens/acme-prod");

    set_mode(&data.join("acme-prod"), 0o440);
    let warnings = sandbox.load_ok(&Flags::default()).warnings;
    assert!(warnings.is_empty(), "{warnings:?}");

    set_mode(&data.join("acme-prod"), 0o444);
    let warnings = sandbox.load_ok(&Flags::default()).warnings;
    assert_eq!(warnings.len(), 1, "world-readable still warns: {warnings:?}");
    assert!(warnings[0].contains("(mode 444)"), "{}", warnings[0]);
}

/// The same 0440 file outside such a volume warns: the group may hold other users.
#[cfg(unix)]
#[test]
fn a_group_readable_secret_file_elsewhere_draws_a_warning() {
    let mut sandbox = Sandbox::with_credentials();
    sandbox.unset("SFCONN_REFRESH_TOKEN");
    let token = sandbox.file("work/token", "t");
    set_mode(&token, 0o440);
    sandbox.set("SFCONN_REFRESH_TOKEN_FILE", "token");
    let warnings = sandbox.load_ok(&Flags::default()).warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("(mode 440)"), "{}", warnings[0]);
}

#[test]
fn auth_rotated_tokens_takes_two_values_and_names_the_key_otherwise() {
    let mut sandbox = Sandbox::with_credentials();
    sandbox.unset("SFCONN_REFRESH_TOKEN");
    sandbox.file("work/token", "t");
    sandbox.set("SFCONN_REFRESH_TOKEN_FILE", "token");
    assert_eq!(
        sandbox.load_ok(&Flags::default()).settings.auth.rotated_tokens,
        RotatedTokens::RefreshTokenFile
    );
    sandbox.set("SFCONN_AUTH__ROTATED_TOKENS", "state-dir");
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(loaded.settings.auth.rotated_tokens, RotatedTokens::StateDir);
    assert_eq!(entry(&loaded, "auth.rotated_tokens").0, json!("state_dir"));

    sandbox.set("SFCONN_AUTH__ROTATED_TOKENS", "secret");
    let message = sandbox.error(&Flags::default(), Need::Everything);
    assert!(message.contains("auth.rotated_tokens"), "{message}");
    assert!(message.contains("\"refresh_token_file\", \"state_dir\""), "{message}");
}

#[test]
fn rotated_tokens_in_the_state_dir_need_a_refresh_token_file() {
    let mut sandbox = Sandbox::with_credentials();
    sandbox.set("SFCONN_AUTH__ROTATED_TOKENS", "state_dir");
    let message = sandbox.error(&Flags::default(), Need::Everything);
    assert!(message.contains("auth.rotated_tokens"), "{message}");
    assert!(message.contains("no refresh_token_file is set"), "{message}");
}

// ---------------------------------------------------------------- template

#[test]
fn the_template_uncommented_is_valid_and_states_the_true_defaults() {
    let uncommented: String = TEMPLATE
        .lines()
        .map(|line| {
            let rest = line.strip_prefix("# ").unwrap_or("");
            let is_setting = rest.starts_with('[')
                || rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            if is_setting { rest.to_string() } else { line.to_string() }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let sandbox = Sandbox::new();
    sandbox.file("home/.config/sfconn/client_secret", "s");
    sandbox.file("home/.config/sfconn/refresh_token", "t");
    sandbox.file("work/store-url", "postgres://sfconn@127.0.0.1:1/sfconn\n");
    sandbox.file("work/store-password", "p\n");
    sandbox.config(&uncommented);
    let loaded = sandbox.load_ok(&Flags::default());
    let uncommented_keys: Vec<String> = loaded
        .entries
        .iter()
        .filter(|e| matches!(e.origin, Origin::File { .. }))
        .map(|e| e.key.clone())
        .collect();
    // `store.url` is shown as an alternative to `store.url_file` (indented, so that uncommenting
    // every key does not set both).
    // `[prices]` uncommented keeps its currency only (the licence names are not lower case).
    let expected: Vec<String> = keys::KEYS
        .iter()
        .filter(|k| !k.secret && k.name != "store.url")
        .map(|k| k.name.to_string())
        .chain(["prices.currency".to_owned()])
        .collect();
    assert_eq!(uncommented_keys, expected, "the template shows every non-secret key");
    assert!(TEMPLATE.contains("#   url = \"postgres://"), "store.url is in the template too");
    let defaults = Sandbox::with_credentials().load_ok(&Flags::default());
    for key in [
        "login_url",
        "company_names",
        "http.timeout_secs",
        "http.max_retries",
        "http.concurrency",
        "csv_raw",
        "limits.max_api_usage_percent",
    ] {
        assert_eq!(entry(&loaded, key).0, entry(&defaults, key).0, "{key}: template shows the default");
    }
}

#[test]
fn the_template_as_written_parses_and_sets_nothing() {
    let sandbox = Sandbox::with_credentials();
    sandbox.config(TEMPLATE);
    let loaded = sandbox.load_ok(&Flags::default());
    assert!(loaded.entries.iter().all(|e| !matches!(e.origin, Origin::File { .. })));
}

#[test]
fn environment_values_that_were_not_utf8_are_refused_naming_the_variable() {
    // The process environment is read lossily, so non-UTF-8 bytes arrive as U+FFFD.
    let message = error_for("", &[("SFCONN_CLIENT_ID", "3MVG9\u{FFFD}\u{FFFD}")]);
    assert!(message.contains("`client_id` (env SFCONN_CLIENT_ID)"), "{message}");
    assert!(message.contains("not valid UTF-8"), "{message}");
}

#[test]
fn a_huge_text_value_is_refused_without_being_echoed() {
    let huge = "k".repeat(5000);
    let message = error_for(&format!("client_id = \"{huge}\"\n"), &[]);
    assert!(message.contains("`client_id` (file"), "{message}");
    assert!(message.contains("5000 characters long"), "{message}");
    assert!(!message.contains(&huge[..100]), "the value is not echoed");
    let message = error_for("", &[("SFCONN_REFRESH_TOKEN", &huge)]);
    assert!(message.contains("`refresh_token` (env SFCONN_REFRESH_TOKEN)"), "{message}");
}

// ---------------------------------------------------------------- auth flows

/// A throwaway PEM-shaped private key (config only checks the shape; auth parses it).
const PEM_SHAPE: &str =
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

#[test]
fn client_credentials_needs_no_refresh_token_and_a_my_domain() {
    let mut sandbox = Sandbox::with_credentials();
    sandbox.unset("SFCONN_REFRESH_TOKEN");
    sandbox.set("SFCONN_AUTH__FLOW", "client_credentials");
    sandbox.set("SFCONN_LOGIN_URL", "https://acme.my.salesforce.com");
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(loaded.settings.auth.flow, sfconn_config::AuthFlow::ClientCredentials);
    assert!(loaded.settings.refresh_token.is_none());
    assert_eq!(entry(&loaded, "auth.flow"), (json!("client_credentials"), env_origin("SFCONN_AUTH__FLOW")));

    sandbox.set("SFCONN_LOGIN_URL", "https://login.salesforce.com");
    sandbox.unset("SFCONN_CLIENT_SECRET");
    insta::assert_snapshot!(
        "client_credentials_generic_host_and_no_secret",
        sandbox.error(&Flags::default(), Need::Everything)
    );
    // `auth url` and friends do not use the flow: the generic host is fine there.
    assert!(load_with(&Flags::default(), Need::ClientOnly, &sandbox.env).is_ok());
}

#[test]
fn jwt_bearer_needs_a_username_and_a_pem_key_but_no_secret_or_token() {
    let mut sandbox = Sandbox::new();
    sandbox.set("SFCONN_CLIENT_ID", "env-id");
    sandbox.set("SFCONN_AUTH__FLOW", "jwt_bearer");
    insta::assert_snapshot!(
        "jwt_bearer_missing_username_and_key",
        sandbox.error(&Flags::default(), Need::Everything)
    );

    let key = sandbox.file("work/jwt.key", PEM_SHAPE);
    sandbox.config("[auth]\nusername = \"sfconn@acme.com\"\nprivate_key_file = \"jwt.key\"\n");
    let loaded = sandbox.load_ok(&Flags::default());
    let auth = &loaded.settings.auth;
    assert_eq!(auth.username.as_deref(), Some("sfconn@acme.com"));
    assert_eq!(auth.private_key_file.as_deref(), Some(key.as_path()));
    assert_eq!(auth.private_key.as_ref().unwrap().expose_secret(), PEM_SHAPE.trim());
    assert!(loaded.settings.client_secret.is_none() && loaded.settings.refresh_token.is_none());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(!format!("{:?}", loaded.settings).contains("MIIEvQ"), "Debug hides the key");

    set_mode(&key, 0o644);
    let loaded = sandbox.load_ok(&Flags::default());
    assert!(
        loaded.warnings.iter().any(|w| w.contains("auth.private_key_file") && w.contains("chmod 600")),
        "{:?}",
        loaded.warnings
    );

    sandbox.file("work/jwt.key", "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
    insta::assert_snapshot!(
        "jwt_bearer_certificate_instead_of_key",
        sandbox.error(&Flags::default(), Need::Everything)
    );
}

#[test]
fn an_unknown_flow_names_the_choices_and_unused_jwt_keys_warn() {
    insta::assert_snapshot!("auth_flow_unknown", error_for("[auth]\nflow = \"password\"\n", &[]));
    let mut sandbox = Sandbox::with_credentials();
    sandbox.set("SFCONN_AUTH__USERNAME", "jo@acme.com");
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(
        loaded.warnings,
        [
            "auth.username is set but only the jwt_bearer flow uses it (auth.flow = \"refresh_token\"); it is ignored"
        ]
    );
}

// ---------------------------------------------------------------- the report's licence rules and prices

#[test]
fn a_key_both_paid_and_free_is_refused_naming_both_settings() {
    insta::assert_snapshot!(
        "paid_and_free_key",
        error_for(
            "[report]\npaid_keys = [\"SFDC\", \"AUL\"]\n",
            &[("SFCONN_REPORT__FREE_KEYS", "aul,CSN_User")]
        )
    );
}

#[test]
fn the_prices_table_is_read_and_shown() {
    let sandbox = Sandbox::with_credentials();
    let config = sandbox.config(
        "[report]\nfree_keys = [\"PID_CHATTER\"]\n\n[prices]\ncurrency = \"EUR\"\nSFDC = 150\n\"Salesforce Platform\" = 19.99\n",
    );
    let loaded = sandbox.load_ok(&Flags::default());
    let prices = loaded.settings.prices.clone().unwrap();
    assert_eq!(prices.currency, "EUR");
    let amounts: Vec<(&str, i128)> =
        prices.entries.iter().map(|e| (e.licence.as_str(), e.ten_thousandths)).collect();
    assert_eq!(amounts, [("SFDC", 1_500_000), ("Salesforce Platform", 199_900)]);
    assert_eq!(loaded.settings.report_free_keys, ["PID_CHATTER"]);
    let file = Origin::File { path: config };
    assert_eq!(entry(&loaded, "prices.currency"), (json!("EUR"), file.clone()));
    assert_eq!(entry(&loaded, "prices.SFDC"), (json!(150), file.clone()));
    assert_eq!(entry(&loaded, "prices.\"Salesforce Platform\""), (json!(19.99), file));
    assert!(loaded.entries.iter().all(|e| e.key != "prices"), "no `prices (not set)` line beside them");
}

#[test]
fn bad_prices_are_refused_naming_each_key() {
    insta::assert_snapshot!(
        "bad_prices",
        error_for(
            "[prices]\ncurrency = \"Euro\"\nSFDC = -1\nAUL = \"25\"\nInbox = { price = 2, currency = \"USD\" }\n",
            &[]
        )
    );
    insta::assert_snapshot!("prices_without_currency", error_for("[prices]\nSFDC = 150\n", &[]));
    insta::assert_snapshot!(
        "prices_from_the_environment",
        error_for("[prices]\ncurrency = \"EUR\"\n", &[("SFCONN_PRICES__SFDC", "150")])
    );
}

#[test]
fn a_prices_file_holds_the_same_table() {
    let sandbox = Sandbox::new();
    let table = sandbox.file("work/prices.toml", "[prices]\ncurrency = \"USD\"\nSFDC = 165\n");
    let bare = sandbox.file("work/bare.toml", "currency = \"USD\"\nsfdc = 165\n");
    let read = |path: &Path| sfconn_config::read_prices_file(path).unwrap().unwrap();
    assert_eq!(read(&table).entries[0].ten_thousandths, 1_650_000);
    assert_eq!(read(&bare).currency, "USD");
    let twice =
        sandbox.file("work/twice.toml", "[prices]\ncurrency = \"USD\"\nCURRENCY = \"EUR\"\nSFDC = 1\n");
    let message = sfconn_config::read_prices_file(&twice).unwrap_err().to_string();
    let root = sandbox.root().to_str().unwrap().to_string();
    insta::assert_snapshot!("prices_file_two_currencies", message.replace(&root, "[TMP]"));
    let missing = sfconn_config::read_prices_file(&sandbox.root().join("none.toml")).unwrap_err();
    assert!(matches!(missing, ConfigError::FileNotFound { .. }), "{missing:?}");
}
/// `login_activity_days`: off by default, from the file, the environment or
/// `--login-activity`, and per named org (`[orgs.NAME]` overrides the top level).
/// An entry that cannot be a PermissionSetLicenseKey (a label with spaces, too long) is refused
/// naming the key; the list is per org like the other collection settings.
#[test]
fn unused_assignment_exception_keys_are_checked_and_per_org() {
    insta::assert_snapshot!(
        "exception_key_not_a_key",
        error_for("[unused_assignments]\nexception_keys = [\"Sales Console User\"]\n", &[])
    );
    let long = "K".repeat(82);
    let message = error_for("", &[("SFCONN_UNUSED_ASSIGNMENTS__EXCEPTION_KEYS", long.as_str())]);
    assert!(message.contains("unused_assignments.exception_keys"), "{message}");
    assert!(message.contains("SFCONN_UNUSED_ASSIGNMENTS__EXCEPTION_KEYS"), "{message}");
    let mut sandbox = Sandbox::with_credentials();
    sandbox.config(
        "[unused_assignments]\nexception_keys = [\"IdentityConnect\"]\n\n[orgs.us]\n\n[orgs.eu.unused_assignments]\nexception_keys = [\"SalesConsoleUser\", \"CPQ_Perm\"]\n",
    );
    let us =
        sfconn_config::load_org_with(&Flags::default(), Need::Everything, &sandbox.env, Some("us")).unwrap();
    assert_eq!(
        us.settings.unused_assignment_exception_keys,
        ["IdentityConnect"],
        "inherited from the top level"
    );
    let eu =
        sfconn_config::load_org_with(&Flags::default(), Need::Everything, &sandbox.env, Some("eu")).unwrap();
    assert_eq!(eu.settings.unused_assignment_exception_keys, ["SalesConsoleUser", "CPQ_Perm"]);
    sandbox.set("SFCONN_ORGS__EU__UNUSED_ASSIGNMENTS__EXCEPTION_KEYS", "OmniStudio");
    let eu =
        sfconn_config::load_org_with(&Flags::default(), Need::Everything, &sandbox.env, Some("eu")).unwrap();
    assert_eq!(eu.settings.unused_assignment_exception_keys, ["OmniStudio"]);
}

#[test]
fn login_activity_days_has_every_layer_and_named_orgs_override_it() {
    let mut sandbox = Sandbox::with_credentials();
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(loaded.settings.login_activity_days, 0);
    assert_eq!(loaded.settings.login_activity_bulk_threshold, 100_000);
    assert_eq!(entry(&loaded, "login_activity_days").1, Origin::Default);
    sandbox.config("login_activity_days = 30\nlogin_activity_bulk_threshold = 5\n\n[orgs.eu]\nlogin_activity_days = 90\n");
    let eu =
        sfconn_config::load_org_with(&Flags::default(), Need::Everything, &sandbox.env, Some("eu")).unwrap();
    assert_eq!((eu.settings.login_activity_days, eu.settings.login_activity_bulk_threshold), (90, 5));
    let top = sfconn_config::load_org_with(&Flags::default(), Need::Everything, &sandbox.env, Some("eu"));
    assert_eq!(top.unwrap().settings.login_activity_bulk_threshold, 5, "inherited from the top level");
    sandbox.config("login_activity_days = 30\nlogin_activity_bulk_threshold = 5\n");
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!((loaded.settings.login_activity_days, loaded.settings.login_activity_bulk_threshold), (30, 5));
    sandbox.set("SFCONN_LOGIN_ACTIVITY_DAYS", "60");
    let loaded = sandbox.load_ok(&Flags::default());
    assert_eq!(entry(&loaded, "login_activity_days"), (json!(60), env_origin("SFCONN_LOGIN_ACTIVITY_DAYS")));
    let flags = Flags { login_activity_days: Some(7), ..Flags::default() };
    let loaded = sandbox.load_ok(&flags);
    assert_eq!(entry(&loaded, "login_activity_days"), (json!(7), flag_origin("--login-activity")));
    sandbox.set("SFCONN_LOGIN_ACTIVITY_DAYS", "181");
    let message = sandbox.error(&Flags::default(), Need::Everything);
    assert!(
        message.contains(
            "`login_activity_days` (env SFCONN_LOGIN_ACTIVITY_DAYS): must be from 0 to 180, found 181"
        ),
        "{message}"
    );
}
