//! The processes under test: web processes (`serve --no-workers`) and worker
//! processes (`worker`), each a child of this binary with its own environment
//! and log file, killed with SIGKILL on demand and on drop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::fake_twilio::FakeTwilio;

/// What every child gets: Twilio at the fake, fast polls and heartbeats,
/// short retries, follow-ups off (they would count as extra texts).
pub fn child_env(fake: &FakeTwilio, db_url: &str, base_url: &str) -> Vec<(String, String)> {
    let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn,underway=warn,tower_http=warn".into());
    [
        ("DATABASE_URL", db_url.to_owned()),
        ("BASE_URL", base_url.to_owned()),
        ("TWILIO_ACCOUNT_SID", fake.account_sid.clone()),
        ("TWILIO_AUTH_TOKEN", fake.auth_token.clone()),
        ("TWILIO_API_BASE", fake.base_url()),
        ("TWILIO_TIMEOUT_MS", "2000".to_owned()),
        // Longer than the Twilio timeout: a live sender's request has ended
        // before anyone else may take its row over.
        ("SMS_SEND_LEASE_MS", "3000".to_owned()),
        ("SMS_RETRY_BASE_MS", "100".to_owned()),
        ("SMS_RETRY_MAX_MS", "1000".to_owned()),
        ("WORKER_POLL_MS", "100".to_owned()),
        ("WORKER_HEARTBEAT_MS", "1000".to_owned()),
        ("WORKER_CONCURRENCY", "6".to_owned()),
        ("FOLLOW_UP_DELAYS", "off".to_owned()),
        // Well inside the settle timeout: a tick lost to a database restart is retried after 10 s.
        ("TICK_RESCUE_AFTER_MS", "10000".to_owned()),
        ("RUST_LOG", log),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub struct Fleet {
    exe: PathBuf,
    env: Vec<(String, String)>,
    logs: PathBuf,
    webs: Vec<(Child, SocketAddr)>,
    workers: Vec<Child>,
}

impl Fleet {
    /// Starts the web processes (waiting until each answers `/health`) and the workers.
    pub async fn start(
        exe: PathBuf,
        env: Vec<(String, String)>,
        logs: PathBuf,
        webs: usize,
        workers: usize,
    ) -> anyhow::Result<Self> {
        let mut fleet = Fleet { exe, env, logs, webs: Vec::new(), workers: Vec::new() };
        for i in 0..webs {
            let addr = free_port()?;
            let env = [("BIND", addr.to_string()), ("DATABASE_MAX_CONNECTIONS", "10".to_owned())];
            let child = fleet.spawn(&["serve", "--no-workers"], &format!("web-{i}"), &env)?;
            fleet.webs.push((child, addr));
        }
        for i in 0..workers {
            let child = fleet.spawn_worker(i)?;
            fleet.workers.push(child);
        }
        let http = reqwest::Client::new();
        for i in 0..fleet.webs.len() {
            fleet.wait_healthy(&http, i).await?;
        }
        Ok(fleet)
    }

    pub fn web_addrs(&self) -> Vec<SocketAddr> {
        self.webs.iter().map(|(_, a)| *a).collect()
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// SIGKILLs worker `i` and reaps it: its ticks die mid-step, its
    /// transactions roll back, its heartbeats stop.
    pub async fn kill_worker(&mut self, i: usize) -> anyhow::Result<()> {
        let child = self.workers.get_mut(i).context("no such worker")?;
        child.start_kill().context("SIGKILL")?;
        child.wait().await?;
        Ok(())
    }

    pub fn restart_worker(&mut self, i: usize) -> anyhow::Result<()> {
        let child = self.spawn_worker(i)?;
        if let Some(slot) = self.workers.get_mut(i) {
            *slot = child;
        }
        Ok(())
    }

    /// Children that exited without being killed by us (a crash of our own).
    pub fn unexpected_exits(&mut self) -> Vec<String> {
        let webs = self.webs.iter_mut().enumerate().map(|(i, (c, _))| (format!("web-{i}"), c));
        let workers = self.workers.iter_mut().enumerate().map(|(i, c)| (format!("worker-{i}"), c));
        webs.chain(workers)
            .filter_map(|(name, c)| match c.try_wait() {
                Ok(Some(status)) => Some(format!("{name} exited: {status}")),
                Ok(None) => None,
                Err(e) => Some(format!("{name}: {e}")),
            })
            .collect()
    }

    pub async fn stop(mut self) {
        for c in self.workers.iter_mut().chain(self.webs.iter_mut().map(|(c, _)| c)) {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    /// A worker's pool: two connections per running tick (underway's and ours) plus its listeners.
    fn spawn_worker(&self, i: usize) -> anyhow::Result<Child> {
        self.spawn(&["worker"], &format!("worker-{i}"), &[("DATABASE_MAX_CONNECTIONS", "16".to_owned())])
    }

    fn spawn(&self, args: &[&str], name: &str, extra: &[(&str, String)]) -> anyhow::Result<Child> {
        let path = self.logs.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        let mut cmd = Command::new(&self.exe);
        cmd.args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        cmd.spawn().with_context(|| format!("starting {name}"))
    }

    async fn wait_healthy(&mut self, http: &reqwest::Client, i: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (child, addr) = self.webs.get_mut(i).context("no such web process")?;
        let url = format!("http://{addr}/health");
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("web-{i} exited at start ({status}); see {}", self.logs.display());
            }
            anyhow::ensure!(Instant::now() < deadline, "web-{i} did not answer {url} within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A port nothing listens on right now (the child binds it a moment later).
fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}
