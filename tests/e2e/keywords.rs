//! STOP, START and HELP — and the words that only look like them.

use std::time::Duration;

use activities::domain::PhoneNumber;
use activities::store::opt_outs;
use e2e::helpers::*;
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(10);

async fn opted_out(app: &TestApp, caller: &str) -> bool {
    opt_outs::is_opted_out(&app.pool, app.business.id, &PhoneNumber::parse(caller).unwrap()).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn stop_in_any_form_opts_out_with_one_confirmation_and_silence_after(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    for stop in ["STOP", " stop! ", "Unsubscribe", "ＳＴＯＰ", "stop texting me", "wrong number"] {
        let caller = app.texted_back_caller().await;
        app.text(&caller, stop).await;
        let sent = app.wait_for_sms(&caller, 2, WAIT).await;
        assert_eq!(sent.len(), 2, "{stop:?}: one confirmation");
        assert!(sent[1].body.contains("unsubscribed") && sent[1].body.contains(BUSINESS_NAME), "{}", sent[1].body);
        assert!(opted_out(&app, &caller).await, "{stop:?}");
        app.settle(WAIT).await;
        app.text(&caller, "hello?").await;
        app.settle(WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.fake.sent_to(&caller).len(), 2, "{stop:?}: nothing after the confirmation");
    }
    assert_eq!(app.count("SELECT count(*) FROM conversations WHERE status = 'closed_opted_out'").await, 6);
    assert_eq!(app.count("SELECT count(*) FROM leads WHERE status = 'opted_out'").await, 6);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn cancel_my_appointment_is_not_an_opt_out(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    app.text(&caller, "Cancel my appointment please").await;
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2);
    assert!(!opted_out(&app, &caller).await);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn help_names_the_business_its_phone_rates_and_how_to_stop(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let stranger = new_caller();
    app.text(&stranger, "HELP").await;
    let sent = app.wait_for_sms(&stranger, 1, WAIT).await;
    assert_eq!(sent.len(), 1);
    let b = &sent[0].body;
    for needle in [BUSINESS_NAME, "(512) 555-0199", "Msg & data rates may apply", "STOP"] {
        assert!(b.contains(needle), "{needle:?} missing from {b}");
    }
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn start_opts_back_in_with_a_confirmation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = new_caller();
    opt_outs::add_opt_out(&app.pool, app.business.id, &PhoneNumber::parse(&caller).unwrap(), "stop_keyword")
        .await
        .unwrap();
    app.text(&caller, "START").await;
    let sent = app.wait_for_sms(&caller, 1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains("resubscribed"), "{}", sent[0].body);
    assert!(!opted_out(&app, &caller).await);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn twilios_opt_out_type_is_honoured(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = app.texted_back_caller().await;
    let sid = new_call_sid().replace("CA", "SM");
    app.text_with(&sid, &caller, "arrêtez", &[("OptOutType", "STOP")]).await;
    app.settle(WAIT).await;
    assert!(opted_out(&app, &caller).await);
    app.stop().await;
}
