//! A missed call becomes exactly one text-back and one owner alert — and
//! nothing when the caller opted out, is already in a conversation, or the
//! business is paused.

use std::time::Duration;

use activities::domain::PhoneNumber;
use activities::store::{businesses, opt_outs};
use e2e::helpers::*;
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(10);

#[sqlx::test(migrations = false)]
async fn each_unanswered_dial_status_texts_the_caller_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mut callers = Vec::new();
    for status in ["no-answer", "busy", "failed", "canceled"] {
        let caller = new_caller();
        callers.push(caller.clone());
        app.missed_call(&caller, status).await;
        let sent = app.wait_for_sms(&caller, 1, WAIT).await;
        assert_eq!(sent.len(), 1, "{status}: expected one text-back");
        let m = &sent[0];
        assert_eq!(m.from, TWILIO_NUMBER, "{status}");
        assert!(m.body.contains(BUSINESS_NAME), "{status}: {}", m.body);
        assert!(m.body.contains("Reply STOP to opt out"), "{status}: {}", m.body);
        assert_eq!(m.validity_period.as_deref(), Some("900"), "a stale text-back must expire");
        let callback = m.status_callback.as_deref().unwrap_or_default();
        assert!(callback.starts_with(&format!("{BASE_URL}/webhook/sms/status?message_id=")), "{callback}");
    }
    app.settle(WAIT).await;
    // Each text's status callback names that text: the text-backs and the owner's alerts.
    let texts = callers.iter().map(String::as_str).chain([OWNER_PHONE]).flat_map(|to| app.fake.sent_to(to));
    for m in texts {
        let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM messages WHERE twilio_message_sid = $1")
            .bind(&m.sid)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(m.status_callback, Some(format!("{BASE_URL}/webhook/sms/status?message_id={id}")));
    }
    let owner = app.fake.sent_to(OWNER_PHONE);
    assert_eq!(owner.len(), 4, "one owner alert per missed call");
    assert!(owner.iter().all(|m| m.body.starts_with("Missed call from (737) 555-")), "{:?}", owner[0].body);
    // The text-back was recorded with its sid, and the lead moved to contacted.
    assert_eq!(app.count("SELECT count(*) FROM messages WHERE purpose = 'text_back' AND status = 'sent' AND twilio_message_sid LIKE 'SM%'").await, 4);
    assert_eq!(app.count("SELECT count(*) FROM leads WHERE status = 'contacted' AND source = 'missed_call' AND estimated_value = 350.00").await, 4);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM workflow_runs WHERE status = 'waiting' AND wake_at > now() + interval '1 hour'"
        )
        .await,
        4
    );
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn the_same_callback_delivered_three_times_makes_one_call_one_workflow_one_text(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let sid = new_call_sid();
    let caller = new_caller();
    let twiml = app.ring(&sid, &caller).await;
    assert_eq!(app.ring(&sid, &caller).await, twiml, "a retried incoming webhook gets the same TwiML");
    let action = path_of(&attr(&twiml, "Dial", "action").unwrap());
    let first = app.dial_ended(&action, &sid, &caller, "no-answer", "false").await;
    for _ in 0..2 {
        assert_eq!(app.dial_ended(&action, &sid, &caller, "no-answer", "false").await, first);
    }
    assert!(text_of(&first, "Say").unwrap().contains("text you"), "{first}");
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.count("SELECT count(*) FROM calls").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs").await, 1);
    assert_eq!(app.fake.sent_to(&caller).len(), 1);
    assert_eq!(app.fake.sent_to(OWNER_PHONE).len(), 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn an_opted_out_caller_gets_no_text(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    opt_outs::add_opt_out(&app.pool, app.business.id, &PhoneNumber::parse(&caller).unwrap(), "stop_keyword")
        .await
        .unwrap();
    app.missed_call(&caller, "no-answer").await;
    app.settle(WAIT).await;
    assert!(app.fake.sent_to(&caller).is_empty());
    assert_eq!(
        app.count(
            "SELECT count(*) FROM workflow_runs WHERE status = 'completed' AND state->'outcome' = '\"opted_out\"'"
        )
        .await,
        1
    );
    let queued = format!("SELECT count(*) FROM messages WHERE to_phone = '{caller}'");
    assert_eq!(app.count(&queued).await, 0, "known at the wake: no text-back is even queued");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn the_goodbye_promises_a_text_only_to_a_caller_we_may_text(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (caller, opted_out) = (new_caller(), new_caller());
    opt_outs::add_opt_out(&app.pool, app.business.id, &PhoneNumber::parse(&opted_out).unwrap(), "stop_keyword")
        .await
        .unwrap();
    for (who, promised) in [(&caller, true), (&opted_out, false)] {
        let sid = new_call_sid();
        let action = path_of(&attr(&app.ring(&sid, who).await, "Dial", "action").expect("action"));
        // The first callback finishes the call; Twilio's retry of it finds the call finished.
        let first = app.dial_ended(&action, &sid, who, "no-answer", "false").await;
        let retried = app.dial_ended(&action, &sid, who, "no-answer", "false").await;
        for twiml in [first, retried] {
            assert_eq!(twiml.contains("text you right away"), promised, "{twiml}");
        }
    }
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_caller_in_an_open_conversation_gets_no_second_text_back(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1);
    app.settle(WAIT).await;
    app.missed_call(&caller, "busy").await;
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1, "no second text-back");
    assert_eq!(app.count("SELECT count(*) FROM conversations").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM conversation_calls").await,
        1,
        "the second call joined the conversation"
    );
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn two_calls_racing_from_one_caller_open_one_conversation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    let (a, b) = tokio::join!(app.missed_call(&caller, "no-answer"), app.missed_call(&caller, "no-answer"));
    assert_ne!(a, b);
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1);
    assert_eq!(app.count("SELECT count(*) FROM conversations").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_paused_business_sends_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    businesses::set_subscription_status(&app.pool, app.business.id, "paused").await.unwrap();
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    app.settle(WAIT).await;
    assert!(app.fake.sent().is_empty(), "nothing to the caller or the owner");
    assert_eq!(app.count("SELECT count(*) FROM calls WHERE status = 'missed'").await, 1, "the call is still logged");
    app.stop().await;
}

/// The call-completed webhook takes the business from the process's cache
/// only while its row is unchanged: paused after one missed call, the next
/// caller's goodbye promises nothing and nobody is texted.
#[sqlx::test(migrations = false)]
async fn a_business_paused_between_two_calls_is_paused_for_the_second(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = new_caller();
    app.missed_call(&first, "no-answer").await;
    app.wait_for_sms(&first, 1, WAIT).await;
    app.settle(WAIT).await;
    businesses::set_subscription_status(&app.pool, app.business.id, "paused").await.unwrap();
    let (second, sid) = (new_caller(), new_call_sid());
    let action = path_of(&attr(&app.ring(&sid, &second).await, "Dial", "action").expect("action"));
    let goodbye = app.dial_ended(&action, &sid, &second, "no-answer", "false").await;
    assert!(!goodbye.contains("text you right away"), "{goodbye}");
    app.settle(WAIT).await;
    assert!(app.fake.sent_to(&second).is_empty(), "the paused business texts nobody");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_custom_greeting_still_names_the_business_and_offers_opt_out(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    sqlx::query("UPDATE businesses SET ai_greeting = 'Sorry we missed you! What’s going on with your system?'")
        .execute(&app.pool)
        .await
        .unwrap();
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    let sent = app.wait_for_sms(&caller, 1, WAIT).await;
    assert_eq!(
        sent[0].body,
        "Smith's Heating & Air: Sorry we missed you! What's going on with your system? Reply STOP to opt out."
    );
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn the_callers_state_sets_the_zone_their_daytime_texts_follow(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    let sid = new_call_sid();
    let r = app
        .post_twilio(
            "/webhook/voice/incoming",
            &[("CallSid", &sid), ("From", &caller), ("To", TWILIO_NUMBER), ("FromState", "AZ")],
        )
        .await;
    let twiml = r.text().await.unwrap();
    let action = path_of(&attr(&twiml, "Dial", "action").unwrap());
    app.dial_ended(&action, &sid, &caller, "no-answer", "false").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1);
    app.settle(WAIT).await;
    let zone: Option<String> = sqlx::query_scalar("SELECT time_zone FROM leads").fetch_one(&app.pool).await.unwrap();
    assert_eq!(zone.as_deref(), Some("America/Phoenix"));
    // A texter's FromState is kept too.
    let texter = new_caller();
    let msg = new_call_sid().replace("CA", "SM");
    app.text_with(&msg, &texter, "need a tune up", &[("FromState", "WA")]).await;
    app.settle(WAIT).await;
    let zone: Option<String> = sqlx::query_scalar("SELECT time_zone FROM leads WHERE phone = $1")
        .bind(&texter)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(zone.as_deref(), Some("America/Los_Angeles"));
    app.stop().await;
}

/// The follow-up the text-back schedules keeps the caller's daytime (their
/// zone, from Twilio's FromState), not the business's: the tick keeps the
/// zone the conversation's open found for its later rounds.
#[sqlx::test(migrations = false)]
async fn the_first_follow_up_keeps_the_callers_daytime_not_the_businesss(pool: PgPool) {
    use chrono::{DateTime, Utc};
    use workflows::conversation::transition::within_window;
    let app = TestApp::spawn(pool).await;
    let delay = chrono::Duration::hours(2); // the first of the default follow-up delays
    let ny = chrono_tz::America::New_York;
    // A business zone whose day is New York's night two hours from now, and the other way round.
    let daytime = |at: DateTime<Utc>, tz: chrono_tz::Tz| within_window(at, tz) == at;
    let soon = Utc::now() + delay;
    let business_zone = (-12..=12)
        .map(|h: i32| if h == 0 { "Etc/GMT".to_owned() } else { format!("Etc/GMT{:+}", -h) })
        .map(|name| name.parse::<chrono_tz::Tz>().unwrap())
        .find(|&tz| (0..3).all(|m| daytime(soon + chrono::Duration::minutes(m), tz) != daytime(soon, ny)))
        .expect("some whole-hour zone has New York's night for day");
    sqlx::query("UPDATE businesses SET timezone = $1").bind(business_zone.name()).execute(&app.pool).await.unwrap();
    let caller = new_caller();
    let sid = new_call_sid();
    let r = app
        .post_twilio(
            "/webhook/voice/incoming",
            &[("CallSid", &sid), ("From", &caller), ("To", TWILIO_NUMBER), ("FromState", "NY")],
        )
        .await;
    let action = path_of(&attr(&r.text().await.unwrap(), "Dial", "action").unwrap());
    app.dial_ended(&action, &sid, &caller, "no-answer", "false").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1);
    app.settle(WAIT).await;
    let (text_back_at, next_at): (String, String) = sqlx::query_as(
        "SELECT state->>'text_back_at', state->>'next_at' FROM workflow_runs WHERE kind = 'conversation'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let due = text_back_at.parse::<DateTime<Utc>>().unwrap() + delay;
    let next_at = next_at.parse::<DateTime<Utc>>().unwrap();
    assert_eq!(next_at, within_window(due, ny), "in the caller's daytime (business zone {})", business_zone.name());
    assert_ne!(next_at, within_window(due, business_zone), "not the business's");
    app.stop().await;
}
