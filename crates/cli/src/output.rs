//! The one place that writes to the terminal: data to stdout, messages to stderr.

use std::io::{self, Write};

/// Writes data to stdout. A closed pipe surfaces as an `io::Error` of kind `BrokenPipe`,
/// which [`crate::exit::exit_code`] maps to success.
pub(crate) fn data(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// `error: <message>` on stderr.
pub(crate) fn error(message: &str) {
    message_line("error", message);
}

/// `warning: <message>` on stderr.
pub(crate) fn warning(message: &str) {
    message_line("warning", message);
}

/// A plain note on stderr.
pub(crate) fn note(message: &str) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}

fn message_line(label: &str, message: &str) {
    // Nothing sensible is left to do when stderr itself cannot be written.
    let _ = writeln!(io::stderr().lock(), "{label}: {message}");
}

/// Exit code of an output that could not be written (docs/contract.md §6).
const IO_ERROR: u8 = 74;

/// Checks, before any work, that `path` can receive a file: `-` (stdout), or a path whose
/// directory exists. Bad usage is exit 2.
pub(crate) fn check_target(path: &std::path::Path) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    let dir = target_dir(path);
    if path.is_dir() || !dir.is_dir() {
        return Err(crate::exit::Failure::new(
            crate::exit::code::USAGE,
            format!(
                "cannot write {}: give a file path in an existing directory, or `-` for stdout",
                path.display()
            ),
        )
        .into());
    }
    Ok(())
}

fn target_dir(path: &std::path::Path) -> &std::path::Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    }
}

/// Writes `bytes` to stdout (`-`) or to the file `path`, atomically: a temporary file in the
/// same directory renamed over `path`, so the file is complete or not there (exit 74 when the
/// disk refuses).
pub(crate) fn write_output(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        let mut stdout = io::stdout().lock();
        stdout.write_all(bytes)?;
        return Ok(stdout.flush()?);
    }
    let failed = |e: io::Error| {
        crate::exit::Failure::new(
            IO_ERROR,
            format!("cannot write {}: {e}; nothing was written", path.display()),
        )
    };
    let mut file = tempfile::Builder::new()
        .prefix(".sfconn-")
        .suffix(".tmp")
        .tempfile_in(target_dir(path))
        .map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}
