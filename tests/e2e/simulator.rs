//! The demo's phone simulator: with no Twilio credentials texts are recorded,
//! not sent, and the page drives the same signed webhooks Twilio would.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use web::app::{self, Mode};
use web::settings::Settings;

async fn messages(client: &reqwest::Client, base: &str, phone: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = format!("{base}/simulator/api/messages?phone={}", phone.replace('+', "%2B"));
        let list: Vec<Value> = client.get(url).send().await.unwrap().json().await.unwrap();
        let done = list.iter().filter(|m| m["status"] == "sent").count() >= n;
        if done || Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn the_simulator_rings_misses_texts_back_and_answers_a_reply(test_pool: PgPool) {
    let pool =
        PgPoolOptions::new().max_connections(20).connect_with((*test_pool.connect_options()).clone()).await.unwrap();
    workflows::migrate(&pool).await.unwrap();
    let env: HashMap<&str, &str> =
        [("DATABASE_URL", "postgres://unused/x"), ("BIND", "127.0.0.1:0"), ("WORKER_POLL_MS", "100")].into();
    let settings = Settings::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).unwrap();
    assert!(settings.twilio.is_none(), "no credentials: the simulator transport");
    let business = web::commands::demo::seed(&pool).await.unwrap();
    sqlx::query("UPDATE businesses SET owner_window_seconds = 0").execute(&pool).await.unwrap();
    let running = app::start(settings, pool.clone(), Mode { web: true, workers: true }).await.unwrap();
    let base = format!("http://{}", running.addr.unwrap());
    let client = reqwest::Client::new();

    let page = client.get(format!("{base}/simulator")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<html") && page.contains("/simulator/api/call"));
    let list: Vec<Value> =
        client.get(format!("{base}/simulator/api/businesses")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list[0]["name"], business.name.as_str());

    let caller = "+15125550123";
    let call = json!({"business_id": business.id, "from": caller, "outcome": "voicemail"});
    let r: Value =
        client.post(format!("{base}/simulator/api/call")).json(&call).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["status"], "missed", "{r}");
    assert!(r["twiml"].as_array().unwrap().len() >= 3, "incoming, screen, after-dial: {r}");
    let texts = messages(&client, &base, caller, 1).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0]["body"].as_str().unwrap().contains(&business.name));

    let text = json!({"business_id": business.id, "from": caller, "body": "my ac is blowing warm air"});
    let r = client.post(format!("{base}/simulator/api/text")).json(&text).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let texts = messages(&client, &base, caller, 2).await;
    let ours: Vec<&Value> = texts.iter().filter(|m| m["direction"] == "outbound").collect();
    assert_eq!(ours.len(), 2, "the text-back and the reply: {texts:?}");
    assert_eq!(texts.iter().filter(|m| m["direction"] == "inbound").count(), 1);

    let answered = json!({"business_id": business.id, "from": "+15125550124", "outcome": "answered"});
    let r: Value =
        client.post(format!("{base}/simulator/api/call")).json(&answered).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["status"], "answered");
    running.stop().await.unwrap();
    pool.close().await;
}
