//! API keys: random, shown once, stored as SHA-256.

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;

use crate::domain::BusinessId;

/// A new key (`cr_` + 40 hex chars); only its hash is kept.
pub fn generate() -> String {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("cr_{}", hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hash(key: &str) -> String {
    hex(&Sha256::digest(key.trim().as_bytes()))
}

pub async fn insert_key(db: impl PgExecutor<'_>, business_id: BusinessId, key: &str) -> sqlx::Result<()> {
    let prefix: String = key.chars().take(7).collect();
    sqlx::query("INSERT INTO api_keys (business_id, key_hash, prefix) VALUES ($1, $2, $3)")
        .bind(business_id)
        .bind(hash(key))
        .bind(prefix)
        .execute(db)
        .await?;
    Ok(())
}

/// The business a presented key belongs to (None for unknown or revoked keys).
pub async fn business_for_key(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<Option<BusinessId>> {
    sqlx::query_scalar("SELECT business_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
        .bind(hash(key))
        .fetch_optional(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hash_stably() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(a.starts_with("cr_") && a.len() == 43, "{a}");
        assert_eq!(hash(&a), hash(&format!(" {a} ")));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a).len(), 64);
    }
}
