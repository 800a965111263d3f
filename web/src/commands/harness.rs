//! What `bench` and `eval` share: a scratch database on whatever PostgreSQL
//! the demo would use, and settings that point Twilio at a local fake.

use sqlx::{Connection, Executor, PgConnection};

use crate::fake_twilio::FakeTwilio;
use crate::postgres_finder::{self, PgEndpoint};
use crate::settings::{ConfigError, Settings};

/// A pool of `max` connections on a scratch database, connected as the
/// server connects (no TLS on loopback), so yardsticks measure what it pays.
pub async fn scratch_pool(url: &str, max: u32) -> anyhow::Result<sqlx::PgPool> {
    use anyhow::Context as _;
    let opts: sqlx::postgres::PgConnectOptions = url.parse().context("scratch database URL")?;
    let opts = crate::app::without_tls_on_loopback(opts, url, std::env::var_os("PGSSLMODE").is_some());
    sqlx::postgres::PgPoolOptions::new().max_connections(max).connect_with(opts).await.context("scratch database")
}

/// A database created for one run and dropped by [`Scratch::drop_all`].
pub struct Scratch {
    pg: PgEndpoint,
    name: String,
    pub url: String,
}

impl Scratch {
    /// Finds PostgreSQL as `demo` does and creates `<prefix>_<pid>` on it.
    pub async fn create(prefix: &str) -> anyhow::Result<Self> {
        let pg = postgres_finder::find_or_start(std::env::var("DATABASE_URL").ok(), ".demo-data/pg".as_ref()).await?;
        Self::create_on(pg, prefix).await
    }

    /// Starts (or reuses) a private cluster under `data_dir`, ours to restart, and creates `<prefix>_<pid>` on it.
    pub async fn create_private(prefix: &str, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let pg = postgres_finder::start_private_cluster(data_dir).await?;
        Self::create_on(pg, prefix).await
    }

    async fn create_on(pg: PgEndpoint, prefix: &str) -> anyhow::Result<Self> {
        let name = format!("{prefix}_{}", std::process::id());
        let mut admin = PgConnection::connect(&pg.url).await?;
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await?;
        let url = replace_db(&pg.url, &name);
        Ok(Self { pg, name, url })
    }

    /// Restarts the server under the database (only a private cluster).
    pub async fn restart_server(&self) -> anyhow::Result<()> {
        Ok(self.pg.restart().await?)
    }

    /// Drops the database and stops a private cluster if this run started one.
    pub async fn drop_all(self) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect(&self.pg.url).await?;
        admin.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str()).await?;
        self.pg.stop().await?;
        Ok(())
    }
}

/// Where signed webhooks go: the server's address, the public URL Twilio
/// signs against, and the auth token.
pub struct Webhooks<'a> {
    pub client: &'a reqwest::Client,
    pub addr: std::net::SocketAddr,
    pub base_url: &'a str,
    pub token: &'a str,
}

impl Webhooks<'_> {
    /// Posts `params` to `path` signed as Twilio signs; an error unless 2xx.
    pub async fn post(&self, path: &str, params: &[(String, String)]) -> anyhow::Result<()> {
        let sig = activities::twilio::signature::compute(self.token, &format!("{}{path}", self.base_url), params);
        let resp = self
            .client
            .post(format!("http://{}{path}", self.addr))
            .header("X-Twilio-Signature", sig)
            .form(params)
            .send()
            .await?;
        let status = resp.status();
        let body = resp.text().await?;
        anyhow::ensure!(status.is_success(), "{path} answered {status}: {body}");
        Ok(())
    }
}

/// The URL of database `db` on the server of `url`, its parameters kept
/// (`?sslmode=…`, or `?host=/var/run/postgresql` for a Unix socket).
pub fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority..].find('/') {
        Some(i) => &base[..authority + i],
        None => base,
    };
    format!("{server}/{db}{query}")
}

/// Settings on `database_url` with Twilio at `fake`, plus `extra`; any other
/// variable falls back to `passthrough` (e.g. `OPENAI_*` from the environment).
pub fn fake_twilio_settings(
    fake: &FakeTwilio,
    database_url: &str,
    base_url: &str,
    extra: &[(&str, &str)],
    passthrough: impl Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database_url.into()),
        ("BIND".into(), "127.0.0.1:0".into()),
        ("BASE_URL".into(), base_url.into()),
        ("TWILIO_ACCOUNT_SID".into(), fake.account_sid.clone()),
        ("TWILIO_AUTH_TOKEN".into(), fake.auth_token.clone()),
        ("TWILIO_API_BASE".into(), fake.base_url()),
    ];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Settings::from_lookup(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).or_else(|| passthrough(k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_db_swaps_only_the_database_name() {
        assert_eq!(
            replace_db("postgres://postgres@127.0.0.1:5432/callrecover_demo", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
    }

    #[test]
    fn replace_db_keeps_the_parameters_and_a_socket_path() {
        let socket = "postgres://postgres@localhost/postgres?host=/var/run/postgresql";
        assert_eq!(replace_db(socket, "x"), "postgres://postgres@localhost/x?host=/var/run/postgresql");
        let tls = "postgres://u:p@db.example.com:5432/app?sslmode=require";
        assert_eq!(replace_db(tls, "x"), "postgres://u:p@db.example.com:5432/x?sslmode=require");
        assert_eq!(replace_db("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
        assert_eq!(replace_db("postgres://u@h/?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
    }
}
