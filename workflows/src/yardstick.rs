//! A yardstick for the benchmark: what a bare underway job costs on this
//! machine right now — one no-op task from enqueue to the start of its
//! execution, on a worker set up as ours is (same poll, same concurrency) —
//! so our figures can be read as multiples of it from run to run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use underway::task::Result as TaskResult;
use underway::{Queue, Task, Worker};

const QUEUE: &str = "callrecover_bench_noop";

/// What the bare underway job measured.
#[derive(Debug, Clone)]
pub struct Hops {
    /// Enqueue to start of execution, one job at a time (ms).
    pub latency_ms: Vec<f64>,
    /// Jobs enqueued back to back, then run to completion: jobs per second.
    pub jobs_per_s: f64,
}

#[derive(Clone)]
struct Noop(mpsc::UnboundedSender<Instant>);

impl Task for Noop {
    type Input = u64;
    type Output = ();

    async fn execute(&self, tx: Transaction<'_, Postgres>, _input: u64) -> TaskResult<()> {
        let _ = self.0.send(Instant::now());
        drop(tx);
        Ok(())
    }
}

/// Runs `one_by_one` jobs sequentially for latency, then `burst` at once for
/// throughput, with `concurrency` like the engine's worker.
pub async fn underway_hops(
    pool: &PgPool,
    one_by_one: usize,
    burst: usize,
    concurrency: usize,
    poll: Duration,
) -> Result<Hops, underway::queue::Error> {
    let queue = Arc::new(Queue::builder().name(QUEUE).pool(pool.clone()).build().await?);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = Noop(tx);
    let mut worker = Worker::new(queue.clone(), task.clone());
    worker.set_concurrency_limit(concurrency.max(1));
    let stop = CancellationToken::new();
    worker.set_shutdown_token(stop.clone());
    let span = jiff::Span::new().milliseconds(i64::try_from(poll.as_millis()).unwrap_or(1000));
    let running = tokio::spawn(async move { worker.run_every(span).await });
    let wait = Duration::from_secs(30);
    let mut latency_ms = Vec::with_capacity(one_by_one);
    for i in 0..one_by_one {
        let t0 = Instant::now();
        queue.enqueue(pool, &task, &(i as u64)).await?;
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(t1)) => latency_ms.push(t1.saturating_duration_since(t0).as_secs_f64() * 1000.0),
            _ => break,
        }
    }
    let t0 = Instant::now();
    for i in 0..burst {
        queue.enqueue(pool, &task, &(i as u64)).await?;
    }
    let mut done = 0;
    while done < burst {
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(_)) => done += 1,
            _ => break,
        }
    }
    let jobs_per_s = done as f64 / t0.elapsed().as_secs_f64().max(1e-9);
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), running).await;
    Ok(Hops { latency_ms, jobs_per_s })
}
