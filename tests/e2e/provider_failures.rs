//! Twilio failing: retried with backoff when it may succeed, never retried when
//! it cannot, and turned into opt-outs or call-back alerts when that is what it means.

use std::time::Duration;

use activities::domain::PhoneNumber;
use activities::store::opt_outs;
use e2e::helpers::*;
use sqlx::PgPool;
use web::fake_twilio::Reply;

const WAIT: Duration = Duration::from_secs(10);

#[sqlx::test(migrations = false)]
async fn two_500s_then_201_sends_one_message_and_records_its_sid(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    app.fake
        .script_for(&caller, [Reply::Error { status: 500, code: 20500 }, Reply::Error { status: 500, code: 20500 }]);
    app.missed_call(&caller, "no-answer").await;
    let sent = app.wait_for_sms(&caller, 1, WAIT).await;
    assert_eq!(sent.len(), 1);
    app.settle(WAIT).await;
    let attempts_to_caller = app.fake.attempts().iter().filter(|(to, _)| *to == caller).count();
    assert_eq!(attempts_to_caller, 3, "two failures, then the success");
    let (sid, attempts, status): (String, i32, String) =
        sqlx::query_as("SELECT twilio_message_sid, attempts, status FROM messages WHERE purpose = 'text_back'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((sid.as_str(), attempts, status.as_str()), (sent[0].sid.as_str(), 3, "sent"));
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_429_is_retried(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::Error { status: 429, code: 20429 }]);
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn error_21610_is_not_retried_and_opts_the_caller_out(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::Error { status: 400, code: 21610 }]);
    app.missed_call(&caller, "no-answer").await;
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attempts_to_caller = app.fake.attempts().iter().filter(|(to, _)| *to == caller).count();
    assert_eq!(attempts_to_caller, 1, "no retry after 21610");
    let phone = PhoneNumber::parse(&caller).unwrap();
    assert!(opt_outs::is_opted_out(&app.pool, app.business.id, &phone).await.unwrap());
    assert_eq!(
        app.count(
            "SELECT count(*) FROM messages WHERE purpose = 'text_back' AND status = 'failed' AND error_code = 21610"
        )
        .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM conversations WHERE status = 'closed_opted_out'").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_landline_is_marked_not_textable_and_the_owner_is_told_to_call_back(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::Error { status: 400, code: 21614 }]);
    app.missed_call(&caller, "no-answer").await;
    let owner = app.wait_for_sms(OWNER_PHONE, 2, WAIT).await;
    assert_eq!(owner.len(), 2, "the missed-call alert and the call-back request");
    assert!(owner.iter().any(|m| m.body.contains("(it looks like a landline), so please call them back")), "{owner:?}");
    assert_eq!(app.fake.attempts().iter().filter(|(to, _)| *to == caller).count(), 1);
    assert_eq!(app.count("SELECT count(*) FROM unreachable_numbers WHERE error_code = 21614").await, 1);
    // The next missed call from that landline goes straight to a call-back alert.
    app.settle(WAIT).await;
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(OWNER_PHONE, 3, WAIT).await.len(), 3);
    assert_eq!(
        app.fake.attempts().iter().filter(|(to, _)| *to == caller).count(),
        1,
        "no second attempt to a landline"
    );
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn other_4xx_are_recorded_and_not_retried(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::Error { status: 400, code: 21602 }]);
    app.missed_call(&caller, "no-answer").await;
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.attempts().iter().filter(|(to, _)| *to == caller).count(), 1);
    let owner = app.fake.sent_to(OWNER_PHONE);
    assert!(owner.iter().any(|m| m.body.contains("(the text was refused), so please call them back")), "{owner:?}");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM messages WHERE purpose = 'text_back' AND status = 'failed' AND error_code = 21602"
        )
        .await,
        1
    );
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_timeout_after_twilio_accepted_is_reconciled_not_resent(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // Twilio stores the message but answers after our 1.5 s client timeout.
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::AcceptThenHang { delay: Duration::from_secs(4) }]);
    app.missed_call(&caller, "no-answer").await;
    // Until the retry has recorded the text (settling alone could end in the
    // moment between the timeout and its retry coming due, on a slow machine).
    let deadline = std::time::Instant::now() + WAIT;
    while app.count("SELECT count(*) FROM messages WHERE purpose = 'text_back' AND status = 'sent'").await == 0
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.settle(WAIT).await;
    assert_eq!(app.fake.attempts().iter().filter(|(to, _)| *to == caller).count(), 1, "no duplicate");
    assert!(app.fake.list_calls() >= 1, "the retry asked Twilio first");
    let sent = app.fake.sent_to(&caller);
    let sid: String =
        sqlx::query_scalar("SELECT twilio_message_sid FROM messages WHERE purpose = 'text_back' AND status = 'sent'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(sid, sent[0].sid);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_hanging_text_back_does_not_hold_the_owners_alert(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // Twilio takes the caller's text-back request and never answers (our
    // client gives up at 1.5 s); the owner's alert goes to another number.
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::Hang { delay: Duration::from_secs(4) }]);
    app.missed_call(&caller, "no-answer").await;
    let alert = app.wait_for_sms(OWNER_PHONE, 1, Duration::from_millis(1000)).await;
    assert_eq!(alert.len(), 1, "the owner was alerted while the caller's request still hung");
    assert!(app.fake.sent_to(&caller).is_empty(), "the text-back's request had not been answered yet");
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1, "the text-back went on its retry");
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1);
    assert_eq!(app.fake.sent_to(OWNER_PHONE).len(), 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_delivery_report_that_beats_the_senders_record_lands_on_its_text(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // Twilio takes the text-back at once but answers our request a second
    // later; its delivery report comes in before that answer.
    let caller = new_caller();
    app.fake.script_for(&caller, [Reply::AcceptThenHang { delay: Duration::from_secs(1) }]);
    app.missed_call(&caller, "no-answer").await;
    let twilio = app.wait_for_sms(&caller, 1, WAIT).await;
    let (sid, callback) = (twilio[0].sid.clone(), twilio[0].status_callback.clone().expect("a status callback"));
    let row = || async {
        sqlx::query_as::<_, (String, Option<String>, bool)>(
            "SELECT status, twilio_message_sid, sent_at IS NOT NULL FROM messages WHERE purpose = 'text_back'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    assert_eq!(row().await, ("sending".to_owned(), None, false), "our request is still waiting");
    let path = callback.strip_prefix(BASE_URL).expect("our URL");
    let r = app.post_twilio(path, &[("MessageSid", &sid), ("MessageStatus", "delivered")]).await;
    assert_eq!(r.status(), 204);
    assert_eq!(row().await, ("delivered".to_owned(), Some(sid.clone()), true));
    // Our request's answer comes after, and does not move the row back.
    app.settle(WAIT).await;
    assert_eq!(row().await, ("delivered".to_owned(), Some(sid.clone()), true));
    // A report naming this text with another sid is not about this text.
    let r = app
        .post_twilio(path, &[("MessageSid", "SM00000000000000000000000000000000"), ("MessageStatus", "failed")])
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(row().await, ("delivered".to_owned(), Some(sid), true));
    assert_eq!(app.fake.sent_to(&caller).len(), 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_status_callback_naming_no_text_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let r = app
        .post_twilio("/webhook/sms/status?message_id=not-a-text", &[("MessageSid", "SM1"), ("MessageStatus", "sent")])
        .await;
    assert_eq!(r.status(), 400);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn delivery_callbacks_update_status_and_never_go_backwards(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    let sent = app.wait_for_sms(&caller, 1, WAIT).await;
    app.settle(WAIT).await;
    let sid = sent[0].sid.clone();
    let post = |status: &'static str| {
        let sid = sid.clone();
        let app = &app;
        async move {
            let r = app.post_twilio("/webhook/sms/status", &[("MessageSid", &sid), ("MessageStatus", status)]).await;
            assert_eq!(r.status(), 204);
        }
    };
    post("delivered").await;
    post("sent").await;
    let status: String = sqlx::query_scalar("SELECT status FROM messages WHERE twilio_message_sid = $1")
        .bind(&sid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "delivered");
    app.stop().await;
}
