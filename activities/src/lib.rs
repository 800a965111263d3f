//! Everything with a side effect: the Postgres store, Twilio, SMS delivery,
//! and the wording of every text.

pub mod booking;
pub mod corpus;
pub mod domain;
pub mod gsm;
pub mod keywords;
pub mod links;
pub mod notify;
pub mod responder;
pub mod sms;
pub mod store;
pub mod templates;
#[cfg(any(test, feature = "test-db"))]
pub mod test_db;
pub mod twilio;

use sqlx::PgPool;

/// Our schema's migrations (`migrations/` at the repository root).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Applies our migrations. underway's own (schema `underway`) must run first:
/// ours index its task table.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
