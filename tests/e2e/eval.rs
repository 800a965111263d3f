//! `callrecover eval` on the dev corpus: the whole product (webhooks, workflows,
//! rules engine, Twilio client against the fake) must meet the floors.

use std::path::Path;
use std::time::Instant;

use sqlx::{Connection, Executor, PgConnection};
use web::commands::eval::{evaluate, EvalOptions};
use web::commands::harness::replace_db;

#[tokio::test]
async fn the_dev_corpus_replayed_end_to_end_meets_the_floors() {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("callrecover_eval_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&url).await.unwrap();
    admin.execute(format!("CREATE DATABASE {db}").as_str()).await.unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/conversations-dev.jsonl");
    let t = Instant::now();
    let result = evaluate(&corpus, &replace_db(&url, &db), &EvalOptions::default()).await;
    admin.execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str()).await.unwrap();
    let report = result.unwrap();
    println!("{}(replayed in {:.1}s)", report.table(), t.elapsed().as_secs_f64());
    assert!(report.conversations >= 40, "{} conversations", report.conversations);
    assert!(report.field_accuracy >= 0.85, "field accuracy {:.3}", report.field_accuracy);
    assert_eq!(report.emergency_recall, 1.0);
    assert_eq!(report.opt_outs_honoured, 1.0);
    assert_eq!(report.price_quotes, 0);
}
