//! Crashes and restarts: a missed call recorded while no worker runs, and a
//! worker killed in the middle of a send, each end in exactly one text-back.

use std::time::Duration;

use e2e::helpers::*;
use sqlx::PgPool;
use web::app::Mode;
use web::fake_twilio::Reply;

const WAIT: Duration = Duration::from_secs(15);

#[sqlx::test(migrations = false)]
async fn a_call_missed_while_no_worker_runs_is_texted_once_a_worker_starts(pool: PgPool) {
    let mut app = TestApp::spawn_with(pool, Mode { web: true, workers: false }, &[]).await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.fake.sent().is_empty(), "web-only nodes send nothing");
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs WHERE status = 'active'").await, 1);
    app.start_workers().await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1);
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1);
    app.stop().await;
}

/// underway 0.2.0 loses a tick when the database dies under it: the task stays
/// `in_progress` with a heartbeat that never stops. The engine retries it under
/// a new token. (Ticks through underway only: eager ticks hold no task.)
#[sqlx::test(migrations = false)]
async fn a_tick_underway_lost_with_a_live_heartbeat_is_rescued_once(pool: PgPool) {
    let extra = [("TICK_RESCUE_AFTER_MS", "800"), ("EAGER_TICKS", "off")];
    let mut app = TestApp::spawn_with(pool, Mode { web: true, workers: false }, &extra).await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    let lost = "UPDATE underway.task SET state = 'in_progress', last_attempt_at = now() - interval '1 minute',
                       last_heartbeat_at = now()
                WHERE task_queue_name = 'callrecover_tick' AND state = 'pending'";
    assert_eq!(sqlx::query(lost).execute(&app.pool).await.unwrap().rows_affected(), 1);
    // The leaked heartbeat: the row looks alive to underway for as long as the test runs.
    let pool = app.pool.clone();
    let heartbeat = tokio::spawn(async move {
        loop {
            let _ = sqlx::query("UPDATE underway.task SET last_heartbeat_at = now() WHERE state = 'in_progress'")
                .execute(&pool)
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    app.start_workers().await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1, "texted back after the rescue");
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1, "once");
    assert_eq!(app.count("SELECT count(*) FROM workflow_events WHERE kind = 'tick_rescued'").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM underway.task WHERE state = 'failed'").await, 1, "the lost one");

    // Lost after its work was done: the run has moved on, so the task is only closed.
    let done = "UPDATE underway.task SET state = 'in_progress', last_attempt_at = now() - interval '1 minute',
                       last_heartbeat_at = now()
                WHERE task_queue_name = 'callrecover_tick' AND state = 'succeeded'";
    let lost_late = sqlx::query(done).execute(&app.pool).await.unwrap().rows_affected();
    assert!(lost_late >= 1);
    let deadline = std::time::Instant::now() + WAIT;
    while app.count("SELECT count(*) FROM underway.task WHERE state = 'in_progress'").await > 0
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM underway.task WHERE state = 'cancelled'").await, lost_late as i64);
    assert_eq!(app.count("SELECT count(*) FROM workflow_events WHERE kind = 'tick_rescued'").await, 1, "not re-run");
    assert_eq!(app.fake.sent_to(&caller).len(), 1, "still once");
    heartbeat.abort();
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_worker_killed_between_sending_and_recording_the_sid_is_reconciled_without_a_duplicate(pool: PgPool) {
    let mut app = TestApp::spawn(pool).await;
    // Twilio accepts the text-back but the worker dies before hearing back.
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::AcceptThenHang { delay: Duration::from_secs(30) }]);
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1, "Twilio has the text-back");
    app.kill_workers();
    let status: String = sqlx::query_scalar("SELECT status FROM messages WHERE purpose = 'text_back'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "sending", "the crash left a maybe-sent row");

    app.start_workers().await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let status: String = sqlx::query_scalar("SELECT status FROM messages WHERE purpose = 'text_back'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if status == "sent" || std::time::Instant::now() > deadline {
            assert_eq!(status, "sent");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.fake.attempts().iter().filter(|(to, _)| *to == caller).count(), 1, "no second send");
    assert!(app.fake.list_calls() >= 1, "reconciled by asking Twilio");
    let sid: String = sqlx::query_scalar("SELECT twilio_message_sid FROM messages WHERE purpose = 'text_back'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sid, app.fake.sent_to(&caller)[0].sid);
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(OWNER_PHONE).len(), 1, "the owner alert went out once too");
    app.stop().await;
}

/// The text-back's row: status and sid (an empty status before it is queued).
async fn text_back_row(app: &TestApp) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, twilio_message_sid FROM messages WHERE purpose = 'text_back'")
        .fetch_optional(&app.pool)
        .await
        .unwrap()
        .unwrap_or_default()
}

#[sqlx::test(migrations = false)]
async fn a_send_is_recorded_by_the_tick_that_made_it_even_after_a_text_moved_the_run_on(pool: PgPool) {
    // A long send lease: a text left unrecorded would stay `sending` for the whole test.
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &[("SMS_SEND_LEASE_MS", "60000")]).await;
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::Accept { delay: Duration::from_millis(800) }]);
    app.missed_call(&caller, "no-answer").await;
    let deadline = std::time::Instant::now() + WAIT;
    while text_back_row(&app).await.0 != "sending" && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The caller writes while Twilio still holds the text-back's request: the
    // run's token moves on, and the tick that sent it finds itself stale.
    app.text(&caller, "Hi, is this the AC place?").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let row = loop {
        let row = text_back_row(&app).await;
        if row.0 != "sending" || std::time::Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(row.0, "sent");
    let sent = app.fake.sent_to(&caller);
    let text_back = sent.iter().find(|s| Some(&s.sid) == row.1.as_ref()).expect("the recorded sid is Twilio's");
    assert_eq!(app.fake.list_calls(), 0, "recorded by its sender, not reconciled later");
    app.settle(WAIT).await;
    let copies = app.fake.sent_to(&caller).iter().filter(|s| s.body == text_back.body).count();
    assert_eq!(copies, 1, "the text-back went out once");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_text_left_in_a_dead_workers_hands_is_rechecked_after_a_pause_not_in_a_busy_loop(pool: PgPool) {
    // A lease longer than the restart: the new worker finds the text still
    // claimed by the dead one and must wait for the lease to run out.
    let lease = [("SMS_SEND_LEASE_MS", "4000")];
    let mut app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &lease).await;
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::AcceptThenHang { delay: Duration::from_secs(30) }]);
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1, "Twilio has the text-back");
    app.kill_workers();
    app.start_workers().await;

    let deadline = std::time::Instant::now() + WAIT;
    let text_back = "SELECT count(*) FROM messages WHERE purpose = 'text_back' AND status = 'sent'";
    while app.count(text_back).await == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.count(text_back).await, 1, "reconciled once the lease ran out");
    assert_eq!(app.fake.attempts().iter().filter(|(to, _)| *to == caller).count(), 1, "no second send");
    // The start tick, the dead worker's tick retaken, a recheck or two: not one tick per poll for the whole lease.
    let ticks = app.count("SELECT count(*) FROM underway.task").await;
    assert!(ticks <= 6, "{ticks} ticks while waiting out a 4 s lease");
    app.stop().await;
}

/// Workers stop only when their process says so. underway's own worker loop
/// stopped for good (the process then exited 0) on anything heard on its
/// shutdown channel, and failed on a `task_change` payload it could not
/// read; a pooled connection still LISTENing for an earlier owner after a
/// database restart delivers exactly such strays. CI saw a worker exit that
/// way in the fault crash test.
#[sqlx::test(migrations = false)]
async fn stray_notifications_do_not_stop_the_workers(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &[("EAGER_TICKS", "off")]).await;
    underway::queue::graceful_shutdown(&app.pool).await.unwrap();
    for payload in ["", "not json", r#"{"task_queue_name": 7}"#, r#"{"run_id": "x"}"#] {
        sqlx::query("SELECT pg_notify('task_change', $1)").bind(payload).execute(&app.pool).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1, "ticks through underway's queue still run");
    app.stop().await;
}
