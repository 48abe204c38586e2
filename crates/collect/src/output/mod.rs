//! Output formats (docs/contract.md §5) and how they reach the disk or stdout.
//!
//! A run hands the snapshot to a [`SnapshotSink`] in three steps: [`SnapshotSink::begin`] with
//! the header, [`SnapshotSink::user`] once per user in ascending id order, then
//! [`SnapshotSink::finish`] with the summary and warnings. Sinks never hold the users: memory
//! does not grow with the number of users written.
//!
//! Nothing becomes visible before `finish` succeeds. A file is written to a temporary file in
//! the target's directory and renamed over the target at the end; stdout output is staged in an
//! anonymous temporary file and copied to stdout at the end; a `csv` directory is built in a
//! temporary directory beside the target and moved into place at the end. A sink dropped
//! without `finish` (a failed or interrupted run) removes its temporary files and leaves any
//! existing output untouched.

mod csv_dir;
mod json;
mod ndjson;
mod staging;
mod store_copy;
mod table;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sfconn_errors::{Classify, ErrorClass};

use crate::snapshot::{Snapshot, SnapshotHeader, Summary, User, Warning};

pub use sfconn_csvcell::CsvCells;
use staging::Staged;
pub use store_copy::StoreCopy;

/// The output formats of `sfconn collect --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// One JSON document valid against `snapshot.schema.json` (pretty-printed).
    #[default]
    Json,
    /// One JSON object per line, each with a `"type"`.
    Ndjson,
    /// A directory: `users.csv`, `subscriptions.csv`, `profiles.csv`, `snapshot.json`.
    Csv,
    /// A summary for a person.
    Table,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 4] = [Format::Json, Format::Ndjson, Format::Csv, Format::Table];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Table => "table",
        }
    }

    /// True when the output is a directory rather than a file.
    pub fn writes_directory(self) -> bool {
        self == Format::Csv
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of `json`, `ndjson`, `csv`, `table`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{0}`: use one of json, ndjson, csv, table")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Receives one snapshot, streamed: `begin`, then `user` for each user in ascending id order,
/// then `finish`. Output becomes visible only when `finish` returns `Ok`.
pub trait SnapshotSink: Send {
    /// Starts the snapshot with everything known before the first user.
    fn begin(&mut self, header: &SnapshotHeader) -> Result<(), OutputError>;

    /// Writes one user. Users must come in ascending id order.
    fn user(&mut self, user: &User) -> Result<(), OutputError>;

    /// Writes the summary and warnings and makes the output visible (rename, or copy to
    /// stdout).
    fn finish(&mut self, summary: &Summary, warnings: &[Warning]) -> Result<(), OutputError>;
}

/// Streams a whole in-memory snapshot into a sink.
pub fn write_snapshot(sink: &mut dyn SnapshotSink, snapshot: &Snapshot) -> Result<(), OutputError> {
    sink.begin(&snapshot.header())?;
    for user in &snapshot.users {
        sink.user(user)?;
    }
    sink.finish(&snapshot.summary, &snapshot.warnings)
}

/// How sinks write, beyond the format. The default is what `collect` does without options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputOptions {
    /// How `csv` writes text from the org: cells a spreadsheet would run as a formula are
    /// neutralised unless [`CsvCells::Raw`] (`--csv-raw`). `json`, `ndjson` and `table` always
    /// write values as they are.
    pub csv_cells: CsvCells,
}

/// The output path meaning stdout.
pub const STDOUT: &str = "-";

/// Opens a sink for `format` writing to `output`: `-` means stdout, otherwise a file (or, for
/// `csv`, a directory). Checks the path now, so that a bad `--output` fails before the run
/// spends any API requests.
pub fn open_sink(format: Format, output: &Path) -> Result<Box<dyn SnapshotSink>, OutputError> {
    open_sink_with(format, output, OutputOptions::default())
}

/// [`open_sink`] with [`OutputOptions`].
pub fn open_sink_with(
    format: Format,
    output: &Path,
    options: OutputOptions,
) -> Result<Box<dyn SnapshotSink>, OutputError> {
    if output.as_os_str() == STDOUT {
        return open_sink_to_writer(format, Box::new(std::io::stdout()));
    }
    if format.writes_directory() {
        let sink = csv_dir::CsvDirSink::new(output, options.csv_cells)
            .map_err(|error| error.on_storage(output.display()))?;
        return Ok(Box::new(sink));
    }
    let staged = Staged::for_path(output, format).map_err(|error| error.on_storage(output.display()))?;
    stream_sink(format, staged)
}

/// Opens a sink for `format` that copies its output to `out` when it finishes (what `-` does
/// with stdout). `csv` cannot be written to a stream.
pub fn open_sink_to_writer(
    format: Format,
    out: Box<dyn Write + Send>,
) -> Result<Box<dyn SnapshotSink>, OutputError> {
    if format.writes_directory() {
        return Err(OutputError::CsvNeedsDirectory);
    }
    let staged = Staged::for_writer(out)?;
    stream_sink(format, staged)
}

fn stream_sink(format: Format, staged: Staged) -> Result<Box<dyn SnapshotSink>, OutputError> {
    Ok(match format {
        Format::Json => Box::new(StreamSink::new(staged, json::JsonEncoder::default())),
        Format::Ndjson => Box::new(StreamSink::new(staged, ndjson::NdjsonEncoder)),
        Format::Table => Box::new(StreamSink::new(staged, table::TableEncoder::default())),
        Format::Csv => return Err(OutputError::CsvNeedsDirectory),
    })
}

/// Why output could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// `--format csv` with stdout.
    #[error(
        "the csv format writes a directory (users.csv, subscriptions.csv, profiles.csv, snapshot.json): give --output DIR instead of `-`"
    )]
    CsvNeedsDirectory,
    /// The directory the output should go into does not exist.
    #[error("cannot write {path}: the directory {} does not exist; create it or choose another --output", parent.display(), path = path.display())]
    MissingParent {
        /// The output path.
        path: PathBuf,
        /// Its directory.
        parent: PathBuf,
    },
    /// A file format was asked to write over a directory.
    #[error("cannot write {format} output to {}: it is a directory; give a file path (only csv writes a directory)", path.display())]
    IsADirectory {
        /// The output path.
        path: PathBuf,
        /// The format asked for.
        format: Format,
    },
    /// `csv` was asked to write into something that is not a directory.
    #[error("cannot write csv output to {}: it exists and is not a directory; give a directory path", path.display())]
    NotADirectory {
        /// The output path.
        path: PathBuf,
    },
    /// A file-system operation failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create a temporary file in".
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Writing to the staging file or to stdout failed.
    #[error("could not write the {format} output: {source}")]
    Write {
        /// The format being written.
        format: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Encoding JSON failed (does not happen with the snapshot model; kept for completeness).
    #[error("could not encode the snapshot as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing a CSV file failed.
    #[error("could not write {file}: {source}")]
    Csv {
        /// `users.csv`, `subscriptions.csv` or `profiles.csv`.
        file: &'static str,
        /// The csv crate's error.
        #[source]
        source: csv::Error,
    },
    /// The machine's storage refused the output: the disk is full, the quota is exceeded or the
    /// file system is read-only. Nothing was published and the temporary files are gone.
    #[error(
        "cannot write {target}: {source} ({reason}); nothing was written: an existing output is left as it \
         was and no temporary file is left behind. Free some space (or make the file system writable), or \
         choose another --output, then run again"
    )]
    Storage {
        /// The output path (or what stood for it, e.g. the staging file of stdout output).
        target: String,
        /// What the error means, from [`sfconn_errors::storage_refusal`].
        reason: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Users came out of id order: a bug in sfconn or data Salesforce did not sort.
    #[error("users must be written in ascending id order, but {next} came after {previous}")]
    UsersOutOfOrder {
        /// The id written before.
        previous: String,
        /// The id that broke the order.
        next: String,
    },
    /// The sink was used out of sequence (a bug in the caller).
    #[error("output sink used out of sequence: {0}")]
    Sequence(&'static str),
}

impl Classify for OutputError {
    /// An unusable `--output` is a bad command line (usage); a full or read-only disk is I/O;
    /// anything else failing while writing is internal.
    fn class(&self) -> ErrorClass {
        match self {
            OutputError::CsvNeedsDirectory
            | OutputError::MissingParent { .. }
            | OutputError::IsADirectory { .. }
            | OutputError::NotADirectory { .. } => ErrorClass::Usage,
            OutputError::Storage { .. } => ErrorClass::Io,
            _ => ErrorClass::Internal,
        }
    }
}

impl OutputError {
    /// This error as [`OutputError::Storage`] for `target` when the operating system's error
    /// behind it is a full disk, an exceeded quota or a read-only file system; unchanged
    /// otherwise (a missing directory or a permission denied keeps its message and code).
    pub(crate) fn on_storage(self, target: impl fmt::Display) -> OutputError {
        let kind = match &self {
            OutputError::Io { source, .. } | OutputError::Write { source, .. } => source.kind(),
            OutputError::Json(error) => match error.io_error_kind() {
                Some(kind) => kind,
                None => return self,
            },
            OutputError::Csv { source, .. } => match source.kind() {
                csv::ErrorKind::Io(error) => error.kind(),
                _ => return self,
            },
            _ => return self,
        };
        let Some(reason) = sfconn_errors::storage_refusal(kind) else {
            return self;
        };
        let source = match self {
            OutputError::Io { source, .. } | OutputError::Write { source, .. } => source,
            OutputError::Json(error) => std::io::Error::from(error),
            OutputError::Csv { source, .. } => match source.into_kind() {
                csv::ErrorKind::Io(error) => error,
                _ => std::io::Error::from(kind),
            },
            _ => std::io::Error::from(kind),
        };
        OutputError::Storage { target: target.to_string(), reason, source }
    }

    fn write(format: &'static str) -> impl FnOnce(std::io::Error) -> OutputError {
        move |source| OutputError::Write { format, source }
    }
}

/// Encodes one stream format into a writer; the staging around it is [`StreamSink`]'s job.
trait Encoder: Send {
    /// The format's name, for error messages.
    fn name(&self) -> &'static str;
    fn begin(&mut self, out: &mut dyn Write, header: &SnapshotHeader) -> Result<(), OutputError>;
    fn user(&mut self, out: &mut dyn Write, user: &User) -> Result<(), OutputError>;
    fn finish(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        warnings: &[Warning],
    ) -> Result<(), OutputError>;
}

/// Checks the sink protocol: begin once, users in ascending id order, finish once.
#[derive(Debug, Default)]
pub(crate) struct Sequence {
    begun: bool,
    finished: bool,
    last_user_id: Option<String>,
}

impl Sequence {
    pub(crate) fn begin(&mut self) -> Result<(), OutputError> {
        if self.begun {
            return Err(OutputError::Sequence("begin called twice"));
        }
        self.begun = true;
        Ok(())
    }

    pub(crate) fn user(&mut self, id: &str) -> Result<(), OutputError> {
        if !self.begun || self.finished {
            return Err(OutputError::Sequence("user written outside begin..finish"));
        }
        if let Some(previous) = &self.last_user_id
            && previous.as_str() >= id
        {
            return Err(OutputError::UsersOutOfOrder { previous: previous.clone(), next: id.to_owned() });
        }
        self.last_user_id = Some(id.to_owned());
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> Result<(), OutputError> {
        if !self.begun || self.finished {
            return Err(OutputError::Sequence("finish called before begin or twice"));
        }
        self.finished = true;
        Ok(())
    }
}

/// A sink that encodes into a staged file and publishes it on `finish`. After any error the
/// staging is dropped (temporary file removed) and later calls fail.
struct StreamSink<E> {
    staged: Option<Staged>,
    encoder: E,
    sequence: Sequence,
}

impl<E: Encoder> StreamSink<E> {
    fn new(staged: Staged, encoder: E) -> Self {
        Self { staged: Some(staged), encoder, sequence: Sequence::default() }
    }

    /// After an error nothing may be published: drop the staging (and its temporary file).
    fn poison_on_error(&mut self, result: Result<(), OutputError>) -> Result<(), OutputError> {
        if result.is_err() {
            self.staged = None;
        }
        result
    }

    fn with_output(
        &mut self,
        step: impl FnOnce(&mut E, &mut dyn Write) -> Result<(), OutputError>,
    ) -> Result<(), OutputError> {
        let Some(staged) = self.staged.as_mut() else {
            return Err(OutputError::Sequence("the sink already failed or finished"));
        };
        let result =
            step(&mut self.encoder, staged.writer()).map_err(|error| error.on_storage(staged.target()));
        if result.is_err() {
            self.staged = None;
        }
        result
    }
}

impl<E: Encoder> SnapshotSink for StreamSink<E> {
    fn begin(&mut self, header: &SnapshotHeader) -> Result<(), OutputError> {
        let checked = self.sequence.begin();
        self.poison_on_error(checked)?;
        self.with_output(|encoder, out| encoder.begin(out, header))
    }

    fn user(&mut self, user: &User) -> Result<(), OutputError> {
        let checked = self.sequence.user(&user.id);
        self.poison_on_error(checked)?;
        self.with_output(|encoder, out| encoder.user(out, user))
    }

    fn finish(&mut self, summary: &Summary, warnings: &[Warning]) -> Result<(), OutputError> {
        let checked = self.sequence.finish();
        self.poison_on_error(checked)?;
        self.with_output(|encoder, out| encoder.finish(out, summary, warnings))?;
        let name = self.encoder.name();
        match self.staged.take() {
            Some(staged) => {
                let target = staged.target();
                staged.commit(name).map_err(|error| error.on_storage(target))
            }
            None => Err(OutputError::Sequence("the sink already failed or finished")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip_and_unknown_names_are_explained() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>().unwrap(), format);
        }
        assert_eq!(" NDJSON ".parse::<Format>().unwrap(), Format::Ndjson);
        let error = "yaml".parse::<Format>().unwrap_err();
        assert_eq!(error.to_string(), "unknown output format `yaml`: use one of json, ndjson, csv, table");
    }

    #[test]
    fn sequence_rejects_users_out_of_order_and_misuse() {
        let mut sequence = Sequence::default();
        assert!(matches!(sequence.user("005A"), Err(OutputError::Sequence(_))));
        sequence.begin().unwrap();
        sequence.user("005A").unwrap();
        sequence.user("005B").unwrap();
        let error = sequence.user("005B").unwrap_err();
        assert_eq!(
            error.to_string(),
            "users must be written in ascending id order, but 005B came after 005B"
        );
        assert_eq!(error.class(), ErrorClass::Internal);
        sequence.finish().unwrap();
        assert!(sequence.finish().is_err());
    }

    #[test]
    fn a_full_or_read_only_disk_is_exit_74_naming_the_target() {
        let full = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        let cases = [
            OutputError::Write { format: "json", source: full() },
            OutputError::Io { action: "replace", path: "/x/out.json".into(), source: full() },
            OutputError::Json(serde_json::Error::io(full())),
            OutputError::Csv { file: "users.csv", source: csv::Error::from(full()) },
        ];
        for error in cases {
            let error = error.on_storage("/x/out.json");
            assert_eq!(error.class(), ErrorClass::Io, "{error}");
            let message = error.to_string();
            assert!(message.starts_with("cannot write /x/out.json: "), "{message}");
            assert!(message.contains("the disk is full"), "{message}");
            assert!(message.contains("no temporary file is left behind"), "{message}");
            assert!(std::error::Error::source(&error).is_some(), "the OS error is kept as the source");
        }
        let read_only = OutputError::Write {
            format: "csv",
            source: std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem),
        };
        let message = read_only.on_storage("/ro/dir").to_string();
        assert!(message.contains("the file system is read-only"), "{message}");
    }

    #[test]
    fn other_write_failures_keep_their_message_and_code() {
        let denied = OutputError::Io {
            action: "create a temporary file in",
            path: "/x".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let kept = denied.on_storage("/x/out.json");
        assert!(matches!(kept, OutputError::Io { action: "create a temporary file in", .. }), "{kept:?}");
        assert_eq!(kept.class(), ErrorClass::Internal);
        let missing = OutputError::MissingParent { path: "/no/out.json".into(), parent: "/no".into() };
        assert_eq!(missing.on_storage("/no/out.json").class(), ErrorClass::Usage);
    }

    #[test]
    fn csv_to_stdout_is_refused_as_a_command_line_problem() {
        let error = open_sink(Format::Csv, Path::new("-")).err().unwrap();
        assert!(matches!(error, OutputError::CsvNeedsDirectory));
        assert_eq!(error.class(), ErrorClass::Usage);
    }
}
