//! Outbox rows and owner notifications inserted several at once: what a
//! batch of runs' rounds queue (`workflows::conversation::batch`), each
//! insert the same as its one-row form ([`messages::queue_row`],
//! [`notifications::insert_with_outbox`]) with the rows in their order.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::messages::{Audience, OutboxRow};
use super::notifications::{NewFeedItem, OwnerEmail, OwnerText};
use crate::domain::{BusinessId, ConversationId, PhoneNumber, RunId};

/// An outbox row kept for [`insert_outbound_many`]: an [`OutboxRow`], owned.
#[derive(Debug, Clone)]
pub struct QueuedRow {
    pub business_id: BusinessId,
    pub conversation_id: Option<ConversationId>,
    pub run_id: Option<RunId>,
    pub purpose: String,
    pub audience: Audience,
    pub from: PhoneNumber,
    pub to: PhoneNumber,
    pub body: String,
    pub validity_seconds: Option<i32>,
    pub not_before: Option<DateTime<Utc>>,
}

impl QueuedRow {
    pub fn of(m: &OutboxRow<'_>) -> Self {
        Self {
            business_id: m.business_id,
            conversation_id: m.conversation_id,
            run_id: m.run_id,
            purpose: m.purpose.to_owned(),
            audience: m.audience,
            from: m.from.clone(),
            to: m.to.clone(),
            body: m.body.to_owned(),
            validity_seconds: m.validity_seconds,
            not_before: m.not_before,
        }
    }
}

fn sender(a: Audience) -> &'static str {
    match a {
        Audience::Customer => "ai",
        Audience::Owner => "system",
    }
}

/// [`super::messages::queue_row`] for several rows in one statement, in
/// their order; a row whose `(run, purpose)` exists is skipped.
pub async fn insert_outbound_many(db: impl PgExecutor<'_>, rows: &[QueuedRow]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&QueuedRow) -> Option<Uuid>| rows.iter().map(f).collect::<Vec<_>>();
    let text = |f: fn(&QueuedRow) -> &str| rows.iter().map(|r| f(r).to_owned()).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO messages (business_id, conversation_id, run_id, purpose, direction, audience, sender_type,
                               from_phone, to_phone, body, validity_seconds, next_attempt_at)
         SELECT b, c, r, p, 'outbound', a, s, f, t, body, v, nb
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::int[], $11::timestamptz[])
              WITH ORDINALITY AS u(b, c, r, p, a, s, f, t, body, v, nb, n)
         ORDER BY n
         ON CONFLICT (run_id, purpose) DO NOTHING",
    )
    .bind(col(|r| Some(r.business_id.0)))
    .bind(col(|r| r.conversation_id.map(|c| c.0)))
    .bind(col(|r| r.run_id.map(|c| c.0)))
    .bind(text(|r| &r.purpose))
    .bind(text(|r| r.audience.as_str()))
    .bind(text(|r| sender(r.audience)))
    .bind(text(|r| r.from.as_str()))
    .bind(text(|r| r.to.as_str()))
    .bind(text(|r| &r.body))
    .bind(rows.iter().map(|r| r.validity_seconds).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.not_before).collect::<Vec<_>>())
    .execute(db)
    .await?;
    Ok(())
}

/// A notification kept for [`insert_notifications_many`]: the feed row
/// with its text and email, owned.
#[derive(Debug, Clone)]
pub struct QueuedNotification {
    pub business_id: BusinessId,
    pub event: String,
    pub conversation_id: Option<ConversationId>,
    pub dedupe_key: String,
    pub data: serde_json::Value,
    pub held_until: Option<DateTime<Utc>>,
    /// The owner's text: its run, purpose, from, to and body.
    pub text: Option<(Option<RunId>, String, PhoneNumber, PhoneNumber, String)>,
    /// The owner's email: to, subject and body.
    pub email: Option<(String, String, String)>,
}

impl QueuedNotification {
    pub fn of(n: &NewFeedItem<'_>, text: Option<&OwnerText<'_>>, email: Option<&OwnerEmail<'_>>) -> Self {
        Self {
            business_id: n.business_id,
            event: n.event.to_owned(),
            conversation_id: n.conversation_id,
            dedupe_key: n.dedupe_key.to_owned(),
            data: n.data.clone(),
            held_until: n.held_until,
            text: text.map(|t| (t.run_id, t.purpose.to_owned(), t.from.clone(), t.to.clone(), t.body.to_owned())),
            email: email.map(|e| (e.to.to_owned(), e.subject.to_owned(), e.body.to_owned())),
        }
    }
}

/// [`super::notifications::insert_with_outbox`] for several notifications in
/// one statement: each feed row, and its text and email only if the feed
/// row is new.
pub async fn insert_notifications_many(db: impl PgExecutor<'_>, items: &[QueuedNotification]) -> sqlx::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let strings = |f: &dyn Fn(&QueuedNotification) -> Option<String>| items.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "WITH i AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::jsonb[], $6::timestamptz[],
                                  $7::uuid[], $8::text[], $9::text[], $10::text[], $11::text[],
                                  $12::text[], $13::text[], $14::text[])
                  WITH ORDINALITY AS i(b, event, c, key, data, held, run, purpose, f, t, body, eto, subject, ebody, n)),
         f AS (
             INSERT INTO notifications (business_id, event, conversation_id, dedupe_key, data, held_until)
             SELECT b, event, c, key, data, held FROM i ORDER BY n
             ON CONFLICT (business_id, dedupe_key) DO NOTHING RETURNING id, business_id, dedupe_key),
         m AS (
             INSERT INTO messages (business_id, conversation_id, run_id, purpose, direction, audience, sender_type,
                                   from_phone, to_phone, body, next_attempt_at)
             SELECT i.b, i.c, i.run, i.purpose, 'outbound', 'owner', 'system', i.f, i.t, i.body, i.held
             FROM i JOIN f ON f.business_id = i.b AND f.dedupe_key = i.key WHERE i.purpose IS NOT NULL ORDER BY i.n
             ON CONFLICT (run_id, purpose) DO NOTHING),
         e AS (
             INSERT INTO email_outbox (business_id, notification_id, dedupe_key, to_address, subject, body,
                                       next_attempt_at)
             SELECT i.b, f.id, i.key, i.eto, i.subject, i.ebody, COALESCE(i.held, now())
             FROM i JOIN f ON f.business_id = i.b AND f.dedupe_key = i.key WHERE i.eto IS NOT NULL ORDER BY i.n
             ON CONFLICT (business_id, dedupe_key) DO NOTHING)
         SELECT count(*) FROM f",
    )
    .bind(items.iter().map(|i| i.business_id.0).collect::<Vec<_>>())
    .bind(strings(&|i| Some(i.event.clone())))
    .bind(items.iter().map(|i| i.conversation_id.map(|c| c.0)).collect::<Vec<_>>())
    .bind(strings(&|i| Some(i.dedupe_key.clone())))
    .bind(items.iter().map(|i| Json(&i.data)).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.held_until).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.text.as_ref().and_then(|t| t.0).map(|r| r.0)).collect::<Vec<_>>())
    .bind(strings(&|i| i.text.as_ref().map(|t| t.1.clone())))
    .bind(strings(&|i| i.text.as_ref().map(|t| t.2.as_str().to_owned())))
    .bind(strings(&|i| i.text.as_ref().map(|t| t.3.as_str().to_owned())))
    .bind(strings(&|i| i.text.as_ref().map(|t| t.4.clone())))
    .bind(strings(&|i| i.email.as_ref().map(|e| e.0.clone())))
    .bind(strings(&|i| i.email.as_ref().map(|e| e.1.clone())))
    .bind(strings(&|i| i.email.as_ref().map(|e| e.2.clone())))
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
#[path = "outbox_many_tests.rs"]
mod tests;
