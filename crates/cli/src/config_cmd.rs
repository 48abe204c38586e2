//! `sfconn config check` and `sfconn config init`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sfconn_config::{Entry, Fleet, Loaded, Need, TEMPLATE};

use crate::exit::{Failure, code};
use crate::output;
use crate::settings_args::SettingArgs;

/// `sfconn config ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate the settings and print the effective ones with where each comes from; secrets
    /// as ***
    Check(CheckArgs),
    /// Write a commented template config file (mode 0600)
    Init(InitArgs),
}

/// Flags of `config check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// Check every named org ([orgs.NAME] tables) and show each one's effective settings
    #[arg(long, conflicts_with_all = ["org", "org_index"])]
    pub all_orgs: bool,

    #[command(flatten)]
    pub settings: SettingArgs,
}

/// Output formats of `config check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    /// For people: one `key = value  # origin` line per setting
    Text,
    /// For programs: one JSON document
    Json,
}

/// Flags of `config init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where to write the template
    #[arg(value_name = "PATH", default_value = "sfconn.toml")]
    pub path: PathBuf,

    /// Overwrite the file if it exists
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn run(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check(args) => check(&args),
        ConfigCommand::Init(args) => init(&args),
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<()> {
    if args.all_orgs {
        return check_all_orgs(args);
    }
    let loaded = args.settings.load(&args.settings.to_flags(), Need::Everything)?;
    for warning in &loaded.warnings {
        output::warning(warning);
    }
    let text = match args.format {
        CheckFormat::Text => render_text(&loaded),
        CheckFormat::Json => render_json(&loaded)?,
    };
    output::data(&text).context("writing to stdout")?;
    Ok(())
}

/// `config check --all-orgs`: every org's settings, or what is wrong with them; fails (78)
/// when any org's settings are invalid, after showing all of them.
fn check_all_orgs(args: &CheckArgs) -> anyhow::Result<()> {
    let fleet = sfconn_config::load_fleet(&args.settings.to_flags(), Need::Everything)?;
    for org in &fleet.orgs {
        match &org.loaded {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    output::warning(&format!("org `{}`: {warning}", org.name));
                }
            }
            Err(error) => output::error(&error.to_string()),
        }
    }
    let document = match args.format {
        CheckFormat::Text => render_fleet_text(&fleet),
        CheckFormat::Json => pretty(&fleet_json(&fleet))?,
    };
    output::data(&document).context("writing to stdout")?;
    let failed: Vec<&str> =
        fleet.orgs.iter().filter(|org| org.loaded.is_err()).map(|org| org.name.as_str()).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let message = format!(
        "the settings of {} of {} orgs are invalid: {}",
        failed.len(),
        fleet.orgs.len(),
        failed.join(", ")
    );
    Err(Failure::new(code::CONFIG, message).into())
}

/// `config check --all-orgs` for people: the fleet's settings, then one `# org: NAME` section
/// per org (an invalid org's errors are on stderr).
fn render_fleet_text(fleet: &Fleet) -> String {
    let mut out = format!(
        "# config file: {}\n# fleet.concurrency = {}\n",
        fleet.config_file.display(),
        fleet.concurrency
    );
    for org in &fleet.orgs {
        match &org.loaded {
            Ok(loaded) => out.push_str(&format!("\n# org: {}\n{}", org.name, render_entries(loaded))),
            Err(_) => out.push_str(&format!("\n# org: {} (invalid: see stderr)\n", org.name)),
        }
    }
    out
}

/// `{"config_file", "fleet": {"concurrency"}, "orgs": {NAME: {"settings", "warnings"} or
/// {"error", "problems"}}}`.
fn fleet_json(fleet: &Fleet) -> serde_json::Value {
    let orgs: serde_json::Map<String, serde_json::Value> = fleet
        .orgs
        .iter()
        .map(|org| {
            let shown = match &org.loaded {
                Ok(loaded) => settings_json(loaded),
                Err(error) => {
                    let problems: Vec<serde_json::Value> = error
                        .problems()
                        .iter()
                        .map(
                            |p| serde_json::json!({ "key": p.key, "origin": p.origin, "message": p.message }),
                        )
                        .collect();
                    serde_json::json!({ "error": error.to_string(), "problems": problems })
                }
            };
            (org.name.clone(), shown)
        })
        .collect();
    serde_json::json!({
        "config_file": fleet.config_file,
        "fleet": { "concurrency": fleet.concurrency },
        "orgs": orgs,
    })
}

/// A JSON document as `config check` prints it: pretty, with a final new line.
fn pretty(document: &serde_json::Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(document).context("encoding JSON")?;
    text.push('\n');
    Ok(text)
}

/// `key = value  # origin` lines, aligned; unset keys as comments.
fn render_text(loaded: &Loaded) -> String {
    let mut out = String::new();
    match &loaded.config_file {
        Some(path) => out.push_str(&format!("# config file: {}\n", path.display())),
        None => out.push_str("# config file: none found\n"),
    }
    if let Some(org) = &loaded.settings.org {
        out.push_str(&format!("# org: {org}\n"));
    }
    out.push_str(&render_entries(loaded));
    out
}

/// The settings' lines of [`render_text`].
fn render_entries(loaded: &Loaded) -> String {
    let mut out = String::new();
    let assignments: Vec<(String, &Entry)> = loaded
        .entries
        .iter()
        .map(|entry| {
            let left = if entry.value.is_null() {
                format!("# {} (not set)", entry.key)
            } else {
                format!("{} = {}", entry.key, toml_like(&entry.value))
            };
            (left, entry)
        })
        .collect();
    let width = assignments.iter().map(|(left, _)| left.chars().count()).max().unwrap_or(0);
    for (left, entry) in assignments {
        if entry.value.is_null() {
            out.push_str(&left);
        } else {
            // Padded by hand: a format width above u16::MAX panics, and a value can be long.
            let padding = width.saturating_sub(left.chars().count());
            out.push_str(&format!("{left}{}  # {}", " ".repeat(padding), entry.origin));
        }
        out.push('\n');
    }
    out
}

/// A JSON value written the way TOML writes it (strings quoted, lists with spaces).
fn toml_like(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_like).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// `{"config_file": ..., "org": ..., "settings": {key: {"value", "origin"}}, "warnings": [...]}`
/// (`org` only for a named org).
fn render_json(loaded: &Loaded) -> anyhow::Result<String> {
    let mut document = serde_json::json!({ "config_file": loaded.config_file });
    if let (Some(org), Some(map)) = (&loaded.settings.org, document.as_object_mut()) {
        map.insert("org".into(), serde_json::Value::from(org.as_str()));
    }
    if let (serde_json::Value::Object(map), serde_json::Value::Object(rest)) =
        (&mut document, settings_json(loaded))
    {
        map.extend(rest);
    }
    pretty(&document)
}

/// `{"settings": {key: {"value", "origin"}}, "warnings": [...]}` of one loaded org.
fn settings_json(loaded: &Loaded) -> serde_json::Value {
    let settings: serde_json::Map<String, serde_json::Value> = loaded
        .entries
        .iter()
        .map(|entry| {
            let shown = serde_json::json!({ "value": entry.value, "origin": entry.origin });
            (entry.key.clone(), shown)
        })
        .collect();
    serde_json::json!({ "settings": settings, "warnings": loaded.warnings })
}

fn init(args: &InitArgs) -> anyhow::Result<()> {
    let path = &args.path;
    if !args.force && path.exists() {
        return Err(already_exists(path).into());
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::new(code::CONFIG, format!("cannot create directory {}: {e}", dir.display())))?;
    write_private_atomically(path, &dir, TEMPLATE.as_bytes(), args.force)?;
    output::note(&format!(
        "wrote a template config file to {}; fill in client_id and the secrets' files, then run `sfconn config check`",
        path.display()
    ));
    Ok(())
}

fn already_exists(path: &Path) -> Failure {
    Failure::new(
        code::CONFIG,
        format!("{} already exists; add --force to overwrite it, or give another path", path.display()),
    )
}

/// Writes `bytes` to a temporary file in `dir` (mode 0600), then renames it to `path`, so the
/// file appears complete or not at all. Without `overwrite`, an existing file is kept even
/// if it appeared meanwhile.
fn write_private_atomically(path: &Path, dir: &Path, bytes: &[u8], overwrite: bool) -> anyhow::Result<()> {
    let cannot_write =
        |e: std::io::Error| Failure::new(code::CONFIG, format!("cannot write {}: {e}", path.display()));
    let mut file =
        tempfile::Builder::new().prefix(".sfconn-").suffix(".tmp").tempfile_in(dir).map_err(cannot_write)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(cannot_write)?;
    }
    file.write_all(bytes).map_err(cannot_write)?;
    file.as_file().sync_all().map_err(cannot_write)?;
    let persisted = if overwrite { file.persist(path) } else { file.persist_noclobber(path) };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            already_exists(path)
        } else {
            cannot_write(e.error)
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn toml_like_quotes_strings_and_spaces_lists() {
        assert_eq!(toml_like(&json!("a\"b")), "\"a\\\"b\"");
        assert_eq!(toml_like(&json!(["a.com", "b.io"])), "[\"a.com\", \"b.io\"]");
        assert_eq!(toml_like(&json!(60)), "60");
    }
}
