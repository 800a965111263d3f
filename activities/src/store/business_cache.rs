//! Businesses as last read, each under its row version, so a worker's round
//! reads a business only when it changed: the statement that locks a run
//! returns the version of the run's business ([`version_sql`]), and an
//! unchanged version is an unchanged row.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::PgExecutor;

use super::businesses::{self, Business};
use crate::domain::BusinessId;

/// A business row's version, as SQL over the row's alias: the id of the
/// transaction that wrote it with the time it was written (`updated_at`, set
/// by a trigger on every update). Every update writes a new row version under
/// its own transaction's id; the time keeps two versions apart even after
/// transaction ids wrap around.
pub fn version_sql(alias: &str) -> String {
    format!("({alias}.xmin::text || '/' || extract(epoch FROM {alias}.updated_at)::text)")
}

/// How many businesses a cache keeps before it starts again (a deployment's
/// every business, many times over; bounded all the same).
const CAPACITY: usize = 20_000;

#[derive(Debug, Default)]
pub struct BusinessCache(Mutex<HashMap<BusinessId, (String, Business)>>);

impl BusinessCache {
    /// The business as of `version`: kept, or read and kept. None: no such business.
    pub async fn current(
        &self,
        db: impl PgExecutor<'_>,
        id: BusinessId,
        version: &str,
    ) -> sqlx::Result<Option<Business>> {
        if let Some(b) = self.kept(id, version) {
            return Ok(Some(b));
        }
        let Some((business, read_version)) = businesses::get_business_versioned(db, id).await? else {
            return Ok(None);
        };
        self.keep(&business, read_version);
        Ok(Some(business))
    }

    fn kept(&self, id: BusinessId, version: &str) -> Option<Business> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&id).filter(|(v, _)| v == version).map(|(_, b)| b.clone())
    }

    fn keep(&self, business: &Business, version: String) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(business.id, (version, business.clone()));
    }
}

#[cfg(test)]
#[path = "business_cache_tests.rs"]
mod tests;
