//! The calendar API (seed 004, provider `internal`): availability in the
//! business's zone, events CRUD over appointments, and the seed's error shapes.

use activities::domain::BusinessId;
use activities::store::{api_keys, businesses};
use e2e::helpers::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use web::app::Mode;

const WEB_ONLY: Mode = Mode { web: true, workers: false };

async fn key_for(app: &TestApp, business: BusinessId) -> String {
    let key = api_keys::generate();
    api_keys::insert_key(&app.pool, business, &key).await.unwrap();
    key
}

async fn call(app: &TestApp, key: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.client.request(method, app.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn set_zone(app: &TestApp, zone: &str) {
    sqlx::query("UPDATE businesses SET timezone = $1").bind(zone).execute(&app.pool).await.unwrap();
}

fn starts(body: &Value) -> Vec<&str> {
    body["available_slots"].as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()).collect()
}

#[sqlx::test(migrations = false)]
async fn availability_is_computed_in_the_business_zone(pool: PgPool) {
    let app = TestApp::spawn_with(pool, WEB_ONLY, &[]).await;
    let key = key_for(&app, app.business.id).await;

    // Phoenix keeps UTC-7 all year: 8am is 15:00Z in July. 90-minute default: 8am..3pm.
    set_zone(&app, "America/Phoenix").await;
    let (status, body) = call(&app, Some(&key), "GET", "/calendar/internal/availability?date=2036-07-15", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(starts(&body).len(), 8);
    assert_eq!(body["available_slots"][0], json!({"start": "2036-07-15T15:00:00Z", "end": "2036-07-15T16:30:00Z"}));
    assert_eq!(starts(&body)[7], "2036-07-15T22:00:00Z");
    assert_eq!((body["timezone"].as_str(), body["duration"].as_i64()), (Some("America/Phoenix"), Some(90)));

    // New York on the same date is on EDT (UTC-4); in January on EST (UTC-5).
    set_zone(&app, "America/New_York").await;
    let (_, body) =
        call(&app, Some(&key), "GET", "/calendar/internal/availability?date=2036-07-15&duration=60", None).await;
    assert_eq!(starts(&body).first().copied(), Some("2036-07-15T12:00:00Z"));
    assert_eq!(starts(&body).len(), 9, "60 minutes: 8am..4pm");
    assert_eq!(body["available_slots"][0]["end"], "2036-07-15T13:00:00Z");
    let (_, body) = call(&app, Some(&key), "GET", "/calendar/internal/availability?date=2036-01-15", None).await;
    assert_eq!(starts(&body).first().copied(), Some("2036-01-15T13:00:00Z"));

    // Saturday is closed; a past date has nothing left.
    let (status, body) = call(&app, Some(&key), "GET", "/calendar/internal/availability?date=2036-07-19", None).await;
    assert_eq!((status, starts(&body).len()), (200, 0));
    let (_, body) = call(&app, Some(&key), "GET", "/calendar/internal/availability?date=2020-01-07", None).await;
    assert_eq!(starts(&body).len(), 0);
    app.stop().await;
}

fn event(start: &str, end: &str) -> Value {
    json!({
        "title": "Furnace tune-up",
        "start": start,
        "end": end,
        "description": "Gate code 1234",
        "location": "12 Elm St",
        "attendees": ["ann@example.com"],
        "customData": {"phone": "+15125550123", "name": "Ann Lee", "service_type": "Heating"}
    })
}

#[sqlx::test(migrations = false)]
async fn events_are_created_listed_moved_and_cancelled(pool: PgPool) {
    let app = TestApp::spawn_with(pool, WEB_ONLY, &[]).await;
    set_zone(&app, "America/New_York").await;
    let key = key_for(&app, app.business.id).await;
    let k = Some(key.as_str());

    let (status, created) =
        call(&app, k, "POST", "/calendar/internal/events", Some(event("2036-07-15T14:00:00Z", "2036-07-15T15:30:00Z")))
            .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["title"], "Furnace tune-up");
    assert_eq!(
        (created["start"].as_str(), created["end"].as_str()),
        (Some("2036-07-15T14:00:00Z"), Some("2036-07-15T15:30:00Z"))
    );
    assert_eq!(
        (created["description"].as_str(), created["location"].as_str()),
        (Some("Gate code 1234"), Some("12 Elm St"))
    );
    assert_eq!(created["customData"]["customer_name"], "Ann Lee");
    assert_eq!(app.count("SELECT count(*) FROM leads WHERE source = 'manual' AND name = 'Ann Lee'").await, 1);
    let id = created["id"].as_str().unwrap().to_owned();

    // Overlapping it is a conflict; the same customer again reuses the lead.
    let (status, body) =
        call(&app, k, "POST", "/calendar/internal/events", Some(event("2036-07-15T15:00:00Z", "2036-07-15T16:00:00Z")))
            .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")), "{body}");
    let (status, second) =
        call(&app, k, "POST", "/calendar/internal/events", Some(event("2036-07-15T08:00", "2036-07-15T09:00"))).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["start"], "2036-07-15T12:00:00Z", "no offset: read in the business zone (08:00 EDT)");
    assert_eq!(app.count("SELECT count(*) FROM leads").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM appointments").await, 2);

    let list = "/calendar/internal/events?start_date=2036-07-15&end_date=2036-07-16";
    let (status, body) = call(&app, k, "GET", list, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"].as_array().unwrap().len(), 2);
    assert!(body.get("next_page_token").is_none());

    let path = format!("/calendar/internal/events/{id}");
    let (status, moved) =
        call(&app, k, "PUT", &path, Some(json!({"start": "2036-07-15T18:00:00Z", "title": "Tune-up"}))).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        (moved["start"].as_str(), moved["end"].as_str()),
        (Some("2036-07-15T18:00:00Z"), Some("2036-07-15T19:30:00Z"))
    );
    assert_eq!((moved["title"].as_str(), moved["location"].as_str()), (Some("Tune-up"), Some("12 Elm St")));
    let (_, avail) = call(&app, k, "GET", "/calendar/internal/availability?date=2036-07-15&duration=60", None).await;
    assert!(!starts(&avail).contains(&"2036-07-15T18:00:00Z"), "the moved event's time is taken");
    assert!(!starts(&avail).contains(&"2036-07-15T12:00:00Z"), "nor the second event's");
    assert!(starts(&avail).contains(&"2036-07-15T14:00:00Z"), "the old time is free again");

    let (status, body) = call(&app, k, "DELETE", &path, None).await;
    assert_eq!((status, body), (204, Value::Null));
    let (_, body) = call(&app, k, "GET", list, None).await;
    assert_eq!(body["events"].as_array().unwrap().len(), 1, "cancelled events leave the calendar");
    let (status, body) = call(&app, k, "DELETE", &path, None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, _) = call(&app, k, "PUT", &path, Some(json!({"title": "again"}))).await;
    assert_eq!(status, 404, "a cancelled event cannot be edited");
    // Its time is free again.
    let (status, _) =
        call(&app, k, "POST", "/calendar/internal/events", Some(event("2036-07-15T18:00:00Z", "2036-07-15T19:00:00Z")))
            .await;
    assert_eq!(status, 201);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn events_come_in_pages(pool: PgPool) {
    let app = TestApp::spawn_with(pool, WEB_ONLY, &[]).await;
    let key = key_for(&app, app.business.id).await;
    let k = Some(key.as_str());
    for h in [13, 15, 17] {
        let (status, _) = call(
            &app,
            k,
            "POST",
            "/calendar/internal/events",
            Some(event(&format!("2036-07-15T{h}:00:00Z"), &format!("2036-07-15T{h}:30:00Z"))),
        )
        .await;
        assert_eq!(status, 201);
    }
    let base = "/calendar/internal/events?start_date=2036-07-15T00:00:00Z&end_date=2036-07-16T00:00:00Z&limit=2";
    let (_, first) = call(&app, k, "GET", base, None).await;
    let got: Vec<&str> = first["events"].as_array().unwrap().iter().map(|e| e["start"].as_str().unwrap()).collect();
    assert_eq!(got, ["2036-07-15T13:00:00Z", "2036-07-15T15:00:00Z"]);
    let token = first["next_page_token"].as_str().unwrap();
    let (_, second) = call(&app, k, "GET", &format!("{base}&page_token={token}"), None).await;
    let got: Vec<&str> = second["events"].as_array().unwrap().iter().map(|e| e["start"].as_str().unwrap()).collect();
    assert_eq!(got, ["2036-07-15T17:00:00Z"]);
    assert!(second.get("next_page_token").is_none());
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn bad_requests_get_the_seeds_error_shapes(pool: PgPool) {
    let app = TestApp::spawn_with(pool, WEB_ONLY, &[]).await;
    let key = key_for(&app, app.business.id).await;
    let k = Some(key.as_str());
    let avail = "/calendar/internal/availability";

    let (status, body) = call(&app, None, "GET", &format!("{avail}?date=2036-07-15"), None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")));
    assert!(body["message"].is_string());
    let (status, _) = call(&app, Some("cr_wrong"), "GET", &format!("{avail}?date=2036-07-15"), None).await;
    assert_eq!(status, 401);

    let business = app.business.id.to_string();
    let invalid = [
        ("GET", format!("{avail}?date=07/15/2036"), None),
        ("GET", avail.to_owned(), None),
        ("GET", format!("{avail}?date=2036-07-15&duration=5"), None),
        ("GET", format!("{avail}?date=2036-07-15&duration=ninety"), None),
        ("GET", format!("{avail}?date=2036-07-15&user_id=someone-else"), None),
        ("GET", "/calendar/internal/events?start_date=yesterday".to_owned(), None),
        ("GET", "/calendar/internal/events?start_date=2036-07-16&end_date=2036-07-15".to_owned(), None),
        ("GET", "/calendar/internal/events?limit=0".to_owned(), None),
        ("GET", "/calendar/internal/events?page_token=garbage".to_owned(), None),
        ("POST", "/calendar/internal/events".to_owned(), Some(json!({"title": "x"}))),
        ("POST", "/calendar/internal/events".to_owned(), Some(json!(["not", "an", "object"]))),
        (
            "POST",
            "/calendar/internal/events".to_owned(),
            Some(json!({"title": "x", "start": "2036-07-15T14:00:00Z", "end": "2036-07-15T15:00:00Z"})),
        ),
        ("POST", "/calendar/internal/events".to_owned(), Some(event("2036-07-15T15:00:00Z", "2036-07-15T14:00:00Z"))),
        (
            "POST",
            "/calendar/internal/events".to_owned(),
            Some(json!({"title": "x", "start": "2036-07-15T14:00:00Z",
            "end": "2036-07-15T15:00:00Z", "customData": {"phone": "call me"}})),
        ),
        ("POST", "/calendar/internal/events".to_owned(), Some(json!({"user_id": "nope", "title": "x"}))),
    ];
    for (method, path, body) in invalid {
        let (status, got) = call(&app, k, method, &path, body.clone()).await;
        assert_eq!((status, got["error"].as_str()), (400, Some("invalid_request")), "{method} {path} {body:?}: {got}");
        assert!(got["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, _) = call(&app, k, "GET", &format!("{avail}?date=2036-07-15&user_id={business}"), None).await;
    assert_eq!(status, 200, "user_id may name the key's own business");

    let unknown = uuid::Uuid::new_v4();
    for (method, path) in [
        ("DELETE", format!("/calendar/internal/events/{unknown}")),
        ("PUT", format!("/calendar/internal/events/{unknown}")),
        ("DELETE", "/calendar/internal/events/not-a-uuid".to_owned()),
        ("GET", "/calendar/google/events".to_owned()),
    ] {
        let (status, got) = call(&app, k, method, &path, Some(json!({"title": "x"}))).await;
        assert_eq!((status, got["error"].as_str()), (404, Some("not_found")), "{method} {path}");
    }

    // Another business's event is not found either.
    let (_, mine) =
        call(&app, k, "POST", "/calendar/internal/events", Some(event("2036-07-15T14:00:00Z", "2036-07-15T15:00:00Z")))
            .await;
    let other = businesses::insert_business(&app.pool, &demo_business("+15125550177")).await.unwrap();
    let other_key = key_for(&app, other.id).await;
    let path = format!("/calendar/internal/events/{}", mine["id"].as_str().unwrap());
    let (status, _) = call(&app, Some(&other_key), "DELETE", &path, None).await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_burst_past_the_limit_is_told_when_to_retry(pool: PgPool) {
    let extra = [("CALENDAR_RATE_PER_MIN", "6"), ("CALENDAR_RATE_BURST", "3")];
    let app = TestApp::spawn_with(pool, WEB_ONLY, &extra).await;
    let key = key_for(&app, app.business.id).await;
    let path = "/calendar/internal/availability?date=2036-07-15";
    for _ in 0..3 {
        assert_eq!(call(&app, Some(&key), "GET", path, None).await.0, 200);
    }
    let r = app.client.get(app.url(path)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let header: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    let retry_after = body["retry_after"].as_u64().unwrap();
    assert!((9..=10).contains(&retry_after), "one request per 10 s: {retry_after}");
    assert_eq!(header, retry_after);
    // The limit is per key: the business's other key still gets through.
    let other = key_for(&app, app.business.id).await;
    assert_eq!(call(&app, Some(&other), "GET", path, None).await.0, 200);
    app.stop().await;
}
