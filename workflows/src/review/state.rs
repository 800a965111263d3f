//! The review-request workflow's state, events and commands: plain data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use activities::domain::{LeadId, ReviewRequestId};

/// Where a review request stands. Persisted as JSONB on its run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum State {
    /// The job was completed at `completed_at`; the request goes out at `due_at`.
    Scheduled {
        review_request_id: ReviewRequestId,
        lead_id: LeadId,
        completed_at: DateTime<Utc>,
        due_at: DateTime<Utc>,
    },
    /// The request went out at `sent_at`; the one reminder is due at `due_at`
    /// unless the customer clicks first.
    Requested {
        review_request_id: ReviewRequestId,
        lead_id: LeadId,
        sent_at: DateTime<Utc>,
        due_at: DateTime<Utc>,
    },
    Done {
        outcome: Outcome,
    },
}

/// How a review request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The customer opened the review link.
    Clicked,
    /// The request and the one reminder went out; nothing more ever will.
    Reminded,
    /// The customer opted out before a text was due: nothing more sent.
    OptedOut,
    /// The business was paused or cancelled, or the number cannot take texts.
    Cancelled,
}

/// What the tick observed when the run woke (start, timer, click or retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub business_active: bool,
    pub opted_out: bool,
    pub unreachable: bool,
    /// The review link was opened (`review_requests.clicked_at`).
    pub clicked: bool,
}

/// The two texts (templates `prompts/sms/review_{request,reminder}.txt.j2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// `today`: the job was completed the same local day the request goes out.
    Request {
        today: bool,
    },
    Reminder,
}

impl TextKind {
    /// The outbox purpose: unique per run, so each text is queued (and sent) once.
    pub fn purpose(self) -> &'static str {
        match self {
            TextKind::Request { .. } => "review_request",
            TextKind::Reminder => "review_reminder",
        }
    }
}

/// `review_requests.status` as the workflow moves it (a click sets `completed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Sent,
    Reminded,
    OptedOut,
    Cancelled,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Sent => "sent",
            RequestStatus::Reminded => "reminded",
            RequestStatus::OptedOut => "opted_out",
            RequestStatus::Cancelled => "cancelled",
        }
    }
}

/// Side effects the tick carries out inside its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Text(TextKind),
    Status(RequestStatus),
}

impl State {
    /// When the run must be woken even if nothing else happens.
    pub fn wake_at(&self) -> Option<DateTime<Utc>> {
        match self {
            State::Scheduled { due_at, .. } | State::Requested { due_at, .. } => Some(*due_at),
            State::Done { .. } => None,
        }
    }

    pub fn review_request_id(&self) -> Option<ReviewRequestId> {
        match self {
            State::Scheduled { review_request_id, .. } | State::Requested { review_request_id, .. } => {
                Some(*review_request_id)
            }
            State::Done { .. } => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            State::Scheduled { .. } => "scheduled",
            State::Requested { .. } => "requested",
            State::Done { .. } => "done",
        }
    }
}
