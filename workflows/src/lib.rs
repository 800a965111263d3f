//! Workflows: pure state machines `(state, event) -> (state, commands)` and the
//! thin engine that drives them on underway's durable queue.

pub mod conversation;
pub mod dispatch;
pub mod engine;
pub mod review;
pub mod summary;
pub mod yardstick;

pub use engine::{EngineConfig, EngineError, Workflows};
pub use review::ReviewStart;

/// Applies underway's migrations, then ours (ours index underway's task table).
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    underway::run_migrations(pool).await?;
    activities::migrate(pool).await
}
