//! Booking in the conversation, on the rules engine: from a missed call to an
//! appointment, a slot two customers race for, reschedule and cancel by text,
//! and the hand-off when nothing is open.

use std::time::Duration;

use e2e::helpers::*;
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(10);
const QUALIFY: &str = "Hi this is Karen Whitfield, furnace wont kick on, it just clicks. \
    419 N Oak St Apt 2, Springfield 62702. Tomorrow afternoon works";

/// Open 08:00–17:00 every day, so there are always times to offer.
async fn open_every_day(app: &TestApp) {
    let day = serde_json::json!({"open": "08:00", "close": "17:00"});
    let hours = serde_json::json!({
        "monday": day, "tuesday": day, "wednesday": day, "thursday": day,
        "friday": day, "saturday": day, "sunday": day,
    });
    sqlx::query("UPDATE businesses SET business_hours = $1").bind(hours).execute(&app.pool).await.unwrap();
}

/// A caller who was texted back, qualified in one text, and offered times.
async fn offered_caller(app: &TestApp) -> String {
    let caller = app.texted_back_caller().await;
    app.text(&caller, QUALIFY).await;
    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    assert_eq!(sent.len(), 2, "text-back and the offer");
    assert!(sent[1].body.contains("Here are some openings"), "{}", sent[1].body);
    app.settle(WAIT).await;
    caller
}

async fn appointments(app: &TestApp) -> Vec<(String, Option<String>, Option<String>, String)> {
    sqlx::query_as(
        "SELECT a.status, a.service_type, a.address, to_char(a.starts_at, 'YYYY-MM-DD HH24:MI')
         FROM appointments a ORDER BY a.created_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_missed_call_ends_in_a_booked_appointment(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    open_every_day(&app).await;
    let caller = offered_caller(&app).await;
    app.text(&caller, "the 2nd one").await;
    let sent = app.wait_for_sms(&caller, 3, WAIT).await;
    assert!(sent[2].body.starts_with("You're booked!"), "{}", sent[2].body);
    assert!(sent[2].body.contains("419 N Oak St"), "{}", sent[2].body);
    app.settle(WAIT).await;

    let rows = appointments(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "scheduled");
    assert!(rows[0].1.as_deref().is_some_and(|s| s.contains("furnace")), "{rows:?}");
    assert!(rows[0].2.as_deref().is_some_and(|a| a.contains("419 N Oak St")), "{rows:?}");
    let booked_alerts: Vec<_> =
        app.fake.sent_to(OWNER_PHONE).into_iter().filter(|m| m.body.starts_with("Appointment booked!")).collect();
    assert_eq!(booked_alerts.len(), 1, "one owner notification");
    assert!(booked_alerts[0].body.contains("Karen Whitfield"), "{}", booked_alerts[0].body);
    assert_eq!(app.fake.sent_to(&caller).iter().filter(|m| m.body.starts_with("You're booked!")).count(), 1);
    assert_eq!(app.count("SELECT count(*) FROM conversations WHERE status = 'closed_booked'").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM leads WHERE status = 'booked'").await, 1);
    // The end-of-conversation summary is in the feed and the email, not a second text.
    let summary =
        "SELECT count(*) FROM notifications WHERE event = 'conversation_summary' AND data->>'outcome' = 'booked'";
    assert_eq!(app.count(summary).await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE subject LIKE 'Conversation ended - Booked%'").await,
        1
    );
    let owner = app.fake.sent_to(OWNER_PHONE);
    assert_eq!(owner.len(), 2, "missed call and booked: {owner:?}");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn two_customers_racing_for_one_slot_get_one_booking_and_one_new_offer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    open_every_day(&app).await;
    let first = offered_caller(&app).await;
    let second = offered_caller(&app).await;
    let (a, b) = (app.fake.sent_to(&first), app.fake.sent_to(&second));
    assert_eq!(a[1].body, b[1].body, "both were offered the same times");
    tokio::join!(app.text(&first, "the first one"), app.text(&second, "the first one"));
    let a = app.wait_for_sms(&first, 3, WAIT).await;
    let b = app.wait_for_sms(&second, 3, WAIT).await;
    app.settle(WAIT).await;
    let answers = [a[2].body.as_str(), b[2].body.as_str()];
    assert_eq!(answers.iter().filter(|t| t.starts_with("You're booked!")).count(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|t| t.contains("was just booked")).count(), 1, "{answers:?}");
    assert_eq!(app.count("SELECT count(*) FROM appointments").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_booked_customer_reschedules_then_cancels_by_text(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    open_every_day(&app).await;
    let caller = offered_caller(&app).await;
    app.text(&caller, "the first one").await;
    app.wait_for_sms(&caller, 3, WAIT).await;
    app.settle(WAIT).await;
    let before = appointments(&app).await;

    app.text(&caller, "Something came up, can we reschedule?").await;
    let sent = app.wait_for_sms(&caller, 4, WAIT).await;
    assert!(sent[3].body.contains("openings"), "{}", sent[3].body);
    app.settle(WAIT).await;
    app.text(&caller, "the last one").await;
    let sent = app.wait_for_sms(&caller, 5, WAIT).await;
    assert!(sent[4].body.starts_with("You're booked!"), "{}", sent[4].body);
    app.settle(WAIT).await;
    let after = appointments(&app).await;
    assert_eq!(after.len(), 1, "moved, not duplicated: {after:?}");
    assert_ne!(after[0].3, before[0].3, "a new time");

    app.text(&caller, "Sorry, I need to cancel my appointment").await;
    let sent = app.wait_for_sms(&caller, 6, WAIT).await;
    assert!(sent[5].body.contains("is cancelled"), "{}", sent[5].body);
    app.settle(WAIT).await;
    assert_eq!(app.count("SELECT count(*) FROM appointments WHERE status = 'cancelled'").await, 1);
    let owner = app.fake.sent_to(OWNER_PHONE);
    assert_eq!(owner.iter().filter(|m| m.body.starts_with("Appointment cancelled")).count(), 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn no_open_times_means_a_call_from_the_team_and_a_qualified_lead_alert(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let closed = serde_json::json!({"monday": null, "tuesday": null, "wednesday": null, "thursday": null,
        "friday": null, "saturday": null, "sunday": null});
    sqlx::query("UPDATE businesses SET business_hours = $1").bind(closed).execute(&app.pool).await.unwrap();
    let caller = app.texted_back_caller().await;
    app.text(&caller, QUALIFY).await;
    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    assert!(sent[1].body.contains("Someone from our team will call you shortly"), "{}", sent[1].body);
    let owner = app.wait_for_sms(OWNER_PHONE, 2, WAIT).await;
    assert!(owner.iter().any(|m| m.body.starts_with("New qualified lead!")), "{owner:?}");
    app.settle(WAIT).await;
    assert_eq!(app.count("SELECT count(*) FROM conversations WHERE needs_human").await, 1);
    app.stop().await;
}

/// A worker keeps the businesses it has read, by row version: a change made
/// after the text-back (the hours closed) is what the next tick of the same
/// conversation works with.
#[sqlx::test(migrations = false)]
async fn a_business_changed_mid_conversation_is_read_again_by_the_next_tick(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    let closed = serde_json::json!({"monday": null, "tuesday": null, "wednesday": null, "thursday": null,
        "friday": null, "saturday": null, "sunday": null});
    sqlx::query("UPDATE businesses SET business_hours = $1").bind(closed).execute(&app.pool).await.unwrap();
    app.text(&caller, QUALIFY).await;
    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    assert!(sent[1].body.contains("Someone from our team will call you shortly"), "{}", sent[1].body);
    app.settle(WAIT).await;
    app.stop().await;
}
