//! Owner notifications through the workers' dispatcher: email over SMTP (a
//! fake server inside the test), texts through the fake Twilio, the daily
//! summary's figures, and SMTP failures retried or not.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use activities::notify::{notify, Notification, NotifyEvent};
use activities::store::businesses::{self, Business};
use activities::templates::Templates;
use e2e::helpers::*;
use web::app::Mode;
use web::fake_smtp::{FakeSmtp, Received, Reply};

const WAIT: Duration = Duration::from_secs(10);

async fn spawn_with_smtp(pool: PgPool, smtp: &FakeSmtp) -> TestApp {
    let url = smtp.url();
    TestApp::spawn_with(pool, Mode { web: true, workers: true }, &[("SMTP_URL", &url)]).await
}

/// The business as it is now (after zone changes).
async fn business(app: &TestApp) -> Business {
    businesses::get_business(&app.pool, app.business.id).await.unwrap().unwrap()
}

fn lead() -> Value {
    json!({
        "caller": "(737) 555-0123", "name": "Maria", "service": "AC not cooling", "urgency": "soon",
        "address": "12 Oak St", "preferred_time": "tomorrow morning",
    })
}

async fn notify_now(app: &TestApp, event: NotifyEvent, key: &str, data: Value, now: DateTime<Utc>) {
    let b = business(app).await;
    let n = Notification { event, business: &b, conversation_id: None, run_id: None, key, text: true, data, now };
    let mut tx = app.pool.begin().await.unwrap();
    assert!(notify(&mut tx, &Templates::new().unwrap(), &n).await.unwrap().is_some());
    tx.commit().await.unwrap();
}

async fn wait_for_mail(smtp: &FakeSmtp, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + WAIT;
    while smtp.received().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    smtp.received()
}

async fn wait_for_status(app: &TestApp, status: &str) -> (i32, Option<String>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let row: (String, i32, Option<String>) =
            sqlx::query_as("SELECT status, attempts, last_error FROM email_outbox").fetch_one(&app.pool).await.unwrap();
        if row.0 == status || Instant::now() > deadline {
            assert_eq!(row.0, status, "email status");
            return (row.1, row.2);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn an_owner_email_arrives_over_smtp_with_its_subject_and_the_text_through_twilio(pool: PgPool) {
    let smtp = FakeSmtp::start().await.unwrap();
    let app = spawn_with_smtp(pool, &smtp).await;
    app.set_daytime_zone().await; // outside quiet hours whenever the test runs
    notify_now(&app, NotifyEvent::QualifiedLead, "alert_qualified:e2e", lead(), Utc::now()).await;

    let mail = wait_for_mail(&smtp, 1).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].subject().as_deref(), Some("New qualified lead: Maria - AC not cooling"));
    assert_eq!(mail[0].to, vec!["john@example.com".to_owned()]);
    assert_eq!(mail[0].from, "alerts@localhost");
    assert!(mail[0].body().contains("Address:   12 Oak St"), "{}", mail[0].body());
    let texts = app.wait_for_sms(OWNER_PHONE, 1, WAIT).await;
    assert_eq!(texts.len(), 1);
    assert!(texts[0].body.starts_with("New qualified lead!") && texts[0].from == TWILIO_NUMBER, "{:?}", texts[0]);
    wait_for_status(&app, "sent").await;
    app.stop().await;
}

fn chicago(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    chrono_tz::America::Chicago.from_local_datetime(&naive).unwrap().with_timezone(&Utc)
}

/// Nov 30 in Chicago: three calls (two missed, one of them texted back),
/// two bookings (one lead valued at $1,250, one at the $350 average).
async fn seed_day(app: &TestApp) {
    let sql = "
        WITH l1 AS (INSERT INTO leads (business_id, phone, status, estimated_value, created_at)
                    VALUES ($1, '+17375550101', 'booked', 1250, $2 + interval '1 hour') RETURNING id),
             l2 AS (INSERT INTO leads (business_id, phone, status, created_at)
                    VALUES ($1, '+17375550102', 'booked', $2 + interval '2 hours') RETURNING id),
             c1 AS (INSERT INTO calls (business_id, twilio_call_sid, caller_phone, status, created_at)
                    VALUES ($1, 'CAseed1', '+17375550101', 'missed', $2 + interval '1 hour') RETURNING id),
             c2 AS (INSERT INTO calls (business_id, twilio_call_sid, caller_phone, status, created_at)
                    VALUES ($1, 'CAseed2', '+17375550102', 'busy', $2 + interval '2 hours') RETURNING id),
             c3 AS (INSERT INTO calls (business_id, twilio_call_sid, caller_phone, status, created_at)
                    VALUES ($1, 'CAseed3', '+17375550103', 'answered', $2 + interval '3 hours') RETURNING id),
             v1 AS (INSERT INTO conversations (business_id, lead_id, call_id, status)
                    SELECT $1, l1.id, c1.id, 'closed_booked' FROM l1, c1 RETURNING id),
             m1 AS (INSERT INTO messages (business_id, conversation_id, direction, sender_type, from_phone, to_phone,
                                         body, status, created_at)
                    SELECT $1, v1.id, 'inbound', 'caller', '+17375550101', '+15125550100', 'yes', 'received',
                           $2 + interval '90 minutes' FROM v1 RETURNING id),
             a1 AS (INSERT INTO appointments (business_id, lead_id, starts_at, created_at)
                    SELECT $1, l1.id, $2 + interval '2 days', $2 + interval '4 hours' FROM l1 RETURNING id)
        INSERT INTO appointments (business_id, lead_id, starts_at, created_at)
        SELECT $1, l2.id, $2 + interval '3 days', $2 + interval '5 hours' FROM l2";
    sqlx::query(sql).bind(app.business.id).bind(chicago("2026-11-30 08:00")).execute(&app.pool).await.unwrap();
}

#[sqlx::test(migrations = false)]
async fn the_daily_summary_of_a_seeded_day_arrives_by_text_and_email(pool: PgPool) {
    let smtp = FakeSmtp::start().await.unwrap();
    // The test helpers turn the schedule off; this test checks the workers set it.
    let extra = [("SMTP_URL", smtp.url()), ("DAILY_SUMMARY", "on".to_owned())];
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &extra).await;
    seed_day(&app).await;
    let b = business(&app).await;
    let templates = Templates::new().unwrap();
    // Before 18:00 local nothing is due; from 18:00 the summary is made once.
    assert_eq!(workflows::summary::run_due(&app.pool, &templates, chicago("2026-11-30 17:59")).await.unwrap(), 0);
    assert_eq!(workflows::summary::run_due(&app.pool, &templates, chicago("2026-11-30 18:00")).await.unwrap(), 1);
    assert_eq!(workflows::summary::run_due(&app.pool, &templates, chicago("2026-11-30 19:00")).await.unwrap(), 0);
    let again = workflows::summary::daily_summary(&app.pool, &templates, &b, chicago("2026-11-30 18:05")).await;
    assert_eq!(again.unwrap(), None, "once per local date");

    let want = "Smith's Heating & Air, Mon Nov 30: 3 calls, 2 missed, 1 recovered, 2 booked. Est. revenue $1,600.";
    let deadline = Instant::now() + WAIT;
    while !app.fake.sent_to(OWNER_PHONE).iter().any(|s| s.body == want) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let texts: Vec<_> = app.fake.sent_to(OWNER_PHONE).into_iter().filter(|s| s.body.contains("Nov 30")).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0].body, want);
    let mail = wait_for_mail(&smtp, 1).await;
    let summary: Vec<_> = mail.iter().filter(|m| m.body().contains("Nov 30")).collect();
    assert_eq!(summary.len(), 1);
    assert_eq!(
        summary[0].subject().as_deref(),
        Some("Your day at Smith's Heating & Air: 1 recovered, 2 booked, $1,600")
    );
    let body = summary[0].body();
    for line in ["Calls:             3", "Missed:            2", "Recovered:         1", "Booked:            2"] {
        assert!(body.contains(line), "{line:?} in {body}");
    }
    assert!(body.contains("Estimated revenue: $1,600"), "{body}");
    let (calls, recovered, revenue): (i32, i32, rust_decimal::Decimal) = sqlx::query_as(
        "SELECT total_calls, recovered_calls, estimated_revenue FROM daily_metrics WHERE date = '2026-11-30'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((calls, recovered, revenue), (3, 1, rust_decimal::Decimal::new(1600, 0)));
    let scheduled = app
        .count("SELECT count(*) FROM underway.task_schedule WHERE task_queue_name = 'callrecover_daily_summary'")
        .await;
    assert_eq!(scheduled, 1, "the workers set the hourly schedule");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn an_smtp_451_is_retried_and_the_email_delivered_once(pool: PgPool) {
    let smtp = FakeSmtp::start().await.unwrap();
    smtp.script([Reply::Refuse(451)]);
    let app = spawn_with_smtp(pool, &smtp).await;
    app.set_daytime_zone().await;
    notify_now(&app, NotifyEvent::Emergency, "alert_emergency:e2e", lead(), Utc::now()).await;
    assert_eq!(wait_for_mail(&smtp, 1).await.len(), 1);
    let (attempts, _) = wait_for_status(&app, "sent").await;
    tokio::time::sleep(Duration::from_millis(500)).await; // a few more polls: nothing more goes out
    assert_eq!((smtp.attempts(), smtp.received().len(), attempts), (2, 1, 2));
    assert_eq!(smtp.received()[0].subject().as_deref(), Some("EMERGENCY lead: call (737) 555-0123 now"));
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn an_smtp_550_fails_the_email_without_retrying(pool: PgPool) {
    let smtp = FakeSmtp::start().await.unwrap();
    smtp.script([Reply::Refuse(550)]);
    let app = spawn_with_smtp(pool, &smtp).await;
    app.set_daytime_zone().await;
    notify_now(&app, NotifyEvent::HumanNeeded, "alert_human:e2e", lead(), Utc::now()).await;
    let (attempts, error) = wait_for_status(&app, "failed").await;
    tokio::time::sleep(Duration::from_millis(500)).await; // retries would have come by now (50 ms backoff)
    assert_eq!((smtp.attempts(), smtp.received().len(), attempts), (1, 0, 1));
    assert!(error.unwrap_or_default().contains("550"));
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn without_smtp_the_email_is_stored_not_sent(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.set_daytime_zone().await;
    notify_now(
        &app,
        NotifyEvent::MissedCall,
        "alert_missed:e2e",
        json!({"caller": "(737) 555-0123", "time": "9:41 AM", "after_hours": false}),
        Utc::now(),
    )
    .await;
    let (attempts, _) = wait_for_status(&app, "stored").await;
    assert_eq!(attempts, 0, "nothing was attempted");
    assert_eq!(app.wait_for_sms(OWNER_PHONE, 1, WAIT).await.len(), 1, "the text still goes");
    app.stop().await;
}
