//! Forged, malformed, oversized and misdirected webhooks get a clear status
//! and change nothing.

use std::time::Duration;

use e2e::helpers::*;
use sqlx::PgPool;

async fn nothing_stored(app: &TestApp) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    for table in ["calls", "workflow_runs", "messages", "leads"] {
        assert_eq!(app.count(&format!("SELECT count(*) FROM {table}")).await, 0, "{table}");
    }
    assert!(app.fake.attempts().is_empty(), "no SMS");
}

#[sqlx::test(migrations = false)]
async fn forged_and_missing_signatures_get_403(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let form = [("CallSid", "CA1"), ("From", "+17375550001"), ("To", TWILIO_NUMBER), ("DialCallStatus", "no-answer")];
    for path in ["/webhook/voice/incoming", "/webhook/voice/call-completed", "/webhook/sms/status"] {
        let missing = app.client.post(app.url(path)).form(&form).send().await.unwrap();
        assert_eq!(missing.status(), 403, "{path} without signature");
        let forged = app
            .client
            .post(app.url(path))
            .header("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403, "{path} forged");
        let body: serde_json::Value = forged.json().await.unwrap();
        assert_eq!(body["error"], "forbidden");
    }
    // Signed for another URL (a replay against a different endpoint) is forged too.
    let owned: Vec<(String, String)> = form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let sig = activities::twilio::signature::compute(
        &app.fake.auth_token,
        &format!("{BASE_URL}/webhook/voice/incoming"),
        &owned,
    );
    let r = app
        .client
        .post(app.url("/webhook/voice/call-completed"))
        .header("X-Twilio-Signature", sig)
        .form(&owned)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    nothing_stored(&app).await;
    assert_eq!(app.count("SELECT count(*) FROM webhook_events").await, 0);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_call_to_a_number_we_do_not_serve_gets_a_polite_say_and_only_an_audit_row(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let r = app
        .post_twilio("/webhook/voice/incoming", &[("CallSid", "CA2"), ("From", "+17375550002"), ("To", "+15125550777")])
        .await;
    assert_eq!(r.status(), 200);
    let twiml = r.text().await.unwrap();
    assert!(text_of(&twiml, "Say").unwrap().contains("not in service"));
    assert!(!has(&twiml, "Dial"));
    nothing_stored(&app).await;
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_events WHERE business_id IS NULL AND outcome = 'unknown_number'").await,
        1
    );
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn malformed_and_incomplete_bodies_get_400(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // Garbage that form decoding can only read leniently, correctly signed: still no CallSid.
    let garbage = "%ZZ=%&&=\u{0}&From=%F0%9F%98%80%FF";
    let params: Vec<(String, String)> = serde_urlencoded::from_str(garbage).unwrap();
    let sig = activities::twilio::signature::compute(
        &app.fake.auth_token,
        &format!("{BASE_URL}/webhook/voice/incoming"),
        &params,
    );
    let r = app
        .client
        .post(app.url("/webhook/voice/incoming"))
        .header("X-Twilio-Signature", sig)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(garbage)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Well-formed but without CallSid, or with a To that is not a phone number.
    let r = app.post_twilio("/webhook/voice/incoming", &[("From", "+17375550003"), ("To", TWILIO_NUMBER)]).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("CallSid"));
    let r = app
        .post_twilio(
            "/webhook/voice/incoming",
            &[("CallSid", "CA3"), ("From", "+17375550003"), ("To", "not-a-number☎")],
        )
        .await;
    assert_eq!(r.status(), 400);
    // JSON instead of a form.
    let r = app
        .client
        .post(app.url("/webhook/voice/incoming"))
        .header("X-Twilio-Signature", "x")
        .json(&serde_json::json!({"CallSid": "CA4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    nothing_stored(&app).await;
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_one_megabyte_body_is_refused_with_413(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let huge = "x".repeat(1024 * 1024);
    let r = app
        .post_twilio(
            "/webhook/voice/incoming",
            &[("CallSid", "CA5"), ("From", "+17375550005"), ("To", TWILIO_NUMBER), ("Junk", &huge)],
        )
        .await;
    assert_eq!(r.status(), 413);
    nothing_stored(&app).await;
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_withheld_caller_id_rings_through_but_starts_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let r = app
        .post_twilio("/webhook/voice/incoming", &[("CallSid", "CA6"), ("From", "anonymous"), ("To", TWILIO_NUMBER)])
        .await;
    assert_eq!(r.status(), 200);
    let twiml = r.text().await.unwrap();
    assert_eq!(text_of(&twiml, "Number").as_deref(), Some(BUSINESS_PHONE));
    nothing_stored(&app).await;
    app.stop().await;
}
