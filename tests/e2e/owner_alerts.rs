//! The conversation's owner alerts as notifications: quiet hours hold them
//! (emergencies excepted) and release them when the quiet ends; every alert
//! is in the dashboard feed and the email outbox; a conversation that ends
//! tells the owner how.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use sqlx::PgPool;

use activities::notify::NotificationPrefs;
use activities::store::{businesses, notifications};
use e2e::helpers::*;
use web::app::Mode;

const WAIT: Duration = Duration::from_secs(10);

/// Quiet hours from an hour ago to `minutes` from now, in the business's zone.
async fn quiet_now(app: &TestApp, minutes: i64) -> DateTime<Utc> {
    // Read again: a test may have moved the business to another zone.
    let business = businesses::get_business(&app.pool, app.business.id).await.expect("read").expect("business");
    let now = Utc::now().with_timezone(&business.timezone.tz());
    let minute = |t: chrono::DateTime<chrono_tz::Tz>| NaiveTime::from_hms_opt(t.hour(), t.minute(), 0).expect("time");
    let end = now + chrono::Duration::minutes(minutes);
    let prefs = NotificationPrefs {
        quiet_start: minute(now - chrono::Duration::hours(1)),
        quiet_end: minute(end),
        ..Default::default()
    };
    notifications::set_prefs(&app.pool, app.business.id, &prefs).await.expect("prefs");
    end.with_second(0).and_then(|t| t.with_nanosecond(0)).expect("end").with_timezone(&Utc)
}

/// The owner's texts held until `until`, oldest first, by purpose.
async fn held_owner_texts(app: &TestApp, until: DateTime<Utc>) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT purpose FROM messages WHERE audience = 'owner' AND status = 'queued' AND next_attempt_at = $1 ORDER BY created_at",
    )
    .bind(until)
    .fetch_all(&app.pool)
    .await
    .expect("held texts")
}

/// Every run's history, in order, by kind.
async fn history(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT kind FROM workflow_events ORDER BY id").fetch_all(&app.pool).await.expect("history")
}

async fn feed(app: &TestApp) -> Vec<(String, Option<DateTime<Utc>>)> {
    sqlx::query_as("SELECT event, held_until FROM notifications ORDER BY created_at")
        .fetch_all(&app.pool)
        .await
        .expect("feed")
}

#[sqlx::test(migrations = false)]
async fn in_quiet_hours_alerts_wait_for_the_morning_but_an_emergency_goes_at_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let quiet_end = quiet_now(&app, 90).await;
    let caller = app.texted_back_caller().await;
    assert!(app.fake.sent_to(OWNER_PHONE).is_empty(), "the missed-call alert waits: the customer did not");
    let held: (String, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT status, next_attempt_at FROM messages WHERE audience = 'owner' AND purpose LIKE 'notify_owner_missed_call:%'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("held alert");
    assert_eq!(held, ("queued".to_owned(), Some(quiet_end)), "held until the quiet hours end");
    assert_eq!(feed(&app).await, vec![("missed_call".to_owned(), Some(quiet_end))], "in the feed at once");

    app.text(&caller, "I smell gas in the basement, its really strong").await;
    let owner = app.wait_for_sms(OWNER_PHONE, 1, WAIT).await;
    assert_eq!(owner.len(), 1, "{owner:?}");
    assert!(owner[0].body.starts_with("EMERGENCY lead!"), "{}", owner[0].body);
    assert!(owner[0].body.contains(&format!("{BASE_URL}/t/")), "one-tap link: {}", owner[0].body);
    app.settle(WAIT).await;
    let emergency: i64 =
        app.count("SELECT count(*) FROM notifications WHERE event = 'emergency' AND held_until IS NULL").await;
    assert_eq!(emergency, 1);
    assert_eq!(app.count("SELECT count(*) FROM email_outbox WHERE subject LIKE 'EMERGENCY%'").await, 1);

    // The morning comes: the held alert goes out once, from the run that queued it.
    sqlx::query("UPDATE messages SET next_attempt_at = now() WHERE status = 'queued' AND audience = 'owner'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE workflow_runs SET wake_at = now() WHERE status = 'waiting'").execute(&app.pool).await.unwrap();
    let owner = app.wait_for_sms(OWNER_PHONE, 2, WAIT).await;
    assert!(owner[1].body.starts_with("Missed call from"), "{owner:?}");
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(OWNER_PHONE).len(), 2);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn an_owner_who_wants_no_texts_gets_the_feed_and_email_only(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let prefs =
        NotificationPrefs { sms: false, quiet_start: NaiveTime::MIN, quiet_end: NaiveTime::MIN, ..Default::default() };
    notifications::set_prefs(&app.pool, app.business.id, &prefs).await.unwrap();
    let caller = app.texted_back_caller().await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1, "the customer is texted back");
    assert!(app.fake.sent_to(OWNER_PHONE).is_empty());
    assert_eq!(feed(&app).await, vec![("missed_call".to_owned(), None)]);
    assert_eq!(app.count("SELECT count(*) FROM email_outbox WHERE subject LIKE 'Missed call from%'").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_conversation_that_goes_quiet_ends_with_a_lost_summary(pool: PgPool) {
    let extra = [("FOLLOW_UP_DELAYS", "1s,2s,3s")];
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &extra).await;
    app.set_daytime_zone().await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    app.text(&caller, "my ac isnt cooling").await;
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2);
    assert_eq!(app.wait_for_sms(&caller, 5, Duration::from_secs(20)).await.len(), 5, "three follow-ups");
    let owner = app.wait_for_sms(OWNER_PHONE, 2, WAIT).await;
    let summary = owner.iter().find(|m| m.body.starts_with("Lost:")).expect("a lost summary");
    assert!(summary.body.contains("AC") || summary.body.contains("cooling"), "{}", summary.body);
    assert!(summary.body.contains("the last follow-up has gone out"), "{}", summary.body);
    app.settle(WAIT).await;
    let outcome =
        "SELECT count(*) FROM notifications WHERE event = 'conversation_summary' AND data->>'outcome' = 'lost'";
    assert_eq!(app.count(outcome).await, 1, "once");
    assert_eq!(app.fake.sent_to(OWNER_PHONE).iter().filter(|m| m.body.starts_with("Lost:")).count(), 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_stop_ends_the_conversation_and_the_owner_hears_it_was_lost(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    app.text(&caller, "STOP").await;
    let owner = app.wait_for_sms(OWNER_PHONE, 2, WAIT).await;
    assert!(owner.iter().any(|m| m.body.starts_with("Lost:") && m.body.contains("STOP")), "{owner:?}");
    app.settle(WAIT).await;
    assert_eq!(app.count("SELECT count(*) FROM notifications WHERE event = 'conversation_summary'").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn an_owner_reply_goes_to_the_alert_they_saw_not_one_still_held(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let seen = app.texted_back_caller().await;
    assert_eq!(app.wait_for_sms(OWNER_PHONE, 1, WAIT).await.len(), 1, "the owner saw this alert");
    quiet_now(&app, 90).await;
    let held = app.texted_back_caller().await;
    assert_eq!(app.fake.sent_to(OWNER_PHONE).len(), 1, "the second alert is held");
    app.text(OWNER_PHONE, "On my way, be there by 3").await;
    let sent = app.wait_for_sms(&seen, 2, WAIT).await;
    assert_eq!(sent.get(1).map(|m| m.body.as_str()), Some("On my way, be there by 3"));
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(&held).len(), 1, "the caller behind the held alert only got the text-back");
    app.stop().await;
}

/// A STOP in the owner's quiet hours: the customer's confirmation goes at
/// once, the lost summary waits for the morning with the missed-call alert,
/// and the ended conversation's run waits for the summary's release.
#[sqlx::test(migrations = false)]
async fn a_stop_in_quiet_hours_holds_the_lost_summary_and_its_run_waits_for_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let quiet_end = quiet_now(&app, 90).await;
    let caller = app.texted_back_caller().await;
    app.text(&caller, "STOP").await;
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 2, "the text-back and the STOP's confirmation");
    assert!(app.fake.sent_to(OWNER_PHONE).is_empty(), "both alerts wait for the morning");
    let held = held_owner_texts(&app, quiet_end).await;
    assert_eq!(held.len(), 2, "the missed-call alert and the lost summary, held: {held:?}");
    let history = history(&app).await;
    let expected = [
        "started",
        "opening_conversation",
        "conversation_opened",
        "text_back_sent",
        "signal_received",
        "customer_opted_out",
    ];
    assert_eq!(history, expected);
    let (status, wake_at): (String, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT status, wake_at FROM workflow_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!((status.as_str(), wake_at), ("waiting", Some(quiet_end)), "woken when the summary is released");
    app.stop().await;
}

/// A round that queues a text and finds nothing due: a caller who opted out
/// elsewhere ends the conversation at its follow-up, and the owner's summary
/// is held for the morning. The round's history is written once, by the
/// statement that claims and saves, and the ended run waits for the release.
#[sqlx::test(migrations = false)]
async fn an_opt_out_found_at_a_follow_up_in_quiet_hours_holds_the_summary_and_notes_it_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    app.set_daytime_zone().await;
    let quiet_end = quiet_now(&app, 90).await;
    let caller = app.texted_back_caller().await;
    let run_id: activities::domain::RunId =
        sqlx::query_scalar("SELECT id FROM workflow_runs").fetch_one(&app.pool).await.unwrap();
    let phone = activities::domain::PhoneNumber::parse(&caller).unwrap();
    activities::store::opt_outs::add_opt_out(&app.pool, app.business.id, &phone, "carrier_stop").await.unwrap();
    app.make_follow_up_due(run_id).await;
    app.make_wake_due(run_id).await;
    // The due wake counts as work until the sweep has taken it and the tick ended.
    app.settle(WAIT).await;
    assert_eq!(app.count("SELECT count(*) FROM conversations WHERE status = 'closed_opted_out'").await, 1);
    assert_eq!(app.fake.sent_to(&caller).len(), 1, "only the text-back: no follow-up to an opted-out caller");
    assert!(app.fake.sent_to(OWNER_PHONE).is_empty(), "both alerts wait for the morning");
    let held = held_owner_texts(&app, quiet_end).await;
    assert_eq!(held.len(), 2, "the missed-call alert and the lost summary, held: {held:?}");
    let history = history(&app).await;
    let expected = ["started", "opening_conversation", "conversation_opened", "text_back_sent", "caller_opted_out"];
    assert_eq!(history, expected, "the ending round's note, once");
    let (status, wake_at, state): (String, Option<DateTime<Utc>>, serde_json::Value) =
        sqlx::query_as("SELECT status, wake_at, state FROM workflow_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!((status.as_str(), wake_at), ("waiting", Some(quiet_end)), "woken when the summary is released");
    assert_eq!(state["step"], "done", "{state}");
    app.stop().await;
}
