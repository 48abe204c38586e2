//! `sfconn auth url | exchange | device | check | revoke` (docs/contract.md §3): getting a
//! refresh token, checking what the configured flow reaches, and revoking the stored token. The OAuth work is in `sfconn_auth`; this module wires settings,
//! prints data (the URL, the refresh token, the check report) on stdout and guidance on stderr.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use secrecy::ExposeSecret;
use sfconn_auth::{
    AuthorizeParams, DevicePolling, FlowKind, Grant, OAuthClient, PendingAuthorization, RequestCounter,
    Revoked, Rotation, Url, parse_code_input,
};
use sfconn_config::{Loaded, Need, Settings};

use crate::exit::{Failure, code, code_of};
use crate::output;
use crate::settings_args::SettingArgs;

/// File name of the pending authorization (state, redirect URI, PKCE verifier) in the state dir.
const PENDING_FILE: &str = "pending-authorization.json";

/// `sfconn auth ...`
#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Print the URL that starts the authorization-code flow in a browser
    Url(UrlArgs),
    /// Turn the code (or the whole success URL pasted from the browser) into a refresh token
    Exchange(ExchangeArgs),
    /// Get a refresh token through the OAuth 2.0 device flow (no copy and paste of codes)
    Device(DeviceArgs),
    /// Refresh the access token and show who and what it reaches: org, user, scopes, API usage
    Check(CheckArgs),
    /// Revoke the stored refresh token at Salesforce and delete the refresh_token_file
    Revoke(CheckArgs),
}

/// Flags of `auth url`.
#[derive(Debug, Args)]
pub(crate) struct UrlArgs {
    /// Add a PKCE S256 code challenge (the verifier is kept for `auth exchange`)
    #[arg(long)]
    pub pkce: bool,

    /// Redirect URI [default: <login URL>/services/oauth2/success]; must be a Callback URL of
    /// the app
    #[arg(long, value_name = "URI", value_parser = sfconn_auth::parse_redirect_uri)]
    pub redirect_uri: Option<Url>,

    /// Scopes to ask for, space-separated
    #[arg(long, value_name = "SCOPES", default_value = sfconn_auth::DEFAULT_SCOPE)]
    pub scope: String,

    #[command(flatten)]
    pub settings: SettingArgs,
}

/// Flags of `auth exchange`.
#[derive(Debug, Args)]
pub(crate) struct ExchangeArgs {
    /// The code, the URL-encoded code, or the whole success URL from the browser; `-` reads it
    /// from stdin
    #[arg(long, value_name = "CODE_OR_URL")]
    pub code: String,

    /// Redirect URI sent with the code [default: the one `auth url` used]
    #[arg(long, value_name = "URI", value_parser = sfconn_auth::parse_redirect_uri)]
    pub redirect_uri: Option<Url>,

    #[command(flatten)]
    pub settings: SettingArgs,
}

/// Flags of `auth device`.
#[derive(Debug, Args)]
pub(crate) struct DeviceArgs {
    /// Scopes to ask for, space-separated
    #[arg(long, value_name = "SCOPES", default_value = sfconn_auth::DEFAULT_SCOPE)]
    pub scope: String,

    /// Give up when nobody approved within this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout_secs: u64,

    #[command(flatten)]
    pub settings: SettingArgs,
}

/// Flags of `auth check` and `auth revoke`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub settings: SettingArgs,
}

pub(crate) fn run(command: AuthCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match command {
        AuthCommand::Url(args) => url(&args),
        AuthCommand::Exchange(args) => runtime.block_on(exchange(&args)),
        AuthCommand::Device(args) => runtime.block_on(device(&args)),
        AuthCommand::Check(args) => runtime.block_on(check(&args)),
        AuthCommand::Revoke(args) => runtime.block_on(revoke(&args)),
    }
}

fn load(settings: &SettingArgs, need: Need) -> anyhow::Result<Loaded> {
    let loaded = settings.load(&settings.to_flags(), need)?;
    for warning in &loaded.warnings {
        output::warning(warning);
    }
    Ok(loaded)
}

fn oauth_client(settings: &Settings) -> anyhow::Result<OAuthClient> {
    Ok(OAuthClient::new(
        settings.login_url.clone(),
        settings.client_id.clone(),
        settings.client_secret.clone(),
        sfconn_session::auth_options(settings),
        RequestCounter::default(),
    )?)
}

/// Where `auth url` keeps the pending authorization for `auth exchange`: the state directory,
/// which is the org's own for a named org.
fn pending_path(settings: &Settings) -> anyhow::Result<PathBuf> {
    settings.state_dir.as_ref().map(|dir| dir.join(PENDING_FILE)).ok_or_else(|| {
        Failure::new(
            code::CONFIG,
            "no home directory is known to keep the authorization state in: set HOME or \
             XDG_STATE_HOME",
        )
        .into()
    })
}

fn url(args: &UrlArgs) -> anyhow::Result<()> {
    let loaded = load(&args.settings, Need::ClientOnly)?;
    let client = oauth_client(&loaded.settings)?;
    let params = AuthorizeParams {
        redirect_uri: args.redirect_uri.clone(),
        scope: Some(args.scope.clone()),
        pkce: args.pkce,
    };
    let request = client.authorize_request(&params)?;
    let path = pending_path(&loaded.settings)?;
    create_private_dir(&path)?;
    request.pending.save(&path)?;
    output::data(&format!("{}\n", request.url)).context("writing to stdout")?;
    output::note(&format!(
        "Open this URL in a browser where you are logged in as the integration user, approve, \
         then copy the whole URL the browser ends on ({}?code=...) and run:\n  \
         sfconn auth exchange{} --code 'PASTED_URL' --refresh-token-file PATH\n\
         The state{} is kept in {} for that step; the code expires within minutes.",
        request.pending.redirect_uri,
        loaded.settings.org.as_ref().map(|org| format!(" --org {org}")).unwrap_or_default(),
        if args.pkce { " and the PKCE verifier" } else { "" },
        path.display()
    ));
    Ok(())
}

async fn exchange(args: &ExchangeArgs) -> anyhow::Result<()> {
    let loaded = load(&args.settings, Need::ClientOnly)?;
    let settings = &loaded.settings;
    let raw = if args.code.trim() == "-" { read_stdin_line()? } else { args.code.clone() };
    let input = parse_code_input(&raw)?;
    let path = pending_path(settings).ok();
    let pending = match &path {
        Some(path) => PendingAuthorization::load(path)?,
        None => None,
    };
    let pending = pending.filter(|pending| {
        let same_app =
            pending.client_id == settings.client_id && pending.login_url == settings.login_url.as_str();
        if !same_app {
            output::note(
                "note: the saved authorization state is for another client_id or login URL; \
                 exchanging without it",
            );
        }
        same_app
    });
    if pending.is_none() && input.state.is_some() {
        output::warning(
            "no saved state from `sfconn auth url` to compare with the URL's state; \
             the state is not checked",
        );
    }
    let client = oauth_client(settings)?;
    let grant = client.exchange_code(&input, pending.as_ref(), args.redirect_uri.as_ref()).await?;
    if let Some(path) = &path
        && pending.is_some()
    {
        // Codes are single use: the state has done its job.
        let _ = std::fs::remove_file(path);
    }
    deliver(&grant, &args.settings, settings)
}

async fn device(args: &DeviceArgs) -> anyhow::Result<()> {
    let loaded = load(&args.settings, Need::ClientOnly)?;
    let settings = &loaded.settings;
    output::warning(DEVICE_FLOW_WARNING);
    let client = oauth_client(settings)?;
    let device = client.start_device(Some(&args.scope)).await?;
    output::note(&format!(
        "To approve sfconn, open {} in a browser where you are logged in as the integration \
         user and enter the code:\n\n    {}\n\nWaiting for approval (up to {} s)...",
        device.verification_uri, device.user_code, args.timeout_secs
    ));
    let polling =
        DevicePolling { timeout: Duration::from_secs(args.timeout_secs), ..DevicePolling::default() };
    let grant = client.poll_device(&device, polling).await?;
    if let Ok(identity) = client.identity(&grant.access_token).await {
        output::note(&format!("Approved by {} (org {}).", identity.username, identity.organization_id));
    }
    deliver(&grant, &args.settings, settings)
}

/// Prints the refresh token on stdout (nothing else), or writes it with mode 0600 to the file
/// given with `--refresh-token-file` (docs/contract.md §3).
fn deliver(grant: &Grant, flags: &SettingArgs, settings: &Settings) -> anyhow::Result<()> {
    if !grant.access_token.has_scope("api") && !grant.access_token.has_scope("full") {
        output::warning(&missing_scope_warning("api", &grant.access_token.scopes));
    }
    match &flags.refresh_token_file {
        Some(path) => {
            let path = settings.refresh_token_file.clone().unwrap_or_else(|| path.clone());
            sfconn_auth::write_secret_file(&path, &grant.refresh_token)
                .with_context(|| format!("writing the refresh token to {}", path.display()))?;
            output::note(&format!(
                "The refresh token was written to {} (mode 0600). Set refresh_token_file to \
                 this path, then run `sfconn auth check`.",
                path.display()
            ));
        }
        None => {
            output::data(&format!("{}\n", grant.refresh_token.expose_secret()))
                .context("writing to stdout")?;
            if let Some(configured) = &settings.refresh_token_file {
                output::note(&format!(
                    "note: printed on stdout; to write it to the configured refresh_token_file, \
                     pass --refresh-token-file {}",
                    configured.display()
                ));
            }
        }
    }
    Ok(())
}

async fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let loaded = load(&args.settings, Need::Everything)?;
    let settings = &loaded.settings;
    let session = sfconn_session::Session::new(settings)?;
    let tokens = session.tokens();
    let token = tokens.token().await?;
    let identity = tokens.identity(&token).await?;
    let has_api = token.has_scope("api") || token.has_scope("full");
    let usage = if has_api {
        let api = session.connect().await?;
        let usage = api.limits().await?;
        Some((api.api_version().to_string(), usage))
    } else {
        None
    };

    let mut report = String::new();
    let mut line = |label: &str, value: &str| report.push_str(&format!("{label:<15}{value}\n"));
    let flow = tokens.flow();
    line("login URL:", settings.login_url.as_str());
    line("auth flow:", flow.name());
    line("instance URL:", token.instance_url.as_str());
    line("org id:", &identity.organization_id);
    line("user id:", &identity.user_id);
    line("username:", &identity.username);
    line("user type:", identity.user_type.as_deref().unwrap_or("(not given)"));
    line("scopes:", &token.scopes.join(" "));
    match &usage {
        Some((version, usage)) => {
            line("API version:", version);
            line(
                "daily API use:",
                &format!("{} of {} requests ({:.1}%)", usage.used, usage.max, percent(usage.used, usage.max)),
            );
        }
        None => line("daily API use:", "unknown (no api scope)"),
    }
    let rotation = tokens.rotation();
    let rotation_text = match &rotation {
        Rotation::NotRotated if flow != FlowKind::RefreshToken => {
            "none (this flow needs no refresh token)".to_string()
        }
        Rotation::NotRotated => "not rotated".to_string(),
        Rotation::Persisted { path } => format!("rotated; the new token was written to {}", path.display()),
        Rotation::SavedAside { path } => {
            format!("rotated; no refresh_token_file, so the new token was saved to {}", path.display())
        }
        Rotation::NotPersisted => "rotated, and the new token was NOT kept".to_string(),
        Rotation::KeptInStateDir { path } => format!(
            "rotated; the new token was kept in {} (auth.rotated_tokens = \"state_dir\")",
            path.display()
        ),
        Rotation::StateDirUnwritable { path, .. } => {
            format!("rotated; {} could not be written and the new token was NOT kept", path.display())
        }
        Rotation::FileUnwritable { file, saved_to, .. } => match saved_to {
            Some(saved) => format!(
                "rotated; {} could not be written, so the new token was saved to {}",
                file.display(),
                saved.display()
            ),
            None => {
                format!("rotated; {} could not be written and the new token was NOT kept", file.display())
            }
        },
    };
    line("refresh token:", &rotation_text);
    line("requests sent:", &tokens.counter().get().to_string());
    output::data(&report).context("writing to stdout")?;

    if flow == FlowKind::RefreshToken
        && !token.has_scope("refresh_token")
        && !token.has_scope("offline_access")
    {
        output::warning(&missing_scope_warning("refresh_token", &token.scopes));
    }
    // A token file on a full or read-only disk fails the check (74) with the step as message.
    let storage_failure = rotation.failure_class().map(code_of).zip(rotation.next_step()).filter(|_| has_api);
    if let Some(step) = rotation.next_step()
        && rotation.needs_action()
        && storage_failure.is_none()
    {
        output::warning(&step);
    }
    if !has_api {
        return Err(Failure::new(code::AUTH_REFUSED, missing_scope_warning("api", &token.scopes)).into());
    }
    if let Some((code, step)) = storage_failure {
        return Err(Failure::new(code, step).into());
    }
    Ok(())
}

/// Printed by `auth device` before it starts.
const DEVICE_FLOW_WARNING: &str = "the device flow is discouraged: whoever gets a user to type a code approves \
     the app for that user's account (the pattern used in voice-phishing attacks on Salesforce orgs), and \
     Salesforce blocked it for its own CLI in 2025. Prefer `sfconn auth url --pkce` with a pre-authorized user, \
     or auth.flow = \"client_credentials\" / \"jwt_bearer\" (docs/setup.md). Approve only a code you started \
     yourself, on the Salesforce login page you expect";

/// Revokes the stored refresh token, then deletes the refresh_token_file (docs/contract.md §3 is silent;
/// docs/security.md records the choice). An `invalid_token` answer still deletes the file: the
/// token no longer works either way.
async fn revoke(args: &CheckArgs) -> anyhow::Result<()> {
    let loaded = load(&args.settings, Need::Everything)?;
    let settings = &loaded.settings;
    let tokens = sfconn_session::token_source(settings)?;
    let done = match tokens.revoke_refresh_token().await? {
        Revoked::Revoked => "Salesforce revoked the refresh token and the access tokens issued from it.",
        Revoked::AlreadyInvalid => {
            "Salesforce no longer knew this refresh token (already revoked or expired); it cannot be used."
        }
    };
    output::note(done);
    let next = "Get a new one with `sfconn auth url --pkce` and `sfconn auth exchange` when sfconn should run again.";
    match &settings.refresh_token_file {
        Some(path) => {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(Failure::new(
                        74,
                        format!(
                            "the token is revoked, but {} could not be deleted ({error}); delete it yourself",
                            path.display()
                        ),
                    )
                    .into());
                }
            }
            output::note(&format!("Deleted the refresh_token_file {}. {next}", path.display()));
        }
        None => output::note(&format!(
            "The token came from the refresh_token setting or SFCONN_REFRESH_TOKEN: remove it from there. {next}"
        )),
    }
    Ok(())
}

fn missing_scope_warning(scope: &str, granted: &[String]) -> String {
    let granted = if granted.is_empty() { "none".to_string() } else { granted.join(" ") };
    match scope {
        "api" => format!(
            "the token lacks the `api` scope (granted: {granted}): sfconn cannot call the REST API; \
             add \"Manage user data via APIs (api)\" to the app's selected OAuth scopes, then get a \
             new refresh token with `sfconn auth url --pkce`"
        ),
        _ => format!(
            "the token lacks the `refresh_token` scope (granted: {granted}): add \"Perform \
             requests at any time (refresh_token, offline_access)\" to the app's selected OAuth \
             scopes, then get a new refresh token with `sfconn auth url --pkce`"
        ),
    }
}

#[allow(clippy::cast_precision_loss)]
fn percent(used: u64, max: u64) -> f64 {
    if max == 0 { 0.0 } else { used as f64 * 100.0 / max as f64 }
}

/// Creates the state directory with mode 0700 when missing.
fn create_private_dir(file: &Path) -> anyhow::Result<()> {
    let Some(dir) = file.parent() else { return Ok(()) };
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).with_context(|| format!("creating {}", dir.display()))
}

fn read_stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the code from stdin")?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scopes_name_the_app_setting() {
        let warning = missing_scope_warning("api", &["refresh_token".to_string()]);
        assert!(warning.contains("granted: refresh_token"), "{warning}");
        assert!(warning.contains("Manage user data via APIs (api)"), "{warning}");
        let warning = missing_scope_warning("refresh_token", &[]);
        assert!(warning.contains("granted: none"), "{warning}");
        assert!(warning.contains("refresh_token, offline_access"), "{warning}");
    }

    #[test]
    fn usage_percent_handles_a_zero_allowance() {
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(250, 1000), 25.0);
    }
}
