//! The setting flags of docs/contract.md §2, shared by every command that loads settings.

use std::path::PathBuf;

use clap::Args;

/// Flags that override the config file and the `SFCONN_*` variables. Secrets have no flag:
/// command lines are visible to other users and kept in shell history.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Settings (override the config file and SFCONN_* variables)")]
pub(crate) struct SettingArgs {
    /// Config file [default: $SFCONN_CONFIG, else ./sfconn.toml, else
    /// $XDG_CONFIG_HOME/sfconn/config.toml]
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The named org to use: an [orgs.NAME] table of the config file (needed when the file
    /// declares named orgs)
    #[arg(long = "org", value_name = "NAME")]
    pub org: Option<String>,

    /// The named org at this position (0-based) in name order: for a Kubernetes Indexed Job,
    /// `--org-index $(JOB_COMPLETION_INDEX)`
    #[arg(long = "org-index", value_name = "N", conflicts_with = "org")]
    pub org_index: Option<usize>,

    /// Consumer Key of the connected app
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,

    /// File holding the Consumer Secret
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,

    /// File holding the refresh token (rewritten when Salesforce rotates it)
    #[arg(long, value_name = "FILE")]
    pub refresh_token_file: Option<PathBuf>,

    /// Authorization server, e.g. https://test.salesforce.com for sandboxes
    #[arg(long, value_name = "URL")]
    pub login_url: Option<String>,

    /// Collect only users whose email domain is NAME or a subdomain of it; `*` for all
    /// (repeatable)
    #[arg(long = "company-name", value_name = "NAME")]
    pub company_names: Vec<String>,

    /// Salesforce API version such as 62.0 [default: the newest the org offers]
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<String>,
}

impl SettingArgs {
    /// Loads the settings of the org these flags choose (`--org`, or the only one there is).
    pub(crate) fn load(
        &self,
        flags: &sfconn_config::Flags,
        need: sfconn_config::Need,
    ) -> Result<sfconn_config::Loaded, sfconn_config::ConfigError> {
        match self.org_index {
            Some(index) => sfconn_config::load_org_at_index(flags, need, index),
            None => sfconn_config::load_org(flags, need, self.org.as_deref()),
        }
    }

    /// The flags in the form `sfconn_config::load` takes.
    pub(crate) fn to_flags(&self) -> sfconn_config::Flags {
        sfconn_config::Flags {
            config: self.config.clone(),
            client_id: self.client_id.clone(),
            client_secret_file: self.client_secret_file.clone(),
            refresh_token_file: self.refresh_token_file.clone(),
            login_url: self.login_url.clone(),
            company_names: self.company_names.clone(),
            api_version: self.api_version.clone(),
            // Only `collect` and `report` have --csv-raw; they set it themselves.
            csv_raw: false,
            login_activity_days: None,
            // Only the store commands have --store-url; they set it themselves.
            store_url: None,
            // Only `report` has --min-logins.
            min_logins: None,
        }
    }
}
