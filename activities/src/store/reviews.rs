//! Review requests and marking work completed. At most one request per lead
//! per 90 days: the caller locks the lead row (so racing completions queue up
//! and the second sees the first), and an exclusion constraint backs it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgExecutor};

use crate::domain::{AppointmentId, BusinessId, LeadId, PhoneNumber, ReviewRequestId, RunId, Zone};

/// A lead gets at most one review request in this long (the migration's window).
pub const ONE_REQUEST_PER: chrono::Duration = chrono::Duration::seconds(7_776_000);

/// Google's "write a review" page for a place (seed 000 §11).
pub fn google_review_url(place_id: &str) -> String {
    let mut url = String::from("https://search.google.com/local/writereview?placeid=");
    for b in place_id.trim().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Who a review request goes to.
#[derive(Debug, Clone, FromRow)]
pub struct LeadContact {
    pub phone: PhoneNumber,
    pub name: Option<String>,
    pub time_zone: Option<Zone>,
}

/// Locks the lead for the rest of the transaction: one review decision per lead at a time.
pub async fn lock_lead(
    conn: &mut PgConnection,
    business_id: BusinessId,
    lead_id: LeadId,
) -> sqlx::Result<Option<LeadContact>> {
    sqlx::query_as("SELECT phone, name, time_zone FROM leads WHERE business_id = $1 AND id = $2 FOR UPDATE")
        .bind(business_id)
        .bind(lead_id)
        .fetch_optional(conn)
        .await
}

/// The business's Google place id, if it has one.
pub async fn place_id(db: impl PgExecutor<'_>, business_id: BusinessId) -> sqlx::Result<Option<String>> {
    let id: Option<Option<String>> = sqlx::query_scalar("SELECT google_place_id FROM businesses WHERE id = $1")
        .bind(business_id)
        .fetch_optional(db)
        .await?;
    Ok(id.flatten().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()))
}

/// Sets (or clears) the business's Google place id.
pub async fn set_place_id(db: impl PgExecutor<'_>, business_id: BusinessId, place: Option<&str>) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE businesses SET google_place_id = $2 WHERE id = $1")
        .bind(business_id)
        .bind(place.map(str::trim).filter(|p| !p.is_empty()))
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether the lead was asked for a review in the last 90 days.
pub async fn recently_asked(db: impl PgExecutor<'_>, business_id: BusinessId, lead_id: LeadId) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM review_requests WHERE business_id = $1 AND lead_id = $2
                          AND created_at > now() - $3::interval)",
    )
    .bind(business_id)
    .bind(lead_id)
    .bind(ONE_REQUEST_PER)
    .fetch_one(db)
    .await
}

#[derive(Debug, Clone)]
pub struct NewReviewRequest<'a> {
    pub id: ReviewRequestId,
    pub business_id: BusinessId,
    pub lead_id: LeadId,
    pub run_id: RunId,
    pub appointment_id: Option<AppointmentId>,
    pub phone: &'a PhoneNumber,
    pub review_url: &'a str,
}

pub async fn insert_review_request(db: impl PgExecutor<'_>, r: &NewReviewRequest<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO review_requests (id, business_id, lead_id, run_id, appointment_id, phone, review_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(r.id)
    .bind(r.business_id)
    .bind(r.lead_id)
    .bind(r.run_id)
    .bind(r.appointment_id)
    .bind(r.phone)
    .bind(r.review_url)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ReviewRequest {
    pub id: ReviewRequestId,
    pub business_id: BusinessId,
    pub lead_id: LeadId,
    pub run_id: Option<RunId>,
    pub appointment_id: Option<AppointmentId>,
    pub phone: PhoneNumber,
    pub review_url: String,
    pub status: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub reminder_sent_at: Option<DateTime<Utc>>,
    pub clicked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn get_review_request(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: ReviewRequestId,
) -> sqlx::Result<Option<ReviewRequest>> {
    sqlx::query_as(
        "SELECT id, business_id, lead_id, run_id, appointment_id, phone, review_url, status, sent_at,
                reminder_sent_at, clicked_at, created_at
         FROM review_requests WHERE business_id = $1 AND id = $2",
    )
    .bind(business_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Moves a request the workflow's way (`sent`, `reminded`, `opted_out`,
/// `cancelled`), stamping when each text went out. A clicked request stays `completed`.
pub async fn set_status(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: ReviewRequestId,
    status: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE review_requests SET status = $3,
                sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END,
                reminder_sent_at = CASE WHEN $3 = 'reminded' THEN now() ELSE reminder_sent_at END
         WHERE business_id = $1 AND id = $2 AND clicked_at IS NULL",
    )
    .bind(business_id)
    .bind(id)
    .bind(status)
    .execute(db)
    .await?;
    Ok(())
}

/// A click on a tracked review link.
#[derive(Debug, Clone)]
pub struct Click {
    pub business_id: BusinessId,
    pub run_id: Option<RunId>,
    /// Where the customer goes: the business's current place, else the URL sent.
    pub review_url: String,
    /// False when the link had been opened before (the click is recorded once).
    pub first: bool,
}

/// Records the first click (`clicked_at`, status `completed`); a later one
/// changes nothing. None for an unknown request.
pub async fn record_click(conn: &mut PgConnection, id: ReviewRequestId, record: bool) -> sqlx::Result<Option<Click>> {
    let first: Option<ReviewRequestId> = if record {
        sqlx::query_scalar(
            "UPDATE review_requests SET clicked_at = now(), status = 'completed'
             WHERE id = $1 AND clicked_at IS NULL RETURNING id",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    } else {
        None
    };
    let row: Option<(BusinessId, Option<RunId>, String, Option<String>)> = sqlx::query_as(
        "SELECT r.business_id, r.run_id, r.review_url, b.google_place_id
         FROM review_requests r JOIN businesses b ON b.id = r.business_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(business_id, run_id, sent_url, place)| {
        let place = place.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        let review_url = place.map_or(sent_url, |p| google_review_url(&p));
        Click { business_id, run_id, review_url, first: first.is_some() }
    }))
}

/// Marks a lead's job completed. False if the lead is not this business's.
/// Found by its key whatever the statistics (see `conversations::lead_move_sql`).
pub async fn complete_lead(db: impl PgExecutor<'_>, business_id: BusinessId, lead_id: LeadId) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE leads SET status = 'completed' WHERE id = $2 AND business_id IS NOT DISTINCT FROM $1")
        .bind(business_id)
        .bind(lead_id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// What marking an appointment completed did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentCompletion {
    /// The appointment and its lead are `completed`.
    Completed {
        lead_id: LeadId,
    },
    /// A cancelled appointment cannot be completed.
    Cancelled,
    NotFound,
}

/// Marks an appointment completed, and its lead with it.
pub async fn complete_appointment(
    conn: &mut PgConnection,
    business_id: BusinessId,
    id: AppointmentId,
) -> sqlx::Result<AppointmentCompletion> {
    let row: Option<(String, LeadId)> =
        sqlx::query_as("SELECT status, lead_id FROM appointments WHERE business_id = $1 AND id = $2 FOR UPDATE")
            .bind(business_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((status, lead_id)) = row else {
        return Ok(AppointmentCompletion::NotFound);
    };
    if status == "cancelled" {
        return Ok(AppointmentCompletion::Cancelled);
    }
    sqlx::query("UPDATE appointments SET status = 'completed' WHERE business_id = $1 AND id = $2")
        .bind(business_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    complete_lead(&mut *conn, business_id, lead_id).await?;
    Ok(AppointmentCompletion::Completed { lead_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_url_carries_the_place_id_url_encoded() {
        assert_eq!(
            google_review_url("ChIJN1t_tDeuEmsRUsoyG83frY4"),
            "https://search.google.com/local/writereview?placeid=ChIJN1t_tDeuEmsRUsoyG83frY4"
        );
        assert_eq!(
            google_review_url(" a b&c=d/é "),
            "https://search.google.com/local/writereview?placeid=a%20b%26c%3Dd%2F%C3%A9"
        );
    }
}
