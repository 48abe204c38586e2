//! Diagnostics for `sfconn collect`: `tracing` events on stderr (never stdout), at a level
//! chosen by `-v`/`-q`, written around the progress bars so that the two do not garble each
//! other.
//!
//! Levels: default `warn`; `-v` adds sfconn's `info` events; `-vv` its `debug` events; `-vvv`
//! its `trace` events; `-q` shows errors only. `RUST_LOG`, when set, replaces the choice (the
//! usual `tracing` directive syntax). The library crates never log secrets (tested in `auth`).

use std::io::{self, Write};
use std::sync::OnceLock;

use indicatif::MultiProgress;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The crates whose events `-v` turns up.
const SFCONN_CRATES: [&str; 7] = [
    "sfconn",
    "sfconn_collect",
    "sfconn_api",
    "sfconn_auth",
    "sfconn_http",
    "sfconn_config",
    "sfconn_filter",
];

/// How talkative the run is, from `-v` (repeatable) and `-q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// `-q`: errors only; no progress, no warnings list.
    Quiet,
    /// Warnings and errors.
    Normal,
    /// `-v` given this many times (at least 1).
    Verbose(u8),
}

impl Verbosity {
    pub(crate) fn from_flags(verbose: u8, quiet: bool) -> Self {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, n) => Verbosity::Verbose(n),
        }
    }

    /// The `tracing` filter directives for this verbosity.
    pub(crate) fn directives(self) -> String {
        let sfconn_level = match self {
            Verbosity::Quiet => return "error".to_owned(),
            Verbosity::Normal => return "warn".to_owned(),
            Verbosity::Verbose(1) => "info",
            Verbosity::Verbose(2) => "debug",
            Verbosity::Verbose(_) => "trace",
        };
        let mut directives = vec!["warn".to_owned()];
        directives.extend(SFCONN_CRATES.iter().map(|name| format!("{name}={sfconn_level}")));
        directives.join(",")
    }
}

/// The progress bars on screen, if any: log lines are printed while they are hidden.
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Tells the logger about the progress bars so that log lines do not tear them.
pub(crate) fn attach_progress(bars: &MultiProgress) {
    let _ = BARS.set(bars.clone());
}

/// Installs the stderr logger. `RUST_LOG` overrides the verbosity flags.
pub(crate) fn init(verbosity: Verbosity) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(verbosity.directives()));
    // Only fails when a subscriber is already installed, and then that one is used.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAroundBars)
        .with_target(matches!(verbosity, Verbosity::Verbose(n) if n >= 2))
        .try_init();
}

/// Writes each log event to stderr, hiding the progress bars while it does.
#[derive(Debug, Clone, Copy)]
struct StderrAroundBars;

impl<'a> MakeWriter<'a> for StderrAroundBars {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter { buffer: Vec::new() }
    }
}

/// Collects one event and writes it in one piece when dropped.
struct EventWriter {
    buffer: Vec<u8>,
}

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let write = || {
            // Nothing sensible is left to do when stderr itself cannot be written.
            let _ = io::stderr().lock().write_all(&self.buffer);
        };
        match BARS.get() {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_choose_the_level() {
        assert_eq!(Verbosity::from_flags(0, false).directives(), "warn");
        assert_eq!(Verbosity::from_flags(3, true).directives(), "error");
        let info = Verbosity::from_flags(1, false).directives();
        assert!(info.starts_with("warn,"), "{info}");
        assert!(info.contains("sfconn_collect=info"), "{info}");
        assert!(info.contains("sfconn_api=info"), "{info}");
        assert!(Verbosity::from_flags(2, false).directives().contains("sfconn_auth=debug"));
        // The retries of every request are logged by the HTTP layer.
        assert!(Verbosity::from_flags(2, false).directives().contains("sfconn_http=debug"));
        assert!(Verbosity::from_flags(5, false).directives().contains("sfconn_api=trace"));
    }

    #[test]
    fn every_directive_parses() {
        for verbosity in [0, 1, 2, 3].map(|n| Verbosity::from_flags(n, false)) {
            let directives = verbosity.directives();
            assert!(EnvFilter::try_new(&directives).is_ok(), "{directives}");
        }
    }
}
