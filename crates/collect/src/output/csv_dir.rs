//! `csv`: a directory holding `users.csv`, `subscriptions.csv`, `profiles.csv` (header row
//! first; lists joined with `;`; null as an empty cell; booleans `true`/`false`) and
//! `snapshot.json`, the `json` document with `"users": []` (so that it still validates against
//! the schema; its summary still counts the users written to `users.csv`).
//!
//! The files are written into a temporary directory beside the target (`.NAME.XXXXXX`) and
//! published by `finish`:
//! - the target does not exist: the temporary directory is renamed to it (atomic);
//! - the target is a directory: each of the four files is renamed into it, replacing a file of
//!   the same name; other files in it are left alone;
//! - the target exists and is not a directory: refused when the sink is opened.
//!
//! A run that fails before `finish` leaves the target untouched and removes the temporary
//! directory.
//!
//! Text from the org goes through [`CsvCells::text`]: by default a cell that a spreadsheet would
//! run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a leading `'`
//! (`sfconn-csvcell`). Cells sfconn makes itself (numbers, booleans, `source`, `account_kind`)
//! are written as they are.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sfconn_csvcell::CsvCells;
use tempfile::TempDir;

use super::staging::parent_dir;
use super::{OutputError, Sequence, SnapshotSink, json};
use crate::snapshot::{Profile, SnapshotHeader, Subscription, Summary, User, Warning};

/// The files of a csv snapshot, in the order they are published (`snapshot.json` last).
pub const CSV_FILES: [&str; 4] = ["users.csv", "subscriptions.csv", "profiles.csv", "snapshot.json"];

/// Column names of `users.csv`, in order.
pub const USER_COLUMNS: [&str; 30] = [
    "id",
    "username",
    "email",
    "email_domain",
    "name",
    "first_name",
    "last_name",
    "alias",
    "active",
    "user_type",
    "account_kind",
    "profile_id",
    "user_license_id",
    "permission_set_license_ids",
    "package_license_ids",
    "last_login_at",
    "created_at",
    "company_name",
    "department",
    "title",
    "city",
    "country",
    "country_code",
    "federation_id",
    "frozen",
    "feature_licences",
    "logins_in_window",
    "last_login_application",
    "last_login_type",
    "unused_permission_set_license_ids",
];

/// Column names of `subscriptions.csv`, in order.
pub const SUBSCRIPTION_COLUMNS: [&str; 10] =
    ["id", "source", "name", "label", "key", "status", "total", "used", "unlimited", "expires_at"];

/// Column names of `profiles.csv`, in order.
pub const PROFILE_COLUMNS: [&str; 5] = ["id", "name", "user_type", "user_license_id", "description"];

pub(crate) struct CsvDirSink {
    target: PathBuf,
    cells: CsvCells,
    staging: Option<Staging>,
    sequence: Sequence,
}

struct Staging {
    dir: TempDir,
    users: Option<csv::Writer<BufWriter<File>>>,
    header: Option<SnapshotHeader>,
}

impl CsvDirSink {
    pub(crate) fn new(target: &Path, cells: CsvCells) -> Result<Self, OutputError> {
        if target.exists() && !target.is_dir() {
            return Err(OutputError::NotADirectory { path: target.to_owned() });
        }
        let parent = parent_dir(target);
        if !parent.is_dir() {
            return Err(OutputError::MissingParent { path: target.to_owned(), parent });
        }
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned());
        let prefix = format!(".{}.", name.as_deref().unwrap_or("sfconn-csv"));
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        // The files hold personal data: the directory (renamed to the target when it does not
        // exist yet) is the owner's only, like the files in it (`create_private`).
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let dir = builder.tempdir_in(&parent).map_err(|source| OutputError::Io {
            action: "create a temporary directory in",
            path: parent.clone(),
            source,
        })?;
        Ok(Self {
            target: target.to_owned(),
            cells,
            staging: Some(Staging { dir, users: None, header: None }),
            sequence: Sequence::default(),
        })
    }

    /// After an error nothing may be published: drop the temporary directory.
    fn poison_on_error(&mut self, result: Result<(), OutputError>) -> Result<(), OutputError> {
        if result.is_err() {
            self.staging = None;
        }
        result
    }

    fn with_staging(
        &mut self,
        step: impl FnOnce(&mut Staging) -> Result<(), OutputError>,
    ) -> Result<(), OutputError> {
        let Some(staging) = self.staging.as_mut() else {
            return Err(OutputError::Sequence("the sink already failed or finished"));
        };
        let result = step(staging).map_err(|error| error.on_storage(self.target.display()));
        if result.is_err() {
            self.staging = None;
        }
        result
    }
}

/// Creates a new file readable and writable by its owner only (0600), like the single-file
/// outputs (tempfile creates those 0600): snapshots hold personal data.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn create_csv(dir: &Path, file: &'static str) -> Result<csv::Writer<BufWriter<File>>, OutputError> {
    let path = dir.join(file);
    let handle = create_private(&path).map_err(|source| OutputError::Io {
        action: "create",
        path: path.clone(),
        source,
    })?;
    Ok(csv::Writer::from_writer(BufWriter::with_capacity(64 * 1024, handle)))
}

fn csv_error(file: &'static str) -> impl Fn(csv::Error) -> OutputError {
    move |source| OutputError::Csv { file, source }
}

fn finish_csv(writer: csv::Writer<BufWriter<File>>, file: &'static str) -> Result<(), OutputError> {
    let buffered = writer
        .into_inner()
        .map_err(|e| OutputError::Csv { file, source: csv::Error::from(e.into_error()) })?;
    let handle = buffered
        .into_inner()
        .map_err(|e| OutputError::Csv { file, source: csv::Error::from(e.into_error()) })?;
    handle.sync_all().map_err(|e| OutputError::Csv { file, source: e.into() })
}

fn number(value: Option<i64>) -> String {
    value.map(|n| n.to_string()).unwrap_or_default()
}

fn boolean(value: bool) -> String {
    value.to_string()
}

/// The `users.csv` cells of one user, in [`USER_COLUMNS`] order.
pub(crate) fn user_row(user: &User, cells: CsvCells) -> [String; 30] {
    let text = |value: &str| cells.text(value).into_owned();
    let optional = |value: &Option<String>| cells.optional(value.as_deref());
    [
        text(&user.id),
        text(&user.username),
        optional(&user.email),
        optional(&user.email_domain),
        optional(&user.name),
        optional(&user.first_name),
        optional(&user.last_name),
        optional(&user.alias),
        boolean(user.active),
        optional(&user.user_type),
        user.account_kind.as_str().to_owned(),
        optional(&user.profile_id),
        optional(&user.user_license_id),
        text(&user.permission_set_license_ids.join(";")),
        text(&user.package_license_ids.join(";")),
        optional(&user.last_login_at),
        optional(&user.created_at),
        optional(&user.company_name),
        optional(&user.department),
        optional(&user.title),
        optional(&user.city),
        optional(&user.country),
        optional(&user.country_code),
        optional(&user.federation_id),
        user.frozen.map(boolean).unwrap_or_default(),
        text(&user.feature_licences.join(";")),
        user.logins_in_window.map(|n| n.to_string()).unwrap_or_default(),
        optional(&user.last_login_application),
        optional(&user.last_login_type),
        user.unused_permission_set_license_ids.as_ref().map(|ids| text(&ids.join(";"))).unwrap_or_default(),
    ]
}

fn subscription_row(subscription: &Subscription, cells: CsvCells) -> [String; 10] {
    let optional = |value: &Option<String>| cells.optional(value.as_deref());
    [
        cells.text(&subscription.id).into_owned(),
        subscription.source.as_str().to_owned(),
        cells.text(&subscription.name).into_owned(),
        optional(&subscription.label),
        optional(&subscription.key),
        optional(&subscription.status),
        number(subscription.total),
        number(subscription.used),
        boolean(subscription.unlimited),
        optional(&subscription.expires_at),
    ]
}

fn profile_row(profile: &Profile, cells: CsvCells) -> [String; 5] {
    let optional = |value: &Option<String>| cells.optional(value.as_deref());
    [
        cells.text(&profile.id).into_owned(),
        cells.text(&profile.name).into_owned(),
        optional(&profile.user_type),
        optional(&profile.user_license_id),
        optional(&profile.description),
    ]
}

impl SnapshotSink for CsvDirSink {
    fn begin(&mut self, header: &SnapshotHeader) -> Result<(), OutputError> {
        let checked = self.sequence.begin();
        self.poison_on_error(checked)?;
        let cells = self.cells;
        self.with_staging(|staging| {
            let dir = staging.dir.path().to_owned();

            let file = "subscriptions.csv";
            let mut subscriptions = create_csv(&dir, file)?;
            subscriptions.write_record(SUBSCRIPTION_COLUMNS).map_err(csv_error(file))?;
            for subscription in &header.subscriptions {
                subscriptions.write_record(subscription_row(subscription, cells)).map_err(csv_error(file))?;
            }
            finish_csv(subscriptions, file)?;

            let file = "profiles.csv";
            let mut profiles = create_csv(&dir, file)?;
            profiles.write_record(PROFILE_COLUMNS).map_err(csv_error(file))?;
            for profile in &header.profiles {
                profiles.write_record(profile_row(profile, cells)).map_err(csv_error(file))?;
            }
            finish_csv(profiles, file)?;

            let file = "users.csv";
            let mut users = create_csv(&dir, file)?;
            users.write_record(USER_COLUMNS).map_err(csv_error(file))?;
            staging.users = Some(users);
            staging.header = Some(header.clone());
            Ok(())
        })
    }

    fn user(&mut self, user: &User) -> Result<(), OutputError> {
        let checked = self.sequence.user(&user.id);
        self.poison_on_error(checked)?;
        let cells = self.cells;
        self.with_staging(|staging| match staging.users.as_mut() {
            Some(users) => users.write_record(user_row(user, cells)).map_err(csv_error("users.csv")),
            None => Err(OutputError::Sequence("user written before begin")),
        })
    }

    fn finish(&mut self, summary: &Summary, warnings: &[Warning]) -> Result<(), OutputError> {
        let checked = self.sequence.finish();
        self.poison_on_error(checked)?;
        self.with_staging(|staging| {
            let (Some(users), Some(header)) = (staging.users.take(), staging.header.take()) else {
                return Err(OutputError::Sequence("finish called before begin"));
            };
            finish_csv(users, "users.csv")?;
            write_snapshot_json(staging.dir.path(), &header, summary, warnings)
        })?;
        match self.staging.take() {
            Some(staging) => {
                publish(staging.dir, &self.target).map_err(|error| error.on_storage(self.target.display()))
            }
            None => Err(OutputError::Sequence("the sink already failed or finished")),
        }
    }
}

fn write_snapshot_json(
    dir: &Path,
    header: &SnapshotHeader,
    summary: &Summary,
    warnings: &[Warning],
) -> Result<(), OutputError> {
    let path = dir.join("snapshot.json");
    let io_error = |source| OutputError::Io { action: "write", path: path.clone(), source };
    let handle = create_private(&path).map_err(io_error)?;
    let mut out = BufWriter::new(handle);
    json::write_header(&mut out, header)?;
    out.write_all(b",\n  \"users\": []").map_err(io_error)?;
    json::write_trailer(&mut out, summary, warnings)?;
    let handle = out.into_inner().map_err(|e| io_error(e.into_error()))?;
    handle.sync_all().map_err(io_error)
}

/// Moves the finished files into place (see the module docs).
fn publish(staged: TempDir, target: &Path) -> Result<(), OutputError> {
    if !target.exists() && std::fs::rename(staged.path(), target).is_ok() {
        // The directory now lives at `target`; there is nothing left to clean up.
        let _ = staged.keep();
        return Ok(());
    }
    if !target.is_dir() {
        return Err(OutputError::NotADirectory { path: target.to_owned() });
    }
    for file in CSV_FILES {
        let destination = target.join(file);
        std::fs::rename(staged.path().join(file), &destination).map_err(|source| OutputError::Io {
            action: "replace",
            path: destination.clone(),
            source,
        })?;
    }
    Ok(())
}
