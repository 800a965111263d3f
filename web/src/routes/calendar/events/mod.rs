//! Calendar events: the business's appointments seen as a calendar (seed
//! 004's `CalendarEvent`). Creating one books a manual appointment; deleting
//! one cancels it, which frees its time.

pub mod create;
pub mod delete;
pub mod list;
pub mod update;

use chrono::{DateTime, Utc};
use serde::Serialize;

use activities::domain::{AppointmentId, ConversationId, LeadId};
use activities::store::appointments::{Appointment, AppointmentStatus};

use super::error::CalendarError;

#[derive(Debug, Serialize)]
pub struct Event {
    pub id: AppointmentId,
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub status: AppointmentStatus,
    #[serde(rename = "customData")]
    pub custom_data: EventData,
}

/// What the calendar knows beyond the seed's fields.
#[derive(Debug, Serialize)]
pub struct EventData {
    pub lead_id: LeadId,
    pub conversation_id: Option<ConversationId>,
    pub customer_name: Option<String>,
    pub service_type: Option<String>,
}

impl From<Appointment> for Event {
    fn from(a: Appointment) -> Self {
        let end = a.ends_at();
        let title = a.title.clone().or_else(|| a.service_type.clone()).unwrap_or_else(|| "Appointment".to_owned());
        Event {
            id: a.id,
            title,
            start: a.starts_at,
            end,
            description: a.notes,
            location: a.address,
            status: a.status,
            custom_data: EventData {
                lead_id: a.lead_id,
                conversation_id: a.conversation_id,
                customer_name: a.customer_name,
                service_type: a.service_type,
            },
        }
    }
}

/// An event id from the path: anything that is not one of ours is not found.
fn event_id(raw: &str) -> Result<AppointmentId, CalendarError> {
    raw.parse().map_err(|_| CalendarError::NotFound("event"))
}

/// `end - start` as whole minutes, 1 to 24 hours.
fn minutes_between(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<i32, CalendarError> {
    let span = end - start;
    let minutes = span.num_minutes();
    if span <= chrono::Duration::zero() || span != chrono::Duration::minutes(minutes) || minutes > 24 * 60 {
        return Err(super::error::invalid("end must be after start, by whole minutes, at most 24 hours"));
    }
    i32::try_from(minutes).map_err(|_| super::error::invalid("event too long"))
}
