//! Owner notifications: one call records the dashboard feed row and queues the
//! owner's SMS and email, per the business's preferences and quiet hours, in
//! the caller's transaction and at most once per `(business, key)`.
//!
//! Texts with a run are sent by that run (it wakes for their
//! `next_attempt_at`); texts without one, and every email, by [`dispatch`].

pub mod dispatch;
pub mod event;
pub mod mail;
pub mod prefs;
pub mod render;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use crate::domain::ids::NotificationId;
use crate::domain::{ConversationId, RunId};
use crate::store::businesses::Business;
use crate::store::notifications::{self, NewFeedItem, OwnerEmail, OwnerText};
use crate::store::outbox_many::QueuedNotification;
use crate::templates::Templates;

pub use dispatch::{dispatch, Dispatched, Dispatcher};
pub use event::{NotifyEvent, Outcome};
pub use mail::{MailConfigError, MailError, Mailer};
pub use prefs::{release_at, NotificationPrefs};
pub use render::{render, RenderError, Rendered};

/// One notification to a business's owner.
///
/// `data` is the template context (an object; unknown facts as null, extra
/// keys ignored); `notify` adds `business` (the business's name) and, when
/// absent, `link` = null. Each event needs:
/// - missed_call: `caller`, `time`, `after_hours`
/// - qualified_lead: `caller`, `name`, `service`, `urgency`, `address`, `preferred_time`
/// - emergency: `caller`, `name`, `service`, `address`
/// - human_needed: `caller`, `name`
/// - appointment_booked: `caller`, `name`, `service`, `when`, `address`
/// - conversation_summary: the lead's facts plus `outcome` ("booked",
///   "needs_follow_up", "lost": [`Outcome::as_str`]), `when` and `reason` (or null)
/// - daily_summary: `date`, `calls`, `missed`, `recovered`, `booked`, `revenue`
///
/// `link` (the one-tap takeover URL) ends every text about a live conversation.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    pub event: NotifyEvent,
    pub business: &'a Business,
    pub conversation_id: Option<ConversationId>,
    /// The run that sends the SMS (it must wake for the row), or None for the dispatcher.
    pub run_id: Option<RunId>,
    /// Unique per business, e.g. `alert_qualified:<run>` or `daily:2026-12-01`.
    pub key: &'a str,
    /// False: the feed and email only, when the owner was just texted the
    /// same news (a booked conversation's summary after "Appointment booked!").
    pub text: bool,
    pub data: Value,
    pub now: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("notification data must be a JSON object")]
    NotAnObject,
}

/// Records and queues one notification in the caller's transaction. A second
/// call with the same business and key does nothing and returns None.
/// Paused or cancelled businesses get the feed row but no SMS or email. The
/// owner's preferences are those of `n.business` as it was read.
pub async fn notify(
    conn: &mut PgConnection,
    templates: &Templates,
    n: &Notification<'_>,
) -> Result<Option<NotificationId>, NotifyError> {
    let q = prepare(templates, n)?;
    let feed = NewFeedItem {
        business_id: q.business_id,
        event: &q.event,
        conversation_id: q.conversation_id,
        dedupe_key: &q.dedupe_key,
        data: &q.data,
        held_until: q.held_until,
    };
    let text =
        q.text.as_ref().map(|(run_id, purpose, from, to, body)| OwnerText { run_id: *run_id, purpose, from, to, body });
    let email = q.email.as_ref().map(|(to, subject, body)| OwnerEmail { to, subject, body });
    Ok(notifications::insert_with_outbox(&mut *conn, &feed, text.as_ref(), email.as_ref()).await?)
}

/// What [`notify`] writes, rendered and decided (held for quiet hours, text
/// and email per the owner's preferences) but not yet written: a batch of
/// runs' rounds writes theirs together
/// ([`crate::store::outbox_many::insert_notifications_many`]).
pub fn prepare(templates: &Templates, n: &Notification<'_>) -> Result<QueuedNotification, NotifyError> {
    let ctx = context(n)?;
    // Rendered before any write: a template error leaves nothing half-made.
    let words = render(templates, n.event, &ctx)?;
    let b = n.business;
    let prefs = b.prefs();
    let release = release_at(&prefs, b.timezone.tz(), n.now, n.event.urgent());
    let held = (release > n.now).then_some(release);
    let mut stored = n.data.clone();
    if let Some(o) = stored.as_object_mut() {
        // The link is a bearer token: it lives in the text sent, not in the feed.
        o.remove("link");
    }
    let feed = NewFeedItem {
        business_id: b.id,
        event: n.event.as_str(),
        conversation_id: n.conversation_id,
        dedupe_key: n.key,
        data: &stored,
        held_until: held,
    };
    // A paused or cancelled business gets the feed row only.
    let active = b.is_active();
    let purpose = format!("notify_{}", n.key);
    let text =
        OwnerText { run_id: n.run_id, purpose: &purpose, from: &b.twilio_number, to: &b.owner_phone, body: &words.sms };
    let email = OwnerEmail { to: &b.owner_email, subject: &words.subject, body: &words.email_body };
    let text = (active && prefs.sms && n.text).then_some(&text);
    let email = (active && prefs.email).then_some(&email);
    Ok(QueuedNotification::of(&feed, text, email))
}

/// The template context: the caller's data, the business's name, and `link`.
fn context(n: &Notification<'_>) -> Result<Value, NotifyError> {
    let mut ctx = n.data.clone();
    let o = ctx.as_object_mut().ok_or(NotifyError::NotAnObject)?;
    o.entry("business").or_insert_with(|| Value::from(n.business.name.clone()));
    o.entry("link").or_insert(Value::Null);
    Ok(ctx)
}

#[cfg(test)]
mod tests;
