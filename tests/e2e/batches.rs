//! Runs handed over in a burst tick in batches: the rounds of several
//! conversation runs share one transaction, and a run that fails costs its
//! batch a retry, not its runs.

use std::time::Duration;

use e2e::helpers::*;
use sqlx::PgPool;
use web::app::Mode;
use web::fake_twilio::Reply;

const WAIT: Duration = Duration::from_secs(20);
/// How long the first call's text-back holds the one worker slot while the
/// burst comes in: long enough for its webhooks on a loaded machine.
const HOLD: Duration = Duration::from_secs(2);
/// Twilio's timeout well above `HOLD` (the tests' default, 1.5 s, is below
/// it: a held send would time out and go to its retry), the send lease above
/// the timeout as the README asks.
const TIMEOUT: [(&str, &str); 2] = [("TWILIO_TIMEOUT_MS", "6000"), ("SMS_SEND_LEASE_MS", "8000")];

/// How many transactions wrote the callers' runs' history of `kind`
/// (distinct `xmin`s of those rows).
async fn transactions_writing(app: &TestApp, callers: &[String], kind: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(DISTINCT e.xmin::text) FROM workflow_events e JOIN workflow_runs r ON r.id = e.run_id
         WHERE e.kind = $1 AND r.state->>'caller' = ANY($2)",
    )
    .bind(kind)
    .bind(callers)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// One worker ticking one batch at a time, busy with a first call whose
/// text-back Twilio takes `hold` to accept, while `n` more calls come in.
async fn burst_behind_a_slow_call(app: &TestApp, n: usize, hold: Duration) -> Vec<String> {
    let first = new_caller();
    app.fake.script_for(&first, [Reply::Accept { delay: hold }]);
    app.missed_call(&first, "no-answer").await;
    let callers: Vec<String> = (0..n).map(|_| new_caller()).collect();
    for c in &callers {
        app.missed_call(c, "no-answer").await;
    }
    assert_eq!(app.wait_for_sms(&first, 1, WAIT).await.len(), 1, "the first caller texted back");
    callers
}

fn sends_to(app: &TestApp, to: &str) -> usize {
    app.fake.attempts().iter().filter(|(t, _)| t == to).count()
}

#[sqlx::test(migrations = false)]
async fn with_batches_of_one_each_run_commits_alone(pool: PgPool) {
    let extra = [[("WORKER_CONCURRENCY", "1"), ("EAGER_BATCH", "1")].as_slice(), &TIMEOUT].concat();
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &extra).await;
    let callers = burst_behind_a_slow_call(&app, 3, HOLD).await;
    for c in &callers {
        assert_eq!(app.wait_for_sms(c, 1, WAIT).await.len(), 1, "texted back");
    }
    app.settle(WAIT).await;
    assert_eq!(transactions_writing(&app, &callers, "conversation_opened").await, 3);
    assert_eq!(transactions_writing(&app, &callers, "text_back_sent").await, 3);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_burst_shares_its_rounds_transactions(pool: PgPool) {
    let extra = [[("WORKER_CONCURRENCY", "1")].as_slice(), &TIMEOUT].concat();
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &extra).await;
    let callers = burst_behind_a_slow_call(&app, 5, HOLD).await;
    for c in &callers {
        assert_eq!(app.wait_for_sms(c, 1, WAIT).await.len(), 1, "texted back");
    }
    assert_eq!(app.wait_for_sms(OWNER_PHONE, 6, WAIT).await.len(), 6, "an owner alert per call");
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for c in &callers {
        assert_eq!(sends_to(&app, c), 1, "one send to {c}");
    }
    // The five waited in the worker's queue and were taken as one batch: each
    // of their two rounds (open and text back; then the lead contacted and
    // the follow-up set) committed once for all five.
    assert_eq!(transactions_writing(&app, &callers, "conversation_opened").await, 1);
    assert_eq!(transactions_writing(&app, &callers, "text_back_sent").await, 1);
    let waiting =
        app.count("SELECT count(*) FROM workflow_runs WHERE status = 'waiting' AND state->>'step' = 'waiting'");
    assert_eq!(waiting.await, 6, "every run waits for its caller's answer");
    assert_eq!(app.count("SELECT count(*) FROM underway.task").await, 0, "no run fell back to underway");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_failing_run_costs_its_batch_a_retry_not_its_runs(pool: PgPool) {
    let extra = [[("WORKER_CONCURRENCY", "1"), ("EAGER_LEASE_MS", "1000")].as_slice(), &TIMEOUT].concat();
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &extra).await;
    // Opening this one caller's lead fails until the trigger is dropped.
    let bad = new_caller();
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION refuse_lead() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.phone = '{bad}' THEN RAISE EXCEPTION 'lead refused for the test'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_lead BEFORE INSERT ON leads FOR EACH ROW EXECUTE FUNCTION refuse_lead();"
    ))
    .execute(&app.pool)
    .await
    .unwrap();
    let first = new_caller();
    app.fake.script_for(&first, [Reply::Accept { delay: HOLD }]);
    app.missed_call(&first, "no-answer").await;
    let mut callers: Vec<String> = (0..4).map(|_| new_caller()).collect();
    callers.insert(2, bad.clone());
    for c in &callers {
        app.missed_call(c, "no-answer").await;
    }
    let good: Vec<String> = callers.iter().filter(|c| **c != bad).cloned().collect();
    for c in &good {
        assert_eq!(app.wait_for_sms(c, 1, WAIT).await.len(), 1, "texted back despite the failing run beside it");
    }
    // The batch was rolled back and its runs ticked alone: one transaction each.
    assert_eq!(transactions_writing(&app, &good, "conversation_opened").await, 4);
    // Its own tick alone fails too (recorded once that tick has ended, which
    // may be after the others have sent).
    let deadline = std::time::Instant::now() + WAIT;
    let error = loop {
        let error: Option<String> =
            sqlx::query_scalar("SELECT last_error FROM workflow_runs WHERE state->>'caller' = $1")
                .bind(&bad)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if error.is_some() || std::time::Instant::now() > deadline {
            break error;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(error.is_some_and(|e| e.contains("lead refused")), "the failure is the failing run's own");
    assert!(app.fake.sent_to(&bad).is_empty(), "nothing sent while it fails");
    let failed = app.count("SELECT count(*) FROM workflow_runs WHERE attempts > 0 OR last_error IS NOT NULL");
    assert_eq!(failed.await, 1, "no other run of the batch failed");
    // Once the fault is gone, the run is retried (through underway once its
    // lease ends) and its caller texted back once.
    sqlx::raw_sql("DROP TRIGGER refuse_lead ON leads").execute(&app.pool).await.unwrap();
    assert_eq!(app.wait_for_sms(&bad, 1, Duration::from_secs(60)).await.len(), 1, "texted back after the fault");
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for c in &callers {
        assert_eq!(sends_to(&app, c), 1, "one send to {c}");
    }
    assert_eq!(app.fake.sent_to(OWNER_PHONE).len(), 6, "an owner alert per call");
    app.stop().await;
}
