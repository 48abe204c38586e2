//! `sfconn completions <bash|zsh|fish>`: the shell completion script, on stdout.

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::output;

/// Flags of `sfconn completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells sfconn writes completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl From<CompletionShell> for Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
        }
    }
}

#[allow(clippy::needless_pass_by_value)] // the shape every command's `run` has
pub(crate) fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = crate::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(Shell::from(args.shell), &mut command, "sfconn", &mut script);
    output::data(&String::from_utf8_lossy(&script))?;
    Ok(())
}
