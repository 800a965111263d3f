//! Runs one tick of a review request: under the run's row lock, read what the
//! database shows (click, opt-out, business), apply the pure transition, queue
//! its texts in the outbox and commit; deliver with no transaction open; then
//! leave the run asleep until its next timer, or ended.

use std::time::Duration;

use chrono::Utc;
use minijinja::context;
use sqlx::PgConnection;

use activities::links;
use activities::store::businesses::Business;
use activities::store::messages::{self, Audience, NewOutbound, SentText};
use activities::store::reviews::{self, ReviewRequest};
use activities::store::{conversations, opt_outs};

use super::state::{Command, Facts, Outcome, State, TextKind};
use super::transition::{step, Ctx};
use crate::engine::drive::{self, Next};
use crate::engine::runs::{self, RunRow};
use crate::engine::tick::{IN_FLIGHT_RECHECK, MAX_ROUNDS};
use crate::engine::{EngineError, TickInput, Workflows};

pub(crate) async fn tick(wf: &Workflows, input: &TickInput) -> Result<(), EngineError> {
    let mut force_wake = None;
    let mut input = input.clone();
    // The texts the last round sent, recorded by the next one's transaction.
    let mut sent = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let r = round(wf, &input, force_wake.take(), &mut sent).await?;
        input = input.claimed();
        match r {
            Round::Finished => return Ok(()),
            Round::Delivered { in_flight } => {
                if in_flight {
                    force_wake = Some(IN_FLIGHT_RECHECK);
                }
            }
        }
    }
    round(wf, &input, Some(Duration::ZERO), &mut sent).await.map(|_| ())
}

enum Round {
    Finished,
    Delivered { in_flight: bool },
}

/// One transaction of transition, then (outside it) the sends it queued.
async fn round(
    wf: &Workflows,
    input: &TickInput,
    force_wake: Option<Duration>,
    sent: &mut Vec<SentText>,
) -> Result<Round, EngineError> {
    let Some((mut tx, run)) = drive::lock_for_tick(wf, input, sent).await? else {
        return Ok(Round::Finished);
    };
    let business = drive::business_of(wf, &mut tx, &run).await?;
    let state: State = run.state().map_err(|e| EngineError::State(run.id, e))?;
    let state = advance(wf, &mut tx, &run, &business, state).await?;
    // A review round queues at most a text or two: taken as queuing, its
    // outbox is always claimed (with its state saved).
    let progress = drive::Progress { state: &state, conversation_id: None, notes: &mut Vec::new() };
    let outbox = drive::claim_round(wf, &mut tx, &run, true, force_wake, progress).await?;
    if outbox.due.is_empty() {
        let idle_status = if matches!(state, State::Done { .. }) { "completed" } else { "failed" };
        let next = Next {
            state: &state,
            state_name: state.name(),
            timer: state.wake_at(),
            idle_status,
            conversation_id: None,
            force_wake,
            retry: outbox.next_retry,
            notes: &[],
        };
        drive::schedule(wf, &mut tx, &run, &next).await?;
        tx.commit().await?;
        return Ok(Round::Finished);
    }
    tx.commit().await?;
    let outcomes = drive::deliver_due(wf, input, &outbox.due, sent).await?;
    Ok(Round::Delivered { in_flight: drive::in_flight(&outcomes) })
}

/// Feeds what the database shows into the transition and carries out its commands.
async fn advance(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    business: &Business,
    state: State,
) -> Result<State, EngineError> {
    for s in crate::engine::control::take_signals(&mut *conn, run).await? {
        let detail = serde_json::json!({"signal_id": s.id, "kind": s.kind});
        runs::record_event(&mut *conn, run.business_id, run.id, "signal_received", detail).await?;
    }
    let Some(id) = state.review_request_id() else {
        return Ok(state);
    };
    let Some(request) = reviews::get_review_request(&mut *conn, business.id, id).await? else {
        tracing::error!(run_id = %run.id, "the run's review request is gone");
        runs::record_event(&mut *conn, run.business_id, run.id, "review_request_missing", serde_json::json!({}))
            .await?;
        return Ok(State::Done { outcome: Outcome::Cancelled });
    };
    let (opted_out, unreachable) = opt_outs::reachability(&mut *conn, business.id, &request.phone).await?;
    let facts =
        Facts { business_active: business.is_active(), opted_out, unreachable, clicked: request.clicked_at.is_some() };
    let zone = conversations::lead_zone(&mut *conn, business.id, request.lead_id).await?;
    let ctx =
        Ctx { now: Utc::now(), tz: zone.unwrap_or(business.timezone).tz(), reminder_delay: wf.0.cfg.review_delays[1] };
    let d = step(&state, facts, &ctx);
    if d.state != state || !d.commands.is_empty() {
        let detail = serde_json::json!({"from": state.name(), "to": d.state.name()});
        runs::record_event(&mut *conn, run.business_id, run.id, d.note, detail).await?;
    }
    for cmd in &d.commands {
        match cmd {
            Command::Text(kind) => queue_text(wf, conn, run, business, &request, *kind).await?,
            Command::Status(s) => reviews::set_status(&mut *conn, business.id, request.id, s.as_str()).await?,
        }
    }
    Ok(d.state)
}

/// Renders a review text with its tracked link and queues it in the outbox
/// (once per run and purpose, whatever crashes and retries happen).
async fn queue_text(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    business: &Business,
    request: &ReviewRequest,
    kind: TextKind,
) -> Result<(), EngineError> {
    let cfg = &wf.0.cfg;
    let lead = conversations::get_lead(&mut *conn, business.id, request.lead_id).await?;
    let name = lead.and_then(|l| l.name).and_then(|n| n.split_whitespace().next().map(str::to_owned));
    let link = format!("{}/r/{}", cfg.base_url, links::sign_review(&cfg.link_secret, request.id));
    let (template, today) = match kind {
        TextKind::Request { today } => ("review_request", today),
        TextKind::Reminder => ("review_reminder", false),
    };
    let body = wf.0.templates.render(template, context! { name, business => business.name, link, today })?;
    let row = NewOutbound {
        business_id: business.id,
        conversation_id: None,
        run_id: run.id,
        purpose: kind.purpose(),
        audience: Audience::Customer,
        from: &business.twilio_number,
        to: &request.phone,
        body: &body,
        validity_seconds: None,
    };
    messages::queue_outbound(&mut *conn, &row).await?;
    Ok(())
}
