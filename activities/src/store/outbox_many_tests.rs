//! The batch inserts against a real database: each writes what its one-row
//! form writes, row for row.

use chrono::{Duration, Utc};
use sqlx::PgPool;

use super::*;
use crate::domain::PhoneNumber;
use crate::store::messages::{queue_row, Audience, OutboxRow};
use crate::store::notifications::insert_with_outbox;
use crate::test_db;

fn phone(p: &str) -> PhoneNumber {
    PhoneNumber::parse(p).unwrap()
}

/// The outbox rows of a run as a send sees them, by purpose.
async fn outbox_of(
    pool: &PgPool,
    run: RunId,
) -> Vec<(String, String, String, String, String, String, Option<i32>, bool)> {
    sqlx::query_as(
        "SELECT purpose, audience, sender_type, to_phone::text, body, status, validity_seconds,
                next_attempt_at IS NOT NULL
         FROM messages WHERE run_id = $1 ORDER BY purpose",
    )
    .bind(run)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn many_outbox_rows_are_written_as_one_at_a_time_writes_them(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await;
    let (one, many) = (test_db::run_keyed(&pool, b.id, "one").await, test_db::run_keyed(&pool, b.id, "many").await);
    let (caller, owner) = (phone("+15125550123"), phone("+15125550142"));
    let later = Utc::now() + Duration::hours(9);
    let rows = |run| {
        [
            OutboxRow {
                business_id: b.id,
                conversation_id: None,
                run_id: Some(run),
                purpose: "text_back",
                audience: Audience::Customer,
                from: &b.twilio_number,
                to: &caller,
                body: "Sorry we missed your call — 🛠️ how can we help?",
                validity_seconds: Some(900),
                not_before: None,
            },
            OutboxRow {
                business_id: b.id,
                conversation_id: None,
                run_id: Some(run),
                purpose: "owner_note",
                audience: Audience::Owner,
                from: &b.twilio_number,
                to: &owner,
                body: "Missed call",
                validity_seconds: None,
                not_before: Some(later),
            },
        ]
    };
    for r in rows(one) {
        queue_row(&pool, &r).await.unwrap();
    }
    let queued: Vec<QueuedRow> = rows(many).iter().map(QueuedRow::of).collect();
    insert_outbound_many(&pool, &queued).await.unwrap();
    assert_eq!(outbox_of(&pool, many).await, outbox_of(&pool, one).await);
    assert_eq!(outbox_of(&pool, many).await.len(), 2);
    // Again: each (run, purpose) once.
    insert_outbound_many(&pool, &queued).await.unwrap();
    assert_eq!(outbox_of(&pool, many).await.len(), 2, "a second insert is a no-op");
    insert_outbound_many(&pool, &[]).await.unwrap();
}

type Feed = (String, Option<String>, serde_json::Value, bool);

/// A business's notifications by key: event, its text's body, data, whether held, and its emails.
async fn notified(pool: &PgPool, key: &str) -> (Option<Feed>, Vec<(String, String, bool)>, Vec<(String, String)>) {
    let feed: Option<Feed> = sqlx::query_as(
        "SELECT event, NULL::text, data, held_until IS NOT NULL FROM notifications WHERE dedupe_key = $1",
    )
    .bind(key)
    .fetch_optional(pool)
    .await
    .unwrap();
    let texts = sqlx::query_as(
        "SELECT to_phone::text, body, next_attempt_at IS NOT NULL FROM messages WHERE purpose = 'notify_' || $1",
    )
    .bind(key)
    .fetch_all(pool)
    .await
    .unwrap();
    let emails = sqlx::query_as("SELECT to_address, subject FROM email_outbox WHERE dedupe_key = $1")
        .bind(key)
        .fetch_all(pool)
        .await
        .unwrap();
    (feed, texts, emails)
}

#[sqlx::test(migrations = false)]
async fn many_notifications_are_written_as_one_at_a_time_writes_them(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await;
    let run = test_db::run(&pool, b.id).await;
    let data = serde_json::json!({ "caller": "(512) 555-0123" });
    let held = Some(Utc::now() + Duration::hours(8));
    let purpose = |key: &str| format!("notify_{key}");
    let text = |purpose| OwnerText {
        run_id: Some(run),
        purpose,
        from: &b.twilio_number,
        to: &b.owner_phone,
        body: "Missed call",
    };
    let email = OwnerEmail { to: &b.owner_email, subject: "Missed call", body: "A caller" };
    let feed = |key, held_until| NewFeedItem {
        business_id: b.id,
        event: "missed_call",
        conversation_id: None,
        dedupe_key: key,
        data: &data,
        held_until,
    };
    // One at a time: a held one with text and email, one with the email only.
    let (p1, p2) = (purpose("one:a"), purpose("many:a"));
    insert_with_outbox(&pool, &feed("one:a", held), Some(&text(&p1)), Some(&email)).await.unwrap();
    insert_with_outbox(&pool, &feed("one:b", None), None, Some(&email)).await.unwrap();
    // The same, and one whose key exists already (nothing more is queued for it).
    let many = [
        QueuedNotification::of(&feed("many:a", held), Some(&text(&p2)), Some(&email)),
        QueuedNotification::of(&feed("many:b", None), None, Some(&email)),
        QueuedNotification::of(&feed("one:b", None), Some(&text(&purpose("one:b"))), Some(&email)),
    ];
    insert_notifications_many(&pool, &many).await.unwrap();
    assert_eq!(notified(&pool, "many:a").await, notified(&pool, "one:a").await);
    assert_eq!(notified(&pool, "many:b").await, notified(&pool, "one:b").await);
    let (feed_a, texts_a, emails_a) = notified(&pool, "many:a").await;
    assert!(feed_a.is_some_and(|f| f.3), "held");
    assert_eq!((texts_a.len(), emails_a.len()), (1, 1));
    assert!(texts_a[0].2, "its text held too");
    let (_, texts_b, emails_b) = notified(&pool, "one:b").await;
    assert_eq!((texts_b.len(), emails_b.len()), (0, 1), "an existing key gets nothing more");
    insert_notifications_many(&pool, &[]).await.unwrap();
}
