//! The daily summary: from 18:00 local, each active business's owner gets the
//! day's calls, missed, recovered, booked and estimated revenue by text and
//! email (and in the feed), once per local date.
//!
//! One hourly schedule in UTC on underway's cron (a schedule per business zone
//! is impossible: underway keeps one schedule per queue) enqueues a task whose
//! run looks for businesses past 18:00 local without today's summary. "Past",
//! not "in the 18:00 hour": underway's scheduler does not catch up on fires
//! missed while no worker ran, so the next fire does; the `daily:<date>` key
//! keeps it once per day however often it fires or however many workers run.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc};
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use tokio_util::sync::CancellationToken;
use underway::task::{Error as TaskError, Result as TaskResult, RetryPolicy, Task};
use underway::{Queue, Scheduler, ZonedSchedule};

use activities::domain::ids::NotificationId;
use activities::notify::{self, prefs::local_instant, Notification, NotifyError, NotifyEvent};
use activities::store::businesses::{self, Business};
use activities::store::{metrics, notifications};
use activities::templates::Templates;

use crate::engine::worker_loop::{run_until, AbortOnDrop};
use crate::engine::{Inner, Workflows};

/// The underway queue the hourly task goes through.
pub const QUEUE: &str = "callrecover_daily_summary";
/// Every hour on the hour (seconds, minutes, hours, …), in UTC.
pub const SCHEDULE: &str = "0 0 * * * *[UTC]";
/// The local hour from which a business's day is summed up.
pub const SUMMARY_HOUR: u32 = 18;
/// How often a process that does not hold the scheduler lock tries to take it.
const SCHEDULER_RETRY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error("queue: {0}")]
    Queue(#[from] underway::queue::Error),
    #[error("schedule {SCHEDULE}: {0}")]
    Schedule(String),
}

/// The dedupe key of a business's summary for a local date.
pub fn key_for(date: NaiveDate) -> String {
    format!("daily:{date}")
}

/// Sums up `business`'s local day containing `now` and notifies the owner,
/// whatever the hour (this is what the schedule calls, and what tests call
/// for a chosen instant). Upserts `daily_metrics`; None when that day's
/// summary was already made.
pub async fn daily_summary(
    pool: &PgPool,
    templates: &Templates,
    business: &Business,
    now: DateTime<Utc>,
) -> Result<Option<NotificationId>, SummaryError> {
    let tz = business.timezone.tz();
    let date = now.with_timezone(&tz).date_naive();
    let from = local_instant(tz, date, NaiveTime::MIN);
    let to = date.succ_opt().map_or(from + chrono::Duration::days(1), |next| local_instant(tz, next, NaiveTime::MIN));
    let mut tx = pool.begin().await?;
    let f = metrics::day_figures(&mut *tx, business.id, from, to, business.avg_job_value).await?;
    metrics::upsert_daily(&mut *tx, business.id, date, &f).await?;
    let key = key_for(date);
    let n = Notification {
        event: NotifyEvent::DailySummary,
        business,
        conversation_id: None,
        run_id: None,
        key: &key,
        text: true,
        data: json!({
            "date": date.format("%a %b %-d").to_string(),
            "calls": f.calls, "missed": f.missed, "recovered": f.recovered, "booked": f.booked,
            "revenue": f.revenue,
        }),
        now,
    };
    let id = notify::notify(&mut tx, templates, &n).await?;
    tx.commit().await?;
    Ok(id)
}

/// Whether a business is due its summary at `now` (active, past 18:00 local).
pub fn is_due(business: &Business, now: DateTime<Utc>) -> bool {
    business.is_active() && now.with_timezone(&business.timezone.tz()).hour() >= SUMMARY_HOUR
}

/// Makes every summary due at `now` that is not made yet; returns how many
/// it made. One business failing does not stop the others.
pub async fn run_due(pool: &PgPool, templates: &Templates, now: DateTime<Utc>) -> Result<usize, SummaryError> {
    let mut made = 0;
    let mut first_err = None;
    for b in businesses::list_businesses(pool).await? {
        if !is_due(&b, now) {
            continue;
        }
        let date = now.with_timezone(&b.timezone.tz()).date_naive();
        if notifications::exists(pool, b.id, &key_for(date)).await? {
            continue;
        }
        match daily_summary(pool, templates, &b, now).await {
            Ok(id) => made += usize::from(id.is_some()),
            Err(e) => {
                tracing::error!(business_id = %b.id, error = %e, "daily summary failed");
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(made), Err)
}

/// The hourly task underway runs.
pub struct SummaryTask(pub(crate) Arc<Inner>);

impl Task for SummaryTask {
    type Input = ();
    type Output = ();

    async fn execute(&self, tx: Transaction<'_, Postgres>, _input: ()) -> TaskResult<()> {
        // Writes through underway's transaction are rolled back (underway-0.2-notes §3.9).
        drop(tx);
        match run_due(&self.0.pool, &self.0.templates, Utc::now()).await {
            Ok(made) => {
                tracing::info!(made, "daily summaries");
                Ok(())
            }
            Err(e) => Err(TaskError::Retryable(e.to_string())),
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::builder().max_attempts(3).build()
    }
}

/// Sets the hourly schedule, then runs the summary worker and (in whichever
/// process holds underway's scheduler lock) the scheduler, until `stop`.
pub(crate) async fn run(wf: Workflows, poll: Duration, stop: CancellationToken) {
    if let Err(e) = schedule_and_serve(wf, poll, stop).await {
        tracing::error!(error = %e, "daily summaries are not running");
    }
}

async fn schedule_and_serve(wf: Workflows, poll: Duration, stop: CancellationToken) -> Result<(), SummaryError> {
    let pool = wf.pool().clone();
    let queue = Arc::new(Queue::builder().name(QUEUE).pool(pool.clone()).build().await?);
    let schedule: ZonedSchedule = SCHEDULE.parse().map_err(|e| SummaryError::Schedule(format!("{e}")))?;
    queue.schedule(&pool, &schedule, &()).await?;
    let (task, listen_pool, worker_stop) = (SummaryTask(wf.0.clone()), pool.clone(), stop.clone());
    let worker_queue = queue.clone();
    let _worker = AbortOnDrop(tokio::spawn(async move {
        run_until(worker_queue, QUEUE, task, listen_pool, poll, 1, worker_stop).await;
    }));
    loop {
        // A child token: underway's scheduler cancels its token on a shutdown
        // notice; that must stop this scheduler, not the whole process.
        let mut scheduler = Scheduler::new(queue.clone(), SummaryTask(wf.0.clone()));
        scheduler.set_shutdown_token(stop.child_token());
        // Returns at once when another process holds the lock: try again later,
        // so the schedule survives that process's death.
        if let Err(e) = scheduler.run().await {
            tracing::error!(error = %e, "daily summary scheduler stopped");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(SCHEDULER_RETRY) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_fires_every_hour_on_the_hour_in_utc() {
        let s: ZonedSchedule = SCHEDULE.parse().unwrap();
        let fires: Vec<jiff::Zoned> = s.iter().take(3).collect();
        for pair in fires.windows(2) {
            assert_eq!(pair[1].timestamp().as_second() - pair[0].timestamp().as_second(), 3600);
        }
        assert!(fires.iter().all(|z| z.minute() == 0 && z.second() == 0 && z.time_zone().iana_name() == Some("UTC")));
    }
}
