//! Eager ticks: a started run is handed to a worker by NOTIFY instead of
//! through underway's queue. Two workers hearing the same notification run
//! the tick once between them; a notification nobody hears is covered by the
//! lease, after which underway takes the run.

use std::time::Duration;

use e2e::helpers::*;
use sqlx::PgPool;
use web::app::Mode;

const WAIT: Duration = Duration::from_secs(15);

#[sqlx::test(migrations = false)]
async fn two_workers_hearing_every_kick_take_each_run_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let second = WorkerProcess::start(&app.settings, &app.pool).await;
    let callers: Vec<String> = (0..20).map(|_| new_caller()).collect();
    for c in &callers {
        app.missed_call(c, "no-answer").await;
    }
    for c in &callers {
        assert_eq!(app.wait_for_sms(c, 1, WAIT).await.len(), 1, "texted back");
    }
    let alerts = app.wait_for_sms(OWNER_PHONE, 20, WAIT).await.len();
    // If one is missing, say where every run and text stood (a repeated caller number
    // once made a run join another's conversation and end without an alert).
    let stood = if alerts < 20 { where_things_stand(&app).await } else { String::new() };
    assert_eq!(alerts, 20, "an owner alert per call; {stood}");
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for c in &callers {
        assert_eq!(app.fake.attempts().iter().filter(|(to, _)| to == c).count(), 1, "one send to {c}");
    }
    assert_eq!(app.fake.sent_to(OWNER_PHONE).len(), 20, "one owner alert per call");
    // Had both workers run a tick, they would have met over the same texts
    // (one finds the other's send in flight and sleeps to recheck, and the
    // recheck goes through underway). Each run was ticked once, by one worker.
    assert_eq!(app.count("SELECT count(*) FROM underway.task").await, 0, "no run fell back to underway");
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs WHERE kicked_at IS NOT NULL").await, 0);
    second.kill();
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_kick_nobody_hears_goes_to_underway_when_its_lease_runs_out(pool: PgPool) {
    let lease = [("EAGER_LEASE_MS", "300")];
    let mut app = TestApp::spawn_with(pool, Mode { web: true, workers: false }, &lease).await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    let kicked = "SELECT count(*) FROM workflow_runs WHERE status = 'active' AND kicked_at IS NOT NULL";
    assert_eq!(app.count(kicked).await, 1, "handed over, to no one");
    assert_eq!(app.count("SELECT count(*) FROM underway.task").await, 0, "nothing queued in underway yet");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // This worker was not listening when the run was announced.
    app.start_workers().await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1, "texted back");
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1, "once");
    assert_eq!(app.count("SELECT count(*) FROM underway.task").await, 1, "the sweep's tick, through underway");
    assert_eq!(app.count(kicked).await, 0);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn with_eager_ticks_off_every_tick_goes_through_underway(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &[("EAGER_TICKS", "off")]).await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1, "texted back");
    app.settle(WAIT).await;
    assert!(app.count("SELECT count(*) FROM underway.task").await >= 1);
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs WHERE kicked_at IS NOT NULL").await, 0);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_slow_provider_does_not_cost_the_worker_its_lease(pool: PgPool) {
    // Twilio takes 2.5 s to accept; the lease is 1 s. The worker renews it
    // every half lease while it waits, so the sweep never hands the run to
    // underway (a renewal may come half a second late on a busy machine).
    let lease = [("EAGER_LEASE_MS", "1000"), ("TWILIO_TIMEOUT_MS", "5000")];
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &lease).await;
    let caller = new_caller();
    app.fake.script_for(&caller, [web::fake_twilio::Reply::Accept { delay: Duration::from_millis(2500) }]);
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1, "texted back");
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.attempts().iter().filter(|(to, _)| *to == caller).count(), 1, "one send");
    assert_eq!(app.count("SELECT count(*) FROM underway.task").await, 0, "the lease held throughout");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn runs_queued_behind_a_busy_worker_keep_their_leases(pool: PgPool) {
    // One tick at a time, a 4 s lease, and Twilio taking 1.2 s per text
    // back: ten calls at once wait in the worker's queue for about three
    // leases. The worker renews the leases of the runs it holds queued, so
    // none runs out and none falls back to underway (before, most did). A
    // renewal pass every quarter lease takes the runs within half a lease of
    // running out, so in the worst phase a pass may come a quarter lease late
    // (a second here) and still be in time, on a machine busy with the other
    // tests (a 2 s lease, half a second, once was not).
    // Twilio's timeout well above its 1.2 s answers (and the send lease above
    // that): on a loaded machine the tests' default 1.5 s was sometimes
    // reached, the send went to its retry and the retry through underway.
    let extra = [
        ("EAGER_LEASE_MS", "4000"),
        ("WORKER_CONCURRENCY", "1"),
        ("TWILIO_TIMEOUT_MS", "6000"),
        ("SMS_SEND_LEASE_MS", "8000"),
    ];
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &extra).await;
    let callers: Vec<String> = (0..10).map(|_| new_caller()).collect();
    for c in &callers {
        app.fake.script_for(c, [web::fake_twilio::Reply::Accept { delay: Duration::from_millis(1200) }]);
    }
    for c in &callers {
        app.missed_call(c, "no-answer").await;
    }
    for c in &callers {
        assert_eq!(app.wait_for_sms(c, 1, WAIT).await.len(), 1, "texted back");
    }
    assert_eq!(app.wait_for_sms(OWNER_PHONE, 10, WAIT).await.len(), 10, "an owner alert per call");
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for c in &callers {
        assert_eq!(app.fake.attempts().iter().filter(|(to, _)| to == c).count(), 1, "one send to {c}");
    }
    let fell = app.count("SELECT count(*) FROM underway.task").await;
    // If one did, say which and what its run went through (a rare failure on a loaded machine).
    let history = if fell > 0 { fallen_runs_history(&app).await } else { String::new() };
    assert_eq!(fell, 0, "no run fell back to underway; {history}");
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs WHERE kicked_at IS NOT NULL").await, 0);
    app.stop().await;
}

/// The history of the runs handed to underway, with when each step was written.
async fn fallen_runs_history(app: &TestApp) -> String {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT e.run_id::text, e.kind, to_char(e.at, 'HH24:MI:SS.MS') FROM workflow_events e
         WHERE e.run_id::text IN (SELECT input->>'run_id' FROM underway.task) ORDER BY e.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let tasks: Vec<(String, String)> =
        sqlx::query_as("SELECT input::text, to_char(created_at, 'HH24:MI:SS.MS') FROM underway.task")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    format!("underway tasks (input, created): {tasks:?}; their runs' history: {rows:?}")
}

/// Runs not asleep and texts not sent, for a failure message.
async fn where_things_stand(app: &TestApp) -> String {
    let runs: Vec<(String, Option<String>, i32, Option<String>)> = sqlx::query_as(
        "SELECT status, last_error, attempts, state->>'step' FROM workflow_runs WHERE status <> 'waiting'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let texts: Vec<(Option<String>, String, Option<String>, i32)> =
        sqlx::query_as("SELECT purpose, status, last_error, attempts FROM messages WHERE status <> 'sent'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    format!("runs not asleep (status, error, attempts, step): {runs:?}; texts not sent: {texts:?}")
}
