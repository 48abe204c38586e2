//! The process environment, behind a trait so tests can inject their own.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What settings loading needs from the process: variables and the current directory.
pub trait Environment {
    /// The variable's value; `None` when unset.
    fn var(&self, name: &str) -> Option<String>;
    /// Every variable whose name starts with `prefix`, in name order.
    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)>;
    /// The current directory, against which relative paths from the environment and flags
    /// are resolved.
    fn current_dir(&self) -> Option<PathBuf>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

// This crate is the one place that reads the process environment (clippy.toml).
#[allow(clippy::disallowed_methods)]
impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                name.starts_with(prefix).then(|| (name, value.to_string_lossy().into_owned()))
            })
            .collect();
        vars.sort();
        vars
    }

    fn current_dir(&self) -> Option<PathBuf> {
        std::env::current_dir().ok()
    }
}

/// A fixed environment, for tests and embedding.
#[derive(Debug, Clone, Default)]
pub struct MapEnvironment {
    /// The variables.
    pub vars: BTreeMap<String, String>,
    /// The current directory.
    pub current_dir: Option<PathBuf>,
}

impl MapEnvironment {
    /// An empty environment whose current directory is `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { vars: BTreeMap::new(), current_dir: Some(dir.into()) }
    }

    /// Adds a variable.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_string(), value.to_string());
        self
    }
}

impl Environment for MapEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    }

    fn current_dir(&self) -> Option<PathBuf> {
        self.current_dir.clone()
    }
}
