//! The suppression list (ours, checked before every send even though Twilio
//! keeps its own) and numbers that cannot take texts.

use sqlx::PgExecutor;

use crate::domain::{BusinessId, PhoneNumber};

/// SQL for "`phone` opted out of `business`, or globally", with the two SQL
/// expressions (parameters or columns) spliced in; for statements that ask it
/// alongside something else.
pub(crate) fn opted_out_sql(phone: &str, business: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone = {phone} AND (o.business_id = {business} OR o.business_id IS NULL))"
    )
}

/// Opted out of this business, or globally.
pub async fn is_opted_out(db: impl PgExecutor<'_>, business_id: BusinessId, phone: &PhoneNumber) -> sqlx::Result<bool> {
    sqlx::query_scalar(&format!("SELECT {}", opted_out_sql("$2", "$1")))
        .bind(business_id)
        .bind(phone)
        .fetch_one(db)
        .await
}

/// SQL for both of a tick's questions about `phone` (an SQL expression, as
/// in [`opted_out_sql`]): opted out (of `business` or of all), and known
/// unreachable for `business`; two boolean columns named `{prefix}_opted_out`
/// and `{prefix}_unreachable`, for a statement that asks them with
/// something else. A NULL phone is neither.
pub fn reachability_sql(phone: &str, business: &str, prefix: &str) -> String {
    format!(
        "{} AS {prefix}_opted_out,
         EXISTS (SELECT 1 FROM unreachable_numbers u WHERE u.business_id = {business} AND u.phone = {phone})
             AS {prefix}_unreachable",
        opted_out_sql(phone, business)
    )
}

/// Both of a tick's questions about a number in one round trip
/// ([`reachability_sql`]).
pub async fn reachability(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    phone: &PhoneNumber,
) -> sqlx::Result<(bool, bool)> {
    let sql = format!("SELECT {}", reachability_sql("$2", "$1", "number"));
    sqlx::query_as(&sql).bind(business_id).bind(phone).fetch_one(db).await
}

pub async fn add_opt_out(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    phone: &PhoneNumber,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO opt_outs (phone, business_id, reason) VALUES ($1, $2, $3)
         ON CONFLICT (phone, business_id) DO NOTHING",
    )
    .bind(phone)
    .bind(business_id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn mark_unreachable(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    phone: &PhoneNumber,
    error_code: i64,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO unreachable_numbers (business_id, phone, error_code, reason) VALUES ($1, $2, $3, $4)
         ON CONFLICT (business_id, phone) DO UPDATE SET error_code = EXCLUDED.error_code, reason = EXCLUDED.reason",
    )
    .bind(business_id)
    .bind(phone)
    .bind(i32::try_from(error_code).unwrap_or(i32::MAX))
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// START/UNSTOP: the number may be texted by this business again.
pub async fn remove_opt_out(db: impl PgExecutor<'_>, business_id: BusinessId, phone: &PhoneNumber) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM opt_outs WHERE business_id = $1 AND phone = $2")
        .bind(business_id)
        .bind(phone)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;
    use crate::test_db;

    #[sqlx::test(migrations = false)]
    async fn reachability_answers_both_questions_for_this_business(pool: PgPool) {
        test_db::migrated(&pool).await;
        let b = test_db::business(&pool, "America/Chicago").await;
        let other = test_db::business_numbered(&pool, "+15125550177").await;
        let phone = PhoneNumber::parse("+15125550123").unwrap();
        assert_eq!(reachability(&pool, b.id, &phone).await.unwrap(), (false, false));
        mark_unreachable(&pool, b.id, &phone, 21614, "not a mobile").await.unwrap();
        assert_eq!(reachability(&pool, b.id, &phone).await.unwrap(), (false, true));
        assert_eq!(reachability(&pool, other.id, &phone).await.unwrap(), (false, false), "per business");
        add_opt_out(&pool, other.id, &phone, "stop").await.unwrap();
        assert_eq!(reachability(&pool, other.id, &phone).await.unwrap(), (true, false));
        assert_eq!(reachability(&pool, b.id, &phone).await.unwrap(), (false, true), "another's opt-out");
    }
}
