//! `json`: one pretty-printed document (two-space indent, keys in schema order), byte for byte
//! what `serde_json::to_string_pretty` gives for the whole [`Snapshot`](crate::Snapshot), plus
//! a final newline, but with the users streamed.

use std::io::Write;

use serde::Serialize;

use super::{Encoder, OutputError};
use crate::snapshot::{SnapshotHeader, Summary, User, Warning};

#[derive(Debug, Default)]
pub(crate) struct JsonEncoder {
    users_written: u64,
}

const NAME: &str = "json";

impl Encoder for JsonEncoder {
    fn name(&self) -> &'static str {
        NAME
    }

    fn begin(&mut self, out: &mut dyn Write, header: &SnapshotHeader) -> Result<(), OutputError> {
        write_header(out, header)?;
        out.write_all(b",\n  \"users\": [").map_err(OutputError::write(NAME))
    }

    fn user(&mut self, out: &mut dyn Write, user: &User) -> Result<(), OutputError> {
        let separator: &[u8] = if self.users_written == 0 { b"\n    " } else { b",\n    " };
        out.write_all(separator).map_err(OutputError::write(NAME))?;
        write_indented(out, user, 4)?;
        self.users_written += 1;
        Ok(())
    }

    fn finish(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        warnings: &[Warning],
    ) -> Result<(), OutputError> {
        if self.users_written > 0 {
            out.write_all(b"\n  ").map_err(OutputError::write(NAME))?;
        }
        out.write_all(b"]").map_err(OutputError::write(NAME))?;
        write_trailer(out, summary, warnings)
    }
}

/// Writes `{` and the header fields, without a trailing comma.
pub(crate) fn write_header(out: &mut dyn Write, header: &SnapshotHeader) -> Result<(), OutputError> {
    out.write_all(b"{\n  \"schema_version\": ").map_err(OutputError::write(NAME))?;
    write_indented(out, &header.schema_version, 2)?;
    write_field(out, "generator", &header.generator)?;
    write_field(out, "collected_at", &header.collected_at)?;
    write_field(out, "source", &header.source)?;
    write_field(out, "organization", &header.organization)?;
    write_field(out, "filter", &header.filter)?;
    write_field(out, "subscriptions", &header.subscriptions)?;
    write_field(out, "profiles", &header.profiles)
}

/// Writes `,\n  "key": value` for a top-level field.
fn write_field<T: Serialize + ?Sized>(out: &mut dyn Write, key: &str, value: &T) -> Result<(), OutputError> {
    write!(out, ",\n  \"{key}\": ").map_err(OutputError::write(NAME))?;
    write_indented(out, value, 2)
}

/// Writes `,"summary": …, "warnings": …}` and a final newline.
pub(crate) fn write_trailer(
    out: &mut dyn Write,
    summary: &Summary,
    warnings: &[Warning],
) -> Result<(), OutputError> {
    write_field(out, "summary", summary)?;
    write_field(out, "warnings", warnings)?;
    out.write_all(b"\n}\n").map_err(OutputError::write(NAME))
}

/// Writes `value` pretty-printed as if it sat `indent` spaces deep. JSON strings never hold a
/// raw newline, so indenting after each newline is exact.
fn write_indented<T: Serialize + ?Sized>(
    out: &mut dyn Write,
    value: &T,
    indent: usize,
) -> Result<(), OutputError> {
    // Byte slices, not `write!` with padding: this runs once per user, and the formatting
    // machinery cost more than the serialisation itself (cargo xtask bench --perf).
    let text = serde_json::to_vec_pretty(value)?;
    let mut indented = Vec::with_capacity(text.len() + text.len() / 8);
    let mut rest = text.as_slice();
    while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
        indented.extend_from_slice(&rest[..=newline]);
        indented.resize(indented.len() + indent, b' ');
        rest = &rest[newline + 1..];
    }
    indented.extend_from_slice(rest);
    out.write_all(&indented).map_err(OutputError::write(NAME))
}
