//! Appointments and blocked times. The database refuses overlapping live
//! appointments of one business (exclusion constraint `appointments_no_overlap`,
//! migration 20261201000006), so two customers racing for a slot get one row
//! and one `SlotTaken`, whatever either checked first.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{Connection, FromRow, PgConnection, PgExecutor};

use crate::booking::{self, Slot, SlotRequest};
use crate::domain::ids::{AppointmentId, BlockedTimeId};
use crate::domain::{BusinessId, ConversationId, LeadId, PhoneNumber};
use crate::store::businesses::Business;

pub use super::appointment_status::AppointmentStatus;

/// What booking needs; `starts_at` is the slot's start.
#[derive(Debug, Clone)]
pub struct NewAppointment<'a> {
    pub business_id: BusinessId,
    pub lead_id: LeadId,
    pub conversation_id: Option<ConversationId>,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub service_type: Option<&'a str>,
    pub address: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub title: Option<&'a str>,
    pub customer_name: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct Appointment {
    pub id: AppointmentId,
    pub business_id: BusinessId,
    pub lead_id: LeadId,
    pub conversation_id: Option<ConversationId>,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub service_type: Option<String>,
    pub address: Option<String>,
    pub status: AppointmentStatus,
    pub notes: Option<String>,
    pub title: Option<String>,
    pub customer_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Appointment {
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.starts_at + Duration::minutes(i64::from(self.duration_minutes))
    }

    pub fn slot(&self) -> Slot {
        Slot { start: self.starts_at, end: self.ends_at() }
    }
}

/// The outcome of asking for a time. (Returned once per booking, never
/// stored in bulk: the size difference between variants does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booked {
    Created(Appointment),
    /// Another live appointment overlaps: offer again.
    SlotTaken,
}

/// The outcome of moving an appointment.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moved {
    Moved(Appointment),
    SlotTaken,
    /// No such live (not cancelled) appointment for this business.
    NotFound,
}

const COLUMNS: &str = "id, business_id, lead_id, conversation_id, starts_at, duration_minutes, service_type, \
    address, status, notes, title, customer_name, created_at, updated_at";

/// SQLSTATE `exclusion_violation`.
const EXCLUSION_VIOLATION: &str = "23P01";

fn is_overlap(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some(EXCLUSION_VIOLATION))
}

/// Racing writers of overlapping times deadlock in the exclusion check:
/// each inserted its row, then waits for the other's transaction (with
/// eight racers on one slot, CI saw some aborted again and again). So every
/// write of times first takes its business's booking lock, held until the
/// writer's transaction ends: writers of one business's times go one at a
/// time, and each sees the others' committed rows. (Taken again by the same
/// transaction, it is already held.) A deadlock that is still possible, with
/// locks the caller's own transaction held before, fails the write like any
/// other error; the caller's transaction is retried whole (a tick by the engine).
async fn lock_times(conn: &mut PgConnection, business_id: BusinessId) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('callrecover:appointments:' || $1::text, 0))")
        .bind(business_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends the savepoint of a write of times: commits a write that went
/// through; rolls back one refused as an overlap (None).
async fn end_write<T>(sp: sqlx::Transaction<'_, sqlx::Postgres>, result: sqlx::Result<T>) -> sqlx::Result<Option<T>> {
    match result {
        Ok(v) => {
            sp.commit().await?;
            Ok(Some(v))
        }
        Err(e) if is_overlap(&e) => {
            sp.rollback().await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Books the time, or reports it taken. The insert runs in its own savepoint
/// (`conn.begin()` nests when the caller has a transaction open), so a refused
/// overlap rolls back only the insert: the caller's transaction stays usable
/// and can go on to make a new offer. Outside a transaction it simply commits.
/// Racing bookings of one business wait for each other's transaction on its
/// booking lock; the second gets `SlotTaken` once the first commits.
pub async fn book(conn: &mut PgConnection, new: &NewAppointment<'_>) -> sqlx::Result<Booked> {
    let sql = format!(
        "INSERT INTO appointments (business_id, lead_id, conversation_id, starts_at, duration_minutes, \
         service_type, address, notes, title, customer_name) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING {COLUMNS}"
    );
    let mut sp = conn.begin().await?;
    lock_times(&mut sp, new.business_id).await?;
    let inserted = sqlx::query_as(&sql)
        .bind(new.business_id)
        .bind(new.lead_id)
        .bind(new.conversation_id)
        .bind(new.starts_at)
        .bind(new.duration_minutes)
        .bind(new.service_type)
        .bind(new.address)
        .bind(new.notes)
        .bind(new.title)
        .bind(new.customer_name)
        .fetch_one(&mut *sp)
        .await;
    Ok(end_write(sp, inserted).await?.map_or(Booked::SlotTaken, Booked::Created))
}

/// Moves a live appointment, in a savepoint as `book` does.
pub async fn reschedule(
    conn: &mut PgConnection,
    business_id: BusinessId,
    id: AppointmentId,
    starts_at: DateTime<Utc>,
    duration_minutes: i32,
) -> sqlx::Result<Moved> {
    let sql = format!(
        "UPDATE appointments SET starts_at = $3, duration_minutes = $4 \
         WHERE business_id = $1 AND id = $2 AND status <> 'cancelled' RETURNING {COLUMNS}"
    );
    let mut sp = conn.begin().await?;
    lock_times(&mut sp, business_id).await?;
    let updated: sqlx::Result<Option<Appointment>> = sqlx::query_as(&sql)
        .bind(business_id)
        .bind(id)
        .bind(starts_at)
        .bind(duration_minutes)
        .fetch_optional(&mut *sp)
        .await;
    Ok(match end_write(sp, updated).await? {
        None => Moved::SlotTaken,
        Some(found) => found.map_or(Moved::NotFound, Moved::Moved),
    })
}

/// The editable words of a calendar event; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Details<'a> {
    pub title: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub address: Option<&'a str>,
}

pub async fn update_details(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: AppointmentId,
    d: &Details<'_>,
) -> sqlx::Result<Option<Appointment>> {
    let sql = format!(
        "UPDATE appointments SET title = COALESCE($3, title), notes = COALESCE($4, notes), \
         address = COALESCE($5, address) \
         WHERE business_id = $1 AND id = $2 AND status <> 'cancelled' RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql).bind(business_id).bind(id).bind(d.title).bind(d.notes).bind(d.address).fetch_optional(db).await
}

pub async fn get(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: AppointmentId,
) -> sqlx::Result<Option<Appointment>> {
    let sql = format!("SELECT {COLUMNS} FROM appointments WHERE business_id = $1 AND id = $2");
    sqlx::query_as(&sql).bind(business_id).bind(id).fetch_optional(db).await
}

/// Where a page of `list` ended: the last row's start and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCursor {
    pub starts_at: DateTime<Utc>,
    pub id: AppointmentId,
}

/// Live (not cancelled) appointments overlapping `[from, to)`, by start then
/// id, at most `limit`, after `after` (keyset paging: stable while rows change).
pub async fn list(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
    after: Option<ListCursor>,
) -> sqlx::Result<Vec<Appointment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM appointments \
         WHERE business_id = $1 AND status <> 'cancelled' AND during && tstzrange($2, $3, '[)') \
           AND ($4::timestamptz IS NULL OR (starts_at, id) > ($4, $5)) \
         ORDER BY starts_at, id LIMIT $6"
    );
    sqlx::query_as(&sql)
        .bind(business_id)
        .bind(from)
        .bind(to)
        .bind(after.map(|c| c.starts_at))
        .bind(after.map(|c| c.id))
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Sets the status; None if there is no such appointment.
pub async fn set_status(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: AppointmentId,
    status: AppointmentStatus,
) -> sqlx::Result<Option<Appointment>> {
    let sql = format!("UPDATE appointments SET status = $3 WHERE business_id = $1 AND id = $2 RETURNING {COLUMNS}");
    sqlx::query_as(&sql).bind(business_id).bind(id).bind(status).fetch_optional(db).await
}

/// Cancels a live appointment, freeing its time; None if there is none
/// (unknown, or already cancelled).
pub async fn cancel(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: AppointmentId,
) -> sqlx::Result<Option<Appointment>> {
    let sql = format!(
        "UPDATE appointments SET status = 'cancelled' \
         WHERE business_id = $1 AND id = $2 AND status <> 'cancelled' RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql).bind(business_id).bind(id).fetch_optional(db).await
}

/// The lead's next scheduled or confirmed appointment that has not ended:
/// the one an SMS "reschedule" or "cancel" is about.
pub async fn active_for_lead(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    lead_id: LeadId,
) -> sqlx::Result<Option<Appointment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM appointments \
         WHERE business_id = $1 AND lead_id = $2 AND status IN ('scheduled', 'confirmed') AND upper(during) > now() \
         ORDER BY starts_at LIMIT 1"
    );
    sqlx::query_as(&sql).bind(business_id).bind(lead_id).fetch_optional(db).await
}

/// Keeps `[from, to)` free of bookings.
pub async fn add_blocked(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    reason: Option<&str>,
) -> sqlx::Result<BlockedTimeId> {
    sqlx::query_scalar(
        "INSERT INTO blocked_times (business_id, starts_at, ends_at, reason) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(business_id)
    .bind(from)
    .bind(to)
    .bind(reason)
    .fetch_one(db)
    .await
}

/// Live appointments and blocked times overlapping `[from, to)`, by start.
pub async fn busy_intervals(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
    sqlx::query_as(
        "SELECT lower(during) AS s, upper(during) AS e FROM appointments
          WHERE business_id = $1 AND status <> 'cancelled' AND during && tstzrange($2, $3, '[)')
         UNION ALL
         SELECT starts_at, ends_at FROM blocked_times
          WHERE business_id = $1 AND starts_at < $3 AND ends_at > $2
         ORDER BY 1, 2",
    )
    .bind(business_id)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
}

/// The business's open slots over its next `business_days` business days,
/// from its hours, zone and appointment length, the 2 h lead time, and what
/// is booked or blocked.
pub async fn open_slots(
    db: impl PgExecutor<'_>,
    business: &Business,
    now: DateTime<Utc>,
    business_days: u32,
) -> sqlx::Result<Vec<Slot>> {
    let length = Duration::minutes(i64::from(business.appointment_minutes));
    let mut req = slot_request(business, length, now, business_days);
    let days = booking::booking_days(&req);
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(Vec::new());
    };
    let (from, to) = day_span(*first, *last);
    let busy = busy_intervals(db, business.id, from, to).await?;
    req.busy = &busy;
    Ok(booking::available_slots(&req))
}

/// The open slots of `length` on one local date of the business.
pub async fn open_slots_on(
    db: impl PgExecutor<'_>,
    business: &Business,
    date: NaiveDate,
    length: Duration,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Slot>> {
    let (from, to) = day_span(date, date);
    let busy = busy_intervals(db, business.id, from, to).await?;
    let mut req = slot_request(business, length, now, 1);
    req.busy = &busy;
    Ok(booking::slots_on(&req, date))
}

fn slot_request(business: &Business, length: Duration, now: DateTime<Utc>, business_days: u32) -> SlotRequest<'_> {
    SlotRequest {
        hours: &business.business_hours.0,
        tz: business.timezone.tz(),
        length,
        lead_time: booking::LEAD_TIME,
        busy: &[],
        now,
        business_days,
    }
}

/// Generously covers local dates `first..=last` in any zone (UTC-12..UTC+14).
fn day_span(first: NaiveDate, last: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let from = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - Duration::hours(15);
    let to = last.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + Duration::hours(24 + 13);
    (from, to)
}

/// The lead a manual calendar event belongs to: found by phone, or created
/// with source `manual`; a known name is kept, a missing one filled in.
pub async fn manual_lead(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    phone: &PhoneNumber,
    name: Option<&str>,
) -> sqlx::Result<LeadId> {
    sqlx::query_scalar(
        "INSERT INTO leads (business_id, phone, name, source) VALUES ($1, $2, $3, 'manual')
         ON CONFLICT (business_id, phone) DO UPDATE SET name = COALESCE(leads.name, EXCLUDED.name)
         RETURNING id",
    )
    .bind(business_id)
    .bind(phone)
    .bind(name)
    .fetch_one(db)
    .await
}

/// Whether the lead exists for this business (manual events may name one by id).
pub async fn lead_exists(db: impl PgExecutor<'_>, business_id: BusinessId, lead_id: LeadId) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM leads WHERE business_id = $1 AND id = $2)")
        .bind(business_id)
        .bind(lead_id)
        .fetch_one(db)
        .await
}

/// The lead's most recently changed appointment, whatever its status: what
/// an owner alert about a booking or a cancellation names.
pub async fn latest_for_lead(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    lead_id: LeadId,
) -> sqlx::Result<Option<Appointment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM appointments WHERE business_id = $1 AND lead_id = $2 \
         ORDER BY updated_at DESC LIMIT 1"
    );
    sqlx::query_as(&sql).bind(business_id).bind(lead_id).fetch_optional(db).await
}
