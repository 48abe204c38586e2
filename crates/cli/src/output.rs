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
