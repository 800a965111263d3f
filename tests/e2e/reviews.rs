//! Review requests: a completed job gets one request after the (shortened)
//! delay and one reminder unless the tracked link is clicked, never more;
//! opted-out customers get nothing; one request per lead per 90 days, even
//! when completions race; a worker crash sends nothing twice.

use std::time::{Duration, Instant};

use activities::domain::{BusinessId, PhoneNumber};
use activities::store::{api_keys, businesses, opt_outs};
use e2e::helpers::*;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;
use web::app::Mode;
use web::fake_twilio::Reply;

const WAIT: Duration = Duration::from_secs(15);
const PLACE: &str = "ChIJN1t_tDeuEmsRUsoyG83frY4";
const GOOGLE: &str = "https://search.google.com/local/writereview?placeid=ChIJN1t_tDeuEmsRUsoyG83frY4";

/// The app with review delays `delays`, a Google place id, daytime, and an API key.
async fn reviews_app(pool: PgPool, delays: &str) -> (TestApp, String) {
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &[("REVIEW_DELAYS", delays)]).await;
    app.set_daytime_zone().await;
    sqlx::query("UPDATE businesses SET google_place_id = $1").bind(PLACE).execute(&app.pool).await.unwrap();
    let key = key_for(&app, app.business.id).await;
    (app, key)
}

async fn key_for(app: &TestApp, business: BusinessId) -> String {
    let key = api_keys::generate();
    api_keys::insert_key(&app.pool, business, &key).await.unwrap();
    key
}

/// A booked customer of the test business: (lead id, phone).
async fn new_lead(app: &TestApp, name: Option<&str>) -> (Uuid, String) {
    let phone = new_caller();
    let id = sqlx::query_scalar(
        "INSERT INTO leads (business_id, phone, name, status) VALUES ($1, $2, $3, 'booked') RETURNING id",
    )
    .bind(app.business.id)
    .bind(&phone)
    .bind(name)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    (id, phone)
}

async fn new_appointment(app: &TestApp, lead: Uuid) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO appointments (business_id, lead_id, starts_at) VALUES ($1, $2, now() - interval '3 hours') RETURNING id",
    )
    .bind(app.business.id)
    .bind(lead)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn complete(app: &TestApp, key: Option<&str>, path: &str) -> (u16, Value) {
    let mut req = app.client.post(app.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The tracked link in a text, as a path on our server.
fn review_link(body: &str) -> String {
    let line = body.lines().find(|l| l.starts_with(&format!("{BASE_URL}/r/"))).expect("a review link in the text");
    path_of(line)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn request_row(app: &TestApp, lead: Uuid) -> (String, bool, bool, bool) {
    sqlx::query_as(
        "SELECT status, sent_at IS NOT NULL, reminder_sent_at IS NOT NULL, clicked_at IS NOT NULL
         FROM review_requests WHERE lead_id = $1",
    )
    .bind(lead)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_completed_job_gets_one_request_then_one_reminder_and_nothing_more(pool: PgPool) {
    let (app, key) = reviews_app(pool, "300ms,600ms").await;
    let (lead, phone) = new_lead(&app, Some("Maria Lopez")).await;
    let asked = Instant::now();
    let (status, body) = complete(&app, Some(&key), &format!("/api/leads/{lead}/complete")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["review_request"], "scheduled");
    assert!(body["send_at"].is_string(), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM leads WHERE status = 'completed'").await, 1);

    let sent = app.wait_for_sms(&phone, 1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].at - asked >= Duration::from_millis(300), "sent before the delay");
    let request = &sent[0].body;
    assert!(request.starts_with("Hi Maria! Thanks for choosing Smith's Heating & Air today."), "{request}");
    assert!(request.ends_with("Reply STOP to opt out."), "{request}");
    let link = review_link(request);

    let sent = app.wait_for_sms(&phone, 2, WAIT).await;
    assert_eq!(sent.len(), 2);
    assert!(sent[1].at - sent[0].at >= Duration::from_millis(600), "reminded before the delay");
    assert!(sent[1].body.starts_with("Hey Maria, just a friendly reminder"), "{}", sent[1].body);
    assert_eq!(review_link(&sent[1].body), link, "the same tracked link");

    // Well past a third delay: still two texts, and the run is over.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(&phone).len(), 2);
    assert_eq!(request_row(&app, lead).await, ("reminded".into(), true, true, false));
    assert_eq!(
        app.count("SELECT count(*) FROM workflow_runs WHERE kind = 'review_request' AND status = 'completed'").await,
        1
    );
    let purposes: Vec<String> =
        sqlx::query_scalar("SELECT purpose FROM messages WHERE to_phone = $1 AND status = 'sent' ORDER BY created_at")
            .bind(&phone)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(purposes, ["review_request", "review_reminder"]);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_click_before_the_reminder_records_it_redirects_to_google_and_cancels_the_reminder(pool: PgPool) {
    let (app, key) = reviews_app(pool, "300ms,2s").await;
    let (lead, phone) = new_lead(&app, None).await;
    let (status, _) = complete(&app, Some(&key), &format!("/api/leads/{lead}/complete")).await;
    assert_eq!(status, 200);
    let sent = app.wait_for_sms(&phone, 1, WAIT).await;
    assert!(sent[0].body.starts_with("Hi there! Thanks for choosing"), "{}", sent[0].body);
    let link = review_link(&sent[0].body);

    let browser = no_redirects();
    let preview = browser.get(app.url(&link)).header("User-Agent", "facebookexternalhit/1.1 Twitterbot/1.0");
    let r = preview.send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(!request_row(&app, lead).await.3, "a link preview is not a click");

    let r = browser.get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], GOOGLE);
    let (status, _, _, clicked) = request_row(&app, lead).await;
    assert_eq!((status.as_str(), clicked), ("completed", true));
    let first: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT clicked_at FROM review_requests").fetch_one(&app.pool).await.unwrap();
    let again = browser.get(app.url(&link)).send().await.unwrap();
    assert_eq!(again.status(), 302, "the link keeps working");
    let still: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT clicked_at FROM review_requests").fetch_one(&app.pool).await.unwrap();
    assert_eq!(first, still, "the click is recorded once");

    // Past the reminder's delay: no reminder, and the run ended on the click.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(&phone).len(), 1);
    assert_eq!(app.count("SELECT count(*) FROM workflow_events WHERE kind = 'review_link_clicked'").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM workflow_runs WHERE kind = 'review_request' AND status = 'completed'").await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM messages WHERE purpose = 'review_reminder'").await, 0);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn bad_review_links_get_a_small_404_page(pool: PgPool) {
    let (app, key) = reviews_app(pool, "300ms,600ms").await;
    let (lead, phone) = new_lead(&app, None).await;
    complete(&app, Some(&key), &format!("/api/leads/{lead}/complete")).await;
    let link = review_link(&app.wait_for_sms(&phone, 1, WAIT).await[0].body);
    let mut tampered: Vec<char> = link.chars().collect();
    let i = tampered.len() - 5;
    tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let takeover = activities::links::sign(
        &app.settings.link_key(),
        activities::domain::ConversationId::new(),
        chrono::Utc::now() + chrono::Duration::days(1),
    );
    let other_secret = activities::links::sign_review(b"another secret", activities::domain::ReviewRequestId::new());
    let unknown = activities::links::sign_review(&app.settings.link_key(), activities::domain::ReviewRequestId::new());
    let browser = no_redirects();
    for path in [
        tampered,
        format!("/r/{takeover}"),
        format!("/r/{other_secret}"),
        format!("/r/{unknown}"),
        "/r/nonsense".into(),
    ] {
        let r = browser.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.text().await.unwrap().contains("not valid"), "{path}");
    }
    assert_eq!(app.count("SELECT count(*) FROM review_requests WHERE clicked_at IS NOT NULL").await, 0);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn an_opted_out_customer_gets_nothing(pool: PgPool) {
    let (app, key) = reviews_app(pool, "1s,1s").await;
    // Opted out before the job was completed: no request at all.
    let (before, before_phone) = new_lead(&app, None).await;
    let phone = PhoneNumber::parse(&before_phone).unwrap();
    opt_outs::add_opt_out(&app.pool, app.business.id, &phone, "stop_keyword").await.unwrap();
    let (status, body) = complete(&app, Some(&key), &format!("/api/leads/{before}/complete")).await;
    assert_eq!((status, body["review_request"].as_str()), (200, Some("opted_out")));
    assert!(body["send_at"].is_null());
    // Opted out after: the run ends at the send, nothing sent.
    let (after, after_phone) = new_lead(&app, None).await;
    let (_, body) = complete(&app, Some(&key), &format!("/api/leads/{after}/complete")).await;
    assert_eq!(body["review_request"], "scheduled");
    let phone = PhoneNumber::parse(&after_phone).unwrap();
    opt_outs::add_opt_out(&app.pool, app.business.id, &phone, "stop_keyword").await.unwrap();

    tokio::time::sleep(Duration::from_millis(2500)).await;
    app.settle(WAIT).await;
    assert!(app.fake.sent_to(&before_phone).is_empty() && app.fake.sent_to(&after_phone).is_empty());
    assert_eq!(app.count("SELECT count(*) FROM messages WHERE direction = 'outbound'").await, 0);
    assert_eq!(request_row(&app, after).await.0, "opted_out");
    assert_eq!(app.count("SELECT count(*) FROM review_requests").await, 1, "none for the customer opted out before");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_second_completion_within_90_days_is_recently_asked(pool: PgPool) {
    let (app, key) = reviews_app(pool, "300ms,600ms").await;
    let (lead, phone) = new_lead(&app, Some("Maria")).await;
    let appointment = new_appointment(&app, lead).await;
    let (status, body) = complete(&app, Some(&key), &format!("/api/appointments/{appointment}/complete")).await;
    assert_eq!((status, body["review_request"].as_str()), (200, Some("scheduled")), "{body}");
    assert_eq!(body["appointment_id"], appointment.to_string());
    let (a_status, l_status): (String, String) = sqlx::query_as(
        "SELECT a.status, l.status FROM appointments a JOIN leads l ON l.id = a.lead_id WHERE a.id = $1",
    )
    .bind(appointment)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((a_status.as_str(), l_status.as_str()), ("completed", "completed"));
    let linked: Option<Uuid> =
        sqlx::query_scalar("SELECT appointment_id FROM review_requests").fetch_one(&app.pool).await.unwrap();
    assert_eq!(linked, Some(appointment));

    let (status, body) = complete(&app, Some(&key), &format!("/api/leads/{lead}/complete")).await;
    assert_eq!((status, body["review_request"].as_str()), (200, Some("recently_asked")));
    let (_, body) = complete(&app, Some(&key), &format!("/api/appointments/{appointment}/complete")).await;
    assert_eq!(body["review_request"], "recently_asked");
    // Even when the first request is long over: 89 days later it is still too soon.
    assert_eq!(app.wait_for_sms(&phone, 2, WAIT).await.len(), 2);
    app.settle(WAIT).await;
    sqlx::query("UPDATE review_requests SET created_at = now() - interval '89 days'").execute(&app.pool).await.unwrap();
    let (_, body) = complete(&app, Some(&key), &format!("/api/leads/{lead}/complete")).await;
    assert_eq!(body["review_request"], "recently_asked");
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs WHERE kind = 'review_request'").await, 1);
    // 91 days later a new job may be asked about again.
    sqlx::query("UPDATE review_requests SET created_at = now() - interval '91 days'").execute(&app.pool).await.unwrap();
    let (_, body) = complete(&app, Some(&key), &format!("/api/leads/{lead}/complete")).await;
    assert_eq!(body["review_request"], "scheduled");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn the_database_refuses_a_second_request_within_90_days(pool: PgPool) {
    let (app, key) = reviews_app(pool, "1h,1h").await;
    let (lead, phone) = new_lead(&app, None).await;
    complete(&app, Some(&key), &format!("/api/leads/{lead}/complete")).await;
    // Bypassing the application's check: the exclusion constraint still says no.
    let e = sqlx::query(
        "INSERT INTO review_requests (business_id, lead_id, phone, review_url, created_at)
         VALUES ($1, $2, $3, 'x', now() + interval '80 days')",
    )
    .bind(app.business.id)
    .bind(lead)
    .bind(&phone)
    .execute(&app.pool)
    .await
    .unwrap_err();
    let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("23P01"), "{e}");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn racing_completions_start_one_workflow(pool: PgPool) {
    let (app, key) = reviews_app(pool, "1h,1h").await;
    let (lead, _) = new_lead(&app, None).await;
    let appointment = new_appointment(&app, lead).await;
    let lead_path = format!("/api/leads/{lead}/complete");
    let appointment_path = format!("/api/appointments/{appointment}/complete");
    let (a, b, c) = tokio::join!(
        complete(&app, Some(&key), &lead_path),
        complete(&app, Some(&key), &lead_path),
        complete(&app, Some(&key), &appointment_path),
    );
    let mut answers: Vec<String> =
        [a, b, c].iter().map(|(s, v)| format!("{s} {}", v["review_request"].as_str().unwrap_or("?"))).collect();
    answers.sort();
    assert_eq!(answers, ["200 recently_asked", "200 recently_asked", "200 scheduled"]);
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs WHERE kind = 'review_request'").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM review_requests").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn completions_are_scoped_to_the_business_and_need_a_review_link(pool: PgPool) {
    let (app, key) = reviews_app(pool, "1h,1h").await;
    let (lead, _) = new_lead(&app, None).await;
    let appointment = new_appointment(&app, lead).await;
    let path = format!("/api/leads/{lead}/complete");
    let (status, body) = complete(&app, None, &path).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")));
    let other = businesses::insert_business(&app.pool, &demo_business("+15125550177")).await.unwrap();
    let other_key = key_for(&app, other.id).await;
    for p in [path.clone(), format!("/api/appointments/{appointment}/complete")] {
        let (status, body) = complete(&app, Some(&other_key), &p).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{p}");
    }
    for p in ["/api/leads/not-a-uuid/complete".to_owned(), format!("/api/appointments/{}/complete", Uuid::new_v4())] {
        assert_eq!(complete(&app, Some(&key), &p).await.0, 404, "{p}");
    }
    assert_eq!(app.count("SELECT count(*) FROM leads WHERE status = 'completed'").await, 0, "nothing changed");

    sqlx::query("UPDATE businesses SET google_place_id = NULL").execute(&app.pool).await.unwrap();
    let (status, body) = complete(&app, Some(&key), &path).await;
    assert_eq!((status, body["review_request"].as_str()), (200, Some("no_review_link")));
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE status = 'completed'").await,
        1,
        "the job is still completed"
    );
    sqlx::query("UPDATE appointments SET status = 'cancelled'").execute(&app.pool).await.unwrap();
    let (status, body) = complete(&app, Some(&key), &format!("/api/appointments/{appointment}/complete")).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")));
    assert_eq!(app.count("SELECT count(*) FROM workflow_runs").await, 0);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn workers_down_when_the_request_comes_due_send_it_once_on_restart(pool: PgPool) {
    let (mut app, key) = reviews_app(pool, "300ms,600ms").await;
    let (lead, phone) = new_lead(&app, None).await;
    complete(&app, Some(&key), &format!("/api/leads/{lead}/complete")).await;
    app.kill_workers();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(app.fake.sent_to(&phone).is_empty(), "no worker, no text");
    app.start_workers().await;
    let sent = app.wait_for_sms(&phone, 2, WAIT).await;
    assert_eq!(sent.len(), 2);
    assert!(sent[0].body.starts_with("Hi there!") && sent[1].body.starts_with("Hey, just a friendly reminder"));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(app.fake.sent_to(&phone).len(), 2);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_worker_killed_while_sending_the_request_sends_it_exactly_once(pool: PgPool) {
    let (mut app, key) = reviews_app(pool, "300ms,600ms").await;
    let (lead, phone) = new_lead(&app, None).await;
    // Twilio takes the request but the worker dies before hearing back.
    app.fake.script_for(&phone, [Reply::AcceptThenHang { delay: Duration::from_secs(30) }]);
    complete(&app, Some(&key), &format!("/api/leads/{lead}/complete")).await;
    let deadline = Instant::now() + WAIT;
    while app.fake.sent_to(&phone).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.kill_workers();
    let status: String = sqlx::query_scalar("SELECT status FROM messages WHERE purpose = 'review_request'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "sending", "the crash left a maybe-sent request");

    app.start_workers().await;
    let sent = app.wait_for_sms(&phone, 2, WAIT).await;
    assert_eq!(sent.len(), 2, "the request, reconciled, then the reminder");
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let requests =
        app.fake.attempts().iter().filter(|(to, body)| *to == phone && body.starts_with("Hi there!")).count();
    assert_eq!(requests, 1, "the request was sent exactly once");
    assert_eq!(app.fake.sent_to(&phone).len(), 2);
    let sid: String = sqlx::query_scalar("SELECT twilio_message_sid FROM messages WHERE purpose = 'review_request'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sid, sent[0].sid, "reconciled with Twilio");
    app.stop().await;
}
