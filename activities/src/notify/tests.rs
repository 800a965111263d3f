//! `notify` against a real database: once per key, quiet hours, preferences.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::*;
use crate::store::businesses::{self, Business};
use crate::store::{messages, run_outbox};
use crate::test_db;

const CHICAGO: chrono_tz::Tz = chrono_tz::America::Chicago;

fn chicago(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    CHICAGO.from_local_datetime(&naive).unwrap().with_timezone(&Utc)
}

fn lead_data() -> Value {
    json!({
        "caller": "(512) 555-0123", "name": "Maria", "service": "AC not cooling", "urgency": "soon",
        "address": "12 Oak St", "preferred_time": null, "link": "https://calls.example.com/t/abc",
    })
}

fn note<'a>(b: &'a Business, event: NotifyEvent, key: &'a str, now: DateTime<Utc>) -> Notification<'a> {
    Notification { event, business: b, conversation_id: None, run_id: None, key, text: true, data: lead_data(), now }
}

async fn setup(pool: &PgPool) -> (Business, Templates) {
    test_db::migrated(pool).await;
    (test_db::business(pool, "America/Chicago").await, Templates::new().unwrap())
}

async fn send(pool: &PgPool, t: &Templates, n: &Notification<'_>) -> Option<NotificationId> {
    let mut tx = pool.begin().await.unwrap();
    let id = notify(&mut tx, t, n).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_second_call_with_the_same_key_does_nothing(pool: PgPool) {
    let (b, t) = setup(&pool).await;
    let n = note(&b, NotifyEvent::QualifiedLead, "alert_qualified:run-1", chicago("2026-12-01 12:00"));
    assert!(send(&pool, &t, &n).await.is_some());
    assert_eq!(send(&pool, &t, &n).await, None);
    assert_eq!(count(&pool, "SELECT count(*) FROM notifications").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM messages").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM email_outbox").await, 1);
    let (to, from, audience, purpose, body): (String, String, String, String, String) =
        sqlx::query_as("SELECT to_phone, from_phone, audience, purpose, body FROM messages")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((to.as_str(), from.as_str(), audience.as_str()), ("+15125550142", "+15125550100", "owner"));
    assert_eq!(purpose, "notify_alert_qualified:run-1");
    assert!(body.starts_with("New qualified lead!") && body.ends_with("https://calls.example.com/t/abc"), "{body}");
    let (to, subject): (String, String) =
        sqlx::query_as("SELECT to_address, subject FROM email_outbox").fetch_one(&pool).await.unwrap();
    assert_eq!((to.as_str(), subject.as_str()), ("john@example.com", "New qualified lead: Maria - AC not cooling"));
    let feed = notifications::recent(&pool, b.id, 10).await.unwrap();
    assert_eq!(feed[0].event, "qualified_lead");
    assert_eq!(feed[0].data.0["name"], "Maria");
    assert!(feed[0].data.0.get("link").is_none(), "the bearer link stays out of the feed");
}

#[sqlx::test(migrations = false)]
async fn a_qualified_lead_at_half_past_ten_is_held_until_seven(pool: PgPool) {
    let (b, t) = setup(&pool).await;
    let n = note(&b, NotifyEvent::QualifiedLead, "alert_qualified:late", chicago("2026-12-01 22:30"));
    send(&pool, &t, &n).await.unwrap();
    let seven = chicago("2026-12-02 07:00");
    let sms: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT next_attempt_at FROM messages").fetch_one(&pool).await.unwrap();
    let email: DateTime<Utc> =
        sqlx::query_scalar("SELECT next_attempt_at FROM email_outbox").fetch_one(&pool).await.unwrap();
    let held: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT held_until FROM notifications").fetch_one(&pool).await.unwrap();
    assert_eq!((sms, email, held), (Some(seven), seven, Some(seven)));
}

#[sqlx::test(migrations = false)]
async fn an_emergency_at_half_past_ten_is_due_now(pool: PgPool) {
    let (b, t) = setup(&pool).await;
    let n = note(&b, NotifyEvent::Emergency, "alert_emergency:late", chicago("2026-12-01 22:30"));
    send(&pool, &t, &n).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM messages WHERE next_attempt_at IS NULL").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM email_outbox WHERE next_attempt_at <= now()").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM notifications WHERE held_until IS NULL").await, 1);
    let due = messages::due_without_run(&pool, std::time::Duration::from_secs(30), 10).await.unwrap();
    assert_eq!(due.len(), 1, "the dispatcher sees it");
}

#[sqlx::test(migrations = false)]
async fn preferences_turn_channels_off(pool: PgPool) {
    let (b, t) = setup(&pool).await;
    let prefs = NotificationPrefs { sms: false, ..Default::default() };
    notifications::set_prefs(&pool, b.id, &prefs).await.unwrap();
    let b = businesses::get_business(&pool, b.id).await.unwrap().unwrap();
    send(&pool, &t, &note(&b, NotifyEvent::HumanNeeded, "k1", chicago("2026-12-01 12:00"))).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM messages").await, 0, "sms off: no text");
    assert_eq!(count(&pool, "SELECT count(*) FROM email_outbox").await, 1);
    let prefs = NotificationPrefs { email: false, ..Default::default() };
    notifications::set_prefs(&pool, b.id, &prefs).await.unwrap();
    let b = businesses::get_business(&pool, b.id).await.unwrap().unwrap();
    send(&pool, &t, &note(&b, NotifyEvent::HumanNeeded, "k2", chicago("2026-12-01 12:00"))).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM messages").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM email_outbox").await, 1, "email off: no new email");
    assert_eq!(count(&pool, "SELECT count(*) FROM notifications").await, 2, "the feed has both");
}

#[sqlx::test(migrations = false)]
async fn a_paused_business_gets_the_feed_row_only(pool: PgPool) {
    let (b, t) = setup(&pool).await;
    businesses::set_subscription_status(&pool, b.id, "paused").await.unwrap();
    let b = businesses::get_business(&pool, b.id).await.unwrap().unwrap();
    send(&pool, &t, &note(&b, NotifyEvent::Emergency, "k", chicago("2026-12-01 12:00"))).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM notifications").await, 1);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM messages").await + count(&pool, "SELECT count(*) FROM email_outbox").await,
        0
    );
}

#[sqlx::test(migrations = false)]
async fn a_held_text_of_a_run_waits_for_that_run(pool: PgPool) {
    let (b, t) = setup(&pool).await;
    let run: RunId = test_db::run(&pool, b.id).await;
    // Late at night some years ahead: "not due yet" is asked of the database's clock.
    let mut n = note(&b, NotifyEvent::QualifiedLead, "alert_qualified:r", chicago("2036-12-01 22:30"));
    n.run_id = Some(run);
    send(&pool, &t, &n).await.unwrap();
    let outbox = run_outbox::outbox_of_run(&pool, run).await.unwrap();
    assert!(outbox.due.is_empty(), "held: not due yet");
    assert_eq!(outbox.next_retry, Some(chicago("2036-12-02 07:00")));
    let lease = std::time::Duration::from_secs(30);
    assert!(
        messages::due_without_run(&pool, lease, 10).await.unwrap().is_empty(),
        "its run sends it, not the dispatcher"
    );
}

#[sqlx::test(migrations = false)]
async fn a_template_error_writes_nothing(pool: PgPool) {
    let (b, t) = setup(&pool).await;
    let mut n = note(&b, NotifyEvent::AppointmentBooked, "k", chicago("2026-12-01 12:00"));
    n.data = json!({"caller": "(512) 555-0123"});
    let mut tx = pool.begin().await.unwrap();
    assert!(matches!(notify(&mut tx, &t, &n).await, Err(NotifyError::Render(_))));
    tx.commit().await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM notifications").await, 0);
}
