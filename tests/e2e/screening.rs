//! The incoming-call TwiML and the "press 1" screen that keeps a voicemail
//! from counting as an answer.

use std::time::Duration;

use e2e::helpers::*;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn incoming_call_rings_the_business_with_screening_and_records_the_call(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let sid = new_call_sid();
    let caller = new_caller();
    let twiml = app.ring(&sid, &caller).await;

    assert_eq!(attr(&twiml, "Dial", "timeout").as_deref(), Some("20"));
    assert_eq!(attr(&twiml, "Dial", "answerOnBridge").as_deref(), Some("true"));
    assert_eq!(attr(&twiml, "Dial", "callerId").as_deref(), Some(TWILIO_NUMBER));
    let action = attr(&twiml, "Dial", "action").unwrap();
    assert!(action.starts_with(&format!("{BASE_URL}/webhook/voice/call-completed?call_id=")), "{action}");
    let screen = attr(&twiml, "Number", "url").unwrap();
    assert!(screen.starts_with(&format!("{BASE_URL}/webhook/voice/screen?call_id=")), "{screen}");
    assert_eq!(text_of(&twiml, "Number").as_deref(), Some(BUSINESS_PHONE));

    let (status, after_hours): (String, bool) =
        sqlx::query_as("SELECT status, is_after_hours FROM calls WHERE twilio_call_sid = $1")
            .bind(&sid)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "ringing");
    let open_now = app.business.is_open_at(chrono::Utc::now());
    assert_eq!(after_hours, !open_now);
    app.stop().await;
}

async fn screen_flow(app: &TestApp, digit: Option<&str>) -> (String, String) {
    let sid = new_call_sid();
    let caller = new_caller();
    let twiml = app.ring(&sid, &caller).await;
    let action = path_of(&attr(&twiml, "Dial", "action").unwrap());
    let screen_path = path_of(&attr(&twiml, "Number", "url").unwrap());
    let child = new_call_sid();
    let r = app.post_twilio(&screen_path, &[("CallSid", &child), ("ParentCallSid", &sid)]).await;
    let gather = r.text().await.unwrap();
    assert_eq!(attr(&gather, "Gather", "numDigits").as_deref(), Some("1"));
    assert!(has(&gather, "Hangup"), "no <Hangup/> after the Gather: {gather}");
    let bridged = match digit {
        Some(d) => {
            let accept = path_of(&attr(&gather, "Gather", "action").unwrap());
            let r = app.post_twilio(&accept, &[("CallSid", &child), ("Digits", d)]).await;
            let body = r.text().await.unwrap();
            if d == "1" {
                assert!(!has(&body, "Hangup"), "pressing 1 must bridge: {body}");
                "true"
            } else {
                assert!(has(&body, "Hangup"));
                "false"
            }
        }
        None => "false",
    };
    app.dial_ended(&action, &sid, &caller, "completed", bridged).await;
    (sid, caller)
}

#[sqlx::test(migrations = false)]
async fn owner_pressing_1_makes_the_call_answered_and_sends_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (sid, caller) = screen_flow(&app, Some("1")).await;
    let (status, duration): (String, Option<i32>) =
        sqlx::query_as("SELECT status, duration_seconds FROM calls WHERE twilio_call_sid = $1")
            .bind(&sid)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), duration), ("answered", Some(42)));
    app.settle(Duration::from_secs(3)).await;
    assert!(app.fake.sent_to(&caller).is_empty());
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs").await, 0);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn voicemail_picking_up_counts_as_missed_and_the_caller_is_texted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // Twilio reports `completed`, but nobody pressed 1 and the legs never bridged.
    let (sid, caller) = screen_flow(&app, None).await;
    let status: String = sqlx::query_scalar("SELECT status FROM calls WHERE twilio_call_sid = $1")
        .bind(&sid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "missed");
    let sent = app.wait_for_sms(&caller, 1, Duration::from_secs(10)).await;
    assert_eq!(sent.len(), 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_wrong_digit_hangs_up_and_the_call_is_missed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (sid, caller) = screen_flow(&app, Some("7")).await;
    let status: String = sqlx::query_scalar("SELECT status FROM calls WHERE twilio_call_sid = $1")
        .bind(&sid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "missed");
    assert_eq!(app.wait_for_sms(&caller, 1, Duration::from_secs(10)).await.len(), 1);
    app.stop().await;
}
