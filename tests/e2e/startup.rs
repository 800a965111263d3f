//! A `serve` or `worker` process that starts while the database is away
//! (restarting, still booting) waits for it; one that can never connect fails
//! at once. CI's fault crash test saw a worker restarted in the instant
//! PostgreSQL restarted exit 1 on its migration.

use std::time::{Duration, Instant};

use e2e::helpers::*;
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use web::app::Mode;
use web::fake_twilio::FakeTwilio;

/// A port with nothing on it yet.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// From now on, forwards `port` to PostgreSQL on 127.0.0.1:5432.
async fn open_proxy(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect("127.0.0.1:5432").await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
}

fn database_of(pool: &PgPool) -> String {
    pool.connect_options().get_database().unwrap().to_owned()
}

#[sqlx::test(migrations = false)]
async fn a_server_started_before_its_database_waits_for_it(pool: PgPool) {
    let fake = FakeTwilio::start().await.unwrap();
    let port = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/{}?sslmode=disable", database_of(&pool));
    let settings = test_settings(&fake, &[("DATABASE_URL", &url)]);
    let mode = Mode { web: true, workers: true };
    let started = Instant::now();
    let (running, ()) = tokio::join!(web::startup::start(&settings, mode, Duration::from_secs(30)), async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        open_proxy(port).await;
    });
    let running = running.expect("started once the database answered");
    assert!(started.elapsed() >= Duration::from_millis(800), "it waited");
    let health = reqwest::get(format!("http://{}/health", running.addr.unwrap())).await.unwrap();
    assert!(health.status().is_success());
    let migrated: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
    assert!(migrated > 0);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_server_that_can_never_connect_fails_at_once() {
    let fake = FakeTwilio::start().await.unwrap();
    let url = "postgres://postgres@127.0.0.1:5432/callrecover_no_such_database?sslmode=disable";
    let settings = test_settings(&fake, &[("DATABASE_URL", url)]);
    let started = Instant::now();
    let err = web::startup::start(&settings, Mode { web: true, workers: false }, Duration::from_secs(30))
        .await
        .err()
        .expect("no such database");
    assert!(started.elapsed() < Duration::from_secs(5), "failed without waiting out its patience");
    assert!(!web::startup::is_transient(&err), "{err:#}");
    assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
}
