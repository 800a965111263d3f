//! What the conversation tells the owner. Missed calls, qualified leads,
//! emergencies, "a customer needs you" and bookings are notifications
//! (`activities::notify`: the dashboard feed, SMS and email per the owner's
//! preferences, held through quiet hours unless an emergency); a cancellation
//! goes straight to the owner's phone.

use chrono::{DateTime, Utc};
use minijinja::context;
use serde_json::json;
use sqlx::PgConnection;

use activities::domain::{ConversationId, PhoneNumber};
use activities::notify::{self, Notification, NotifyEvent};
use activities::responder::LeadFacts;
use activities::store::businesses::Business;
use activities::store::conversations;
use activities::store::outbox_many::QueuedNotification;

use super::state::{Alert, Outcome, State, TextKind};
use crate::engine::runs::RunRow;
use crate::engine::{EngineError, Workflows};

/// The notification event an owner text is, or None when it goes out as a plain text.
fn event_of(kind: TextKind) -> Option<NotifyEvent> {
    match kind {
        TextKind::OwnerMissedCall => Some(NotifyEvent::MissedCall),
        TextKind::OwnerAlert { alert, .. } => match alert {
            Alert::Qualified => Some(NotifyEvent::QualifiedLead),
            Alert::Emergency => Some(NotifyEvent::Emergency),
            Alert::HumanNeeded => Some(NotifyEvent::HumanNeeded),
            Alert::Booked => Some(NotifyEvent::AppointmentBooked),
            Alert::Cancelled => None,
        },
        TextKind::Summary { .. } => Some(NotifyEvent::ConversationSummary),
        _ => None,
    }
}

/// How the owner's summary puts a run's end: the outcome and why, and whether
/// it is texted (a booking was just texted as "Appointment booked!").
fn summary_of(outcome: Outcome) -> (notify::Outcome, Option<&'static str>, bool) {
    match outcome {
        Outcome::Booked => (notify::Outcome::Booked, None, false),
        Outcome::Cancelled => (notify::Outcome::NeedsFollowUp, Some("Cancelled their appointment by text."), true),
        Outcome::OptedOut => (notify::Outcome::Lost, Some("Replied STOP: no more texts to this number."), true),
        Outcome::NoResponse => (notify::Outcome::Lost, Some("Never replied; the last follow-up has gone out."), true),
        _ => (notify::Outcome::NeedsFollowUp, None, true),
    }
}

/// Who the conversation is with, as the alert needs it.
pub(super) struct Subject<'a> {
    pub business: &'a Business,
    pub state: &'a State,
    pub caller: &'a PhoneNumber,
    pub conversation_id: Option<ConversationId>,
}

/// Records the notification and queues its text and email, once per run and kind
/// (the key is the text's purpose and the run). The run sends the text, when
/// quiet hours end if they hold it.
pub(super) async fn notify_owner(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    s: &Subject<'_>,
    kind: TextKind,
) -> Result<(), EngineError> {
    let Some(event) = event_of(kind) else {
        // Not a notification: `effects::queue_text` sends those as plain texts.
        return Ok(());
    };
    let now = Utc::now();
    let mut data = facts(conn, wf, s, now, event.about_the_lead()).await?;
    let mut text = true;
    if let TextKind::Summary { outcome } = kind {
        let (outcome, reason, texted) = summary_of(outcome);
        data["outcome"] = json!(outcome.as_str());
        data["reason"] = json!(reason);
        text = texted;
    }
    let key = format!("{}:{}", kind.purpose(), run.id);
    let n = s.notification(event, (run, &key), text, data, now);
    notify::notify(conn, &wf.0.templates, &n).await?;
    Ok(())
}

impl<'a> Subject<'a> {
    /// The run's notification of `event` about this subject, under `key`.
    fn notification(
        &self,
        event: NotifyEvent,
        (run, key): (&RunRow, &'a str),
        text: bool,
        data: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Notification<'a> {
        let (business, conversation_id, run_id) = (self.business, self.conversation_id, Some(run.id));
        Notification { event, business, conversation_id, run_id, key, text, data, now }
    }
}

/// Everything any conversation notification's templates may use; what we
/// know of the lead only when the event's words are `about_lead`.
async fn facts(
    conn: &mut PgConnection,
    wf: &Workflows,
    s: &Subject<'_>,
    now: DateTime<Utc>,
    about_lead: bool,
) -> Result<serde_json::Value, EngineError> {
    let b = s.business;
    let (l, when) = if about_lead {
        (lead_of(conn, b, s.state).await?, appointment_time(conn, b, s.state).await?)
    } else {
        (LeadFacts::default(), None)
    };
    Ok(facts_of(wf, s, now, l, when))
}

/// [`facts`] with what it read of the lead.
fn facts_of(
    wf: &Workflows,
    s: &Subject<'_>,
    now: DateTime<Utc>,
    l: LeadFacts,
    when: Option<String>,
) -> serde_json::Value {
    let b = s.business;
    json!({
        "caller": s.caller.display_national(),
        "name": l.name, "service": l.service_needed, "urgency": l.urgency,
        "address": l.address, "preferred_time": l.preferred_time,
        "when": when,
        "time": local_time(b, now),
        "after_hours": !b.is_open_at(now),
        "link": link(wf, s.conversation_id),
    })
}

/// The missed call's owner alert as [`notify_owner`] writes it, rendered
/// and decided but not written: a batch's rounds write theirs together. It
/// reads nothing (a missed call's words are not about the lead).
pub(super) fn prepare_missed_call(
    wf: &Workflows,
    run: &RunRow,
    s: &Subject<'_>,
) -> Result<QueuedNotification, EngineError> {
    let (event, now) = (NotifyEvent::MissedCall, Utc::now());
    debug_assert!(!event.about_the_lead());
    let key = format!("{}:{}", TextKind::OwnerMissedCall.purpose(), run.id);
    let data = facts_of(wf, s, now, LeadFacts::default(), None);
    Ok(notify::prepare(&wf.0.templates, &s.notification(event, (run, &key), true, data, now))?)
}

/// The cancellation text (not a notification event).
pub(super) async fn cancelled_text(
    conn: &mut PgConnection,
    wf: &Workflows,
    s: &Subject<'_>,
) -> Result<String, EngineError> {
    let l = lead_of(conn, s.business, s.state).await?;
    let when = appointment_time(conn, s.business, s.state).await?.unwrap_or_default();
    let ctx = context! {
        caller => s.caller.display_national(), name => l.name, when,
        link => link(wf, s.conversation_id).unwrap_or_default(),
    };
    Ok(wf.0.templates.render("owner_cancelled", ctx)?)
}

/// "3:42 PM" in the business's zone.
pub(super) fn local_time(b: &Business, at: DateTime<Utc>) -> String {
    at.with_timezone(&b.timezone.tz()).format("%-I:%M %p").to_string()
}

pub(super) async fn lead_of(conn: &mut PgConnection, business: &Business, s: &State) -> Result<LeadFacts, EngineError> {
    let Some(lead_id) = s.lead_id() else {
        return Ok(LeadFacts::default());
    };
    Ok(conversations::lead_facts(&mut *conn, business.id, lead_id).await?)
}

/// The lead's latest appointment, formatted for the owner.
async fn appointment_time(
    conn: &mut PgConnection,
    business: &Business,
    s: &State,
) -> Result<Option<String>, EngineError> {
    let Some(lead_id) = s.lead_id() else {
        return Ok(None);
    };
    let latest = activities::store::appointments::latest_for_lead(&mut *conn, business.id, lead_id).await?;
    Ok(latest.map(|a| activities::booking::format_slot(&a.slot(), business.timezone.tz())))
}

/// The one-tap takeover link (None when there is no conversation).
pub(super) fn link(wf: &Workflows, conversation_id: Option<ConversationId>) -> Option<String> {
    let cfg = &wf.0.cfg;
    conversation_id.map(|c| {
        let token = activities::links::sign(&cfg.link_secret, c, Utc::now() + activities::links::LINK_TTL);
        format!("{}/t/{token}", cfg.base_url)
    })
}
