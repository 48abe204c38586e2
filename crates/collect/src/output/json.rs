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
    /// Each user's text, kept between users so that writing one allocates nothing.
    buffer: Vec<u8>,
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
        self.buffer.clear();
        self.buffer.extend_from_slice(separator);
        serialize_indented(&mut self.buffer, user, 4)?;
        out.write_all(&self.buffer).map_err(OutputError::write(NAME))?;
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
    let mut indented = Vec::new();
    serialize_indented(&mut indented, value, indent)?;
    out.write_all(&indented).map_err(OutputError::write(NAME))
}

/// Appends `value` pretty-printed as if it sat `indent` spaces deep to `buffer`, in one pass:
/// [`Indented`] is serde_json's pretty printer with every line starting `indent` spaces further.
fn serialize_indented<T: Serialize + ?Sized>(
    buffer: &mut Vec<u8>,
    value: &T,
    indent: usize,
) -> Result<(), OutputError> {
    let mut serializer = serde_json::Serializer::with_formatter(buffer, Indented::new(indent));
    value.serialize(&mut serializer)?;
    Ok(())
}

/// serde_json's `PrettyFormatter` (two spaces a level) for a value that sits `base` spaces
/// deep: each new line and its indent are written in one go from [`SPACES`]. It replaced a
/// writer that indented after each newline the stock pretty printer wrote: that one scanned
/// every byte and took the indent a level at a time, 13 % of a run's CPU (cargo xtask bench
/// --perf, fourth pass). A JSON string never holds a raw newline (it is written `\n`), so the
/// only newlines are these, as before.
struct Indented {
    base: usize,
    level: usize,
    has_value: bool,
}

/// Enough spaces for any line of a snapshot; deeper lines take them in several writes.
const SPACES: &[u8; 64] = b"                                                                ";

impl Indented {
    fn new(base: usize) -> Indented {
        Indented { base, level: 0, has_value: false }
    }

    /// A newline and the current indent.
    fn new_line<W: ?Sized + Write>(&self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b"\n")?;
        let mut spaces = self.base + 2 * self.level;
        while spaces > 0 {
            let now = spaces.min(SPACES.len());
            writer.write_all(&SPACES[..now])?;
            spaces -= now;
        }
        Ok(())
    }

    fn begin<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    fn end<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.new_line(writer)?;
        }
        writer.write_all(bracket)
    }

    fn begin_member<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            writer.write_all(b",")?;
        }
        self.new_line(writer)
    }
}

impl serde_json::ser::Formatter for Indented {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.begin(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.end(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        self.begin_member(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.begin(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.end(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        self.begin_member(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What `serialize_indented` replaced: pretty-print, then indent after every newline.
    fn reindented(value: &serde_json::Value, indent: usize) -> String {
        serde_json::to_string_pretty(value).unwrap().replace('\n', &format!("\n{}", " ".repeat(indent)))
    }

    #[test]
    fn values_are_indented_in_one_pass_exactly_as_pretty_printing_and_reindenting_gave() {
        let values = [
            json!({"id": "005A", "licences": ["a", "b"], "none": [], "empty": {}, "n": null}),
            json!({"text": "two\nlines \"quoted\" \\ and\ttab", "nested": {"deep": [{"x": 1.5}, [true, false]]}}),
            json!("plain"),
            json!([]),
            json!(42),
            // Deeper than the spaces written in one go.
            (0..40).fold(
                json!({"leaf": [1, {}]}),
                |inner, level| json!({ format!("l{level}"): [inner, level] }),
            ),
        ];
        for value in &values {
            for indent in [0, 2, 4, 70] {
                let mut buffer = b"prefix".to_vec();
                serialize_indented(&mut buffer, value, indent).unwrap();
                assert_eq!(
                    String::from_utf8(buffer).unwrap(),
                    format!("prefix{}", reindented(value, indent))
                );
            }
        }
    }
}
