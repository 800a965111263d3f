//! The service under test: `callrecover serve` (web and workers in one
//! process, as a small deployment runs it) as a child of the benchmark, so
//! its CPU and memory are its own, not the load generator's.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::fake_twilio::FakeTwilio;

/// The URL Twilio would call; every webhook is signed against it.
pub const BASE_URL: &str = "https://bench.callrecover.test";

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
    pub log: std::path::PathBuf,
}

/// Production defaults except: Twilio at the fake, and no daily summary.
fn env(fake: &FakeTwilio, db_url: &str, addr: SocketAddr) -> Vec<(String, String)> {
    let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn,underway=warn,tower_http=warn".into());
    [
        ("DATABASE_URL", db_url.to_owned()),
        ("BASE_URL", BASE_URL.to_owned()),
        ("BIND", addr.to_string()),
        ("TWILIO_ACCOUNT_SID", fake.account_sid.clone()),
        ("TWILIO_AUTH_TOKEN", fake.auth_token.clone()),
        ("TWILIO_API_BASE", fake.base_url()),
        ("DAILY_SUMMARY", "off".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", log),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl Server {
    pub async fn start(fake: &FakeTwilio, db_url: &str) -> anyhow::Result<Self> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::env::temp_dir().join(format!("callrecover-bench-{}.log", std::process::id()));
        let file = std::fs::File::create(&log)?;
        let exe = std::env::current_exe().context("locating the callrecover binary")?;
        let child = Command::new(exe)
            .arg("serve")
            .env_clear()
            .envs(env(fake, db_url, addr))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("starting callrecover serve")?;
        let pid = child.id().context("server pid")?;
        let mut server = Server { child, addr, pid, log };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let url = format!("http://{}/health", self.addr);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("the server exited at start ({status}); see {}", self.log.display());
            }
            anyhow::ensure!(Instant::now() < deadline, "the server did not answer {url} within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let _ = std::fs::remove_file(&self.log);
    }
}
