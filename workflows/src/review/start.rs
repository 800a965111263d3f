//! Starting a review request, inside the transaction that marks the job completed.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use activities::domain::{AppointmentId, BusinessId, LeadId, ReviewRequestId, RunId};
use activities::store::reviews::{self, NewReviewRequest};
use activities::store::{businesses, opt_outs};

use super::state::State;
use super::transition::send_at;
use crate::engine::runs::{self, Save};
use crate::engine::{EngineError, Workflows, REVIEW_REQUEST};

/// What completing a job did about a review request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStart {
    /// A request is scheduled for `send_at`.
    Started { run_id: RunId, review_request_id: ReviewRequestId, send_at: DateTime<Utc> },
    /// The lead was asked in the last 90 days: nothing new.
    RecentlyAsked,
    /// The customer opted out of this business's texts.
    OptedOut,
    /// The business has no Google place id to review.
    NoReviewLink,
}

impl ReviewStart {
    /// The word the API answers with.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReviewStart::Started { .. } => "scheduled",
            ReviewStart::RecentlyAsked => "recently_asked",
            ReviewStart::OptedOut => "opted_out",
            ReviewStart::NoReviewLink => "no_review_link",
        }
    }

    pub fn send_at(&self) -> Option<DateTime<Utc>> {
        match self {
            ReviewStart::Started { send_at, .. } => Some(*send_at),
            _ => None,
        }
    }
}

impl Workflows {
    /// Starts the review-request workflow for a lead whose job was just
    /// completed, in the caller's transaction. It locks the lead row until
    /// that transaction ends, so two completions racing for one lead start
    /// one request, and the other is told it was recently asked.
    pub async fn start_review_request(
        &self,
        conn: &mut PgConnection,
        business_id: BusinessId,
        lead_id: LeadId,
        appointment_id: Option<AppointmentId>,
    ) -> Result<ReviewStart, EngineError> {
        let lead = reviews::lock_lead(&mut *conn, business_id, lead_id).await?.ok_or(sqlx::Error::RowNotFound)?;
        let Some(place) = reviews::place_id(&mut *conn, business_id).await? else {
            return Ok(ReviewStart::NoReviewLink);
        };
        if opt_outs::is_opted_out(&mut *conn, business_id, &lead.phone).await? {
            return Ok(ReviewStart::OptedOut);
        }
        if reviews::recently_asked(&mut *conn, business_id, lead_id).await? {
            return Ok(ReviewStart::RecentlyAsked);
        }
        let business = businesses::get_business(&mut *conn, business_id).await?.ok_or(sqlx::Error::RowNotFound)?;
        let tz = lead.time_zone.unwrap_or(business.timezone).tz();
        let now = Utc::now();
        let due_at = send_at(now, self.0.cfg.review_delays[0], tz);
        let id = ReviewRequestId::new();
        let state = State::Scheduled { review_request_id: id, lead_id, completed_at: now, due_at };
        let key = format!("review:{lead_id}:{id}");
        let detail = serde_json::json!({"by": "job_completed", "appointment_id": appointment_id, "send_at": due_at});
        let due_now = due_at <= now;
        let (run_id, token) = self
            .create_run(&mut *conn, business_id, REVIEW_REQUEST, &key, &state, detail, due_now)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let url = reviews::google_review_url(&place);
        let row =
            NewReviewRequest { id, business_id, lead_id, run_id, appointment_id, phone: &lead.phone, review_url: &url };
        reviews::insert_review_request(&mut *conn, &row).await?;
        if !due_now {
            // Asleep until the request is due: the timer sweeper wakes it, no queue task waits 2 h.
            let save = Save {
                state: &state,
                status: "waiting",
                wake_token: Some(token),
                wake_at: Some(due_at),
                conversation_id: None,
                notes: &[],
            };
            runs::save_run(conn, (business_id, run_id), &save).await?;
        }
        Ok(ReviewStart::Started { run_id, review_request_id: id, send_at: due_at })
    }
}
