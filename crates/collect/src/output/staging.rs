//! Staging: output is written to a temporary file first and published only on success.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use super::{Format, OutputError};

/// A temporary file being written, and where it goes when done.
pub(crate) struct Staged {
    file: BufWriter<File>,
    publish: Publish,
}

enum Publish {
    /// Rename the temporary file over `target` (same directory, so the rename is atomic).
    Rename { temp: TempPath, target: PathBuf },
    /// Copy the anonymous temporary file to `out` (stdout).
    Copy { out: Box<dyn Write + Send> },
}

impl Staged {
    /// Stages output for the file `target`, in a temporary file in the same directory. Fails
    /// now if the target is a directory or its directory does not exist.
    pub(crate) fn for_path(target: &Path, format: Format) -> Result<Self, OutputError> {
        if target.is_dir() {
            return Err(OutputError::IsADirectory { path: target.to_owned(), format });
        }
        let parent = parent_dir(target);
        if !parent.is_dir() {
            return Err(OutputError::MissingParent { path: target.to_owned(), parent });
        }
        let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned());
        let prefix = format!(".{}.", file_name.as_deref().unwrap_or("sfconn"));
        let temp = tempfile::Builder::new().prefix(&prefix).suffix(".tmp").tempfile_in(&parent).map_err(
            |source| OutputError::Io { action: "create a temporary file in", path: parent.clone(), source },
        )?;
        let (file, temp) = temp.into_parts();
        Ok(Self {
            file: BufWriter::with_capacity(64 * 1024, file),
            publish: Publish::Rename { temp, target: target.to_owned() },
        })
    }

    /// Stages output for a stream (stdout) in an anonymous temporary file, which the operating
    /// system removes however the process ends.
    pub(crate) fn for_writer(out: Box<dyn Write + Send>) -> Result<Self, OutputError> {
        let file = tempfile::tempfile()
            .map_err(|source| OutputError::Io {
                action: "create a temporary file in",
                path: std::env::temp_dir(),
                source,
            })
            .map_err(|error| error.on_storage(std::env::temp_dir().display()))?;
        Ok(Self { file: BufWriter::with_capacity(64 * 1024, file), publish: Publish::Copy { out } })
    }

    /// What the output goes to, for messages: the target file, or stdout and where it is staged.
    pub(crate) fn target(&self) -> String {
        match &self.publish {
            Publish::Rename { target, .. } => target.display().to_string(),
            Publish::Copy { .. } => {
                format!("stdout (staged in a temporary file in {})", std::env::temp_dir().display())
            }
        }
    }

    /// Where the encoder writes.
    pub(crate) fn writer(&mut self) -> &mut dyn Write {
        &mut self.file
    }

    /// Publishes the staged output: renames it over the target, or copies it to the stream.
    pub(crate) fn commit(self, format: &'static str) -> Result<(), OutputError> {
        let mut file =
            self.file.into_inner().map_err(|e| OutputError::Write { format, source: e.into_error() })?;
        match self.publish {
            Publish::Rename { temp, target } => {
                file.sync_all().map_err(OutputError::write(format))?;
                drop(file);
                temp.persist(&target).map_err(|e| OutputError::Io {
                    action: "replace",
                    path: target.clone(),
                    source: e.error,
                })
            }
            Publish::Copy { mut out } => {
                file.seek(SeekFrom::Start(0)).map_err(OutputError::write(format))?;
                std::io::copy(&mut file, &mut out).map_err(OutputError::write(format))?;
                out.flush().map_err(OutputError::write(format))
            }
        }
    }
}

/// The directory a path's file goes into; `.` for a bare file name.
pub(crate) fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}
