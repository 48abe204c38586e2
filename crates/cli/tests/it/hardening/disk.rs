//! The disk, not only the network: output, snapshot store and rotated
//! refresh-token file on a full (or read-only) file system. Each case runs the real binary
//! against a tiny tmpfs that the test mounts and fills, and checks exit 74, a message naming
//! the path and the cause, the previous content untouched and no temporary file left.
//!
//! Mounting needs root: without it (or when mount fails) each test says why on stderr and
//! returns early.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sfconn_testkit::SimulatedOrg;
use tempfile::TempDir;

use super::common::{Org, code, names_in, quick_small_org, set_mode, stderr};

const PREVIOUS: &str = "previous content, must survive\n";
const FILLER: &str = "filler";
const NO_SPACE: &str = "No space left on device";

/// A tmpfs mounted on a fresh directory, unmounted (lazily, so that it always goes) on drop.
struct Tmpfs {
    _parent: TempDir,
    root: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `256k`), or says on stderr why it cannot.
    #[allow(clippy::print_stderr)] // a skipped test must say why
    fn mount(test: &str, size: &str) -> Option<Tmpfs> {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("fs");
        std::fs::create_dir(&root).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(&root)
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Tmpfs { _parent: parent, root }),
            Ok(output) => {
                eprintln!(
                    "{test}: skipped: cannot mount a tmpfs (this needs root): mount said {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                None
            }
            Err(error) => {
                eprintln!("{test}: skipped: cannot run mount to get a tmpfs: {error}");
                None
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Fills the file system: a file that grows until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path(FILLER)).unwrap();
        let block = vec![b'x'; 4096];
        loop {
            if let Err(error) = filler.write_all(&block).and_then(|()| filler.flush()) {
                assert_eq!(error.kind(), std::io::ErrorKind::StorageFull, "{error}");
                break;
            }
        }
    }

    /// Makes the file system read-only.
    fn remount_read_only(&self) {
        let status = Command::new("mount").args(["-o", "remount,ro"]).arg(&self.root).status().unwrap();
        assert!(status.success(), "remount,ro failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}

/// Fails unless the run exited 74 with a message naming `path` and `cause`.
fn assert_storage_failure(output: &Output, path: &Path, cause: &str) -> String {
    let message = stderr(output);
    assert_eq!(code(output), 74, "{message}");
    assert!(
        message.contains(&path.display().to_string()),
        "the message must name {}:\n{message}",
        path.display()
    );
    assert!(message.contains(cause), "the message must say {cause:?}:\n{message}");
    assert!(output.stdout.is_empty(), "stdout is for data only");
    message
}

fn collect(org: &Org) -> Command {
    let mut cmd = org.sfconn();
    cmd.args(["collect", "--no-progress"]);
    cmd
}

/// Writes a previous `snapshot.json` on `fs`, makes `fs` refuse writes with `spoil`, runs
/// `collect -o` over it and checks the failure names the file and `cause`, the previous content
/// is untouched and nothing else is left.
fn json_output_over_a_previous_file(fs: &Tmpfs, spoil: impl Fn(&Tmpfs), cause: &str) -> String {
    let target = fs.path("snapshot.json");
    std::fs::write(&target, PREVIOUS).unwrap();
    spoil(fs);
    let org = quick_small_org();

    let output = collect(&org).arg("-o").arg(&target).output().unwrap();

    let message = assert_storage_failure(&output, &target, cause);
    assert!(message.contains("no temporary file is left behind"), "{message}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), PREVIOUS);
    let left: Vec<String> = names_in(&fs.root).into_iter().filter(|name| name != FILLER).collect();
    assert_eq!(left, ["snapshot.json"]);
    message
}

#[test]
fn json_output_on_a_full_disk_exits_74_and_keeps_the_previous_file() {
    let Some(fs) = Tmpfs::mount("json_output_on_a_full_disk", "256k") else { return };
    let message = json_output_over_a_previous_file(&fs, Tmpfs::fill, NO_SPACE);
    assert!(message.contains("the disk is full"), "{message}");
}

#[test]
fn json_output_on_a_read_only_file_system_exits_74() {
    let Some(fs) = Tmpfs::mount("json_output_on_a_read_only_file_system", "256k") else { return };
    json_output_over_a_previous_file(&fs, Tmpfs::remount_read_only, "the file system is read-only");
}

#[test]
fn csv_directory_on_a_full_disk_exits_74_and_keeps_the_previous_files() {
    let Some(fs) = Tmpfs::mount("csv_directory_on_a_full_disk", "256k") else { return };
    let dir = fs.path("csv");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("users.csv"), PREVIOUS).unwrap();
    fs.fill();
    let org = quick_small_org();

    let output = collect(&org).args(["-f", "csv", "-o"]).arg(format!("{}/", dir.display())).output().unwrap();

    assert_storage_failure(&output, &dir, NO_SPACE);
    assert_eq!(std::fs::read_to_string(dir.join("users.csv")).unwrap(), PREVIOUS);
    assert_eq!(names_in(&dir), ["users.csv"]);
    assert_eq!(names_in(&fs.root), ["csv", FILLER], "no temporary directory is left beside the target");
}

/// `history list` of a store, as the test compares it before and after a failed write.
fn history(org: &Org, store: &Path) -> String {
    let output = org.bare().args(["history", "list", "--store"]).arg(store).output().unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// A store on `fs` holding one snapshot (also written to `snapshot.json` in the work directory).
fn store_with_one_snapshot(fs: &Tmpfs, org: &Org) -> PathBuf {
    let store = fs.path("store.sqlite");
    let snapshot = org.work().join("snapshot.json");
    let output = collect(org).arg("-o").arg(&snapshot).arg("--store").arg(&store).output().unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    store
}

#[test]
fn a_store_on_a_full_disk_exits_74_and_keeps_what_it_held() {
    let Some(fs) = Tmpfs::mount("a_store_on_a_full_disk", "4m") else { return };
    let org = quick_small_org();
    let store = store_with_one_snapshot(&fs, &org);
    let before = history(&org, &store);
    let bytes_before = std::fs::read(&store).unwrap();
    fs.fill();

    // collect --store: the output (elsewhere) is written, the store is not.
    let second = org.work().join("second.json");
    let output = collect(&org).arg("-o").arg(&second).arg("--store").arg(&store).output().unwrap();
    let message = assert_storage_failure(&output, &store, "the disk is full");
    assert!(message.contains("the snapshot was written, but keeping it in the snapshot store"), "{message}");
    assert!(message.contains("the store is as it was before"), "{message}");
    assert!(second.exists(), "the output itself was written before the store");

    // history import of the snapshot just written: the same.
    let output =
        org.bare().args(["history", "import"]).arg(&second).arg("--store").arg(&store).output().unwrap();
    assert_storage_failure(&output, &store, "the disk is full");

    assert_eq!(std::fs::read(&store).unwrap(), bytes_before, "the database file is untouched");
    // Nothing of sfconn's is left; SQLite's own -wal and -shm files may stay (they belong to
    // the database while the disk is full) and go with the next use once there is room.
    let left: Vec<String> = names_in(&fs.root)
        .into_iter()
        .filter(|name| !name.ends_with("-wal") && !name.ends_with("-shm"))
        .collect();
    assert_eq!(left, [FILLER, "store.sqlite"]);
    std::fs::remove_file(fs.path(FILLER)).unwrap();
    assert_eq!(history(&org, &store), before);
    assert_eq!(names_in(&fs.root), ["store.sqlite"]);
}

/// An org that rotates refresh tokens, with the token file on a full `fs` and the state
/// directory (where the new token goes instead) on a roomy disk.
struct RotationOnFullDisk {
    org: Org,
    token_file: PathBuf,
    old_token: String,
    saved: PathBuf,
}

impl RotationOnFullDisk {
    fn new(fs: &Tmpfs) -> Self {
        let token_file = fs.path("refresh_token");
        let old_token = format!("{}\n", SimulatedOrg::REFRESH_TOKEN);
        std::fs::write(&token_file, &old_token).unwrap();
        set_mode(&token_file, 0o600);
        fs.fill();
        let org = quick_small_org();
        org.org.faults().rotate_refresh_tokens(true);
        let saved = org.state_dir().join("sfconn").join("refresh_token");
        RotationOnFullDisk { org, token_file, old_token, saved }
    }

    /// `sfconn` with the refresh token in the file on the full disk.
    fn sfconn(&self) -> Command {
        let mut cmd = self.org.sfconn();
        cmd.env_remove("SFCONN_REFRESH_TOKEN").env("SFCONN_REFRESH_TOKEN_FILE", &self.token_file);
        cmd
    }

    /// The old token stays readable where it was; the new one, which the org accepts, is aside.
    /// Returns the new token.
    fn assert_kept_aside(&self) -> String {
        assert_eq!(std::fs::read_to_string(&self.token_file).unwrap(), self.old_token);
        let new_token = std::fs::read_to_string(&self.saved).unwrap().trim().to_owned();
        assert_eq!(self.org.org.valid_refresh_tokens(), std::slice::from_ref(&new_token));
        new_token
    }
}

#[test]
fn a_rotated_token_whose_file_is_on_a_full_disk_is_kept_aside_and_the_run_exits_74() {
    let Some(fs) = Tmpfs::mount("a_rotated_token_whose_file_is_on_a_full_disk", "256k") else { return };
    let rotation = RotationOnFullDisk::new(&fs);
    let target = rotation.org.work().join("snapshot.json");

    let output = rotation.sfconn().args(["collect", "--no-progress", "-o"]).arg(&target).output().unwrap();

    let (saved, token_file) = (rotation.saved.display(), rotation.token_file.display());
    let message = assert_storage_failure(&output, &rotation.token_file, NO_SPACE);
    assert!(message.contains("the old one no longer works"), "{message}");
    assert!(message.contains(&format!("saved to {saved}")), "{message}");
    assert!(message.contains(&format!("`mv {saved} {token_file}`")), "{message}");
    let new_token = rotation.assert_kept_aside();
    assert!(!message.contains(&new_token), "the new token is never printed");
    // The data run itself finished: the output is complete.
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    let users = snapshot["users"].as_array().unwrap().len();
    assert!(users > 0 && snapshot["summary"]["users_total"] == users, "{snapshot}");
    assert_eq!(names_in(&fs.root), [FILLER, "refresh_token"], "no temporary token file is left behind");
}

#[test]
fn a_store_on_a_read_only_file_system_exits_74() {
    let Some(fs) = Tmpfs::mount("a_store_on_a_read_only_file_system", "4m") else { return };
    let org = quick_small_org();
    let store = store_with_one_snapshot(&fs, &org);
    let snapshot = org.work().join("snapshot.json");
    let bytes_before = std::fs::read(&store).unwrap();
    fs.remount_read_only();

    // SQLite sees a database it cannot write (or open for writing): the probe tells why.
    let output =
        org.bare().args(["history", "import"]).arg(&snapshot).arg("--store").arg(&store).output().unwrap();

    assert_storage_failure(&output, &store, "the file system is read-only");
    assert_eq!(std::fs::read(&store).unwrap(), bytes_before);
    assert_eq!(names_in(&fs.root), ["store.sqlite"]);
}

#[test]
fn stdout_output_staged_on_a_full_temporary_directory_exits_74_naming_it() {
    let Some(fs) = Tmpfs::mount("stdout_output_staged_on_a_full_temporary_directory", "256k") else { return };
    fs.fill();
    let org = quick_small_org();

    let output = collect(&org).env("TMPDIR", &fs.root).args(["-o", "-"]).output().unwrap();

    let message = assert_storage_failure(&output, &fs.root, NO_SPACE);
    assert!(message.contains("cannot write stdout (staged in a temporary file in"), "{message}");
    assert_eq!(names_in(&fs.root), [FILLER]);
}

#[test]
fn auth_check_with_a_rotated_token_whose_file_is_on_a_full_disk_exits_74() {
    let Some(fs) = Tmpfs::mount("auth_check_with_a_rotated_token_on_a_full_disk", "256k") else { return };
    let rotation = RotationOnFullDisk::new(&fs);

    let output = rotation.sfconn().args(["auth", "check"]).output().unwrap();

    let message = stderr(&output);
    assert_eq!(code(&output), 74, "{message}");
    let file = rotation.token_file.display();
    assert!(message.contains(&format!("refresh_token_file {file}: {NO_SPACE}")), "{message}");
    let report = String::from_utf8(output.stdout).unwrap();
    assert!(
        report.contains(&format!("the new token was saved to {}", rotation.saved.display())),
        "the report on stdout says where the token went:\n{report}"
    );
    rotation.assert_kept_aside();
}
