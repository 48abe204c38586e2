//! Storing one snapshot document, streamed: the `users` array is read and stored one user at a
//! time, so an import holds one user in memory, not the whole document (a million users is about
//! 500 MB of JSON). The small parts (organization, subscriptions, profiles, summary, ...) are
//! kept until the end. Keys may come in any order; the snapshot row, which needs them all, is
//! written last, and the users' foreign keys are checked at commit (deferred: `db::Db::begin_write`).
//! On PostgreSQL the users and their licences go in multi-row INSERTs of a few hundred rows.
//! Everything happens in the caller's one transaction.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::db::{Value, WriteTx, values};
use crate::doc::{
    Filter, Generator, LoginActivityState, Organization, Profile, SUPPORTED_SCHEMA_VERSION, Source,
    Subscription, SubscriptionSource, User, Warning,
};
use crate::store::SnapshotId;
use crate::{StoreError, timefmt};

/// A snapshot's `collected_at`, as shown and in Unix milliseconds.
pub(crate) struct Collected {
    text: String,
    ms: i64,
}

impl Collected {
    pub(crate) fn parse(value: &str) -> Result<Collected, StoreError> {
        let at = timefmt::parse("collected_at", value)?;
        Ok(Collected { text: timefmt::format_collected(at), ms: timefmt::unix_ms(at) })
    }
}

/// What the `snapshots` row holds besides the counts.
pub(crate) struct Header<'a> {
    pub generator: &'a Generator,
    pub collected: &'a Collected,
    pub source: &'a Source,
    pub organization: &'a Organization,
    pub filter: &'a Filter,
    pub summary: &'a serde_json::Map<String, serde_json::Value>,
    pub warnings: &'a [Warning],
    pub login_activity: LoginActivityState,
}

/// The columns of a users row, in the order [`SnapshotWriter::user`] gives them.
const USER_COLUMNS: &str = "snapshot_id, id, username, email, email_domain, name, active, user_type, account_kind, profile_id, last_login_at, created_at, federation_id, frozen, feature_licences, logins_in_window, last_login_application, last_login_type, unused_permission_set_license_ids";
const LICENCE_COLUMNS: &str = "snapshot_id, user_id, subscription_id, source";

/// Rows of one table waiting to be written in one multi-row INSERT (one row at a time on
/// SQLite, [`crate::db::dialect::PG_INSERT_BATCH`] on PostgreSQL): the same statement on both,
/// `INSERT INTO t (cols) VALUES ($1, …), ($n+1, …) [ON CONFLICT DO NOTHING]`.
struct Pending {
    table: &'static str,
    columns: &'static str,
    width: usize,
    /// `ON CONFLICT DO NOTHING` (SQLite 3.24+ and PostgreSQL): a licence listed twice for one
    /// user is one assignment.
    ignore_duplicates: bool,
    /// What a duplicate primary key is, for [`StoreError::DuplicateRecord`].
    what: &'static str,
    rows: Vec<Value>,
    /// The statement for one row, and for a full batch.
    single: String,
    full: (usize, String),
}

impl Pending {
    fn new(
        table: &'static str,
        columns: &'static str,
        ignore_duplicates: bool,
        what: &'static str,
        batch: usize,
    ) -> Pending {
        let width = columns.split(',').count();
        let mut pending = Pending {
            table,
            columns,
            width,
            ignore_duplicates,
            what,
            rows: Vec::new(),
            single: String::new(),
            full: (0, String::new()),
        };
        pending.single = pending.sql(1);
        pending.full = (batch, pending.sql(batch));
        pending
    }

    fn len(&self) -> usize {
        self.rows.len() / self.width
    }

    fn sql(&self, rows: usize) -> String {
        let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.table, self.columns);
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..self.width {
                if column > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", row * self.width + column + 1));
            }
            sql.push(')');
        }
        if self.ignore_duplicates {
            sql.push_str(" ON CONFLICT DO NOTHING");
        }
        sql
    }

    /// Writes the rows waiting. On PostgreSQL a batch runs under a savepoint: when it breaks a
    /// primary key, its rows are written again one by one to name the duplicate.
    fn flush(&mut self, tx: &WriteTx<'_>, context: &'static str) -> Result<(), StoreError> {
        let rows = self.len();
        if rows == 0 {
            return Ok(());
        }
        let db = tx.db;
        if rows == 1 {
            db.execute(context, &self.single, &self.rows).map_err(|error| self.duplicate(error, 0))?;
            self.rows.clear();
            return Ok(());
        }
        db.batch(context, "SAVEPOINT sfconn_batch")?;
        let sql = if rows == self.full.0 { self.full.1.clone() } else { self.sql(rows) };
        match db.execute(context, &sql, &self.rows) {
            Ok(_) => {
                self.rows.clear();
                db.batch(context, "RELEASE SAVEPOINT sfconn_batch")
            }
            Err(error) if is_duplicate(&error) => {
                db.batch(context, "ROLLBACK TO SAVEPOINT sfconn_batch")?;
                for (row, values) in self.rows.chunks(self.width).enumerate() {
                    db.execute(context, &self.single, values).map_err(|error| self.duplicate(error, row))?;
                }
                self.rows.clear();
                db.batch(context, "RELEASE SAVEPOINT sfconn_batch")
            }
            Err(error) => Err(error),
        }
    }

    /// A primary-key violation of row `row` as the record listed twice.
    fn duplicate(&self, error: StoreError, row: usize) -> StoreError {
        if !is_duplicate(&error) {
            return error;
        }
        match self.rows.get(row * self.width + 1) {
            Some(Value::Text(id)) => StoreError::DuplicateRecord { what: self.what, id: id.clone() },
            _ => error,
        }
    }
}

/// A primary-key (unique) violation: SQLite's `SQLITE_CONSTRAINT_PRIMARYKEY`, PostgreSQL's
/// SQLSTATE 23505.
fn is_duplicate(error: &StoreError) -> bool {
    match error {
        StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(error, _), .. } => {
            error.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        }
        StoreError::Postgres { source, .. } => source.sqlstate() == Some("23505"),
        _ => false,
    }
}

/// Writes one snapshot's rows inside the write transaction.
pub(crate) struct SnapshotWriter<'t> {
    tx: &'t WriteTx<'t>,
    snapshot_id: i64,
    batch: usize,
    users_pending: Pending,
    licences_pending: Pending,
    users: i64,
    subscriptions: i64,
}

impl<'t> SnapshotWriter<'t> {
    /// Takes the next snapshot id (the transaction holds the write lock, so it stays free).
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Result<SnapshotWriter<'t>, StoreError> {
        let snapshot_id: i64 = tx
            .db
            .row("choosing the snapshot id", "SELECT COALESCE(MAX(id), 0) + 1 FROM snapshots", &[], |row| {
                row.get(0)
            })?
            .unwrap_or(1);
        let batch = tx.db.insert_batch();
        Ok(SnapshotWriter {
            tx,
            snapshot_id,
            batch,
            users_pending: Pending::new("users", USER_COLUMNS, false, "user", batch),
            licences_pending: Pending::new("user_licences", LICENCE_COLUMNS, true, "licence", batch),
            users: 0,
            subscriptions: 0,
        })
    }

    /// Refuses a snapshot of the same org with the same `collected_at`.
    pub(crate) fn check_not_stored(&self, org_id: &str, collected: &Collected) -> Result<(), StoreError> {
        let existing: Option<i64> = self.tx.db.row(
            "looking for the same snapshot",
            "SELECT id FROM snapshots WHERE org_id = $1 AND collected_at_ms = $2",
            &values![org_id, collected.ms],
            |row| row.get(0),
        )?;
        match existing {
            Some(id) => Err(StoreError::AlreadyStored {
                id,
                org_id: org_id.to_owned(),
                collected_at: collected.text.clone(),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn subscription(&mut self, sub: &Subscription) -> Result<(), StoreError> {
        self.tx
            .db
            .execute(
                "storing a subscription",
                "INSERT INTO subscriptions (snapshot_id, id, source, name, label, key, status, total, used, unlimited, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &values![
                    self.snapshot_id,
                    &sub.id,
                    sub.source.as_str(),
                    &sub.name,
                    &sub.label,
                    &sub.key,
                    &sub.status,
                    &sub.total,
                    &sub.used,
                    sub.unlimited,
                    &sub.expires_at,
                ],
            )
            .map_err(duplicate_or("subscription", &sub.id))?;
        self.subscriptions += 1;
        Ok(())
    }

    pub(crate) fn profile(&mut self, profile: &Profile) -> Result<(), StoreError> {
        self.tx
            .db
            .execute(
                "storing a profile",
                "INSERT INTO profiles (snapshot_id, id, name, user_type, user_license_id) VALUES ($1, $2, $3, $4, $5)",
                &values![
                    self.snapshot_id,
                    &profile.id,
                    &profile.name,
                    &profile.user_type,
                    &profile.user_license_id
                ],
            )
            .map_err(duplicate_or("profile", &profile.id))?;
        Ok(())
    }

    pub(crate) fn user(&mut self, user: &User) -> Result<(), StoreError> {
        let last_login_at = timefmt::normalise_opt("last_login_at", user.last_login_at.as_deref())?;
        let created_at = timefmt::normalise_opt("created_at", user.created_at.as_deref())?;
        let email_domain = user.email_domain.as_deref().map(str::to_ascii_lowercase);
        self.users_pending.rows.extend(values![
            self.snapshot_id,
            &user.id,
            &user.username,
            &user.email,
            email_domain,
            &user.name,
            user.active,
            &user.user_type,
            &user.account_kind,
            &user.profile_id,
            last_login_at,
            created_at,
            &user.federation_id,
            user.frozen,
            user.feature_licences.as_deref().map(to_json::<[String]>),
            user.logins_in_window,
            &user.last_login_application,
            &user.last_login_type,
            user.unused_permission_set_license_ids.as_deref().map(to_json::<[String]>),
        ]);
        let held = user
            .user_license_id
            .iter()
            .map(|id| (id, SubscriptionSource::UserLicense))
            .chain(
                user.permission_set_license_ids
                    .iter()
                    .map(|id| (id, SubscriptionSource::PermissionSetLicense)),
            )
            .chain(user.package_license_ids.iter().map(|id| (id, SubscriptionSource::PackageLicense)));
        if self.users_pending.len() >= self.batch {
            self.users_pending.flush(self.tx, "storing a user")?;
        }
        for (subscription_id, source) in held {
            self.licences_pending.rows.extend(values![
                self.snapshot_id,
                &user.id,
                subscription_id,
                source.as_str()
            ]);
            if self.licences_pending.len() >= self.batch {
                self.licences_pending.flush(self.tx, "storing a licence assignment")?;
            }
        }
        self.users += 1;
        Ok(())
    }

    /// Writes the snapshot row, once every user, subscription and profile is written.
    pub(crate) fn finish(mut self, header: &Header<'_>) -> Result<SnapshotId, StoreError> {
        self.users_pending.flush(self.tx, "storing a user")?;
        self.licences_pending.flush(self.tx, "storing a licence assignment")?;
        if let Some(licences) = &header.organization.feature_licences {
            for licence in licences {
                self.tx
                    .db
                    .execute(
                        "storing a feature licence",
                        "INSERT INTO feature_licences (snapshot_id, name, field, label, used, total)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        &values![
                            self.snapshot_id,
                            &licence.name,
                            &licence.field,
                            &licence.label,
                            licence.used,
                            licence.total
                        ],
                    )
                    .map_err(duplicate_or("feature licence", &licence.name))?;
            }
        }
        let activity = match header.login_activity {
            LoginActivityState::Collected(activity) => Some(activity),
            _ => None,
        };
        self.tx.db.execute(
            "storing the snapshot row",
            "INSERT INTO snapshots (id, org_id, org_name, edition, is_sandbox, instance_name, collected_at,
                 collected_at_ms, imported_at, generator, login_url, instance_url, api_version, filter_all,
                 company_names, users, subscriptions, summary_json, warnings_json, login_activity_state,
                 login_activity_days, login_activity_path, login_activity_rows, feature_licences_listed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                     $20, $21, $22, $23, $24)",
            &values![
                self.snapshot_id,
                &header.organization.id,
                &header.organization.name,
                &header.organization.edition,
                header.organization.is_sandbox,
                &header.organization.instance_name,
                &header.collected.text,
                header.collected.ms,
                timefmt::now(),
                format!("{} {}", header.generator.name, header.generator.version),
                &header.source.login_url,
                &header.source.instance_url,
                &header.source.api_version,
                header.filter.all,
                to_json(&header.filter.company_names),
                self.users,
                self.subscriptions,
                to_json(header.summary),
                to_json(&header.warnings),
                header.login_activity.as_str(),
                activity.map(|a| a.days),
                activity.map(|a| a.path.as_str()),
                activity.map(|a| a.rows),
                header.organization.feature_licences.is_some(),
            ],
        )?;
        Ok(SnapshotId(self.snapshot_id))
    }
}

/// Reads a snapshot document from `deserializer` and writes it with `writer`, user by user. A
/// decoding error names the JSON path of the bad field, as [`crate::SnapshotDoc::from_json`] does.
pub(crate) fn stream_document<'de, R: serde_json::de::Read<'de>>(
    deserializer: &mut serde_json::Deserializer<R>,
    mut writer: SnapshotWriter<'_>,
) -> Result<SnapshotId, StoreError> {
    let mut failure = None;
    let mut track = serde_path_to_error::Track::new();
    let parsed = DocumentSeed { writer: &mut writer, failure: &mut failure }
        .deserialize(serde_path_to_error::Deserializer::new(&mut *deserializer, &mut track));
    let parts = match (parsed, failure) {
        (_, Some(failure)) => return Err(failure),
        (Ok(parts), None) => parts,
        (Err(source), None) => {
            return Err(StoreError::InvalidSnapshot { at: track.path().to_string(), source });
        }
    };
    deserializer
        .end()
        .map_err(|source| StoreError::InvalidSnapshot { at: "(after the document)".into(), source })?;
    writer.finish(&Header {
        generator: &parts.generator,
        collected: &parts.collected,
        source: &parts.source,
        organization: &parts.organization,
        filter: &parts.filter,
        summary: &parts.summary,
        warnings: &parts.warnings,
        login_activity: parts.login_activity,
    })
}

/// The parts of the document kept until the end.
struct Parts {
    generator: Generator,
    collected: Collected,
    source: Source,
    organization: Organization,
    filter: Filter,
    summary: serde_json::Map<String, serde_json::Value>,
    warnings: Vec<Warning>,
    login_activity: LoginActivityState,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    SchemaVersion,
    Generator,
    CollectedAt,
    Source,
    Organization,
    Filter,
    Subscriptions,
    Profiles,
    Users,
    Summary,
    Warnings,
    #[serde(other)]
    Other,
}

/// The top-level object. A store error met on the way (a duplicate user, a bad date-time, an
/// SQLite failure) is put in `failure` and stops the parse with a placeholder serde error.
struct DocumentSeed<'a, 't> {
    writer: &'a mut SnapshotWriter<'t>,
    failure: &'a mut Option<StoreError>,
}

fn stop<E: de::Error>(failure: &mut Option<StoreError>, error: StoreError) -> E {
    *failure = Some(error);
    E::custom("stopped by a store error")
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_> {
    type Value = Parts;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Parts, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_, '_> {
    type Value = Parts;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct SnapshotDoc")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parts, A::Error> {
        let DocumentSeed { writer, failure } = self;
        let mut schema_version: Option<String> = None;
        let mut generator: Option<Generator> = None;
        let mut collected: Option<Collected> = None;
        let mut source: Option<Source> = None;
        let mut organization: Option<Organization> = None;
        let mut filter: Option<Filter> = None;
        let mut subscriptions = false;
        let mut profiles = false;
        let mut users = false;
        let mut summary: Option<serde_json::Map<String, serde_json::Value>> = None;
        let mut warnings: Option<Vec<Warning>> = None;
        let mut checked_not_stored = false;

        fn once<E: de::Error>(seen: bool, name: &'static str) -> Result<(), E> {
            if seen { Err(E::duplicate_field(name)) } else { Ok(()) }
        }

        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::SchemaVersion => {
                    once(schema_version.is_some(), "schema_version")?;
                    let found: String = map.next_value()?;
                    if found != SUPPORTED_SCHEMA_VERSION {
                        return Err(stop(failure, StoreError::UnsupportedSchemaVersion { found }));
                    }
                    schema_version = Some(found);
                }
                Field::Generator => {
                    once(generator.is_some(), "generator")?;
                    generator = Some(map.next_value()?);
                }
                Field::CollectedAt => {
                    once(collected.is_some(), "collected_at")?;
                    let text: String = map.next_value()?;
                    collected = Some(Collected::parse(&text).map_err(|error| stop(failure, error))?);
                }
                Field::Source => {
                    once(source.is_some(), "source")?;
                    source = Some(map.next_value()?);
                }
                Field::Organization => {
                    once(organization.is_some(), "organization")?;
                    organization = Some(map.next_value()?);
                }
                Field::Filter => {
                    once(filter.is_some(), "filter")?;
                    filter = Some(map.next_value()?);
                }
                Field::Subscriptions => {
                    once(subscriptions, "subscriptions")?;
                    map.next_value_seed(Each::new(&mut *failure, |sub: Subscription| {
                        writer.subscription(&sub)
                    }))?;
                    subscriptions = true;
                }
                Field::Profiles => {
                    once(profiles, "profiles")?;
                    map.next_value_seed(Each::new(&mut *failure, |profile: Profile| {
                        writer.profile(&profile)
                    }))?;
                    profiles = true;
                }
                Field::Users => {
                    once(users, "users")?;
                    map.next_value_seed(Each::new(&mut *failure, |user: User| writer.user(&user)))?;
                    users = true;
                }
                Field::Summary => {
                    once(summary.is_some(), "summary")?;
                    summary = Some(map.next_value()?);
                }
                Field::Warnings => {
                    once(warnings.is_some(), "warnings")?;
                    warnings = Some(map.next_value()?);
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            // As soon as the org and the time are known: before the users, in a usual document.
            if let (false, Some(organization), Some(collected)) =
                (checked_not_stored, &organization, &collected)
            {
                writer.check_not_stored(&organization.id, collected).map_err(|error| stop(failure, error))?;
                checked_not_stored = true;
            }
        }

        // Missing fields are reported in the order of the document's schema.
        fn required<T, E: de::Error>(value: Option<T>, name: &'static str) -> Result<T, E> {
            value.ok_or_else(|| E::missing_field(name))
        }
        let present = |seen: bool, name: &'static str| required(seen.then_some(()), name);
        required(schema_version, "schema_version")?;
        let generator = required(generator, "generator")?;
        let collected = required(collected, "collected_at")?;
        let source = required(source, "source")?;
        let organization = required(organization, "organization")?;
        let filter = required(filter, "filter")?;
        present(subscriptions, "subscriptions")?;
        present(profiles, "profiles")?;
        present(users, "users")?;
        let summary = required(summary, "summary")?;
        let warnings = required(warnings, "warnings")?;
        // Absent: the run did not collect login activity (or predates it).
        let login_activity = organization.login_activity_state();
        Ok(Parts { generator, collected, source, organization, filter, summary, warnings, login_activity })
    }
}

/// An array whose elements are handed to `each` one at a time as they are read.
struct Each<'a, T, F> {
    failure: &'a mut Option<StoreError>,
    each: F,
    element: PhantomData<fn() -> T>,
}

impl<'a, T, F> Each<'a, T, F> {
    fn new(failure: &'a mut Option<StoreError>, each: F) -> Self {
        Each { failure, each, element: PhantomData }
    }
}

impl<'de, T, F> DeserializeSeed<'de> for Each<'_, T, F>
where
    T: Deserialize<'de>,
    F: FnMut(T) -> Result<(), StoreError>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T, F> Visitor<'de> for Each<'_, T, F>
where
    T: Deserialize<'de>,
    F: FnMut(T) -> Result<(), StoreError>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<T>()? {
            (self.each)(element).map_err(|error| stop(self.failure, error))?;
        }
        Ok(())
    }
}

/// A primary-key violation is a record listed twice in the document; anything else is the
/// database's error.
fn duplicate_or<'a>(what: &'static str, id: &'a str) -> impl FnOnce(StoreError) -> StoreError + 'a {
    move |error| {
        if is_duplicate(&error) { StoreError::DuplicateRecord { what, id: id.to_owned() } } else { error }
    }
}

/// JSON text for a TEXT column; the values come from a parsed document, so this cannot fail.
fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}
