//! Value types shared by every layer, parsed once at the edge.

pub mod hours;
pub mod ids;
pub mod phone;
pub mod us_state;
pub mod zone;

pub use hours::BusinessHours;
pub use ids::{
    AppointmentId, BlockedTimeId, BusinessId, CallId, ConversationId, LeadId, MessageId, ReviewRequestId, RunId,
};
pub use phone::{PhoneError, PhoneNumber};
pub use zone::{Zone, ZoneError};
