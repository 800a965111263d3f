//! The runs a worker has heard announced and not yet ticked, in the order
//! heard, with their leases kept alive while they wait.
//!
//! Under a burst (more calls than the workers tick per lease) a run's lease
//! would run out in the queue, and the timer sweep would hand it to underway:
//! a second, slower path (its own ceiling of a few hundred jobs/s here), so
//! throughput fell the longer the burst (a flood of 4,000 calls ran at 160
//! workflows/s where one of 2,000 ran at 230). Instead the worker renews, in
//! one statement every quarter lease, the leases of the waiting runs that
//! would run out within half a lease. A run renewed by another worker first
//! (both heard it), swept, signalled anew or ended is dropped from the queue:
//! the renewal asks that the lease still be the one it holds. A worker that
//! dies stops renewing, and one lease later the sweep takes its runs.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

use super::TickInput;

/// Runs heard beyond this many are left to the sweep (a worker's memory is bounded).
const MAX_WAITING: usize = 100_000;

#[derive(Default)]
pub(crate) struct Backlog {
    waiting: Mutex<VecDeque<TickInput>>,
    heard: Notify,
}

impl Backlog {
    /// Queues a run heard announced; false if the queue is full.
    pub(crate) async fn push(&self, input: TickInput) -> bool {
        let mut waiting = self.waiting.lock().await;
        if waiting.len() >= MAX_WAITING {
            return false;
        }
        waiting.push_back(input);
        drop(waiting);
        self.heard.notify_one();
        true
    }

    /// The longest-waiting runs, up to `most` of them (at least one: waits
    /// for one if none is queued), in the order heard. Under a burst the
    /// queue holds many and a batch shares its rounds' transactions; at low
    /// rates it is of one.
    pub(crate) async fn next_many(&self, most: usize) -> Vec<TickInput> {
        loop {
            {
                let mut waiting = self.waiting.lock().await;
                let n = waiting.len().min(most.max(1));
                if n > 0 {
                    return waiting.drain(..n).collect();
                }
            }
            self.heard.notified().await;
        }
    }

    /// Renews the leases of the waiting runs that run out within `lease / 2`
    /// for another `lease`, and drops those whose lease is no longer the one
    /// held. The queue stays locked for the statement, so no run is taken
    /// with a lease being replaced; the connection is drawn from the pool
    /// before, so the queue never waits on the pool. Returns how many were
    /// renewed, and how many wait.
    pub(crate) async fn renew(&self, pool: &PgPool, lease: Duration) -> sqlx::Result<(usize, usize)> {
        let soon = Utc::now() + chrono::Duration::from_std(lease / 2).unwrap_or_default();
        let expiring = |w: &VecDeque<TickInput>| -> Vec<(Uuid, DateTime<Utc>)> {
            w.iter().filter_map(|i| i.claim.filter(|at| *at <= soon).map(|at| (i.run_id.0, at))).collect()
        };
        {
            let waiting = self.waiting.lock().await;
            if expiring(&waiting).is_empty() {
                return Ok((0, waiting.len()));
            }
        }
        let mut conn = pool.acquire().await?;
        let mut waiting = self.waiting.lock().await;
        let expiring = expiring(&waiting);
        let renewed = renew_leases(&mut conn, &expiring, lease).await?;
        waiting.retain_mut(|i| match i.claim {
            Some(at) if at <= soon => match renewed.get(&(i.run_id.0, at)) {
                Some(new) => {
                    i.claim = Some(*new);
                    true
                }
                None => false,
            },
            _ => true,
        });
        Ok((renewed.len(), waiting.len()))
    }
}

/// One statement: each run whose lease is still the one given gets a new
/// lease of `lease` from now. Returns the new lease of each renewed, by (run, old lease).
async fn renew_leases(
    conn: &mut PgConnection,
    held: &[(Uuid, DateTime<Utc>)],
    lease: Duration,
) -> sqlx::Result<HashMap<(Uuid, DateTime<Utc>), DateTime<Utc>>> {
    let (ids, claims): (Vec<Uuid>, Vec<DateTime<Utc>>) = held.iter().copied().unzip();
    let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "UPDATE workflow_runs r SET wake_at = clock_timestamp() + make_interval(secs => $3)
         FROM unnest($1::uuid[], $2::timestamptz[]) AS h(id, claim)
         WHERE r.id = h.id AND r.wake_at = h.claim AND r.kicked_at IS NOT NULL AND r.status = 'active'
         RETURNING r.id, h.claim, r.wake_at",
    )
    .bind(ids)
    .bind(claims)
    .bind(lease.as_secs_f64())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id, old, new)| ((id, old), new)).collect())
}
