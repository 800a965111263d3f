//! The audit of every authentic webhook, including those we could not use.

use sqlx::PgExecutor;

use crate::domain::BusinessId;

/// One authentic webhook as received.
#[derive(Debug, Clone)]
pub struct WebhookEvent<'a> {
    pub business_id: Option<BusinessId>,
    pub endpoint: &'a str,
    pub provider_sid: Option<&'a str>,
    pub idempotency_token: Option<&'a str>,
    pub outcome: &'a str,
    pub params: serde_json::Value,
}

pub async fn record_webhook(db: impl PgExecutor<'_>, e: &WebhookEvent<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_events (business_id, endpoint, provider_sid, idempotency_token, outcome, params)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(e.business_id)
    .bind(e.endpoint)
    .bind(e.provider_sid)
    .bind(e.idempotency_token)
    .bind(e.outcome)
    .bind(&e.params)
    .execute(db)
    .await?;
    Ok(())
}
