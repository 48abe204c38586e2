//! Staging: output is written to a temporary file first and published only on success.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use tempfile::TempPath;

use super::{Format, OutputError};

/// A temporary file being written, and where it goes when done.
pub(crate) struct Staged {
    file: BufWriter<Syncing>,
    publish: Publish,
}

/// Bytes written between two background syncs of a file that is renamed over its target.
const SYNC_EVERY: u64 = 16 * 1024 * 1024;

/// The staged file. One that is published by a rename must be on disk before the rename
/// (`sync_all`); left to the end, that writes the whole output at once (about 100 MB at 100k
/// users, 0.1 s, after the last page has arrived). So every [`SYNC_EVERY`] bytes the bytes
/// written so far are made durable on a thread of their own (`sync_data` on a second handle),
/// while the run goes on; the final `sync_all` then has only the rest to write. A failed
/// background sync fails the next write, or the commit.
struct Syncing {
    file: File,
    /// `None`: no background syncs (a stream's staging file, which is copied, not renamed).
    every: Option<u64>,
    written_since_sync: u64,
    in_flight: Option<JoinHandle<io::Result<()>>>,
}

impl Syncing {
    fn new(file: File, every: Option<u64>) -> Syncing {
        Syncing { file, every, written_since_sync: 0, in_flight: None }
    }

    /// The result of the background sync in flight, if it has ended (or once it has, with
    /// `wait`).
    fn settle(&mut self, wait: bool) -> io::Result<()> {
        let Some(handle) = self.in_flight.take_if(|handle| wait || handle.is_finished()) else {
            return Ok(());
        };
        handle.join().unwrap_or_else(|_| Err(io::Error::other("the background sync of the output panicked")))
    }

    /// Starts a background sync when enough has been written since the last one and none is
    /// in flight. A handle that cannot be cloned or a thread that cannot start leaves the
    /// bytes to the final sync.
    fn maybe_sync(&mut self) -> io::Result<()> {
        self.settle(false)?;
        let Some(every) = self.every else {
            return Ok(());
        };
        if self.written_since_sync < every || self.in_flight.is_some() {
            return Ok(());
        }
        let Ok(handle) = self.file.try_clone() else {
            return Ok(());
        };
        self.written_since_sync = 0;
        let spawned =
            std::thread::Builder::new().name("output-sync".to_owned()).spawn(move || handle.sync_data());
        self.in_flight = spawned.ok();
        Ok(())
    }

    /// The file, once no background sync is in flight (with the error of the last one).
    fn into_file(mut self) -> io::Result<File> {
        self.settle(true)?;
        Ok(self.file)
    }
}

impl Write for Syncing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.maybe_sync()?;
        let written = self.file.write(buf)?;
        self.written_since_sync += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Syncing {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        self.file.seek(position)
    }
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
            file: BufWriter::with_capacity(64 * 1024, Syncing::new(file, Some(SYNC_EVERY))),
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
        Ok(Self {
            file: BufWriter::with_capacity(64 * 1024, Syncing::new(file, None)),
            publish: Publish::Copy { out },
        })
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
        let syncing =
            self.file.into_inner().map_err(|e| OutputError::Write { format, source: e.into_error() })?;
        let mut file = syncing.into_file().map_err(OutputError::write(format))?;
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

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn bytes_are_synced_in_the_background_as_they_are_written_and_all_kept() {
        let mut syncing = Syncing::new(tempfile::tempfile().unwrap(), Some(1000));
        let chunk = [b'x'; 600];
        syncing.write_all(&chunk).unwrap();
        assert!(syncing.in_flight.is_none(), "not before 1000 bytes");
        syncing.write_all(&chunk).unwrap();
        // The write after the threshold starts a sync of what is written so far: the count
        // starts again.
        syncing.write_all(b"end").unwrap();
        assert_eq!(syncing.written_since_sync, 3);
        let mut file = syncing.into_file().unwrap();
        let mut text = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut text).unwrap();
        assert_eq!(text.len(), 1203);
        assert!(text.ends_with(b"xend"));
    }

    #[test]
    fn a_stream_staging_file_is_never_synced() {
        let mut syncing = Syncing::new(tempfile::tempfile().unwrap(), None);
        syncing.write_all(&vec![b'x'; 3 * 1024 * 1024]).unwrap();
        syncing.write_all(b"more").unwrap();
        assert!(syncing.in_flight.is_none());
    }

    #[test]
    fn a_staged_file_larger_than_the_sync_step_is_published_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        let mut staged = Staged::for_path(&target, Format::Json).unwrap();
        let line = [b'y'; 1024 * 1024];
        let chunks = usize::try_from(SYNC_EVERY / 1024 / 1024).unwrap() * 2 + 1;
        for _ in 0..chunks {
            staged.writer().write_all(&line).unwrap();
        }
        staged.commit("json").unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().len(), (chunks * line.len()) as u64);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only the published file remains");
    }
}
