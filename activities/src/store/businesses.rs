//! Businesses: the tenants.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{types::Json, FromRow, PgExecutor};

use crate::domain::{BusinessHours, BusinessId, PhoneNumber, Zone};
use crate::notify::NotificationPrefs;

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct Business {
    pub id: BusinessId,
    pub name: String,
    pub owner_name: String,
    pub owner_email: String,
    pub owner_phone: PhoneNumber,
    pub business_phone: PhoneNumber,
    pub twilio_number: PhoneNumber,
    pub timezone: Zone,
    pub business_hours: Json<BusinessHours>,
    pub services: Vec<String>,
    pub avg_job_value: Decimal,
    pub ai_greeting: Option<String>,
    pub ai_instructions: Option<String>,
    pub call_screening: bool,
    pub owner_status: String,
    pub owner_window_seconds: i32,
    pub disclose_bot: bool,
    pub subscription_status: String,
    /// How long one booked appointment lasts (15–600, default 90).
    pub appointment_minutes: i32,
    pub created_at: DateTime<Utc>,
    /// As stored; [`Business::prefs`] reads it. Read with the row so a tick
    /// that notifies the owner does not read the business twice.
    #[serde(skip)]
    pub notification_prefs: Json<serde_json::Value>,
}

impl Business {
    /// Paused and cancelled businesses send nothing.
    pub fn is_active(&self) -> bool {
        matches!(self.subscription_status.as_str(), "active" | "trial")
    }

    pub fn is_open_at(&self, at: DateTime<Utc>) -> bool {
        self.business_hours.0.is_open(at, self.timezone.tz())
    }

    /// The owner's notification preferences, as of when the row was read.
    pub fn prefs(&self) -> NotificationPrefs {
        NotificationPrefs::from_json(&self.notification_prefs.0)
    }
}

/// What an operator supplies to onboard a business.
#[derive(Debug, Clone)]
pub struct NewBusiness {
    pub name: String,
    pub owner_name: String,
    pub owner_email: String,
    pub owner_phone: PhoneNumber,
    pub business_phone: PhoneNumber,
    pub twilio_number: PhoneNumber,
    pub timezone: Zone,
    pub avg_job_value: Decimal,
    pub services: Vec<String>,
    pub ai_greeting: Option<String>,
    pub call_screening: bool,
    /// The length of a booked appointment (the schema allows 15–600; 90 is the default).
    pub appointment_minutes: i32,
}

const COLUMNS: &str = "id, name, owner_name, owner_email, owner_phone, business_phone, twilio_number, \
    timezone, business_hours, services, avg_job_value, ai_greeting, ai_instructions, call_screening, \
    owner_status, owner_window_seconds, disclose_bot, subscription_status, appointment_minutes, created_at, \
    notification_prefs";

pub async fn insert_business(db: impl PgExecutor<'_>, b: &NewBusiness) -> sqlx::Result<Business> {
    let sql = format!(
        "INSERT INTO businesses (name, owner_name, owner_email, owner_phone, business_phone, \
         twilio_number, timezone, avg_job_value, services, ai_greeting, call_screening, appointment_minutes) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(&b.name)
        .bind(&b.owner_name)
        .bind(&b.owner_email)
        .bind(&b.owner_phone)
        .bind(&b.business_phone)
        .bind(&b.twilio_number)
        .bind(b.timezone)
        .bind(b.avg_job_value)
        .bind(&b.services)
        .bind(&b.ai_greeting)
        .bind(b.call_screening)
        .bind(b.appointment_minutes)
        .fetch_one(db)
        .await
}

pub async fn get_business(db: impl PgExecutor<'_>, id: BusinessId) -> sqlx::Result<Option<Business>> {
    let sql = format!("SELECT {COLUMNS} FROM businesses WHERE id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// The business with its row version ([`super::business_cache::version_sql`]).
pub async fn get_business_versioned(
    db: impl PgExecutor<'_>,
    id: BusinessId,
) -> sqlx::Result<Option<(Business, String)>> {
    #[derive(FromRow)]
    struct Versioned {
        #[sqlx(flatten)]
        business: Business,
        version: String,
    }
    let version = super::business_cache::version_sql("b");
    let sql = format!("SELECT {COLUMNS}, {version} AS version FROM businesses b WHERE id = $1");
    let row: Option<Versioned> = sqlx::query_as(&sql).bind(id).fetch_optional(db).await?;
    Ok(row.map(|r| (r.business, r.version)))
}

/// Tenant resolution for Twilio webhooks: our number is the `To` of the call.
pub async fn find_by_twilio_number(db: impl PgExecutor<'_>, number: &PhoneNumber) -> sqlx::Result<Option<Business>> {
    let sql = format!("SELECT {COLUMNS} FROM businesses WHERE twilio_number = $1");
    sqlx::query_as(&sql).bind(number).fetch_optional(db).await
}

pub async fn list_businesses(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Business>> {
    let sql = format!("SELECT {COLUMNS} FROM businesses ORDER BY created_at, id");
    sqlx::query_as(&sql).fetch_all(db).await
}

/// `trial`, `active`, `paused` or `cancelled` (the database checks the value).
pub async fn set_subscription_status(db: impl PgExecutor<'_>, id: BusinessId, status: &str) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE businesses SET subscription_status = $2 WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}
