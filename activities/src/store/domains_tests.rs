//! The hot tables' value checks, kept as domain types (migration 0015): every
//! value the old CHECK constraints refused is still refused (SQLSTATE 23514),
//! every value they took is still taken, NULL where the column allows it.

use sqlx::PgPool;

use crate::test_db;

/// Each column, a value it takes and one it refuses (SQL literals).
const CASES: &[(&str, &str, &str, &str)] = &[
    ("calls", "caller_phone", "'+15125550123'", "'5125550123'"),
    ("calls", "status", "'missed'", "'lost'"),
    ("calls", "duration_seconds", "0", "-1"),
    ("leads", "phone", "'+15125550123'", "'+0123'"),
    ("leads", "status", "'contacted'", "'contacted '"),
    ("leads", "source", "'web_form'", "'walk_in'"),
    ("leads", "urgency", "'soon'", "'asap'"),
    ("conversations", "status", "'closed_booked'", "'closed'"),
    ("workflow_runs", "status", "'waiting'", "'sleeping'"),
    ("messages", "from_phone", "'+15125550100'", "'+1 512 555 0100'"),
    ("messages", "to_phone", "'+15125550123'", "''"),
    ("messages", "direction", "'inbound'", "'sideways'"),
    ("messages", "audience", "'owner'", "'public'"),
    ("messages", "sender_type", "'human'", "'robot'"),
    ("messages", "validity_seconds", "36000", "36001"),
    ("messages", "status", "'blocked'", "'SENT'"),
    ("messages", "num_media", "0", "-1"),
    ("email_outbox", "to_address", "'john@example.com'", "'john'"),
    ("email_outbox", "status", "'stored'", "'bounced'"),
];

/// Columns that may be NULL.
const NULLABLE: &[(&str, &str)] =
    &[("calls", "duration_seconds"), ("leads", "urgency"), ("messages", "validity_seconds")];

/// One row of each table, so each case is an update of an existing row.
async fn one_of_each(pool: &PgPool) {
    test_db::migrated(pool).await;
    let b = test_db::business(pool, "America/Chicago").await;
    let run = test_db::run(pool, b.id).await;
    let to = crate::domain::PhoneNumber::parse("+15125550123").unwrap();
    test_db::customer_text(pool, &b, run, &to, "text_back").await;
    sqlx::raw_sql(&format!(
        "INSERT INTO calls (business_id, twilio_call_sid, caller_phone) VALUES ('{b}', 'CA1', '+15125550123');
         INSERT INTO leads (business_id, phone) VALUES ('{b}', '+15125550123');
         INSERT INTO conversations (business_id, lead_id) SELECT business_id, id FROM leads;
         INSERT INTO email_outbox (business_id, dedupe_key, to_address, subject, body)
         VALUES ('{b}', 'k', 'john@example.com', 's', 'b');",
        b = b.id
    ))
    .execute(pool)
    .await
    .unwrap();
}

async fn set(pool: &PgPool, table: &str, column: &str, value: &str) -> Result<u64, String> {
    let sql = format!("UPDATE {table} SET {column} = {value}");
    match sqlx::query(&sql).execute(pool).await {
        Ok(r) => Ok(r.rows_affected()),
        Err(sqlx::Error::Database(e)) => Err(e.code().unwrap_or_default().into_owned()),
        Err(e) => panic!("{sql}: {e}"),
    }
}

#[sqlx::test(migrations = false)]
async fn the_hot_tables_refuse_what_their_checks_refused(pool: PgPool) {
    one_of_each(&pool).await;
    for (table, column, good, bad) in CASES {
        assert_eq!(set(&pool, table, column, good).await, Ok(1), "{table}.{column} takes {good}");
        assert_eq!(set(&pool, table, column, bad).await, Err("23514".into()), "{table}.{column} refuses {bad}");
        let null = set(&pool, table, column, "NULL").await;
        let expected = if NULLABLE.contains(&(table, column)) { Ok(1) } else { Err("23502".into()) };
        assert_eq!(null, expected, "{table}.{column} and NULL");
    }
}

/// A bad value bound as a parameter, as the store binds them, is refused too.
#[sqlx::test(migrations = false)]
async fn a_bound_value_is_checked_as_well(pool: PgPool) {
    one_of_each(&pool).await;
    let r = sqlx::query("UPDATE messages SET status = $1").bind("lost").execute(&pool).await;
    let code = r.unwrap_err().into_database_error().and_then(|e| e.code().map(|c| c.into_owned()));
    assert_eq!(code.as_deref(), Some("23514"));
    let status: String = sqlx::query_scalar("SELECT status FROM messages").fetch_one(&pool).await.unwrap();
    assert_eq!(status, "queued", "read back as text");
}
