//! What the store's renderers share: the `-f json` writer and the error of a failed write.
//! Each report or diff renderer takes its model and an output and nothing else.

use std::io::Write;

use serde::Serialize;

use crate::StoreError;

/// Runs a renderer that writes to `out`, naming `what` it was writing if that fails.
pub(crate) fn write(
    what: &'static str,
    render: impl FnOnce() -> std::io::Result<()>,
) -> Result<(), StoreError> {
    render().map_err(|source| StoreError::Write { what, source })
}

/// `-f json`: `value` pretty-printed, then a newline.
pub(crate) fn json<T: Serialize>(
    what: &'static str,
    value: &T,
    out: &mut dyn Write,
) -> Result<(), StoreError> {
    write(what, || {
        serde_json::to_writer_pretty(&mut *out, value)?;
        writeln!(out)
    })
}
