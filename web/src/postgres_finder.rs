//! Finds (or starts) the PostgreSQL that `callrecover demo` uses, with zero configuration.
//!
//! Order: `DATABASE_URL` if given → a server answering on 127.0.0.1:5432 → a private
//! cluster under a data dir, created and started with the installed PostgreSQL binaries.
//! When running as root the private cluster runs as the `postgres` OS user, because
//! `initdb` and `postgres` refuse to run as root. The private cluster keeps running
//! until [`PgEndpoint::stop`] (or `pg_ctl stop`); a later call reuses it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use tokio::process::Command;

const DEMO_DB: &str = "callrecover_demo";
const PG_USER: &str = "postgres";
/// Server log of the private cluster, inside its data dir.
const LOG_FILE: &str = "server.log";
const LOCAL_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const ENV_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Matches pg_ctl's default `-w` timeout.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const TAIL_LINES: usize = 20;
/// Unix socket paths are limited to 107 bytes; `/.s.PGSQL.NNNNN` adds 16.
const MAX_SOCKET_DIR_LEN: usize = 90;

/// Where the demo's database lives and, if we started it, the handle that stops it.
#[derive(Debug)]
pub struct PgEndpoint {
    pub url: String,
    pub origin: PgOrigin,
    cluster: Option<Cluster>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgOrigin {
    Env,
    Localhost,
    PrivateCluster { data_dir: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum PgFindError {
    #[error("DATABASE_URL is set but its database does not answer: {0}")]
    EnvUnreachable(String),
    #[error("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found via `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH; install PostgreSQL or set DATABASE_URL")]
    BinariesNotFound,
    #[error("running as root, but there is no `postgres` OS user to run the private cluster as (PostgreSQL refuses to run as root); create that user or set DATABASE_URL")]
    NoPostgresUser,
    #[error("the `postgres` OS user cannot write to {0}; a parent directory is probably not searchable by it (e.g. /root is 0700); use a data dir elsewhere or set DATABASE_URL")]
    DataDirNotReachable(PathBuf),
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("{0} failed:\n{1}")]
    CommandFailed(&'static str, String),
    #[error("initdb failed:\n{0}")]
    InitdbFailed(String),
    #[error("pg_ctl start failed:\n{0}")]
    StartFailed(String),
    #[error("private PostgreSQL did not accept connections within 60s: {0}")]
    StartTimedOut(String),
    #[error("could not create database callrecover_demo: {0}")]
    CreateDatabase(#[source] sqlx::Error),
}

/// Finds a PostgreSQL for the demo (see module docs) and returns the URL of its
/// `callrecover_demo` database (or `env_url` unchanged when it is given).
pub async fn find_or_start(env_url: Option<String>, data_dir: &Path) -> Result<PgEndpoint, PgFindError> {
    if let Some(url) = env_url {
        let conn = connect(&url, ENV_CONNECT_TIMEOUT).await;
        close(conn.map_err(PgFindError::EnvUnreachable)?).await;
        tracing::info!("using the database from DATABASE_URL");
        return Ok(endpoint(url, PgOrigin::Env, None));
    }
    let base = base_url(5432);
    match connect(&db_url(&base, "postgres"), LOCAL_CONNECT_TIMEOUT).await {
        Ok(conn) => {
            ensure_database(conn).await?;
            tracing::info!("using the PostgreSQL on 127.0.0.1:5432");
            Ok(endpoint(db_url(&base, DEMO_DB), PgOrigin::Localhost, None))
        }
        Err(e) => {
            tracing::info!(error = %e, "nothing usable on 127.0.0.1:5432; using a private cluster");
            start_private_cluster(data_dir).await
        }
    }
}

impl PgEndpoint {
    /// Stops the private cluster (`pg_ctl stop -m fast`); a no-op for other origins.
    pub async fn stop(self) -> Result<(), PgFindError> {
        let Some(cluster) = self.cluster else {
            return Ok(());
        };
        if !cluster.data_dir.join("postmaster.pid").exists() {
            return Ok(()); // already stopped
        }
        let (ok, out) = run(cluster.pg_ctl(&["stop", "-m", "fast", "-w"]), "pg_ctl").await?;
        if !ok {
            return Err(PgFindError::CommandFailed("pg_ctl stop", out));
        }
        tracing::info!(data_dir = %cluster.data_dir.display(), "stopped private PostgreSQL");
        Ok(())
    }
}

impl PgEndpoint {
    /// Restarts the private cluster (`pg_ctl restart -m fast`: every
    /// connection is cut, as in a crash of the server or a failover), on the
    /// same port; refused for a server we did not start.
    pub async fn restart(&self) -> Result<(), PgFindError> {
        let Some(cluster) = &self.cluster else {
            return Err(PgFindError::CommandFailed("pg_ctl restart", "not our private cluster".into()));
        };
        let log = path_str(&cluster.data_dir.join(LOG_FILE));
        let (ok, out) = run(cluster.pg_ctl(&["restart", "-m", "fast", "-w", "-l", &log]), "pg_ctl").await?;
        ok.then_some(()).ok_or(PgFindError::CommandFailed("pg_ctl restart", out))
    }
}

fn endpoint(url: String, origin: PgOrigin, cluster: Option<Cluster>) -> PgEndpoint {
    PgEndpoint { url, origin, cluster }
}

/// Step (3): initialise (once), start (or reuse) a private cluster under `data_dir`.
pub(crate) async fn start_private_cluster(data_dir: &Path) -> Result<PgEndpoint, PgFindError> {
    let bindir = find_bindir(data_dir).await?;
    let as_postgres = must_run_as_postgres().await?;
    let data_dir = prepare_data_dir(data_dir, as_postgres).await?;
    let cluster = Cluster { bindir, data_dir, as_postgres };
    let port = match cluster.running_port().await {
        Some(port) => {
            tracing::info!(port, "reusing the running private PostgreSQL");
            port
        }
        None => {
            cluster.init_if_needed().await?;
            cluster.start().await?
        }
    };
    let base = base_url(port);
    ensure_database(cluster.wait_ready(&base).await?).await?;
    let data_dir = cluster.data_dir.clone();
    let origin = PgOrigin::PrivateCluster { data_dir };
    Ok(endpoint(db_url(&base, DEMO_DB), origin, Some(cluster)))
}

/// `program args…`, run via `runuser -u postgres --` when `as_postgres` (we are root).
fn command(as_postgres: bool, program: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(if as_postgres { Path::new("runuser") } else { program });
    if as_postgres {
        cmd.args(["-u", PG_USER, "--"]).arg(program);
    }
    cmd.args(args).current_dir("/").stdin(Stdio::null());
    cmd
}

#[derive(Debug)]
struct Cluster {
    bindir: PathBuf,
    data_dir: PathBuf,
    as_postgres: bool,
}

impl Cluster {
    fn tool(&self, name: &str, args: &[String]) -> Command {
        command(self.as_postgres, &self.bindir.join(name), args)
    }

    fn pg_ctl(&self, action: &[&str]) -> Command {
        let mut args = strings(action);
        args.extend(["-D".into(), path_str(&self.data_dir)]);
        self.tool("pg_ctl", &args)
    }

    async fn log_tail(&self) -> String {
        let log = self.data_dir.join(LOG_FILE);
        match tokio::fs::read_to_string(&log).await {
            Ok(text) => format!("--- tail of {} ---\n{}", log.display(), tail(&text)),
            Err(e) => format!("(could not read {}: {e})", log.display()),
        }
    }

    /// The port of a server already running on this data dir and answering, if any.
    /// (A stale `postmaster.pid` left by a crash is cleaned up by `pg_ctl start`.)
    async fn running_port(&self) -> Option<u16> {
        let pid_file = tokio::fs::read_to_string(self.data_dir.join("postmaster.pid")).await;
        let port = pid_file_port(&pid_file.ok()?)?;
        let url = db_url(&base_url(port), "postgres");
        close(connect(&url, LOCAL_CONNECT_TIMEOUT).await.ok()?).await;
        Some(port)
    }

    async fn init_if_needed(&self) -> Result<(), PgFindError> {
        if self.data_dir.join("PG_VERSION").is_file() {
            return Ok(());
        }
        tracing::info!(data_dir = %self.data_dir.display(), "initialising private PostgreSQL");
        let (ok, out) = run(self.tool("initdb", &initdb_args(&self.data_dir)), "initdb").await?;
        ok.then_some(()).ok_or(PgFindError::InitdbFailed(out))
    }

    async fn start(&self) -> Result<u16, PgFindError> {
        let port = free_port()?;
        tracing::info!(port, data_dir = %self.data_dir.display(), "starting private PostgreSQL");
        let args = pg_ctl_start_args(&self.data_dir, port);
        let (ok, out) = run(self.tool("pg_ctl", &args), "pg_ctl").await?;
        if !ok {
            let log = self.log_tail().await;
            return Err(PgFindError::StartFailed(format!("{out}\n{log}")));
        }
        Ok(port)
    }

    async fn wait_ready(&self, base: &str) -> Result<PgConnection, PgFindError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match connect(&db_url(base, "postgres"), LOCAL_CONNECT_TIMEOUT).await {
                Ok(conn) => return Ok(conn),
                Err(e) if Instant::now() >= deadline => {
                    let log = self.log_tail().await;
                    return Err(PgFindError::StartTimedOut(format!("{e}\n{log}")));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

async fn connect(url: &str, timeout: Duration) -> Result<PgConnection, String> {
    match tokio::time::timeout(timeout, PgConnection::connect(url)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {}s", timeout.as_secs())),
    }
}

async fn close(conn: PgConnection) {
    if let Err(e) = conn.close().await {
        tracing::debug!(error = %e, "closing probe connection failed");
    }
}

/// Creates `callrecover_demo` unless it exists (tolerating a concurrent creator).
async fn ensure_database(mut conn: PgConnection) -> Result<(), PgFindError> {
    let query = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1");
    let exists: Result<Option<i32>, _> = query.bind(DEMO_DB).fetch_optional(&mut conn).await;
    if exists.map_err(PgFindError::CreateDatabase)?.is_none() {
        match conn.execute("CREATE DATABASE callrecover_demo").await {
            Ok(_) => tracing::info!("created database {DEMO_DB}"),
            Err(e) if is_duplicate(&e) => {}
            Err(e) => return Err(PgFindError::CreateDatabase(e)),
        }
    }
    close(conn).await;
    Ok(())
}

fn is_duplicate(e: &sqlx::Error) -> bool {
    let code = e.as_database_error().and_then(|d| d.code());
    matches!(code.as_deref(), Some("42P04") | Some("23505"))
}

/// Binaries matching the data dir's PG_VERSION, else `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/*/bin`, else wherever `initdb` on PATH really lives.
async fn find_bindir(data_dir: &Path) -> Result<PathBuf, PgFindError> {
    let mut found = Vec::new();
    if let Ok(v) = tokio::fs::read_to_string(data_dir.join("PG_VERSION")).await {
        found.push(Path::new("/usr/lib/postgresql").join(v.trim()).join("bin"));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output().await {
        found.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    let mut versioned = Vec::new();
    if let Ok(mut entries) = tokio::fs::read_dir("/usr/lib/postgresql").await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            versioned.extend(Some(entry.path().join("bin")).filter(|d| has_server_bins(d)));
        }
    }
    found.extend(newest_bindir(versioned));
    let initdb = path_lookup("initdb").and_then(|p| std::fs::canonicalize(p).ok());
    found.extend(initdb.and_then(|p| p.parent().map(Path::to_path_buf)));
    let bindir = found.into_iter().find(|d| has_server_bins(d));
    bindir.ok_or(PgFindError::BinariesNotFound)
}

fn has_server_bins(dir: &Path) -> bool {
    let bins = ["initdb", "pg_ctl", "postgres"];
    bins.iter().all(|b| dir.join(b).is_file())
}

/// Picks the candidate `…/<version>/bin` with the highest numeric version.
fn newest_bindir(candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    let version = |dir: &PathBuf| -> Vec<u32> {
        let name = dir.parent().and_then(Path::file_name);
        let name = name.and_then(|n| n.to_str()).unwrap_or("");
        name.split('.').map_while(|p| p.parse().ok()).collect()
    };
    candidates.into_iter().max_by_key(version)
}

fn path_lookup(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let mut files = std::env::split_paths(&path).map(|d| d.join(name));
    files.find(|p| p.is_file())
}

/// Root must hand the cluster to the `postgres` OS user, which must exist.
async fn must_run_as_postgres() -> Result<bool, PgFindError> {
    if effective_uid().await != Some(0) {
        return Ok(false);
    }
    let user = Command::new("id").args(["-u", PG_USER]).output().await;
    match user.is_ok_and(|o| o.status.success()) {
        true => Ok(true),
        false => Err(PgFindError::NoPostgresUser),
    }
}

async fn effective_uid() -> Option<u32> {
    if let Ok(status) = tokio::fs::read_to_string("/proc/self/status").await {
        return parse_euid(&status);
    }
    let out = Command::new("id").arg("-u").output().await.ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The effective uid from `/proc/self/status` (`Uid: real effective saved fs`).
fn parse_euid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Creates the data dir, makes it absolute and, as root, gives it to the `postgres` user.
async fn prepare_data_dir(dir: &Path, as_postgres: bool) -> Result<PathBuf, PgFindError> {
    let io = |e| PgFindError::Io(format!("creating {}", dir.display()), e);
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let dir = tokio::fs::canonicalize(dir).await.map_err(io)?;
    if !as_postgres {
        return Ok(dir);
    }
    let mut chown = Command::new("chown");
    chown.args(["-R", PG_USER]).arg(&dir);
    let (ok, out) = run(chown, "chown").await?;
    if !ok {
        return Err(PgFindError::CommandFailed("chown", out));
    }
    let probe = command(true, Path::new("test"), &["-w".into(), path_str(&dir)]);
    if !run(probe, "test").await?.0 {
        return Err(PgFindError::DataDirNotReachable(dir));
    }
    Ok(dir)
}

/// Runs `cmd` to completion: (exited successfully, tail of stdout+stderr).
async fn run(mut cmd: Command, what: &str) -> Result<(bool, String), PgFindError> {
    let out = cmd.output().await;
    let out = out.map_err(|e| PgFindError::Io(format!("could not run {what}"), e))?;
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    Ok((out.status.success(), tail(&text)))
}

fn free_port() -> Result<u16, PgFindError> {
    let io = |e| PgFindError::Io("picking a free port".into(), e);
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(io)?;
    Ok(listener.local_addr().map_err(io)?.port())
}

fn initdb_args(data_dir: &Path) -> Vec<String> {
    let mut args = vec!["-D".into(), path_str(data_dir)];
    args.extend(strings(&["-U", PG_USER, "--auth=trust", "-E", "UTF8", "--locale=C"]));
    args
}

fn pg_ctl_start_args(data_dir: &Path, port: u16) -> Vec<String> {
    let sock = shell_quote(&path_str(&socket_dir(data_dir)));
    let opts = format!("-p {port} -k {sock} -c listen_addresses=127.0.0.1");
    let (dir, log) = (path_str(data_dir), path_str(&data_dir.join(LOG_FILE)));
    strings(&["start", "-D", &dir, "-o", &opts, "-l", &log, "-w"])
}

/// The data dir, unless its socket path would be too long for a Unix socket.
fn socket_dir(data_dir: &Path) -> PathBuf {
    let fits = path_str(data_dir).len() <= MAX_SOCKET_DIR_LEN;
    PathBuf::from(if fits { data_dir } else { Path::new("/tmp") })
}

fn base_url(port: u16) -> String {
    format!("postgres://{PG_USER}@127.0.0.1:{port}")
}

fn db_url(base: &str, db: &str) -> String {
    format!("{base}/{db}")
}

/// Line 4 of `postmaster.pid` is the port.
fn pid_file_port(contents: &str) -> Option<u16> {
    contents.lines().nth(3)?.trim().parse().ok()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_bindir_compares_versions_numerically() {
        let dirs = ["9.6", "15", "10", "16"].map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")));
        let newest = newest_bindir(dirs);
        assert_eq!(newest, Some(PathBuf::from("/usr/lib/postgresql/16/bin")));
        assert_eq!(newest_bindir(Vec::new()), None);
    }

    #[test]
    fn newest_bindir_ranks_unparseable_names_lowest() {
        let dirs = [PathBuf::from("/x/weird/bin"), PathBuf::from("/usr/lib/postgresql/12/bin")];
        assert_eq!(newest_bindir(dirs), Some(PathBuf::from("/usr/lib/postgresql/12/bin")));
    }

    #[test]
    fn pg_ctl_start_args_listen_on_loopback_with_socket_in_data_dir() {
        let args = pg_ctl_start_args(Path::new("/tmp/demo pg"), 54321);
        let expected = [
            "start",
            "-D",
            "/tmp/demo pg",
            "-o",
            "-p 54321 -k '/tmp/demo pg' -c listen_addresses=127.0.0.1",
            "-l",
            "/tmp/demo pg/server.log",
            "-w",
        ];
        assert_eq!(args, expected);
    }

    #[test]
    fn long_data_dirs_put_the_socket_in_tmp() {
        let long = PathBuf::from(format!("/{}", "d".repeat(120)));
        assert_eq!(socket_dir(&long), PathBuf::from("/tmp"));
        assert!(pg_ctl_start_args(&long, 5555)[4].contains("-k '/tmp'"));
    }

    #[test]
    fn initdb_args_are_trusting_utf8_as_postgres() {
        let args = initdb_args(Path::new("/d"));
        assert_eq!(args, ["-D", "/d", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"]);
    }

    #[test]
    fn urls_point_at_loopback_as_postgres() {
        let base = base_url(5432);
        assert_eq!(db_url(&base, DEMO_DB), "postgres://postgres@127.0.0.1:5432/callrecover_demo");
        assert_eq!(db_url(&base_url(40001), "postgres"), "postgres://postgres@127.0.0.1:40001/postgres");
    }

    #[test]
    fn parses_effective_uid_and_pid_file_port() {
        let status = "Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
        assert_eq!(parse_euid(status), Some(0));
        assert_eq!(parse_euid("Name: x\n"), None);
        let pid = "4242\n/tmp/pg\n1700000000\n54321\n/tmp/pg\n127.0.0.1\n  1234  5678\nready   \n";
        assert_eq!(pid_file_port(pid), Some(54321));
        assert_eq!(pid_file_port("4242\n/tmp/pg\n"), None);
    }

    #[test]
    fn shell_quote_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("/it's here"), r"'/it'\''s here'");
    }

    #[test]
    fn tail_keeps_last_lines() {
        let many: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        assert!(tail(&many).starts_with("line 11\n"));
        assert!(tail(&many).ends_with("line 30"));
        assert_eq!(tail("only"), "only");
    }
}
