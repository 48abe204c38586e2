//! Named orgs: the `[orgs.NAME]` tables of the config file and their `SFCONN_ORGS__NAME__*`
//! variables, checked as a whole before any org's settings are used.
//!
//! What fails the whole config (nothing is half-done): an org name that is not a slug, an
//! `[orgs]` table with no org in it, a variable naming an org the file does not declare, a
//! top-level-only key inside an org, two orgs sharing one refresh-token file, an unknown name
//! given to `--org`. What fails one org only ([`FleetOrg::loaded`]): anything wrong in that
//! org's own settings, an unreadable secret file among them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use figment::value::Value;

use crate::environment::{Environment, ProcessEnvironment};
use crate::error::{ConfigError, Origin, Problem};
use crate::keys;
use crate::resolve::resolve_path;
use crate::sources::{self, ConfigFile};
use crate::{Flags, Loaded, Need, layered, load_from};

/// Every named org's settings, for `collect --all-orgs`.
#[derive(Debug)]
pub struct Fleet {
    /// The orgs in name order, each with its settings or what is wrong with them.
    pub orgs: Vec<FleetOrg>,
    /// `fleet.concurrency`: how many orgs run at once.
    pub concurrency: usize,
    /// The config file that declares the orgs.
    pub config_file: PathBuf,
}

/// One org of a [`Fleet`].
#[derive(Debug)]
pub struct FleetOrg {
    /// The org's name (`[orgs.NAME]`).
    pub name: String,
    /// Its settings; an error here stops this org only.
    pub loaded: Result<Loaded, ConfigError>,
}

/// [`load_org_with`] on the process environment.
pub fn load_org(flags: &Flags, need: Need, org: Option<&str>) -> Result<Loaded, ConfigError> {
    load_org_with(flags, need, &ProcessEnvironment, org)
}

/// Loads the settings of the named org `org` (`None`: the config has no named orgs, or the
/// command needs no credentials, [`Need::StoreOnly`]).
pub fn load_org_with(
    flags: &Flags,
    need: Need,
    env: &dyn Environment,
    org: Option<&str>,
) -> Result<Loaded, ConfigError> {
    load_chosen(flags, need, env, |declared, config_file| match org {
        None if !declared.is_empty() && need != Need::StoreOnly => {
            Err(ConfigError::OrgRequired { known: declared.to_vec() })
        }
        None => Ok(None),
        Some(name) => {
            check_known(name, declared, config_file)?;
            Ok(Some(name.to_string()))
        }
    })
}

/// [`load_org_at_index_with`] on the process environment.
pub fn load_org_at_index(flags: &Flags, need: Need, index: usize) -> Result<Loaded, ConfigError> {
    load_org_at_index_with(flags, need, &ProcessEnvironment, index)
}

/// Loads the settings of the org at `index` (0-based) in name order, as a Kubernetes Indexed
/// Job's `JOB_COMPLETION_INDEX` picks it (`collect --org-index`).
pub fn load_org_at_index_with(
    flags: &Flags,
    need: Need,
    env: &dyn Environment,
    index: usize,
) -> Result<Loaded, ConfigError> {
    load_chosen(flags, need, env, |declared, config_file| {
        if declared.is_empty() {
            return Err(ConfigError::NoOrgs { config_file: config_file.map(|f| f.path.clone()) });
        }
        match declared.get(index) {
            Some(name) => Ok(Some(name.clone())),
            None => Err(ConfigError::OrgIndexOutOfRange { index, known: declared.to_vec() }),
        }
    })
}

/// Reads the config file once, lets `choose` pick the org among the declared ones (`None`:
/// the top level), checks what concerns every org, and loads the chosen one.
fn load_chosen(
    flags: &Flags,
    need: Need,
    env: &dyn Environment,
    choose: impl FnOnce(&[String], Option<&ConfigFile>) -> Result<Option<String>, ConfigError>,
) -> Result<Loaded, ConfigError> {
    let config_file = read_config(flags, env)?;
    let declared = declared_orgs(config_file.as_ref(), env)?;
    let name = choose(&declared, config_file.as_ref())?;
    if name.is_some() {
        check_own_token_files(config_file.as_ref(), flags, env, &declared)?;
    }
    let name = name.as_deref();
    load_from(config_file.as_ref(), flags, need, env, name).map_err(|source| in_org(name, source))
}

/// [`load_fleet_with`] on the process environment.
pub fn load_fleet(flags: &Flags, need: Need) -> Result<Fleet, ConfigError> {
    load_fleet_with(flags, need, &ProcessEnvironment)
}

/// Loads every named org's settings. The whole config fails only for what concerns all orgs
/// (see the module documentation); one org's bad settings are in its [`FleetOrg::loaded`].
pub fn load_fleet_with(flags: &Flags, need: Need, env: &dyn Environment) -> Result<Fleet, ConfigError> {
    let config_file = read_config(flags, env)?;
    let declared = declared_orgs(config_file.as_ref(), env)?;
    let Some(file) = config_file.as_ref().filter(|_| !declared.is_empty()) else {
        return Err(ConfigError::NoOrgs { config_file: config_file.map(|f| f.path) });
    };
    check_own_token_files(Some(file), flags, env, &declared)?;
    let concurrency = fleet_concurrency(file, env)?;
    let orgs = declared
        .iter()
        .map(|name| FleetOrg {
            name: name.clone(),
            loaded: load_from(Some(file), flags, need, env, Some(name)).map_err(|e| in_org(Some(name), e)),
        })
        .collect();
    Ok(Fleet { orgs, concurrency, config_file: file.path.clone() })
}

fn read_config(flags: &Flags, env: &dyn Environment) -> Result<Option<ConfigFile>, ConfigError> {
    match sources::locate(flags, env)? {
        Some(path) => Ok(Some(sources::read(&path)?)),
        None => Ok(None),
    }
}

fn in_org(org: Option<&str>, source: ConfigError) -> ConfigError {
    match org {
        Some(org) => ConfigError::InOrg { org: org.to_string(), source: Box::new(source) },
        None => source,
    }
}

/// The names of the `[orgs.NAME]` tables, sorted, after checking the table's shape, the names
/// and the `SFCONN_ORGS__*` variables against them.
fn declared_orgs(file: Option<&ConfigFile>, env: &dyn Environment) -> Result<Vec<String>, ConfigError> {
    let mut problems = Vec::new();
    let mut names = Vec::new();
    let origin = file.map(|f| Origin::File { path: f.path.clone() });
    match file.and_then(|f| f.dict.get(keys::ORGS_TABLE)) {
        None => {}
        Some(Value::Dict(_, orgs)) if orgs.is_empty() => problems.push(Problem {
            key: keys::ORGS_TABLE.into(),
            origin: origin.clone(),
            message: "the [orgs] table declares no org: add [orgs.NAME] tables (docs/configuration.md, \
                      \"Named orgs\"), or remove it"
                .into(),
        }),
        Some(Value::Dict(_, orgs)) => {
            for (name, table) in orgs {
                let key = format!("{}.{name}", keys::ORGS_TABLE);
                if !keys::is_org_name(name) {
                    problems.push(Problem {
                        key,
                        origin: origin.clone(),
                        message: format!(
                            "{name:?} is not a valid org name: use lower-case letters, digits and `-`, \
                             starting with a letter or digit (e.g. `acme-prod`)"
                        ),
                    });
                    continue;
                }
                let Value::Dict(_, table) = table else {
                    problems.push(Problem {
                        key,
                        origin: origin.clone(),
                        message: format!("must be a table (an [orgs.{name}] section) of the org's settings"),
                    });
                    continue;
                };
                for only in keys::TOP_LEVEL_ONLY {
                    let (group, leaf) = only.split_once('.').unwrap_or((only, ""));
                    if matches!(table.get(group), Some(Value::Dict(_, t)) if t.contains_key(leaf)) {
                        problems.push(Problem {
                            key: format!("{key}.{only}"),
                            origin: origin.clone(),
                            message: format!(
                                "`{only}` applies to all orgs: set it at the top level of the file"
                            ),
                        });
                    }
                }
                if table.contains_key(crate::prices::PRICES_TABLE) {
                    problems.push(Problem {
                        key: format!("{key}.{}", crate::prices::PRICES_TABLE),
                        origin: origin.clone(),
                        message:
                            "the prices apply to all orgs (report --all-orgs sums them in one currency): \
                                  set [prices] at the top level of the file"
                                .into(),
                    });
                }
                names.push(name.clone());
            }
        }
        Some(_) => problems.push(Problem {
            key: keys::ORGS_TABLE.into(),
            origin: origin.clone(),
            message: "must be a table of orgs: [orgs.NAME] sections".into(),
        }),
    }
    for (name, var) in sources::orgs_in_environment(env) {
        let undeclared = !names.contains(&name);
        let top_level_only = keys::TOP_LEVEL_ONLY.iter().any(|only| {
            var.ends_with(&format!("__{}", keys::env_for_key(only).trim_start_matches(keys::ENV_PREFIX)))
        });
        let message = if !var[keys::ORG_ENV_PREFIX.len()..].contains("__") {
            format!(
                "cannot tell the org from the key: write SFCONN_ORGS__{}__KEY, with `__` between the org \
                 (`-` written `_`) and the key",
                keys::org_env_part(&name)
            )
        } else if undeclared {
            let known = if names.is_empty() { "none".to_string() } else { names.join(", ") };
            format!(
                "names the org `{name}`, which the config file does not declare (declared: {known}); add an \
                 [orgs.{name}] table or correct the name"
            )
        } else if top_level_only {
            "sets a key that applies to all orgs: use the top-level variable".to_string()
        } else {
            continue;
        };
        problems.push(Problem { key: var.clone(), origin: Some(Origin::Env { var }), message });
    }
    if problems.is_empty() { Ok(names) } else { Err(ConfigError::Invalid { problems }) }
}

fn check_known(name: &str, declared: &[String], file: Option<&ConfigFile>) -> Result<(), ConfigError> {
    if declared.is_empty() {
        return Err(ConfigError::NoOrgs { config_file: file.map(|f| f.path.clone()) });
    }
    if declared.iter().any(|known| known == name) {
        return Ok(());
    }
    let nearest = keys::nearest_org(name, declared.iter().map(String::as_str)).map(str::to_string);
    Err(ConfigError::UnknownOrg { name: name.to_string(), nearest, known: declared.to_vec() })
}

/// Refuses two orgs whose refresh tokens live in one file: Salesforce may rotate a token, and
/// the file is rewritten with the new one, which would lock the other org out.
fn check_own_token_files(
    file: Option<&ConfigFile>,
    flags: &Flags,
    env: &dyn Environment,
    declared: &[String],
) -> Result<(), ConfigError> {
    let Some(file) = file else {
        return Ok(());
    };
    let cwd = env.current_dir();
    let home = sources::home_dir(env);
    let mut owners: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut problems = Vec::new();
    for name in declared {
        let figment = layered(Some(file), flags, env, Some(name), &mut Vec::new());
        let Ok(value) = figment.find_value("refresh_token_file") else {
            continue;
        };
        let Some(text) = value.as_str().map(str::trim).filter(|t| !t.is_empty()) else {
            continue;
        };
        let origin = sources::origin_of(&figment, &value);
        let path = resolve_path(text, &origin, cwd.as_deref(), home.as_deref());
        match owners.get(&path) {
            Some(first) => problems.push(Problem {
                key: format!("{}.{name}.refresh_token_file", keys::ORGS_TABLE),
                origin: Some(origin),
                message: format!(
                    "{} is also org `{first}`'s refresh-token file: give each org its own file, since sfconn \
                     rewrites it when Salesforce rotates the token",
                    path.display()
                ),
            }),
            None => {
                owners.insert(path, name.clone());
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(ConfigError::Invalid { problems }) }
}

/// `fleet.concurrency` from the file's top level and the top-level variables, checked against
/// the key's range.
fn fleet_concurrency(file: &ConfigFile, env: &dyn Environment) -> Result<usize, ConfigError> {
    const KEY: &str = "fleet.concurrency";
    let figment = layered(Some(file), &Flags::default(), env, None, &mut Vec::new());
    let Ok(value) = figment.find_value(KEY) else {
        return Ok(keys::DEFAULT_FLEET_CONCURRENCY);
    };
    let (min, max) = match keys::find(KEY).map(|key| key.kind) {
        Some(keys::Kind::Integer { min, max }) => (min, max),
        _ => (1, 1),
    };
    let number = match &value {
        Value::Num(_, n) => n.to_i128().filter(|n| (min..=max).contains(n)),
        _ => None,
    };
    match number.and_then(|n| usize::try_from(n).ok()) {
        Some(n) => Ok(n),
        None => Err(ConfigError::Invalid {
            problems: vec![Problem {
                key: KEY.into(),
                origin: Some(sources::origin_of(&figment, &value)),
                message: format!("must be a whole number from {min} to {max}"),
            }],
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::Path;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::MapEnvironment;

    /// A temporary directory with a config file, secret files and a HOME.
    struct Dir(tempfile::TempDir);

    impl Dir {
        fn new(config: &str) -> Dir {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("sfconn.toml"), config).unwrap();
            for name in ["secret", "prod.token", "sandbox.token", "shared.token"] {
                std::fs::write(dir.path().join(name), format!("{name}-value\n")).unwrap();
            }
            Dir(dir)
        }

        fn path(&self) -> &Path {
            self.0.path()
        }

        fn env(&self) -> MapEnvironment {
            MapEnvironment::in_dir(self.path()).with("HOME", self.path().join("home").to_str().unwrap())
        }
    }

    const TWO_ORGS: &str = r#"
client_id = "top-level-id"
client_secret_file = "secret"
company_names = ["acme.com"]

[http]
timeout_secs = 30

[orgs.prod]
refresh_token_file = "prod.token"

[orgs.acme-sandbox]
client_id = "sandbox-id"
login_url = "https://test.salesforce.com"
refresh_token_file = "sandbox.token"
http = { timeout_secs = 5 }
"#;

    fn value<'a>(loaded: &'a Loaded, key: &str) -> (&'a serde_json::Value, &'a Origin) {
        let entry = loaded.entries.iter().find(|e| e.key == key).unwrap();
        (&entry.value, &entry.origin)
    }

    #[test]
    fn an_org_table_overrides_the_top_level_and_says_so() {
        let dir = Dir::new(TWO_ORGS);
        let config = dir.path().join("sfconn.toml");
        let loaded =
            load_org_with(&Flags::default(), Need::Everything, &dir.env(), Some("acme-sandbox")).unwrap();
        let settings = &loaded.settings;
        assert_eq!(settings.org.as_deref(), Some("acme-sandbox"));
        assert_eq!(settings.client_id, "sandbox-id");
        assert_eq!(settings.login_url.as_str(), "https://test.salesforce.com/");
        assert_eq!(settings.http.timeout_secs, 5);
        assert_eq!(settings.company_names, ["acme.com"], "inherited from the top level");
        assert_eq!(settings.refresh_token.as_ref().unwrap().expose_secret(), "sandbox.token-value");
        assert_eq!(settings.refresh_token_file.as_deref(), Some(dir.path().join("sandbox.token").as_path()));
        assert_eq!(
            value(&loaded, "client_id"),
            (
                &serde_json::json!("sandbox-id"),
                &Origin::OrgTable { path: config.clone(), org: "acme-sandbox".into() }
            )
        );
        assert_eq!(value(&loaded, "company_names").1, &Origin::File { path: config });
        assert_eq!(
            settings.state_dir.as_deref(),
            Some(dir.path().join("home/.local/state/sfconn/orgs/acme-sandbox").as_path()),
            "each org keeps its own state"
        );

        let prod = load_org_with(&Flags::default(), Need::Everything, &dir.env(), Some("prod")).unwrap();
        assert_eq!(prod.settings.client_id, "top-level-id");
        assert_eq!(prod.settings.http.timeout_secs, 30);
    }

    #[test]
    fn org_variables_beat_the_file_and_top_level_variables_flags_beat_all() {
        let dir = Dir::new(TWO_ORGS);
        let env = dir
            .env()
            .with("SFCONN_CLIENT_ID", "env-top")
            .with("SFCONN_ORGS__ACME_SANDBOX__CLIENT_ID", "env-org")
            .with("SFCONN_ORGS__ACME_SANDBOX__HTTP__MAX_RETRIES", "1");
        let sandbox = load_org_with(&Flags::default(), Need::Everything, &env, Some("acme-sandbox")).unwrap();
        assert_eq!(sandbox.settings.client_id, "env-org");
        assert_eq!(sandbox.settings.http.max_retries, 1);
        assert_eq!(
            value(&sandbox, "client_id").1,
            &Origin::Env { var: "SFCONN_ORGS__ACME_SANDBOX__CLIENT_ID".into() }
        );
        let prod = load_org_with(&Flags::default(), Need::Everything, &env, Some("prod")).unwrap();
        assert_eq!(prod.settings.client_id, "env-top", "a top-level variable beats the file");
        assert_eq!(prod.settings.http.max_retries, keys::DEFAULT_MAX_RETRIES, "another org's variable");
        let flags = Flags { client_id: Some("flag-id".into()), ..Flags::default() };
        let flagged = load_org_with(&flags, Need::Everything, &env, Some("acme-sandbox")).unwrap();
        assert_eq!(flagged.settings.client_id, "flag-id");
    }

    #[test]
    fn a_config_without_orgs_works_alone_and_refuses_org_flags() {
        let dir = Dir::new(
            "client_id = \"x\"\nclient_secret_file = \"secret\"\nrefresh_token_file = \"prod.token\"\n",
        );
        let loaded = load_org_with(&Flags::default(), Need::Everything, &dir.env(), None).unwrap();
        assert_eq!(loaded.settings.org, None);
        assert_eq!(
            loaded.settings.state_dir.as_deref(),
            Some(dir.path().join("home/.local/state/sfconn").as_path())
        );
        let err = load_org_with(&Flags::default(), Need::Everything, &dir.env(), Some("prod")).unwrap_err();
        assert!(matches!(err, ConfigError::NoOrgs { .. }), "{err}");
        assert!(err.to_string().contains("declares none"), "{err}");
        let err = load_fleet_with(&Flags::default(), Need::Everything, &dir.env()).unwrap_err();
        assert!(matches!(err, ConfigError::NoOrgs { .. }), "{err}");
    }

    #[test]
    fn with_named_orgs_a_command_must_choose_unless_it_needs_no_credentials() {
        let dir = Dir::new(TWO_ORGS);
        let err = load_org_with(&Flags::default(), Need::Everything, &dir.env(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the config file declares named orgs (acme-sandbox, prod): choose one with --org NAME (or collect \
             them all with `sfconn collect --all-orgs -o DIR`)"
        );
        assert_eq!(sfconn_errors::Classify::class(&err), sfconn_errors::ErrorClass::Usage);
        let store_only = load_org_with(&Flags::default(), Need::StoreOnly, &dir.env(), None).unwrap();
        assert_eq!(
            store_only.settings.store_path.as_deref(),
            Some(dir.path().join("home/.local/share/sfconn/history.db").as_path())
        );
    }

    #[test]
    fn an_index_picks_an_org_in_name_order() {
        let dir = Dir::new(TWO_ORGS);
        let at = |index| load_org_at_index_with(&Flags::default(), Need::Everything, &dir.env(), index);
        assert_eq!(at(0).unwrap().settings.org.as_deref(), Some("acme-sandbox"));
        assert_eq!(at(1).unwrap().settings.client_id, "top-level-id", "prod's settings");
        let err = at(2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--org-index 2 names no org: the config file declares 2 (0 = acme-sandbox, 1 = prod); set the \
             Indexed Job's completions to the number of orgs"
        );
    }

    #[test]
    fn an_unknown_org_gets_the_nearest_name() {
        let dir = Dir::new(TWO_ORGS);
        let err = load_org_with(&Flags::default(), Need::Everything, &dir.env(), Some("prdo")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no org named `prdo` in the config file (did you mean `prod`?); the declared orgs are: acme-sandbox, prod"
        );
    }

    #[test]
    fn bad_names_empty_tables_and_stray_variables_fail_the_whole_config() {
        let cases = [
            ("[orgs.Acme_Prod]\nclient_id = \"x\"\n", vec![], "orgs.Acme_Prod", "is not a valid org name"),
            ("[orgs]\n", vec![], "orgs", "declares no org"),
            ("orgs = \"prod\"\n", vec![], "orgs", "must be a table of orgs"),
            ("[orgs]\nprod = 1\n", vec![], "orgs.prod", "must be a table"),
            (
                "[orgs.prod]\nfleet = { concurrency = 3 }\n",
                vec![],
                "orgs.prod.fleet.concurrency",
                "set it at the top level",
            ),
            (
                "[orgs.prod]\n",
                vec![("SFCONN_ORGS__PORD__CLIENT_ID", "x")],
                "SFCONN_ORGS__PORD__CLIENT_ID",
                "names the org `pord`, which the config file does not declare (declared: prod)",
            ),
            (
                "[orgs.prod]\n",
                vec![("SFCONN_ORGS__PROD_CLIENT_ID", "x")],
                "SFCONN_ORGS__PROD_CLIENT_ID",
                "cannot tell the org from the key",
            ),
            (
                "[orgs.a]\nrefresh_token_file = \"shared.token\"\n[orgs.b]\nrefresh_token_file = \"shared.token\"\n",
                vec![],
                "orgs.b.refresh_token_file",
                "is also org `a`'s refresh-token file",
            ),
        ];
        for (config, vars, key, message) in cases {
            let dir = Dir::new(config);
            let mut env = dir.env();
            for (name, value) in vars {
                env = env.with(name, value);
            }
            for err in [
                load_fleet_with(&Flags::default(), Need::Everything, &env).unwrap_err(),
                load_org_with(&Flags::default(), Need::Everything, &env, Some("prod")).unwrap_err(),
            ] {
                if matches!(err, ConfigError::NoOrgs { .. } | ConfigError::UnknownOrg { .. })
                    && key == "orgs.b.refresh_token_file"
                {
                    continue; // `--org prod` names no org of that config: refused before the token check
                }
                let problem = err.problems().iter().find(|p| p.key == key);
                assert!(problem.is_some_and(|p| p.message.contains(message)), "{config}: {err}");
            }
        }
    }

    #[test]
    fn a_shared_token_file_is_found_through_the_top_level_too() {
        let dir = Dir::new("refresh_token_file = \"shared.token\"\n[orgs.a]\n[orgs.b]\n");
        let err = load_fleet_with(&Flags::default(), Need::Everything, &dir.env()).unwrap_err();
        assert!(err.problems().iter().any(|p| p.key == "orgs.b.refresh_token_file"), "{err}");
        let dir = Dir::new(
            "refresh_token_file = \"shared.token\"\n[orgs.a]\n[orgs.b]\nrefresh_token_file = \"prod.token\"\n",
        );
        assert!(load_fleet_with(&Flags::default(), Need::Everything, &dir.env()).is_ok());
    }

    #[test]
    fn one_org_with_an_unreadable_secret_fails_alone() {
        let dir = Dir::new(
            "client_id = \"x\"\nclient_secret_file = \"secret\"\nfleet = { concurrency = 3 }\n\
             [orgs.prod]\nrefresh_token_file = \"prod.token\"\n\
             [orgs.broken]\nrefresh_token_file = \"missing.token\"\n",
        );
        let fleet = load_fleet_with(&Flags::default(), Need::Everything, &dir.env()).unwrap();
        assert_eq!(fleet.concurrency, 3);
        let names: Vec<&str> = fleet.orgs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["broken", "prod"]);
        let broken = fleet.orgs[0].loaded.as_ref().unwrap_err();
        let text = broken.to_string();
        assert!(text.starts_with("org `broken`: invalid setting `refresh_token_file`"), "{text}");
        assert!(text.contains("missing.token does not exist"), "{text}");
        assert_eq!(fleet.orgs[1].loaded.as_ref().unwrap().settings.org.as_deref(), Some("prod"));
    }

    #[test]
    fn an_unknown_key_in_an_org_table_names_the_org_the_key_and_the_nearest_key() {
        let dir = Dir::new(
            "client_id = \"x\"\nclient_secret_file = \"secret\"\n\
             [orgs.prod]\nrefresh_token_file = \"prod.token\"\nclient_secert = \"x\"\n",
        );
        let err = load_org_with(&Flags::default(), Need::Everything, &dir.env(), Some("prod")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("org `prod`: invalid setting `client_secert`"), "{text}");
        assert!(text.contains("[orgs.prod]"), "the origin names the table: {text}");
        assert!(text.contains("did you mean `client_secret`?"), "{text}");
    }

    #[test]
    fn fleet_concurrency_is_checked_once_for_the_fleet() {
        let dir = Dir::new("fleet = { concurrency = 40 }\n[orgs.prod]\n");
        let err = load_fleet_with(&Flags::default(), Need::Everything, &dir.env()).unwrap_err();
        assert_eq!(err.problems()[0].key, "fleet.concurrency", "{err}");
        let env = dir.env().with("SFCONN_FLEET__CONCURRENCY", "4");
        assert_eq!(
            load_fleet_with(&Flags::default(), Need::StoreOnly, &env).unwrap().concurrency,
            4,
            "env beats file"
        );
        let env = dir.env().with("SFCONN_FLEET__CONCURRENCY", "0");
        let err = load_fleet_with(&Flags::default(), Need::StoreOnly, &env).unwrap_err();
        assert_eq!(
            err.problems()[0].origin,
            Some(Origin::Env { var: "SFCONN_FLEET__CONCURRENCY".into() }),
            "{err}"
        );
    }

    #[test]
    fn the_report_keys_and_the_prices_apply_to_all_orgs() {
        let dir = Dir::new(
            "[prices]\ncurrency = \"EUR\"\n[orgs.prod]\nreport = { free_keys = [\"SFDC\"] }\nprices = { SFDC = 1 }\n",
        );
        let err = load_fleet_with(&Flags::default(), Need::StoreOnly, &dir.env()).unwrap_err();
        let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["orgs.prod.report.free_keys", "orgs.prod.prices"], "{err}");
        assert!(err.to_string().contains("set [prices] at the top level of the file"), "{err}");
    }
}
