//! `ndjson`: one compact JSON object per line, each with a `"type"` first, in the order
//! organization, subscription*, profile*, user*, summary, warning*.
//!
//! Each line carries the object's own fields as in the `json` document. The `organization`
//! line also carries the document-level fields (`schema_version`, `generator`,
//! `collected_at`, `source`, `filter`), so that the lines hold the whole snapshot.

use std::io::Write;

use serde::Serialize;

use super::{Encoder, OutputError};
use crate::snapshot::{Filter, Generator, Organization, SnapshotHeader, Source, Summary, User, Warning};

pub(crate) struct NdjsonEncoder;

const NAME: &str = "ndjson";

#[derive(Serialize)]
struct Line<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    item: &'a T,
}

#[derive(Serialize)]
struct OrganizationLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    organization: &'a Organization,
    schema_version: &'a str,
    generator: &'a Generator,
    collected_at: &'a str,
    source: &'a Source,
    filter: &'a Filter,
}

fn write_line<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<(), OutputError> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n").map_err(OutputError::write(NAME))
}

fn write_item<T: Serialize>(out: &mut dyn Write, kind: &'static str, item: &T) -> Result<(), OutputError> {
    write_line(out, &Line { kind, item })
}

impl Encoder for NdjsonEncoder {
    fn name(&self) -> &'static str {
        NAME
    }

    fn begin(&mut self, out: &mut dyn Write, header: &SnapshotHeader) -> Result<(), OutputError> {
        write_line(
            out,
            &OrganizationLine {
                kind: "organization",
                organization: &header.organization,
                schema_version: &header.schema_version,
                generator: &header.generator,
                collected_at: &header.collected_at,
                source: &header.source,
                filter: &header.filter,
            },
        )?;
        for subscription in &header.subscriptions {
            write_item(out, "subscription", subscription)?;
        }
        for profile in &header.profiles {
            write_item(out, "profile", profile)?;
        }
        Ok(())
    }

    fn user(&mut self, out: &mut dyn Write, user: &User) -> Result<(), OutputError> {
        write_item(out, "user", user)
    }

    fn finish(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        warnings: &[Warning],
    ) -> Result<(), OutputError> {
        write_item(out, "summary", summary)?;
        for warning in warnings {
            write_item(out, "warning", warning)?;
        }
        Ok(())
    }
}
