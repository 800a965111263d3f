//! What an owner is told about.

use serde::Serialize;

/// One kind of owner notification; its name picks the templates
/// (`prompts/notify/{name}.sms.txt.j2`, `{name}.email.txt.j2`) and is stored
/// as the feed row's `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    MissedCall,
    QualifiedLead,
    AppointmentBooked,
    Emergency,
    HumanNeeded,
    ConversationSummary,
    DailySummary,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 7] = [
        NotifyEvent::MissedCall,
        NotifyEvent::QualifiedLead,
        NotifyEvent::AppointmentBooked,
        NotifyEvent::Emergency,
        NotifyEvent::HumanNeeded,
        NotifyEvent::ConversationSummary,
        NotifyEvent::DailySummary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::MissedCall => "missed_call",
            NotifyEvent::QualifiedLead => "qualified_lead",
            NotifyEvent::AppointmentBooked => "appointment_booked",
            NotifyEvent::Emergency => "emergency",
            NotifyEvent::HumanNeeded => "human_needed",
            NotifyEvent::ConversationSummary => "conversation_summary",
            NotifyEvent::DailySummary => "daily_summary",
        }
    }

    /// Whether its words use what we know of the lead (name, service,
    /// address, appointment): a missed call's are about the call alone, so
    /// its alert reads nothing more (two statements fewer per missed call).
    pub fn about_the_lead(self) -> bool {
        !matches!(self, NotifyEvent::MissedCall | NotifyEvent::DailySummary)
    }

    /// Urgent events break through quiet hours; only emergencies are.
    pub fn urgent(self) -> bool {
        matches!(self, NotifyEvent::Emergency)
    }
}

/// How a conversation ended, for `ConversationSummary` (`data.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Booked,
    NeedsFollowUp,
    Lost,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Booked => "booked",
            Outcome::NeedsFollowUp => "needs_follow_up",
            Outcome::Lost => "lost",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde_and_only_emergencies_are_urgent() {
        for e in NotifyEvent::ALL {
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
            assert_eq!(e.urgent(), e == NotifyEvent::Emergency);
        }
        assert_eq!(serde_json::to_value(Outcome::NeedsFollowUp).unwrap(), Outcome::NeedsFollowUp.as_str());
    }
}
