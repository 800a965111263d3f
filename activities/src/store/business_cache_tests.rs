//! The business cache against a real database: a version changes with every
//! update of the row and with nothing else, and the cache reads a business
//! only when its version moved.

use sqlx::PgPool;

use super::{version_sql, BusinessCache};
use crate::domain::BusinessId;
use crate::test_db;

async fn version(pool: &PgPool, id: BusinessId) -> String {
    sqlx::query_scalar(&format!("SELECT {} FROM businesses b WHERE id = $1", version_sql("b")))
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn rename(pool: &PgPool, id: BusinessId, name: &str) {
    sqlx::query("UPDATE businesses SET name = $2 WHERE id = $1").bind(id).bind(name).execute(pool).await.unwrap();
}

#[sqlx::test(migrations = false)]
async fn a_version_moves_with_every_update_and_nothing_else(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await;
    let first = version(&pool, b.id).await;
    // A row that only references the business (a foreign-key check locks it) leaves it as it was.
    test_db::run(&pool, b.id).await;
    assert_eq!(version(&pool, b.id).await, first);
    rename(&pool, b.id, "Acme Heating").await;
    let second = version(&pool, b.id).await;
    rename(&pool, b.id, "Acme Heating").await;
    let third = version(&pool, b.id).await;
    assert!(first != second && second != third && first != third, "{first} {second} {third}");
}

#[sqlx::test(migrations = false)]
async fn the_cache_reads_a_business_only_when_its_version_moved(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await;
    let cache = BusinessCache::default();
    let v1 = version(&pool, b.id).await;
    assert_eq!(cache.current(&pool, b.id, &v1).await.unwrap().unwrap().name, b.name);
    rename(&pool, b.id, "Renamed HVAC").await;
    // Asked as of the old version, it answers from what it kept: no read.
    assert_eq!(cache.current(&pool, b.id, &v1).await.unwrap().unwrap().name, b.name);
    let v2 = version(&pool, b.id).await;
    assert_eq!(cache.current(&pool, b.id, &v2).await.unwrap().unwrap().name, "Renamed HVAC");
    assert!(cache.current(&pool, BusinessId::new(), &v2).await.unwrap().is_none());
}
