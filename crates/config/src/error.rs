//! Errors and the origin of a value.

use std::fmt;
use std::path::PathBuf;

use sfconn_errors::{Classify, ErrorClass};

/// Where an effective setting came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Built-in default (or not set at all).
    Default,
    /// The config file at this path.
    File {
        /// Path of the config file.
        path: PathBuf,
    },
    /// The `[orgs.NAME]` table of the config file at this path.
    OrgTable {
        /// Path of the config file.
        path: PathBuf,
        /// The org's name.
        org: String,
    },
    /// This environment variable.
    Env {
        /// Name of the variable, e.g. `SFCONN_CLIENT_ID`.
        var: String,
    },
    /// This command-line flag.
    Flag {
        /// The flag, e.g. `--client-id`.
        flag: String,
    },
    /// Read from this file, named by a `*_file` setting (client secret, refresh token).
    SecretFile {
        /// Path of the file the value was read from.
        path: PathBuf,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path } => write!(f, "file {}", path.display()),
            Origin::OrgTable { path, org } => write!(f, "file {} [orgs.{org}]", path.display()),
            Origin::Env { var } => write!(f, "env {var}"),
            Origin::Flag { flag } => write!(f, "flag {flag}"),
            Origin::SecretFile { path } => write!(f, "read from {}", path.display()),
        }
    }
}

/// One thing wrong with one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The setting's key as written in the config file, e.g. `http.timeout_secs`.
    pub key: String,
    /// Where the offending value came from; `None` when the value is missing.
    pub origin: Option<Origin>,
    /// What is wrong and what to do; never contains a secret.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "`{}` ({origin}): {}", self.key, self.message),
            None => write!(f, "`{}`: {}", self.key, self.message),
        }
    }
}

/// Settings could not be loaded. Every variant is a configuration error
/// ([`ErrorClass::Configuration`]) but [`ConfigError::OrgRequired`], a usage error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A config file named by `--config` or `SFCONN_CONFIG` does not exist.
    #[error(
        "config file {} (given by {named_by}) does not exist; correct the path, or create it with `sfconn config init {}`",
        path.display(),
        path.display()
    )]
    FileNotFound {
        /// The path as resolved.
        path: PathBuf,
        /// `--config` or `SFCONN_CONFIG`.
        named_by: String,
    },
    /// The config file exists but cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    FileUnreadable {
        /// The config file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML.
    #[error("config file {} is not valid TOML: {source}", path.display())]
    FileSyntax {
        /// The config file.
        path: PathBuf,
        /// The parser's message, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// One or more settings are missing or wrong; all of them are listed.
    #[error("{}", describe_problems(problems))]
    Invalid {
        /// Every problem found, in key order.
        problems: Vec<Problem>,
    },
    /// The config file declares named orgs and the command did not say which one.
    #[error(
        "the config file declares named orgs ({}): choose one with --org NAME (or collect them all with \
         `sfconn collect --all-orgs -o DIR`)",
        known.join(", ")
    )]
    OrgRequired {
        /// The declared org names.
        known: Vec<String>,
    },
    /// `--org` or `--all-orgs` without any `[orgs.NAME]` table.
    #[error(
        "--org and --all-orgs need named orgs, and {} declares none: add [orgs.NAME] tables \
         (docs/configuration.md, \"Named orgs\")",
        config_file.as_ref().map_or_else(|| "no config file was found, so it".to_string(), |p| format!("the config file {}", p.display()))
    )]
    NoOrgs {
        /// The config file that was read, if any.
        config_file: Option<PathBuf>,
    },
    /// `--org NAME` names no declared org.
    #[error(
        "no org named `{name}` in the config file{}; the declared orgs are: {}",
        nearest.as_ref().map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default(),
        known.join(", ")
    )]
    UnknownOrg {
        /// The name given.
        name: String,
        /// The declared name nearest to it, if any is close.
        nearest: Option<String>,
        /// Every declared org.
        known: Vec<String>,
    },
    /// `--org-index N` beyond the declared orgs.
    #[error(
        "--org-index {index} names no org: the config file declares {} ({}); set the Indexed Job's completions \
         to the number of orgs",
        known.len(),
        known.iter().enumerate().map(|(i, n)| format!("{i} = {n}")).collect::<Vec<_>>().join(", ")
    )]
    OrgIndexOutOfRange {
        /// The index given.
        index: usize,
        /// The declared orgs, in name order.
        known: Vec<String>,
    },
    /// Something is wrong with one named org's settings.
    #[error("org `{org}`: {source}")]
    InOrg {
        /// The org's name.
        org: String,
        /// What is wrong.
        #[source]
        source: Box<ConfigError>,
    },
    /// figment could not merge the sources (does not happen with sfconn's own providers).
    #[error("cannot combine the settings' sources: {0}")]
    Merge(#[source] Box<figment::Error>),
}

impl Classify for ConfigError {
    /// The configuration, but for a missing `--org`, which is a usage error.
    fn class(&self) -> ErrorClass {
        match self {
            ConfigError::OrgRequired { .. } => ErrorClass::Usage,
            ConfigError::InOrg { source, .. } => source.class(),
            _ => ErrorClass::Configuration,
        }
    }
}

impl ConfigError {
    /// The individual problems of an [`ConfigError::Invalid`]; empty for other variants.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems } => problems,
            ConfigError::InOrg { source, .. } => source.problems(),
            _ => &[],
        }
    }
}

fn describe_problems(problems: &[Problem]) -> String {
    match problems {
        [one] => format!("invalid setting {one}"),
        many => {
            let mut text = format!("{} settings are invalid:", many.len());
            for problem in many {
                text.push_str("\n  - ");
                text.push_str(&problem.to_string());
            }
            text
        }
    }
}
