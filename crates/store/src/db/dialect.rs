//! Where SQLite and PostgreSQL differ, in one place. Every query of the store is one SQL text
//! valid on both; what is written here is what cannot be:
//!
//! - parameters: `$n` in the code, `?n` for SQLite ([`sqlite_sql`]);
//! - the schema: the migrations are written once, in SQLite's words (they shipped so and are
//!   never edited), and [`postgres_ddl`] turns them into PostgreSQL's: `INTEGER` is `BIGINT`
//!   (PostgreSQL's `integer` has 32 bits; booleans stay integers 0/1 on both, so `active = 1`
//!   and the counts read the same), `TEXT` is `TEXT COLLATE "C"` (byte order, SQLite's
//!   `BINARY`: the reports sort and compare date-times and names as SQLite does, whatever the
//!   database's locale), `WITHOUT ROWID` goes, and the foreign keys to `snapshots` are
//!   `DEFERRABLE INITIALLY DEFERRED` (SQLite defers them per transaction with
//!   `PRAGMA defer_foreign_keys`). JSON parts (`summary_json`, `warnings_json`,
//!   `company_names`) are text on both;
//! - the schema's version: `PRAGMA user_version` on SQLite, the table `sfconn_schema` on
//!   PostgreSQL (one row per migration applied), migrated under `pg_advisory_xact_lock`;
//! - the write lock of an import ([`PG_WRITE_LOCK`]; SQLite's is `BEGIN IMMEDIATE`);
//! - the size of multi-row inserts ([`PG_INSERT_BATCH`]).

use std::borrow::Cow;

/// A query for SQLite: `$n` parameters as `?n`.
pub(crate) fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    super::to_question_marks(sql)
}

/// Users (or licence rows) in one INSERT on PostgreSQL: 500 users of 18 columns are 9,000
/// parameters, well under the protocol's 65,535.
pub(crate) const PG_INSERT_BATCH: usize = 500;

/// Taken at the start of an import on PostgreSQL: writers wait for each other (as SQLite's
/// `BEGIN IMMEDIATE` makes them), readers do not wait.
pub(crate) const PG_WRITE_LOCK: &str = "LOCK TABLE snapshots IN SHARE ROW EXCLUSIVE MODE";

/// The key of the advisory lock migrations hold on PostgreSQL (any constant: "sfconn" in ASCII).
pub(crate) const PG_MIGRATION_LOCK: i64 = 0x7366_636f_6e6e;

/// The schema's version on PostgreSQL: one row per migration applied.
pub(crate) const PG_SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS sfconn_schema (
    version    BIGINT PRIMARY KEY,
    applied_at TEXT NOT NULL
)";

/// Whether the schema's version table exists (in the search path's first schema).
pub(crate) const PG_SCHEMA_EXISTS: &str = "SELECT to_regclass('sfconn_schema') IS NOT NULL";

/// The version of a PostgreSQL store (0 when no migration ran).
pub(crate) const PG_SCHEMA_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM sfconn_schema";

/// Records that migration `$1` ran at `$2`.
pub(crate) const PG_SCHEMA_APPLIED: &str = "INSERT INTO sfconn_schema (version, applied_at) VALUES ($1, $2)";

/// A migration written for SQLite, as PostgreSQL runs it (see the module's documentation).
pub(crate) fn postgres_ddl(sqlite: &str) -> String {
    let mut out = String::with_capacity(sqlite.len() + 256);
    for line in sqlite.lines() {
        let (code, comment) = match line.find("--") {
            Some(at) => line.split_at(at),
            None => (line, ""),
        };
        let mut code = replace_word(code, "INTEGER", "BIGINT");
        code = replace_word(&code, "TEXT", "TEXT COLLATE \"C\"");
        code = code.replace(") WITHOUT ROWID;", ");");
        code = code.replace(
            "REFERENCES snapshots (id) ON DELETE CASCADE",
            "REFERENCES snapshots (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
        );
        out.push_str(&code);
        out.push_str(comment);
        out.push('\n');
    }
    out
}

/// `text` with every whole-word `word` (not part of a longer identifier) replaced.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_ident) || after.is_some_and(is_ident) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_read_as_postgresql() {
        let ddl = postgres_ddl(
            "CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,\n    name TEXT NOT NULL, -- TEXT here stays\n    texture TEXT\n) WITHOUT ROWID;\nALTER TABLE users ADD COLUMN federation_id TEXT;",
        );
        assert_eq!(
            ddl,
            "CREATE TABLE t (\n    id BIGINT PRIMARY KEY,\n    snapshot_id BIGINT NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,\n    name TEXT COLLATE \"C\" NOT NULL, -- TEXT here stays\n    texture TEXT COLLATE \"C\"\n);\nALTER TABLE users ADD COLUMN federation_id TEXT COLLATE \"C\";\n"
        );
    }
}
