//! After the storm: wait until nothing is due, then compare what the fake
//! Twilio holds (the truth about what was sent) with what each caller should
//! have got and with what the database recorded.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{FromRow, PgPool};

use activities::store::businesses::Business;

use super::traffic::Played;
use crate::fake_twilio::{FakeTwilio, Sent};

/// What the checks found; every count but `runs` and `replies` should be 0.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Findings {
    pub runs: i64,
    /// Ticks the workers ran (underway tasks), for ticks per workflow.
    pub ticks: i64,
    pub replies: usize,
    pub text_backs_missing: usize,
    pub text_backs_duplicated: usize,
    pub replies_missing: usize,
    pub replies_duplicated: usize,
    pub owner_alerts_missing: usize,
    pub owner_alerts_duplicated: usize,
    /// Messages Twilio has whose sid no outbox row recorded.
    pub sends_unrecorded: usize,
    pub stuck: i64,
    pub webhook_errors: usize,
    /// Callers whose webhooks arrived twice at once.
    pub repeated_webhooks: usize,
}

/// A run waking within this long is still at work, not asleep: a tick that
/// found a text in flight elsewhere looks again after the send lease (3 s
/// here) or at most `IN_FLIGHT_RECHECK` (5 s); with follow-ups off every real
/// timer is far away.
const SOON_S: f64 = 30.0;

/// Waits until no run is due or about to wake, no text is pending and no tick
/// is queued; false if that did not happen within `timeout`.
pub async fn settle(pool: &PgPool, timeout: Duration) -> sqlx::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let busy: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM workflow_runs WHERE status = 'active'
                       OR (status = 'waiting' AND wake_at <= now() + make_interval(secs => $2)))
                  + (SELECT count(*) FROM messages WHERE direction = 'outbound' AND status IN ('queued', 'sending'))
                  + (SELECT count(*) FROM underway.task WHERE task_queue_name = $1
                       AND state IN ('pending', 'in_progress'))",
        )
        .bind(workflows::engine::QUEUE)
        .bind(SOON_S)
        .fetch_one(pool)
        .await?;
        if busy == 0 {
            // Anything a late duplicate would need has had time to reach Twilio.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Debug, FromRow)]
struct Outbound {
    to_phone: String,
    audience: String,
    purpose: Option<String>,
    body: String,
    twilio_message_sid: Option<String>,
}

pub async fn findings(
    pool: &PgPool,
    fake: &FakeTwilio,
    played: &[Played],
    business: &Business,
) -> sqlx::Result<Findings> {
    let sent = fake.sent();
    let rows: Vec<Outbound> = sqlx::query_as(
        "SELECT to_phone, audience, purpose, body, twilio_message_sid FROM messages WHERE direction = 'outbound'",
    )
    .fetch_all(pool)
    .await?;
    let inbound: HashMap<String, i64> =
        sqlx::query_as("SELECT from_phone, count(*) FROM messages WHERE direction = 'inbound' GROUP BY from_phone")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let mut f = Findings {
        runs: sqlx::query_scalar("SELECT count(*) FROM workflow_runs").fetch_one(pool).await?,
        stuck: stuck(pool).await?,
        ticks: sqlx::query_scalar("SELECT count(*) FROM underway.task WHERE task_queue_name = $1")
            .bind(workflows::engine::QUEUE)
            .fetch_one(pool)
            .await?,
        webhook_errors: played.iter().map(|p| p.webhook_errors).sum(),
        repeated_webhooks: played.iter().filter(|p| p.repeated).count(),
        ..Findings::default()
    };
    customers(&mut f, played, &sent, &rows, &inbound);
    owner(&mut f, &sent, &rows, business.owner_phone.as_str());
    let recorded: HashSet<&str> = rows.iter().filter_map(|r| r.twilio_message_sid.as_deref()).collect();
    f.sends_unrecorded = sent.iter().filter(|s| !recorded.contains(s.sid.as_str())).count();
    Ok(f)
}

/// Per caller: exactly one text-back, and exactly one answer per text they sent.
fn customers(f: &mut Findings, played: &[Played], sent: &[Sent], rows: &[Outbound], inbound: &HashMap<String, i64>) {
    let mut to: HashMap<&str, Vec<&Sent>> = HashMap::new();
    for s in sent {
        to.entry(s.to.as_str()).or_default().push(s);
    }
    for p in played {
        let texts = to.get(p.caller.as_str()).map(Vec::as_slice).unwrap_or_default();
        let text_back = rows.iter().find(|r| r.to_phone == p.caller && r.purpose.as_deref() == Some("text_back"));
        let text_backs = text_back.map_or(0, |r| texts.iter().filter(|s| s.body == r.body).count());
        f.text_backs_missing += usize::from(text_backs == 0);
        f.text_backs_duplicated += text_backs.saturating_sub(1);
        // Follow-ups are off: everything else a caller got answers one of their texts.
        let answers = texts.len() - text_backs;
        let asked =
            usize::try_from(inbound.get(&p.caller).copied().unwrap_or(0)).unwrap_or(0).max(usize::from(p.replied));
        f.replies += answers.min(asked);
        f.replies_missing += asked.saturating_sub(answers);
        f.replies_duplicated += answers.saturating_sub(asked);
    }
}

/// Owner alerts: each outbox row's body at Twilio exactly once.
fn owner(f: &mut Findings, sent: &[Sent], rows: &[Outbound], owner_phone: &str) {
    let mut bodies: HashMap<&str, usize> = HashMap::new();
    for s in sent.iter().filter(|s| s.to == owner_phone) {
        *bodies.entry(s.body.as_str()).or_default() += 1;
    }
    f.owner_alerts_duplicated = bodies.values().map(|n| n.saturating_sub(1)).sum();
    f.owner_alerts_missing =
        rows.iter().filter(|r| r.audience == "owner" && !bodies.contains_key(r.body.as_str())).count();
}

/// Runs neither finished, with the owner, nor sleeping until a future time;
/// or holding a text whose delivery is overdue.
async fn stuck(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM workflow_runs r
         WHERE NOT (r.status IN ('completed', 'human') OR (r.status = 'waiting' AND r.wake_at > now()))
            OR EXISTS (SELECT 1 FROM messages m WHERE m.run_id = r.id AND m.status IN ('queued', 'sending')
                         AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= now()))",
    )
    .fetch_one(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: &str = "+15123000001";
    const OWNER: &str = "+15125550142";
    const TEXT_BACK: &str = "Sorry we missed your call";

    fn sent(to: &str, body: &str) -> Sent {
        Sent {
            sid: format!("SM{}", uuid::Uuid::new_v4().simple()),
            to: to.into(),
            from: "+15125550100".into(),
            body: body.into(),
            status_callback: None,
            validity_period: None,
            at: Instant::now(),
            created: chrono::Utc::now(),
        }
    }

    fn row(to: &str, audience: &str, purpose: &str, body: &str) -> Outbound {
        Outbound {
            to_phone: to.into(),
            audience: audience.into(),
            purpose: Some(purpose.into()),
            body: body.into(),
            twilio_message_sid: None,
        }
    }

    fn check(texts: &[&str], replied: bool) -> Findings {
        let played = [Played { caller: CALLER.into(), replied, webhook_errors: 0, repeated: false }];
        let sent: Vec<Sent> = texts.iter().map(|b| sent(CALLER, b)).collect();
        let rows = [row(CALLER, "customer", "text_back", TEXT_BACK), row(CALLER, "customer", "reply_1", "Name?")];
        let inbound = HashMap::from([(CALLER.to_owned(), i64::from(replied))]);
        let mut f = Findings::default();
        customers(&mut f, &played, &sent, &rows, &inbound);
        f
    }

    #[test]
    fn one_text_back_and_one_answer_per_reply_pass() {
        let f = check(&[TEXT_BACK, "Name?"], true);
        assert_eq!(
            (f.text_backs_missing, f.text_backs_duplicated, f.replies_missing, f.replies_duplicated),
            (0, 0, 0, 0)
        );
        assert_eq!(f.replies, 1);
    }

    #[test]
    fn a_text_back_sent_twice_or_never_is_counted() {
        assert_eq!(check(&[TEXT_BACK, TEXT_BACK, "Name?"], true).text_backs_duplicated, 1);
        assert_eq!(check(&["Name?"], true).text_backs_missing, 1);
    }

    #[test]
    fn an_answer_sent_twice_or_never_is_counted() {
        assert_eq!(check(&[TEXT_BACK, "Name?", "Name?"], true).replies_duplicated, 1);
        assert_eq!(check(&[TEXT_BACK], true).replies_missing, 1);
        assert_eq!(check(&[TEXT_BACK, "Name?"], false).replies_duplicated, 1, "an answer nobody asked for");
    }

    #[test]
    fn owner_alerts_must_reach_twilio_once_each() {
        let rows = [row(OWNER, "owner", "owner_missed_call", "a"), row(OWNER, "owner", "owner_missed_call", "b")];
        let mut f = Findings::default();
        owner(&mut f, &[sent(OWNER, "a"), sent(OWNER, "a")], &rows, OWNER);
        assert_eq!((f.owner_alerts_duplicated, f.owner_alerts_missing), (1, 1));
    }
}
