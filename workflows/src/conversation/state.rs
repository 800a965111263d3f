//! The conversation workflow's state, events and commands: plain data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use activities::domain::{CallId, ConversationId, LeadId, PhoneNumber};

/// Where a conversation workflow stands. Persisted as JSONB on its run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum State {
    /// A missed call was recorded; nothing decided yet.
    Start {
        call_id: Option<CallId>,
        caller: PhoneNumber,
        called_at: DateTime<Utc>,
    },
    /// The text-back is queued; waiting to learn whether it went out.
    Greeting {
        conversation_id: ConversationId,
        lead_id: LeadId,
        caller: PhoneNumber,
    },
    /// Waiting for the customer; the next follow-up is due at `next_at`.
    Waiting {
        conversation_id: ConversationId,
        lead_id: LeadId,
        caller: PhoneNumber,
        text_back_at: DateTime<Utc>,
        follow_ups_sent: u8,
        next_at: DateTime<Utc>,
    },
    Done {
        outcome: Outcome,
    },
}

/// How a conversation workflow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Paused or cancelled business: nothing sent.
    BusinessInactive,
    OptedOut,
    /// The caller's number cannot take texts; the owner was asked to call back.
    Unreachable,
    /// The caller already had an open conversation; the call joined it.
    Joined,
    /// The text-back was refused for another reason; the owner was asked to call back.
    TextBackFailed,
    /// Three follow-ups without a reply.
    NoResponse,
}

/// What the tick observed; the transition turns it into a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The run was woken (start, timer or retry) with these facts.
    Wake(WakeFacts),
    /// A conversation was opened for the caller.
    Opened { conversation_id: ConversationId, lead_id: LeadId },
    /// The caller already had one; the call was attached to it.
    Joined { conversation_id: ConversationId },
    /// The outbox row with this purpose reached a final state.
    Delivered { purpose: String, result: DeliveryResult },
    /// A signal from outside (customer text, owner takeover), in arrival order.
    Signal { kind: String, payload: serde_json::Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WakeFacts {
    pub business_active: bool,
    pub opted_out: bool,
    pub unreachable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    Sent,
    OptedOut,
    Unreachable,
    Failed,
}

/// Which wording a text uses (templates in `prompts/sms/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    TextBack,
    OwnerMissedCall,
    OwnerCallBack { reason: CallBackReason },
    FollowUp(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallBackReason {
    Landline,
    OptedOutBefore,
    SendFailed,
}

/// Side effects the tick carries out inside the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    OpenConversation,
    Text(TextKind),
    LeadStatus {
        lead_id: LeadId,
        to: &'static str,
        from: &'static [&'static str],
    },
    Conversation {
        conversation_id: ConversationId,
        status: &'static str,
        follow_ups: i32,
        next_at: Option<DateTime<Utc>>,
    },
}

impl TextKind {
    /// The outbox purpose: unique per run, so a re-run never queues it twice.
    pub fn purpose(self) -> String {
        match self {
            TextKind::TextBack => "text_back".into(),
            TextKind::OwnerMissedCall => "owner_missed_call".into(),
            TextKind::OwnerCallBack { .. } => "owner_call_back".into(),
            TextKind::FollowUp(n) => format!("follow_up_{n}"),
        }
    }
}

impl State {
    /// When the run must be woken even if nothing else happens.
    pub fn wake_at(&self) -> Option<DateTime<Utc>> {
        match self {
            State::Waiting { next_at, .. } => Some(*next_at),
            _ => None,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, State::Done { .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            State::Start { .. } => "start",
            State::Greeting { .. } => "greeting",
            State::Waiting { .. } => "waiting",
            State::Done { .. } => "done",
        }
    }
}
