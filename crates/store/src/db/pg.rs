//! The PostgreSQL engine: one connection, driven by `tokio-postgres` on a worker thread that
//! owns a current-thread tokio runtime.
//!
//! The store's API is synchronous and is called from inside the CLI's runtime (`collect
//! --store`, the fleet); `Runtime::block_on` (or the sync `postgres` crate) panics there. So the
//! caller never touches a runtime: each call sends a job to the worker thread and waits for its
//! answer on a channel, and the worker runs the job with `block_on` on its own runtime, where
//! no other runtime is entered. The connection's background task runs on that runtime during
//! each job. Dropping [`PgConn`] closes the channel: the worker ends and drops the connection.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

use super::Value;
use super::tls::{MakeRustls, SslMode, TlsFailure};
use crate::StoreError;

/// A failure of PostgreSQL or of the connection to it. It keeps the driver's error, and with
/// it the server's SQLSTATE and message ([`PgError::sqlstate`]).
#[derive(Debug)]
pub struct PgError {
    inner: Inner,
    /// Why the connection ended, when it did: the server's last word (a FATAL error such as
    /// 57P01 for `pg_terminate_backend`) reaches the connection, not the query it cut.
    ended: Option<tokio_postgres::Error>,
}

#[derive(Debug)]
enum Inner {
    Driver(tokio_postgres::Error),
    Null { column: usize },
    WorkerGone,
    Runtime(std::io::Error),
}

impl PgError {
    pub(crate) fn new(error: tokio_postgres::Error) -> PgError {
        PgError { inner: Inner::Driver(error), ended: None }
    }

    pub(crate) fn null(column: usize) -> PgError {
        PgError { inner: Inner::Null { column }, ended: None }
    }

    fn gone() -> PgError {
        PgError { inner: Inner::WorkerGone, ended: None }
    }

    /// The server's SQLSTATE (`23505`, `57P01`, …) when the server answered with an error.
    pub fn sqlstate(&self) -> Option<&str> {
        let own = match &self.inner {
            Inner::Driver(error) => error.as_db_error().map(|db| db.code().code()),
            _ => None,
        };
        own.or_else(|| self.ended.as_ref().and_then(|e| e.as_db_error()).map(|db| db.code().code()))
    }

    /// The server's message, when the server answered with an error.
    pub fn server_message(&self) -> Option<&str> {
        let own = match &self.inner {
            Inner::Driver(error) => error.as_db_error().map(|db| db.message()),
            _ => None,
        };
        own.or_else(|| self.ended.as_ref().and_then(|e| e.as_db_error()).map(|db| db.message()))
    }

    /// Whether the connection is gone: closed by the server (`pg_terminate_backend`, a
    /// restart), cut, or never made.
    pub fn connection_lost(&self) -> bool {
        match &self.inner {
            Inner::Driver(error) => {
                error.is_closed()
                    || self.sqlstate().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
                    || io_cause(error).is_some()
            }
            Inner::WorkerGone => true,
            Inner::Null { .. } | Inner::Runtime(_) => false,
        }
    }

    /// Whether trying again later may succeed: a lost connection, a serialisation failure or a
    /// deadlock, the server out of resources or a lock not available.
    pub(crate) fn is_transient(&self) -> bool {
        self.connection_lost()
            || self
                .sqlstate()
                .is_some_and(|code| matches!(code, "40001" | "40P01" | "55P03") || code.starts_with("53"))
    }

    fn tls_failure(&self) -> Option<&TlsFailure> {
        let Inner::Driver(error) = &self.inner else { return None };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(error) = cause {
            // An io::Error's source is its inner error's source: look inside it too.
            let inner = error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
            if let Some(tls) = inner.and_then(|e| e.downcast_ref::<TlsFailure>()) {
                return Some(tls);
            }
            if let Some(tls) = error.downcast_ref::<TlsFailure>() {
                return Some(tls);
            }
            cause = error.source();
        }
        None
    }
}

fn io_cause(error: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cause = error.source();
    }
    None
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_inner(f)?;
        match self.ended.as_ref().and_then(|error| error.as_db_error()) {
            Some(db) => {
                write!(f, " (the server ended it: {} (SQLSTATE {}))", db.message(), db.code().code())
            }
            None => Ok(()),
        }
    }
}

impl PgError {
    fn fmt_inner(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Driver(error) => match error.as_db_error() {
                Some(db) => {
                    write!(f, "{} (SQLSTATE {})", db.message(), db.code().code())?;
                    if let Some(detail) = db.detail() {
                        write!(f, "; {detail}")?;
                    }
                    Ok(())
                }
                None => {
                    write!(f, "{error}")?;
                    let mut cause = std::error::Error::source(error);
                    while let Some(error) = cause {
                        write!(f, ": {error}")?;
                        cause = error.source();
                    }
                    Ok(())
                }
            },
            Inner::Null { column } => write!(f, "column {column} is NULL where a value is needed"),
            Inner::WorkerGone => f.write_str("the connection to PostgreSQL is closed"),
            Inner::Runtime(error) => write!(f, "cannot start the PostgreSQL connection's runtime: {error}"),
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner {
            Inner::Driver(error) => Some(error),
            Inner::Runtime(error) => Some(error),
            _ => None,
        }
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(value) => match *ty {
                Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
                Type::BOOL => (*value != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => value.to_string().to_sql(ty, out),
                _ => value.to_sql(ty, out),
            },
            Value::Text(value) => value.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Where a PostgreSQL store is and how to log in: the URL (`store.url`), and the password when
/// the URL has none. Never printed: [`PgTarget::shown`] is the URL with its password as `***`.
pub struct PgTarget {
    /// The URL given, without `sslmode` and `sslrootcert` (handled by sfconn, not the driver).
    url: SecretString,
    shown: String,
    ssl: SslMode,
    root_cert: Option<PathBuf>,
    password: Option<SecretString>,
    passfile: Option<PathBuf>,
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &self.shown)
            .field("sslmode", &self.ssl)
            .finish_non_exhaustive()
    }
}

/// Whether `text` selects PostgreSQL: a `postgres://` or `postgresql://` URL.
pub fn is_postgres_url(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `url` with its password, if any, replaced by `***`: what may be shown.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
                return "(a URL that cannot be shown)".to_owned();
            }
            parsed.to_string()
        }
        Err(_) => "(a URL that cannot be parsed)".to_owned(),
    }
}

impl PgTarget {
    /// Reads a `postgres://` / `postgresql://` URL. Its `sslmode` (`disable`, `prefer`
    /// (default), `require`, `verify-ca`, `verify-full`) and `sslrootcert` are sfconn's to
    /// handle (docs/security.md); every other part goes to the driver.
    pub fn new(url: &SecretString) -> Result<PgTarget, StoreError> {
        let text = url.expose_secret().trim();
        let shown = redact_url(text);
        let bad = |reason: String| StoreError::BadUrl { url: shown.clone(), reason };
        if !is_postgres_url(text) {
            return Err(bad("it must start with postgres:// or postgresql://".into()));
        }
        let mut parsed = url::Url::parse(text).map_err(|error| bad(error.to_string()))?;
        let mut ssl = SslMode::Prefer;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "sslmode" => {
                    ssl = SslMode::parse(&value).ok_or_else(|| {
                        bad(format!(
                            "sslmode={value} is not one of disable, prefer, require, verify-ca, verify-full"
                        ))
                    })?;
                }
                "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        let url = SecretString::from(parsed.to_string());
        tokio_postgres::Config::from_str(url.expose_secret()).map_err(|error| bad(error.to_string()))?;
        Ok(PgTarget { url, shown, ssl, root_cert, password: None, passfile: None })
    }

    /// The password to use when the URL has none (`store.password_file`, `PGPASSWORD`).
    pub fn with_password(mut self, password: SecretString) -> PgTarget {
        self.password = Some(password);
        self
    }

    /// A password file in the `~/.pgpass` format, read when neither the URL nor
    /// [`PgTarget::with_password`] gives a password (`PGPASSFILE`, else `~/.pgpass`).
    pub fn with_passfile(mut self, path: PathBuf) -> PgTarget {
        self.passfile = Some(path);
        self
    }

    /// The URL as it may be shown: its password replaced by `***`.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether the URL itself carries a password.
    pub fn url_has_password(&self) -> bool {
        url::Url::parse(self.url.expose_secret()).is_ok_and(|url| url.password().is_some())
    }

    /// The driver's settings, with the password filled in.
    fn config(&self) -> Result<tokio_postgres::Config, StoreError> {
        let bad = |reason: String| StoreError::BadUrl { url: self.shown.clone(), reason };
        let mut config = tokio_postgres::Config::from_str(self.url.expose_secret())
            .map_err(|error| bad(error.to_string()))?;
        if config.get_password().is_none() {
            if let Some(password) = &self.password {
                config.password(password.expose_secret());
            } else if let Some(passfile) = &self.passfile
                && let Some(password) = passfile_password(passfile, &config)?
            {
                config.password(password.expose_secret());
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.ssl_mode(self.ssl.driver_mode());
        Ok(config)
    }
}

/// How long connecting waits for the server when the URL gives no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The password for this connection in a `~/.pgpass`-format file, if the file exists and has
/// a matching line. Like libpq, a file that others may read is ignored.
fn passfile_password(
    path: &Path,
    config: &tokio_postgres::Config,
) -> Result<Option<SecretString>, StoreError> {
    let Ok(metadata) = std::fs::metadata(path) else { return Ok(None) };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            return Ok(None);
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let content = std::fs::read_to_string(path)
        .map_err(|source| StoreError::ReadPasswordFile { path: path.to_path_buf(), source })?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = config.get_user().unwrap_or_default();
    let dbname = config.get_dbname().unwrap_or(user);
    Ok(super::pgpass::lookup(&content, &host, &port, dbname, user).map(SecretString::from))
}

/// What the worker thread holds.
struct Session {
    runtime: tokio::runtime::Runtime,
    client: Client,
    statements: HashMap<String, Statement>,
    /// The connection's error when it ended with one.
    ended: Arc<Mutex<Option<tokio_postgres::Error>>>,
}

/// Prepared statements kept per connection, at most.
const STATEMENT_CACHE: usize = 64;

/// A prepared statement for `sql`, from the connection's cache.
async fn statement(
    client: &Client,
    statements: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, tokio_postgres::Error> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql).await?;
    // A FETCH's columns are those of whichever cursor is open: never reuse its description.
    if sql.starts_with("FETCH") {
        return Ok(statement);
    }
    if statements.len() >= STATEMENT_CACHE {
        statements.clear();
    }
    statements.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A connection to PostgreSQL, usable from any thread, inside a tokio runtime or not.
pub(crate) struct PgConn {
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<std::thread::JoinHandle<()>>,
    in_transaction: std::cell::Cell<bool>,
}

impl PgConn {
    /// Connects (on the worker thread) and waits for the outcome.
    pub(crate) fn connect(target: &PgTarget) -> Result<PgConn, StoreError> {
        let config = target.config()?;
        let tls = MakeRustls::new(target.ssl, target.root_cert.as_deref())
            .map_err(|reason| StoreError::BadUrl { url: target.shown.clone(), reason })?;
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), PgError>>(1);
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let worker = std::thread::Builder::new()
            .name("sfconn-store-pg".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        drop(ready_tx.send(Err(PgError { inner: Inner::Runtime(error), ended: None })));
                        return;
                    }
                };
                let ended = Arc::new(Mutex::new(None));
                let client = match runtime.block_on(config.connect(tls)) {
                    Ok((client, connection)) => {
                        let slot = ended.clone();
                        runtime.spawn(async move {
                            // Its end is seen by the client's next call (`is_closed`); why it
                            // ended is kept for that call's error.
                            if let Err(error) = connection.await
                                && let Ok(mut slot) = slot.lock()
                            {
                                *slot = Some(error);
                            }
                        });
                        client
                    }
                    Err(error) => {
                        drop(ready_tx.send(Err(PgError::new(error))));
                        return;
                    }
                };
                drop(ready_tx.send(Ok(())));
                let mut session = Session { runtime, client, statements: HashMap::new(), ended };
                for job in jobs_rx {
                    job(&mut session);
                }
            })
            .map_err(|error| StoreError::PgConnect {
                url: target.shown.clone(),
                source: PgError { inner: Inner::Runtime(error), ended: None },
            })?;
        let conn = PgConn { jobs: Some(jobs_tx), worker: Some(worker), in_transaction: false.into() };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(conn),
            Ok(Err(error)) => Err(connect_error(target, error)),
            Err(_) => Err(connect_error(target, PgError::gone())),
        }
    }

    /// Runs `job` on the worker thread and waits for its answer.
    fn call<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Session) -> Result<R, PgError> + Send + 'static,
    ) -> Result<R, PgError> {
        let (answer_tx, answer_rx) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(PgError::gone)?;
        jobs.send(Box::new(move |session: &mut Session| {
            let mut answer = job(session);
            if let Err(error) = &mut answer
                && error.ended.is_none()
                && matches!(&error.inner, Inner::Driver(e) if e.is_closed())
            {
                // Let the connection task record its error, then take it.
                session.runtime.block_on(tokio::task::yield_now());
                error.ended = session.ended.lock().ok().and_then(|mut slot| slot.take());
            }
            drop(answer_tx.send(answer));
        }))
        .map_err(|_| PgError::gone())?;
        answer_rx.recv().map_err(|_| PgError::gone())?
    }

    pub(crate) fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<tokio_postgres::Row>, PgError> {
        let sql = sql.to_owned();
        self.call(move |Session { runtime, client, statements, .. }| {
            runtime
                .block_on(async {
                    let statement = statement(client, statements, &sql).await?;
                    client.query(&statement, &as_params(&params)).await
                })
                .map_err(PgError::new)
        })
    }

    /// Statements without parameters (the simple protocol). Tracks `BEGIN` / `COMMIT` /
    /// `ROLLBACK`, so that [`PgConn::in_transaction`] knows.
    pub(crate) fn batch(&self, sql: &str) -> Result<(), PgError> {
        let first = sql.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let owned = sql.to_owned();
        let result = self.call(move |Session { runtime, client, .. }| {
            runtime.block_on(client.batch_execute(&owned)).map_err(PgError::new)
        });
        match first.as_str() {
            "BEGIN" if result.is_ok() => self.in_transaction.set(true),
            "COMMIT" | "ROLLBACK" | "END" => self.in_transaction.set(false),
            _ => {}
        }
        result
    }

    pub(crate) fn in_transaction(&self) -> bool {
        self.in_transaction.get()
    }
}

fn as_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|value| value as &(dyn ToSql + Sync)).collect()
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Closing the channel ends the worker's loop; it drops the connection and its runtime.
        self.jobs = None;
        if let Some(worker) = self.worker.take() {
            drop(worker.join());
        }
    }
}

/// A failure to connect, classified: the server unreachable, the login refused, the rest.
fn connect_error(target: &PgTarget, source: PgError) -> StoreError {
    let url = target.shown.clone();
    if source.sqlstate().is_some_and(|code| code.starts_with("28")) {
        return StoreError::PgAuth { url, source };
    }
    if source.tls_failure().is_some() || source.sqlstate().is_some() {
        return StoreError::PgConnect { url, source };
    }
    match &source.inner {
        Inner::Driver(error) if io_cause(error).is_some() || error.to_string().contains("timeout") => {
            StoreError::PgUnreachable { url, source }
        }
        _ => StoreError::PgConnect { url, source },
    }
}
