//! A real PostgreSQL server for tests: [`Cluster`], made with `initdb` in a temporary directory
//! and started with `pg_ctl` on a free loopback port and a Unix socket in that directory, with
//! `fsync=off` for speed. One cluster serves a whole test binary ([`Cluster::shared`]); each
//! test takes a fresh database of its own ([`Cluster::database`]).
//!
//! Logins: the role [`ROLE`] with the password [`PASSWORD`] over TCP (`scram-sha-256`), the
//! superuser `postgres` over the Unix socket (`trust`), used by [`Cluster::psql`].
//!
//! Run as root (CI, containers), initdb refuses to work: the server's programs then run as the
//! `postgres` system user (`runuser -u postgres --`), with the directory given to that user.
//! Without the server's programs, [`Cluster::shared`] panics with a message saying to install
//! the `postgresql` package: a PostgreSQL test never passes by skipping.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The role the tests log in as (a password login over TCP).
pub const ROLE: &str = "sfconn";
/// [`ROLE`]'s password. TEST-ONLY.
pub const PASSWORD: &str = "test-only-pg-Secret-4242";

/// A running PostgreSQL server in a temporary directory, stopped when dropped (and, for the
/// shared one, when the test process ends however it ends: a guard process waits for the end
/// of the process's pipe and stops the server then).
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    next: AtomicUsize,
    guard: Option<(Child, ChildStdin)>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("dir", &self.dir).field("port", &self.port).finish_non_exhaustive()
    }
}

/// The directory of the server's programs: `initdb` on PATH, else the newest
/// `/usr/lib/postgresql/*/bin/`.
fn find_bin() -> Option<PathBuf> {
    let on_path = Command::new("sh").args(["-c", "command -v initdb"]).output().ok();
    if let Some(output) = on_path.filter(|output| output.status.success()) {
        // A link on PATH (Debian's wrappers, /usr/local/bin) leads to the real directory.
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        if let Some(dir) =
            path.parent().filter(|dir| ["pg_ctl", "postgres", "psql"].iter().all(|p| dir.join(p).exists()))
        {
            return Some(dir.to_path_buf());
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| format!("no free port: {error}"))?;
    listener.local_addr().map(|address| address.port()).map_err(|error| error.to_string())
}

impl Cluster {
    /// The cluster of this test binary, started on first use.
    ///
    /// # Panics
    /// When the server's programs are not installed, or the server cannot start: the message
    /// says why (install the `postgresql` package; the server's log).
    #[allow(clippy::panic)] // a test harness: failing loudly is the point
    pub fn shared() -> &'static Cluster {
        static CLUSTER: OnceLock<Cluster> = OnceLock::new();
        CLUSTER.get_or_init(|| match Cluster::start() {
            Ok(cluster) => cluster,
            Err(error) => panic!("cannot start the test PostgreSQL server: {error}"),
        })
    }

    /// Makes and starts a new cluster.
    pub fn start() -> Result<Cluster, String> {
        Cluster::start_with(false)
    }

    /// A new cluster that also speaks TLS, with a certificate for `localhost` only (not for
    /// `127.0.0.1`) signed by a test CA ([`Cluster::ca_cert`]), made with `openssl`.
    pub fn start_tls() -> Result<Cluster, String> {
        Cluster::start_with(true)
    }

    /// The test CA's certificate (PEM) of a [`Cluster::start_tls`] cluster.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// Makes the test CA and the server's key and certificate in the cluster's directory.
    fn make_certificates(dir: &Path) -> Result<(), String> {
        let openssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(dir));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=sfconn test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ])?;
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ])?;
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|error| error.to_string())?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.crt",
            "-extfile",
            "server.ext",
        ])
    }

    fn start_with(tls: bool) -> Result<Cluster, String> {
        let bin = find_bin().ok_or(
            "no PostgreSQL server programs (initdb, pg_ctl) on PATH nor under /usr/lib/postgresql/*/bin/: \
             install the `postgresql` package (`apt-get install postgresql`; `cargo xtask ci` does it)",
        )?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("sfconn-pg-")
            .tempdir()
            .map_err(|error| format!("no temporary directory: {error}"))?
            .keep();
        std::fs::create_dir(dir.join("sock")).map_err(|error| error.to_string())?;
        if as_postgres {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir))?;
        }
        if tls {
            Cluster::make_certificates(&dir).map_err(|error| {
                format!("{error} (the TLS test server's certificates are made with openssl: install the `openssl` package)")
            })?;
            std::fs::set_permissions(
                dir.join("server.key"),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .map_err(|error| error.to_string())?;
        }
        if as_postgres {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir))?;
        }
        let port = free_port()?;
        let mut cluster = Cluster { bin, dir, port, as_postgres, next: AtomicUsize::new(0), guard: None };
        std::fs::write(cluster.dir.join("pwfile"), "unused-superuser-password\n")
            .map_err(|e| e.to_string())?;
        if as_postgres {
            run(Command::new("chown").arg("postgres:postgres").arg(cluster.dir.join("pwfile")))?;
        }
        let data = cluster.dir.join("data");
        run(cluster
            .program("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--auth-local=trust"])
            .args(["--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", cluster.dir.join("pwfile").display())))?;
        let mut options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            cluster.dir.join("sock").display()
        );
        if tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cluster.dir.join("server.crt").display(),
                cluster.dir.join("server.key").display()
            ));
        }
        run(cluster
            .program("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]))
        .map_err(|error| format!("{error}\nserver log:\n{}", cluster.log()))?;
        cluster.guard = cluster.start_guard();
        cluster.psql("postgres", &format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'"))?;
        Ok(cluster)
    }

    /// A process that stops the server and removes its directory when this process's end of
    /// the pipe closes: at exit, at a panic, at a kill.
    fn start_guard(&self) -> Option<(Child, ChildStdin)> {
        let stop = self.stop_command();
        let script = format!("cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf '{}'", self.dir.display());
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        Some((child, stdin))
    }

    fn stop_command(&self) -> String {
        let pg_ctl = format!(
            "'{}' -D '{}' -m immediate -w stop",
            self.bin.join("pg_ctl").display(),
            self.dir.join("data").display()
        );
        if self.as_postgres { format!("runuser -u postgres -- {pg_ctl}") } else { pg_ctl }
    }

    /// A server program, run as `postgres` when we are root.
    fn program(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// The server's log, for a failure's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty database owned by [`ROLE`]: `t_1`, `t_2`, …
    ///
    /// # Panics
    /// When the server refuses (its message is in the panic's).
    #[allow(clippy::panic)]
    pub fn database(&self) -> String {
        let name = format!("t_{}", self.next.fetch_add(1, Ordering::SeqCst) + 1);
        if let Err(error) = self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {ROLE}")) {
            panic!("cannot create the test database {name}: {error}");
        }
        name
    }

    /// The URL of `database` as [`ROLE`], with the password in it.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{ROLE}:{PASSWORD}@127.0.0.1:{}/{database}?sslmode=disable", self.port)
    }

    /// The URL of `database` as [`ROLE`], without a password.
    pub fn url_without_password(&self, database: &str) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{database}?sslmode=disable", self.port)
    }

    /// Runs SQL as the superuser in `database` (over the Unix socket) and returns what psql
    /// printed: unaligned, tuples only, `|` between columns.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let output = self
            .program("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-h"])
            .arg(self.dir.join("sock"))
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("cannot run psql: {error}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_owned())
        } else {
            Err(format!("psql failed ({sql}): {}", String::from_utf8_lossy(&output.stderr).trim()))
        }
    }

    /// The directory of the server's programs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Closing the guard's pipe makes it stop the server and remove the directory; wait for
        // it, so that the server is gone when the drop returns.
        if let Some((mut child, stdin)) = self.guard.take() {
            drop(stdin);
            drop(child.wait());
        } else {
            drop(Command::new("sh").args(["-c", &self.stop_command()]).status());
            drop(std::fs::remove_dir_all(&self.dir));
        }
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output =
        command.stdin(Stdio::null()).output().map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_serves_a_database_and_stops() {
        let cluster = Cluster::start().unwrap();
        let db = cluster.database();
        assert_eq!(cluster.psql(&db, "SELECT current_database()").unwrap(), db);
        let dir = cluster.dir.clone();
        drop(cluster);
        assert!(!dir.exists(), "the directory is removed with the server");
    }
}
