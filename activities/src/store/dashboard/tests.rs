//! The dashboard queries on a small hand-made history.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;
use crate::test_db;

const CHICAGO: chrono_tz::Tz = chrono_tz::America::Chicago;

fn chicago(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    CHICAGO.from_local_datetime(&naive).unwrap().with_timezone(&Utc)
}

async fn call(pool: &PgPool, b: &Business, phone: &str, status: &str, at: DateTime<Utc>) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO calls (business_id, twilio_call_sid, caller_phone, status, created_at)
         VALUES ($1, 'CA' || md5(random()::text), $2, $3, $4) RETURNING id",
    )
    .bind(b.id)
    .bind(phone)
    .bind(status)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn lead(pool: &PgPool, b: &Business, phone: &str, name: Option<&str>, status: &str, at: DateTime<Utc>) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO leads (business_id, phone, name, status, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(b.id)
    .bind(phone)
    .bind(name)
    .bind(status)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn conversation_of(pool: &PgPool, b: &Business, lead_id: Uuid, status: &str, at: DateTime<Utc>) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO conversations (business_id, lead_id, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(b.id)
    .bind(lead_id)
    .bind(status)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn text(pool: &PgPool, b: &Business, convo: Uuid, inbound: bool, owner: bool, body: &str, at: DateTime<Utc>) {
    let (dir, sender, audience) = match (inbound, owner) {
        (true, _) => ("inbound", "caller", "customer"),
        (false, true) => ("outbound", "system", "owner"),
        (false, false) => ("outbound", "ai", "customer"),
    };
    sqlx::query(
        "INSERT INTO messages (business_id, conversation_id, direction, audience, sender_type, from_phone, to_phone,
                               body, status, created_at)
         VALUES ($1, $2, $3, $4, $5, '+15125550100', '+17375550001', $6, 'sent', $7)",
    )
    .bind(b.id)
    .bind(convo)
    .bind(dir)
    .bind(audience)
    .bind(sender)
    .bind(body)
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
}

async fn setup(pool: &PgPool) -> Business {
    test_db::migrated(pool).await;
    test_db::business(pool, "America/Chicago").await
}

#[sqlx::test(migrations = false)]
async fn calls_come_newest_first_a_page_at_a_time_and_filter_by_status(pool: PgPool) {
    let b = setup(&pool).await;
    let t0 = chicago("2026-12-01 09:00");
    // Two calls share a timestamp: the id breaks the tie, and no page repeats or skips one.
    let at = [0, 10, 10, 30, 40].map(|m| t0 + Duration::minutes(m));
    for (i, at) in at.iter().enumerate() {
        let status = if i % 2 == 0 { "missed" } else { "answered" };
        call(&pool, &b, &format!("+1737555000{i}"), status, *at).await;
    }
    let mut conn = pool.acquire().await.unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let p = calls(&mut conn, b.id, &CallFilter::default(), 2, before).await.unwrap();
        assert!(p.items.len() <= 2);
        seen.extend(p.items.iter().map(|c| (c.created_at, c.id)));
        match p.next {
            Some(c) => before = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "every call once");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "strictly newest first: {seen:?}");
    let missed = CallFilter { status: Some("missed".into()), ..CallFilter::default() };
    let p = calls(&mut conn, b.id, &missed, 10, None).await.unwrap();
    assert_eq!(p.items.len(), 3);
    assert!(p.items.iter().all(|c| c.status == "missed") && p.next.is_none());
}

#[sqlx::test(migrations = false)]
async fn leads_filter_by_status_and_search_names_and_numbers_literally(pool: PgPool) {
    let b = setup(&pool).await;
    let t0 = chicago("2026-12-01 09:00");
    lead(&pool, &b, "+17375550001", Some("Maria Lopez"), "qualified", t0).await;
    lead(&pool, &b, "+17375550002", Some("Mario 100% Real"), "new", t0 + Duration::minutes(1)).await;
    lead(&pool, &b, "+15125550003", None, "qualified", t0 + Duration::minutes(2)).await;
    let mut conn = pool.acquire().await.unwrap();
    let find = |status: Option<&str>, search: Option<&str>| LeadFilter {
        status: status.map(Into::into),
        search: search.map(Into::into),
    };
    let names = |p: Page<LeadRow>| p.items.into_iter().map(|l| l.phone).collect::<Vec<_>>();
    let q = leads(&mut conn, b.id, &find(Some("qualified"), None), 10, None).await.unwrap();
    assert_eq!(names(q), ["+15125550003", "+17375550001"]);
    let q = leads(&mut conn, b.id, &find(None, Some("mari")), 10, None).await.unwrap();
    assert_eq!(names(q), ["+17375550002", "+17375550001"], "case-insensitive name search");
    let q = leads(&mut conn, b.id, &find(None, Some("512")), 10, None).await.unwrap();
    assert_eq!(names(q), ["+15125550003"], "by number");
    let q = leads(&mut conn, b.id, &find(None, Some("0%")), 10, None).await.unwrap();
    assert_eq!(names(q), ["+17375550002"], "a % in the search is a percent sign, not a wildcard");
    let q = leads(&mut conn, b.id, &find(None, Some("   ")), 10, None).await.unwrap();
    assert_eq!(q.items.len(), 3, "a blank search is no search");
}

#[sqlx::test(migrations = false)]
async fn conversations_show_the_last_customer_text_and_one_opens_with_its_transcript(pool: PgPool) {
    let b = setup(&pool).await;
    let t0 = chicago("2026-12-01 09:00");
    let l1 = lead(&pool, &b, "+17375550001", Some("Maria"), "qualified", t0).await;
    let l2 = lead(&pool, &b, "+17375550002", None, "new", t0).await;
    let c1 = conversation_of(&pool, &b, l1, "active", t0 + Duration::minutes(5)).await;
    let c2 = conversation_of(&pool, &b, l2, "closed_booked", t0 + Duration::minutes(9)).await;
    text(&pool, &b, c1, false, false, "Sorry we missed you", t0).await;
    text(&pool, &b, c1, true, false, "my ac is out", t0 + Duration::minutes(1)).await;
    text(&pool, &b, c1, false, true, "New qualified lead! (owner alert)", t0 + Duration::minutes(2)).await;
    let mut conn = pool.acquire().await.unwrap();
    let all = conversations(&mut conn, b.id, &ConversationFilter::default(), 10, None).await.unwrap();
    assert_eq!(all.items.iter().map(|c| c.id).collect::<Vec<_>>(), [c2, c1], "most recently updated first");
    let first = &all.items[1];
    assert_eq!((first.name.as_deref(), first.last_body.as_deref()), (Some("Maria"), Some("my ac is out")));
    assert_eq!(all.items[0].last_body, None);
    let active = ConversationFilter { status: Some("active".into()) };
    assert_eq!(conversations(&mut conn, b.id, &active, 10, None).await.unwrap().items.len(), 1);

    let view = conversation_view(&mut conn, b.id, ConversationId(c1)).await.unwrap().unwrap();
    let bodies: Vec<&str> = view.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["Sorry we missed you", "my ac is out"], "the customer's side, oldest first");
    let other = test_db::business_numbered(&pool, "+15125550177").await;
    assert!(conversation_view(&mut conn, other.id, ConversationId(c1)).await.unwrap().is_none(), "scoped");
}

#[sqlx::test(migrations = false)]
async fn figures_split_today_from_the_month_at_local_midnight(pool: PgPool) {
    let b = setup(&pool).await;
    call(&pool, &b, "+17375550001", "missed", chicago("2026-12-01 00:30")).await;
    call(&pool, &b, "+17375550002", "answered", chicago("2026-12-02 00:10")).await;
    call(&pool, &b, "+17375550003", "missed", chicago("2026-12-02 09:00")).await;
    call(&pool, &b, "+17375550004", "missed", chicago("2026-11-30 23:50")).await;
    let mut conn = pool.acquire().await.unwrap();
    let f = figures(&mut conn, &b, chicago("2026-12-02 10:00")).await.unwrap();
    assert_eq!((f.today.calls, f.today.missed), (2, 1));
    assert_eq!((f.month.calls, f.month.missed), (3, 2), "November's call is not this month's");
}

#[sqlx::test(migrations = false)]
async fn recent_activity_interleaves_calls_and_customer_texts(pool: PgPool) {
    let b = setup(&pool).await;
    let t0 = chicago("2026-12-01 09:00");
    let l = lead(&pool, &b, "+17375550001", None, "new", t0).await;
    let c = conversation_of(&pool, &b, l, "active", t0).await;
    call(&pool, &b, "+17375550001", "missed", t0).await;
    text(&pool, &b, c, false, false, "Sorry we missed you", t0 + Duration::seconds(2)).await;
    text(&pool, &b, c, false, true, "owner alert", t0 + Duration::seconds(3)).await;
    text(&pool, &b, c, true, false, "hi", t0 + Duration::minutes(1)).await;
    let mut conn = pool.acquire().await.unwrap();
    let a = recent_activity(&mut conn, b.id, 10).await.unwrap();
    let kinds: Vec<(&str, &str)> = a.iter().map(|x| (x.kind.as_str(), x.detail.as_str())).collect();
    assert_eq!(kinds, [("message", "inbound"), ("message", "outbound"), ("call", "missed")], "owner texts left out");
    assert_eq!(recent_activity(&mut conn, b.id, 2).await.unwrap().len(), 2);
}
