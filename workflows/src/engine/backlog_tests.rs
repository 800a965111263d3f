//! `Backlog::renew` against a real database: a queued run's lease is renewed
//! before it runs out, one taken elsewhere is dropped, one far from running
//! out is left alone.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use activities::domain::{BusinessId, RunId};

use super::backlog::Backlog;
use super::runs;
use super::TickInput;

async fn setup(pool: &PgPool) -> BusinessId {
    activities::test_db::migrated(pool).await;
    activities::test_db::business(pool, "America/Chicago").await.id
}

/// A run handed over with `lease`, as a worker hears it announced.
async fn announced(pool: &PgPool, business: BusinessId, lease: Duration) -> TickInput {
    let mut conn = pool.acquire().await.unwrap();
    let key = format!("test:{}", Uuid::new_v4());
    let state = serde_json::json!({});
    let (run_id, token) =
        runs::start_run(&mut conn, business, "conversation", &key, &state, serde_json::json!({}), Some(lease))
            .await
            .unwrap()
            .expect("a new run");
    TickInput { run_id, token, claim: Some(wake_at(pool, run_id).await), kind: None }
}

/// A worker's queue holding one run, announced with `lease`.
async fn one_queued(pool: &PgPool, lease: Duration) -> (Backlog, TickInput) {
    let business = setup(pool).await;
    let heard = announced(pool, business, lease).await;
    let backlog = Backlog::default();
    assert!(backlog.push(heard.clone()).await);
    (backlog, heard)
}

async fn wake_at(pool: &PgPool, id: RunId) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT wake_at FROM workflow_runs WHERE id = $1").bind(id).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_queued_run_about_to_run_out_gets_a_new_lease(pool: PgPool) {
    let (backlog, heard) = one_queued(&pool, Duration::from_millis(500)).await;
    assert_eq!(backlog.renew(&pool, Duration::from_secs(4)).await.unwrap(), (1, 1));
    let renewed = backlog.next_many(1).await.remove(0);
    let now_in_db = wake_at(&pool, heard.run_id).await;
    assert_eq!(renewed.claim, Some(now_in_db), "the queue holds the lease now in the database");
    assert!(now_in_db > heard.claim.unwrap() + chrono::Duration::seconds(3), "a new lease of 4 s");
}

#[sqlx::test(migrations = false)]
async fn a_queued_run_whose_lease_moved_is_dropped(pool: PgPool) {
    let (backlog, heard) = one_queued(&pool, Duration::from_millis(500)).await;
    // Another worker took it first and renewed the lease.
    runs::renew_lease(&pool, heard.run_id, heard.token, Duration::from_secs(9)).await.unwrap();
    let taken = wake_at(&pool, heard.run_id).await;
    assert_eq!(backlog.renew(&pool, Duration::from_secs(4)).await.unwrap(), (0, 0), "dropped");
    assert_eq!(wake_at(&pool, heard.run_id).await, taken, "the other worker's lease stands");
}

#[sqlx::test(migrations = false)]
async fn a_queued_run_far_from_running_out_is_left_alone(pool: PgPool) {
    let business = setup(&pool).await;
    let heard = announced(&pool, business, Duration::from_secs(60)).await;
    let other = announced(&pool, business, Duration::from_millis(500)).await;
    let backlog = Backlog::default();
    assert!(backlog.push(heard.clone()).await);
    assert!(backlog.push(other.clone()).await);
    assert_eq!(backlog.renew(&pool, Duration::from_secs(4)).await.unwrap(), (1, 2));
    assert_eq!(wake_at(&pool, heard.run_id).await, heard.claim.unwrap(), "untouched");
    assert_eq!(backlog.next_many(1).await.remove(0).claim, heard.claim, "still first, as heard");
    assert_ne!(backlog.next_many(1).await.remove(0).claim, other.claim, "the other renewed");
}

#[sqlx::test(migrations = false)]
async fn a_batch_takes_the_longest_waiting_up_to_its_size(pool: PgPool) {
    let business = setup(&pool).await;
    let backlog = Backlog::default();
    let mut heard = Vec::new();
    for _ in 0..5 {
        let h = announced(&pool, business, Duration::from_secs(60)).await;
        assert!(backlog.push(h.clone()).await);
        heard.push(h.run_id);
    }
    let ids = |b: Vec<TickInput>| b.into_iter().map(|i| i.run_id).collect::<Vec<_>>();
    assert_eq!(ids(backlog.next_many(3).await), heard[..3], "the first three, in the order heard");
    assert_eq!(ids(backlog.next_many(3).await), heard[3..], "what is left");
    // Empty: it waits for the next run heard, and takes it alone.
    let backlog = std::sync::Arc::new(backlog);
    let waiter = tokio::spawn({
        let backlog = backlog.clone();
        async move { backlog.next_many(8).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "nothing queued: it waits");
    let late = announced(&pool, business, Duration::from_secs(60)).await;
    assert!(backlog.push(late.clone()).await);
    assert_eq!(ids(waiter.await.unwrap()), [late.run_id]);
}
