//! Token-fenced timers and signals: a signal replaces the run's token, so a
//! tick carrying the old one does nothing; a cancelled run never wakes.

use std::time::Duration;

use activities::domain::RunId;
use e2e::helpers::*;
use sqlx::PgPool;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(10);

async fn waiting_run(app: &TestApp, caller: &str) -> (RunId, Uuid) {
    app.missed_call(caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(caller, 1, WAIT).await.len(), 1);
    app.settle(WAIT).await;
    sqlx::query_as("SELECT id, wake_token FROM workflow_runs WHERE status = 'waiting'")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_due_follow_up_goes_out_once_and_a_stale_tick_does_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.set_daytime_zone().await;
    let caller = new_caller();
    let (run_id, old_token) = waiting_run(&app, &caller).await;
    app.make_follow_up_due(run_id).await;
    let wf = app.workflows().await;

    let mut tx = app.pool.begin().await.unwrap();
    assert!(wf.signal(&mut tx, run_id, "ping", serde_json::json!({}), Some("sig-1")).await.unwrap());
    assert!(!wf.signal(&mut tx, run_id, "ping", serde_json::json!({}), Some("sig-1")).await.unwrap(), "deduplicated");
    // A tick with the token the signal replaced, as a timer enqueued earlier would carry.
    wf.enqueue_tick(&mut tx, run_id, old_token, Duration::ZERO).await.unwrap();
    tx.commit().await.unwrap();

    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent_after = app.fake.sent_to(&caller);
    assert_eq!(sent_after.len(), 2, "text-back and exactly one follow-up");
    assert!(sent[1].body.starts_with("Just checking in"), "{}", sent[1].body);
    let (follow_ups, status): (i32, String) =
        sqlx::query_as("SELECT follow_up_count, status FROM conversations").fetch_one(&app.pool).await.unwrap();
    assert_eq!((follow_ups, status.as_str()), (1, "follow_up"));
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM workflow_events WHERE run_id = $1 ORDER BY id")
        .bind(run_id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(kinds.contains(&"signal_received".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"follow_up_sent".to_owned()), "{kinds:?}");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_cancelled_run_never_wakes_again(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.set_daytime_zone().await;
    let caller = new_caller();
    let (run_id, token) = waiting_run(&app, &caller).await;
    app.make_follow_up_due(run_id).await;
    let wf = app.workflows().await;
    let mut tx = app.pool.begin().await.unwrap();
    assert!(wf.cancel(&mut tx, run_id).await.unwrap());
    wf.enqueue_tick(&mut tx, run_id, token, Duration::ZERO).await.unwrap();
    assert!(!wf.wake(&mut tx, run_id).await.unwrap(), "a cancelled run cannot be woken");
    assert!(!wf.signal(&mut tx, run_id, "ping", serde_json::json!({}), None).await.unwrap());
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1, "only the text-back");
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs WHERE status = 'cancelled'").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_sleeping_run_is_woken_by_the_timer_sweep_when_its_follow_up_comes_due(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.set_daytime_zone().await;
    let caller = new_caller();
    let (run_id, _) = waiting_run(&app, &caller).await;
    assert_eq!(
        app.count("SELECT count(*) FROM underway.task WHERE state = 'pending'").await,
        0,
        "sleeping runs hold no queue task"
    );
    app.make_follow_up_due(run_id).await;
    app.make_wake_due(run_id).await;
    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    assert_eq!(sent.len(), 2);
    assert!(sent[1].body.starts_with("Just checking in"), "{}", sent[1].body);
    app.stop().await;
}

/// A tick skips the signal query when its lock saw none pending, so the flag
/// must see a committed signal, and stop seeing it once a tick took it.
#[sqlx::test(migrations = false)]
async fn the_lock_sees_a_signal_until_a_tick_takes_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.set_daytime_zone().await;
    let caller = new_caller();
    let (run_id, _) = waiting_run(&app, &caller).await;
    let pending = |pool: PgPool| async move {
        let mut tx = pool.begin().await.unwrap();
        let run = workflows::engine::runs::lock_run(&mut tx, run_id).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        run.pending_signals
    };
    let before = pending(app.pool.clone()).await;
    let wf = app.workflows().await;
    let mut tx = app.pool.begin().await.unwrap();
    assert!(wf.signal(&mut tx, run_id, "ping", serde_json::json!({}), Some("sig-1")).await.unwrap());
    // Still uncommitted: the signal is the signalling transaction's alone.
    let in_tx = workflows::engine::runs::lock_run(&mut tx, run_id).await.unwrap().unwrap().pending_signals;
    tx.commit().await.unwrap();
    app.settle(WAIT).await;
    let consumed: i64 = sqlx::query_scalar("SELECT count(*) FROM workflow_signals WHERE consumed_at IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let after = pending(app.pool.clone()).await;
    app.stop().await;
    assert!(!before, "nothing pending before the signal");
    assert!(in_tx, "the signalling transaction sees its own signal");
    assert_eq!(consumed, 1, "a tick took the signal");
    assert!(!after, "nothing pending once taken");
}

/// Only a tick due now is announced on `task_change`: a follow-up two hours
/// out woke every worker for nothing and made its commit queue behind every
/// other notifying commit. A tick that comes due later is found by polling.
#[sqlx::test(migrations = false)]
async fn only_a_tick_due_now_wakes_the_workers(pool: PgPool) {
    let mut app = TestApp::spawn_with(pool, web::app::Mode { web: true, workers: false }, &[]).await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    let run_id: RunId = sqlx::query_scalar("SELECT id FROM workflow_runs").fetch_one(&app.pool).await.unwrap();
    let wf = app.workflows().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&app.pool).await.unwrap();
    listener.listen("task_change").await.unwrap();
    let ticks = [(Duration::from_secs(7200), false), (Duration::from_millis(1500), false), (Duration::ZERO, true)];
    for (delay, announced) in ticks {
        let mut tx = app.pool.begin().await.unwrap();
        wf.enqueue_tick(&mut tx, run_id, Uuid::new_v4(), delay).await.unwrap();
        tx.commit().await.unwrap();
        let heard = tokio::time::timeout(Duration::from_millis(300), listener.recv()).await;
        assert_eq!(heard.is_ok(), announced, "a tick due in {delay:?}");
    }
    app.start_workers().await;
    let due_soon = "SELECT count(*) FROM underway.task WHERE state = 'pending' AND delay < interval '1 hour'";
    let deadline = std::time::Instant::now() + WAIT;
    while app.count(due_soon).await > 0 {
        assert!(std::time::Instant::now() < deadline, "the tick due in 1.5 s was never taken");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
