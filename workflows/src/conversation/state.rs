//! The conversation workflow's state, events and commands: plain data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use activities::booking::choice::Preference;
use activities::booking::Slot;
use activities::domain::{AppointmentId, CallId, ConversationId, LeadId, MessageId, PhoneNumber, Zone};
use activities::responder::Reply;

/// Where a conversation workflow stands. Persisted as JSONB on its run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum State {
    /// A missed call (`call_id` set) or a first text from a new number
    /// (`call_id` None) was recorded; nothing decided yet.
    Start {
        call_id: Option<CallId>,
        caller: PhoneNumber,
        called_at: DateTime<Utc>,
        /// The call's FromState, when Twilio sent one (None: look it up).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caller_state: Option<String>,
    },
    /// The text-back is queued; waiting to learn whether it went out.
    Greeting {
        conversation_id: ConversationId,
        lead_id: LeadId,
        caller: PhoneNumber,
    },
    /// Waiting for the customer; the next follow-up is due at `next_at`.
    /// `text_back_at` is our last message, the base of the follow-up schedule.
    Waiting {
        conversation_id: ConversationId,
        lead_id: LeadId,
        caller: PhoneNumber,
        text_back_at: DateTime<Utc>,
        follow_ups_sent: u8,
        next_at: DateTime<Utc>,
        /// Replies sent so far; numbers the outbox purposes of this cycle.
        #[serde(default)]
        turn: u32,
        #[serde(default)]
        booking: Booking,
    },
    /// The customer wrote; the reply is due at `due_at` (after the owner's
    /// window to answer first).
    Replying {
        conversation_id: ConversationId,
        lead_id: LeadId,
        caller: PhoneNumber,
        turn: u32,
        due_at: DateTime<Utc>,
        /// When the oldest unanswered text arrived: a reply more than five
        /// minutes later is no longer a direct reply and keeps daytime hours.
        #[serde(default)]
        since: Option<DateTime<Utc>>,
        #[serde(default)]
        booking: Booking,
    },
    /// The owner took over: no AI, no follow-ups; customer texts are forwarded.
    Human {
        conversation_id: ConversationId,
        lead_id: LeadId,
        caller: PhoneNumber,
        turn: u32,
        /// When the oldest text the owner has not answered arrived.
        unanswered: Option<DateTime<Utc>>,
        #[serde(default)]
        booking: Booking,
    },
    /// A one-off compliance reply (STOP confirmation, START, HELP) to a number
    /// with no live conversation.
    Notice {
        caller: PhoneNumber,
        notice: Notice,
    },
    Done {
        outcome: Outcome,
    },
}

/// Where booking stands in a live conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// The times last offered, in the order the customer saw them.
    #[serde(default)]
    pub offered: Vec<Slot>,
    /// Offers made so far; after two without agreement the owner takes it.
    #[serde(default)]
    pub offers: u8,
    /// The appointment being moved, when the customer asked to reschedule.
    #[serde(default)]
    pub moving: Option<AppointmentId>,
}

/// The one-off replies a keyword gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    OptOutConfirmation,
    OptIn,
    Help,
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
    /// A one-off notice was sent.
    Notified,
    /// An appointment was booked (or moved).
    Booked,
    /// The customer cancelled their appointment.
    Cancelled,
}

/// A signal the web layer sent the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalKind {
    /// A customer text was stored.
    CustomerText {
        message_id: MessageId,
    },
    /// The customer opted out (keyword or plain words); the webhook already recorded it.
    OptOut,
    /// The customer asked for HELP; `key` makes the answer's outbox purpose unique.
    Help {
        key: i64,
    },
    TakeOver,
    ReturnToAi,
    /// The owner wrote to the customer (from the API or the dashboard): they have the conversation now.
    OwnerMessage {
        key: i64,
        body: String,
    },
}

/// What the tick observed; the transition turns it into a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The run was woken (start, timer or retry) with these facts.
    Wake(WakeFacts),
    /// A conversation was opened for the caller; `zone` is the lead's own
    /// time zone (None: the business's), kept by the tick for its later rounds.
    Opened { conversation_id: ConversationId, lead_id: LeadId, zone: Option<Zone> },
    /// The caller already had one; the call was attached to it.
    Joined { conversation_id: ConversationId },
    /// The outbox row with this purpose reached a final state.
    Delivered { purpose: String, result: DeliveryResult },
    /// A signal from outside (customer text, owner takeover), in arrival order.
    Signal(SignalKind),
    /// The responder answered the texts pending at `turn`.
    Responded { turn: u32, reply: Box<Reply> },
    /// Times were offered to the customer (the text is queued).
    Offered { slots: Vec<Slot>, moving: Option<AppointmentId> },
    /// No time could be offered (the hand-off text is queued).
    NoSlots,
    /// The appointment is in the calendar (the confirmation is queued).
    Booked { appointment_id: AppointmentId },
    /// The customer's appointment was cancelled (the confirmation is queued).
    Cancelled,
    /// Asked to cancel or move, but no upcoming appointment was found (the answer is queued).
    NoAppointment,
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
    OwnerCallBack {
        reason: CallBackReason,
    },
    FollowUp {
        turn: u32,
        n: u8,
    },
    OptOutConfirmation,
    Help {
        key: i64,
    },
    /// Owner alerts about a live conversation.
    OwnerAlert {
        alert: Alert,
        turn: u32,
    },
    /// "Someone will call you shortly": the reply to `turn` when booking ends with the owner.
    HandOff {
        turn: u32,
    },
    /// The owner's end-of-conversation summary.
    Summary {
        outcome: Outcome,
    },
    /// A customer text relayed to the owner during a takeover.
    Forward {
        message_id: MessageId,
    },
    Notice(Notice),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    Qualified,
    Emergency,
    HumanNeeded,
    Booked,
    Cancelled,
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
    /// Ask the responder for a reply to the texts pending (slow: run outside any transaction).
    Respond {
        turn: u32,
    },
    /// Queue the responder's reply, frozen in the outbox.
    Reply {
        turn: u32,
        body: String,
    },
    /// The responder read an opt-out the keyword pass did not: record it.
    RecordOptOut,
    /// Offer appointment times as the reply to `turn` (slots read in the
    /// transaction; `prefer` narrows them, `exclude` drops ones already refused).
    Offer {
        turn: u32,
        prefer: Option<Preference>,
        exclude: Vec<Slot>,
        reschedule: bool,
    },
    /// Book (or move) the customer into `slot`; a taken slot gets a new offer.
    Book {
        turn: u32,
        slot: Slot,
        moving: Option<AppointmentId>,
        offers: u8,
    },
    /// Cancel the customer's upcoming appointment.
    CancelAppointment {
        turn: u32,
    },
    /// Queue the owner's own text to the customer.
    OwnerText {
        key: i64,
        body: String,
    },
    /// Store extracted lead fields (known values kept unless corrected).
    UpdateLead {
        lead_id: LeadId,
        reply: Box<Reply>,
    },
    FlagHuman {
        conversation_id: ConversationId,
    },
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
            TextKind::FollowUp { turn, n } => format!("follow_up_{turn}_{n}"),
            TextKind::OptOutConfirmation | TextKind::Notice(Notice::OptOutConfirmation) => {
                activities::sms::OPT_OUT_CONFIRMATION.into()
            }
            TextKind::Notice(n) => format!("notice_{n:?}").to_lowercase(),
            TextKind::Help { key } => format!("help_{key}"),
            // Qualified and emergency alerts go out once per conversation; a
            // responder reports `qualified` on every turn after it is true.
            TextKind::OwnerAlert {
                alert: alert @ (Alert::Qualified | Alert::Emergency | Alert::Booked | Alert::Cancelled),
                ..
            } => format!("alert_{alert:?}").to_lowercase(),
            TextKind::OwnerAlert { alert, turn } => format!("alert_{alert:?}_{turn}").to_lowercase(),
            TextKind::Forward { message_id } => format!("forward_{message_id}"),
            TextKind::HandOff { turn } => format!("reply_{turn}"),
            TextKind::Summary { .. } => "summary".into(),
        }
    }
}

impl State {
    /// The lead the conversation is about, once it has one.
    pub fn lead_id(&self) -> Option<LeadId> {
        match self {
            State::Greeting { lead_id, .. }
            | State::Waiting { lead_id, .. }
            | State::Replying { lead_id, .. }
            | State::Human { lead_id, .. } => Some(*lead_id),
            _ => None,
        }
    }

    /// When the run must be woken even if nothing else happens.
    pub fn wake_at(&self) -> Option<DateTime<Utc>> {
        match self {
            State::Waiting { next_at, .. } => Some(*next_at),
            State::Replying { due_at, .. } => Some(*due_at),
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
            State::Replying { .. } => "replying",
            State::Human { .. } => "human",
            State::Notice { .. } => "notice",
            State::Done { .. } => "done",
        }
    }
}
