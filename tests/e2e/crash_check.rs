//! The crash test's own judge: the system is quiet only when no run is due
//! or about to wake, so a run that looks again in a few seconds (a text was
//! in flight in another worker) is waited for, not reported as stuck.

use std::time::Duration;

use e2e::helpers::*;
use sqlx::PgPool;
use web::commands::crash_test::check::settle;

const WAIT: Duration = Duration::from_secs(10);

#[sqlx::test(migrations = false)]
async fn a_run_waking_in_seconds_is_not_quiet_and_one_asleep_for_hours_is(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.set_daytime_zone().await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1);
    app.settle(WAIT).await;
    // Asleep until the first follow-up, two hours away.
    let asleep_quiet = settle(&app.pool, WAIT).await.unwrap();

    sqlx::query("UPDATE workflow_runs SET wake_at = now() + interval '3 seconds' WHERE status = 'waiting'")
        .execute(&app.pool)
        .await
        .unwrap();
    let quiet = settle(&app.pool, Duration::from_millis(500)).await.unwrap();
    app.stop().await;
    assert!(asleep_quiet, "a run asleep for hours is quiet");
    assert!(!quiet, "a run waking in 3 s is still at work");
}
