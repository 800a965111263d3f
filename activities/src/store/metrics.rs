//! A business's figures for one local day (the daily summary and `daily_metrics`).

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::domain::BusinessId;

/// What happened in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct DayFigures {
    pub calls: i64,
    /// Calls nobody answered (missed, voicemail, busy, failed).
    pub missed: i64,
    /// Missed calls whose conversation got a text back from the customer.
    pub recovered: i64,
    pub leads_captured: i64,
    pub leads_qualified: i64,
    /// Appointments created in the window and not cancelled.
    pub booked: i64,
    /// Each booked appointment at its lead's estimated value, else the
    /// business's average job value.
    pub revenue: Decimal,
    pub messages_sent: i64,
    pub messages_received: i64,
}

/// Counts a business's calls, leads, bookings and texts created in `[from, to)`.
pub async fn day_figures(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    avg_job_value: Decimal,
) -> sqlx::Result<DayFigures> {
    sqlx::query_as(
        "WITH day_calls AS (
             SELECT c.id, c.status IN ('missed', 'voicemail', 'busy', 'failed') AS missed,
                    EXISTS (SELECT 1 FROM messages m
                            WHERE m.business_id = c.business_id AND m.direction = 'inbound'
                              AND m.created_at >= c.created_at
                              AND m.conversation_id IN (
                                  SELECT id FROM conversations WHERE business_id = $1 AND call_id = c.id
                                  UNION ALL
                                  SELECT conversation_id FROM conversation_calls WHERE business_id = $1 AND call_id = c.id
                              )) AS replied
             FROM calls c
             WHERE c.business_id = $1 AND c.created_at >= $2 AND c.created_at < $3
         )
         SELECT
             (SELECT count(*) FROM day_calls) AS calls,
             (SELECT count(*) FROM day_calls WHERE missed) AS missed,
             (SELECT count(*) FROM day_calls WHERE missed AND replied) AS recovered,
             (SELECT count(*) FROM leads WHERE business_id = $1 AND created_at >= $2 AND created_at < $3)
                 AS leads_captured,
             (SELECT count(*) FROM leads WHERE business_id = $1 AND created_at >= $2 AND created_at < $3
                 AND status IN ('qualified', 'booked', 'completed')) AS leads_qualified,
             (SELECT count(*) FROM appointments WHERE business_id = $1 AND created_at >= $2 AND created_at < $3
                 AND status <> 'cancelled') AS booked,
             (SELECT COALESCE(sum(COALESCE(l.estimated_value, $4)), 0) FROM appointments a
                 JOIN leads l ON l.id = a.lead_id AND l.business_id = a.business_id
                 WHERE a.business_id = $1 AND a.created_at >= $2 AND a.created_at < $3
                   AND a.status <> 'cancelled') AS revenue,
             (SELECT count(*) FROM messages WHERE business_id = $1 AND created_at >= $2 AND created_at < $3
                 AND direction = 'outbound' AND audience = 'customer' AND status IN ('sent', 'delivered'))
                 AS messages_sent,
             (SELECT count(*) FROM messages WHERE business_id = $1 AND created_at >= $2 AND created_at < $3
                 AND direction = 'inbound') AS messages_received",
    )
    .bind(business_id)
    .bind(from)
    .bind(to)
    .bind(avg_job_value)
    .fetch_one(db)
    .await
}

/// Stores the day's figures in `daily_metrics` (recomputed runs overwrite).
pub async fn upsert_daily(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    date: NaiveDate,
    f: &DayFigures,
) -> sqlx::Result<()> {
    let int = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
    sqlx::query(
        "INSERT INTO daily_metrics (business_id, date, total_calls, missed_calls, recovered_calls, leads_captured,
                                    leads_qualified, appointments_booked, estimated_revenue, messages_sent,
                                    messages_received)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (business_id, date) DO UPDATE SET
             total_calls = excluded.total_calls, missed_calls = excluded.missed_calls,
             recovered_calls = excluded.recovered_calls, leads_captured = excluded.leads_captured,
             leads_qualified = excluded.leads_qualified, appointments_booked = excluded.appointments_booked,
             estimated_revenue = excluded.estimated_revenue, messages_sent = excluded.messages_sent,
             messages_received = excluded.messages_received",
    )
    .bind(business_id)
    .bind(date)
    .bind(int(f.calls))
    .bind(int(f.missed))
    .bind(int(f.recovered))
    .bind(int(f.leads_captured))
    .bind(int(f.leads_qualified))
    .bind(int(f.booked))
    .bind(f.revenue)
    .bind(int(f.messages_sent))
    .bind(int(f.messages_received))
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use sqlx::PgPool;

    use super::*;
    use crate::domain::{CallId, ConversationId, LeadId};
    use crate::test_db;

    struct Seed<'a> {
        pool: &'a PgPool,
        business: BusinessId,
    }

    impl Seed<'_> {
        async fn lead(&self, phone: &str, value: Option<Decimal>, status: &str, at: DateTime<Utc>) -> LeadId {
            sqlx::query_scalar(
                "INSERT INTO leads (business_id, phone, estimated_value, status, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(self.business)
            .bind(phone)
            .bind(value)
            .bind(status)
            .bind(at)
            .fetch_one(self.pool)
            .await
            .unwrap()
        }

        async fn call(&self, phone: &str, status: &str, at: DateTime<Utc>) -> CallId {
            sqlx::query_scalar(
                "INSERT INTO calls (business_id, twilio_call_sid, caller_phone, status, created_at)
                 VALUES ($1, 'CA' || gen_random_uuid(), $2, $3, $4) RETURNING id",
            )
            .bind(self.business)
            .bind(phone)
            .bind(status)
            .bind(at)
            .fetch_one(self.pool)
            .await
            .unwrap()
        }

        async fn conversation(&self, lead: LeadId, call: CallId) -> ConversationId {
            sqlx::query_scalar(
                "INSERT INTO conversations (business_id, lead_id, call_id, status)
                 VALUES ($1, $2, $3, 'closed_manual') RETURNING id",
            )
            .bind(self.business)
            .bind(lead)
            .bind(call)
            .fetch_one(self.pool)
            .await
            .unwrap()
        }

        async fn reply(&self, conversation: ConversationId, phone: &str, at: DateTime<Utc>) {
            sqlx::query(
                "INSERT INTO messages (business_id, conversation_id, direction, sender_type, from_phone, to_phone,
                                       body, status, created_at)
                 VALUES ($1, $2, 'inbound', 'caller', $3, '+15125550100', 'yes please', 'received', $4)",
            )
            .bind(self.business)
            .bind(conversation)
            .bind(phone)
            .bind(at)
            .execute(self.pool)
            .await
            .unwrap();
        }

        async fn appointment(&self, lead: LeadId, status: &str, at: DateTime<Utc>) {
            sqlx::query(
                "INSERT INTO appointments (business_id, lead_id, starts_at, status, created_at)
                 VALUES ($1, $2, $3 + interval '1 day', $4, $3)",
            )
            .bind(self.business)
            .bind(lead)
            .bind(at)
            .bind(status)
            .execute(self.pool)
            .await
            .unwrap();
        }
    }

    #[sqlx::test(migrations = false)]
    async fn a_days_figures_count_only_that_day(pool: PgPool) {
        test_db::migrated(&pool).await;
        let b = test_db::business(&pool, "America/Chicago").await;
        let s = Seed { pool: &pool, business: b.id };
        let day = DateTime::parse_from_rfc3339("2026-12-01T06:00:00Z").unwrap().with_timezone(&Utc);
        let h = |n: i64| day + Duration::hours(n);

        // Missed, texted back: recovered.
        let a = s.lead("+17375550001", Some(Decimal::new(500, 0)), "booked", h(1)).await;
        let call_a = s.call("+17375550001", "missed", h(1)).await;
        let conv_a = s.conversation(a, call_a).await;
        s.reply(conv_a, "+17375550001", h(2)).await;
        s.appointment(a, "scheduled", h(3)).await;
        // Missed, never answered our text.
        let b2 = s.lead("+17375550002", None, "unresponsive", h(2)).await;
        let call_b = s.call("+17375550002", "busy", h(2)).await;
        s.conversation(b2, call_b).await;
        // Answered by the owner; a booking without an estimate counts at the average job value.
        s.call("+17375550003", "answered", h(4)).await;
        let c = s.lead("+17375550003", None, "qualified", h(4)).await;
        s.appointment(c, "confirmed", h(5)).await;
        s.appointment(c, "cancelled", h(6)).await;
        // A second missed call that joined A's conversation, answered after it: recovered too.
        let call_d = s.call("+17375550001", "voicemail", h(7)).await;
        sqlx::query("INSERT INTO conversation_calls (business_id, conversation_id, call_id) VALUES ($1, $2, $3)")
            .bind(b.id)
            .bind(conv_a)
            .bind(call_d)
            .execute(&pool)
            .await
            .unwrap();
        s.reply(conv_a, "+17375550001", h(8)).await;
        // The day before: none of it counts.
        let e = s.lead("+17375550005", None, "booked", h(-3)).await;
        let call_e = s.call("+17375550005", "missed", h(-3)).await;
        let conv_e = s.conversation(e, call_e).await;
        s.reply(conv_e, "+17375550005", h(-2)).await;
        s.appointment(e, "scheduled", h(-2)).await;

        let f = day_figures(&pool, b.id, day, day + Duration::days(1), b.avg_job_value).await.unwrap();
        let want = DayFigures {
            calls: 4,
            missed: 3,
            recovered: 2,
            leads_captured: 3,
            leads_qualified: 2,
            booked: 2,
            revenue: Decimal::new(85000, 2),
            messages_sent: 0,
            messages_received: 2,
        };
        assert_eq!(f, want);

        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        upsert_daily(&pool, b.id, date, &f).await.unwrap();
        upsert_daily(&pool, b.id, date, &DayFigures { booked: 3, ..f.clone() }).await.unwrap();
        let (rows, booked, revenue): (i64, i32, Decimal) = sqlx::query_as(
            "SELECT count(*) OVER (), appointments_booked, estimated_revenue FROM daily_metrics WHERE business_id = $1",
        )
        .bind(b.id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((rows, booked, revenue), (1, 3, Decimal::new(850, 0)));
    }
}
