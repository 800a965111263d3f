//! A batch of runs' rounds after their text-backs (`workflows::conversation::batch`):
//! every lead's move and conversation's update in one statement, each as
//! [`conversations::move_lead_and_update_conversation`] makes it. Rows are
//! found by `id = ANY(array)` and take their values by their place in the
//! arrays, so the statement is planned by the primary keys on tables
//! without statistics.

use sqlx::PgExecutor;
use uuid::Uuid;

use super::conversations::{ConversationUpdate, LeadMove};
use crate::domain::BusinessId;

/// One round's pair: its business, its lead's move, its conversation's update.
pub type Pair = (BusinessId, LeadMove<'static>, ConversationUpdate<'static>);

/// `$values[i]` where `$ids[i]` is the row's id.
fn at(values: usize, ty: &str, ids: usize) -> String {
    format!("(${values}::{ty}[])[array_position(${ids}::uuid[], w.id)]")
}

pub(crate) fn sql() -> String {
    format!(
        "WITH lead AS (
             UPDATE leads w SET status = {to}
             WHERE w.id = ANY($2::uuid[]) AND w.business_id IS NOT DISTINCT FROM {lead_business}
               AND w.status = ANY(string_to_array({from}, ','))
             RETURNING w.id)
         UPDATE conversations w SET status = {status}, follow_up_count = {count}, next_follow_up_at = {next}
         WHERE w.id = ANY($5::uuid[]) AND w.business_id = {conversation_business}",
        to = at(3, "text", 2),
        lead_business = at(1, "uuid", 2),
        from = at(4, "text", 2),
        status = at(6, "text", 5),
        count = at(7, "int", 5),
        next = at(8, "timestamptz", 5),
        conversation_business = at(1, "uuid", 5),
    )
}

/// Every pair's lead moved (if its status is one it may leave) and
/// conversation updated, in one statement. A lead in two pairs moves as the
/// first says.
pub async fn move_leads_and_update_conversations(db: impl PgExecutor<'_>, pairs: &[Pair]) -> sqlx::Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let ids = |f: fn(&Pair) -> Uuid| pairs.iter().map(f).collect::<Vec<_>>();
    sqlx::query(&sql())
        .bind(ids(|p| p.0 .0))
        .bind(ids(|p| p.1.id.0))
        .bind(pairs.iter().map(|p| p.1.to).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.1.from.join(",")).collect::<Vec<_>>())
        .bind(ids(|p| p.2.id.0))
        .bind(pairs.iter().map(|p| p.2.status).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.2.follow_up_count).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.2.next_follow_up_at).collect::<Vec<_>>())
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
#[path = "leads_many_tests.rs"]
mod tests;
