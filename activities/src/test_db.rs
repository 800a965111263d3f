//! Database fixtures for this crate's `#[sqlx::test(migrations = false)]` tests.

use rust_decimal::Decimal;
use sqlx::PgPool;

use crate::domain::{BusinessId, MessageId, PhoneNumber, RunId, Zone};
use crate::store::businesses::{self, Business, NewBusiness};
use crate::store::messages::{queue_outbound, Audience, NewOutbound};

/// Applies underway's migrations, then ours (ours index underway's tables).
pub async fn migrated(pool: &PgPool) {
    underway::run_migrations(pool).await.expect("underway migrations");
    crate::migrate(pool).await.expect("migrations");
}

/// A business in `zone` with the owner and numbers of the demo.
pub async fn business(pool: &PgPool, zone: &str) -> Business {
    business_with(pool, zone, "+15125550100").await
}

/// Another business (in Chicago), on its own Twilio number.
pub async fn business_numbered(pool: &PgPool, twilio_number: &str) -> Business {
    business_with(pool, "America/Chicago", twilio_number).await
}

/// A bare conversation run of `business` (empty state), for outbox rows to belong to.
pub async fn run(pool: &PgPool, business: BusinessId) -> RunId {
    run_keyed(pool, business, "k").await
}

/// A conversation run of `business` with an empty state, its subject `key`.
pub async fn run_keyed(pool: &PgPool, business: BusinessId, key: &str) -> RunId {
    sqlx::query_scalar(
        "INSERT INTO workflow_runs (business_id, kind, subject_key, state) VALUES ($1, 'conversation', $2, '{}') RETURNING id",
    )
    .bind(business)
    .bind(key)
    .fetch_one(pool)
    .await
    .expect("run")
}

/// A text of `run` from `b` to the customer `to`, queued under `purpose`.
pub async fn customer_text(
    db: impl sqlx::PgExecutor<'_>,
    b: &Business,
    run: RunId,
    to: &PhoneNumber,
    purpose: &str,
) -> MessageId {
    let row = NewOutbound {
        business_id: b.id,
        conversation_id: None,
        run_id: run,
        purpose,
        audience: Audience::Customer,
        from: &b.twilio_number,
        to,
        body: "Sorry we missed your call",
        validity_seconds: None,
    };
    queue_outbound(db, &row).await.expect("text").expect("a new row")
}

async fn business_with(pool: &PgPool, zone: &str, twilio_number: &str) -> Business {
    let phone = |p: &str| PhoneNumber::parse(p).expect("phone");
    let b = NewBusiness {
        name: "Smith's Heating & Air".into(),
        owner_name: "John Smith".into(),
        owner_email: "john@example.com".into(),
        owner_phone: phone("+15125550142"),
        business_phone: phone("+15125550199"),
        twilio_number: phone(twilio_number),
        timezone: Zone::parse(zone).expect("zone"),
        avg_job_value: Decimal::new(35000, 2),
        services: vec!["AC Repair".into()],
        ai_greeting: None,
        call_screening: true,
        appointment_minutes: 90,
    };
    businesses::insert_business(pool, &b).await.expect("business")
}

/// The generic plan PostgreSQL keeps for `sql` once a pooled connection has
/// run it a few times, made on the tables as they are (a fresh database has
/// no statistics), with `args` (SQL literals) for its parameters of `types`.
pub async fn generic_plan(pool: &PgPool, types: &str, sql: &str, args: &str) -> String {
    let mut conn = pool.acquire().await.expect("connection");
    let setup = format!("SET plan_cache_mode = force_generic_plan; PREPARE planned({types}) AS {sql}");
    sqlx::raw_sql(&setup).execute(&mut *conn).await.expect("prepare");
    let plan: Vec<String> =
        sqlx::query_scalar(&format!("EXPLAIN EXECUTE planned({args})")).fetch_all(&mut *conn).await.expect("explain");
    sqlx::raw_sql("DEALLOCATE planned; RESET plan_cache_mode").execute(&mut *conn).await.expect("deallocate");
    plan.join("\n")
}
