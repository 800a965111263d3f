//! Ticks of several conversation runs in lockstep, their rounds sharing one
//! transaction: at saturation a worker's queue holds hundreds of runs
//! handed over and not yet ticked, and one commit (one WAL flush, one
//! `BEGIN` and one connection) for several runs' rounds costs less than one
//! each. The runs' rows are locked in id order, so two batches cannot
//! deadlock on them; each run's round is the same `transact` as alone.
//!
//! The unit of failure stays a run: a shared round that fails is rolled
//! back whole, nothing of it kept (each run's sends still to record and its
//! model answer are as they were), and its runs tick on alone, where a
//! failure is that run's own. A run whose next step is a model call leaves
//! the batch at once, so no run's reply waits on another's.

use std::collections::HashMap;

use activities::domain::RunId;
use futures_util::future::join_all;

use super::driver::{transact, Committed, Member};
use crate::engine::drive;
use crate::engine::runs::{self, RunRow};
use crate::engine::{EngineError, TickInput, Workflows};

/// Ticks the runs together while more than one is left, then the rest
/// alone. Returns how each run's tick ended.
pub(crate) async fn tick_batch(wf: &Workflows, inputs: Vec<TickInput>) -> Vec<(RunId, Result<(), EngineError>)> {
    let mut members: Vec<Member> = inputs.into_iter().map(Member::new).collect();
    let mut ended = Vec::with_capacity(members.len());
    let mut left = Vec::new();
    while members.len() > 1 {
        let committed = match shared_round(wf, &mut members).await {
            Ok(committed) => committed,
            Err(e) => {
                tracing::warn!(runs = members.len(), error = %e, "a shared round was rolled back; its runs tick alone");
                break;
            }
        };
        let mut phase = Vec::with_capacity(members.len());
        for (m, c) in members.drain(..).zip(committed) {
            match c {
                Committed::Respond { .. } => left.push(leave(wf.clone(), m, c)),
                c => phase.push((m, c)),
            }
        }
        let held: Vec<_> = phase.iter().map(|(m, _)| (m.input.run_id, m.input.token)).collect();
        let after = phase.into_iter().map(|(mut m, c)| async move {
            let r = m.after_commit(wf, c).await;
            (m, r)
        });
        for (m, r) in drive::renewing_all(wf, &held, join_all(after)).await {
            match r {
                Ok(true) => members.push(m),
                Ok(false) => ended.push((m.input.run_id, Ok(()))),
                Err(e) => ended.push((m.input.run_id, Err(e))),
            }
        }
    }
    let alone = members.into_iter().map(|m| async move { (m.input.run_id, m.finish_alone(wf).await) });
    ended.extend(join_all(alone).await);
    for handle in left {
        match handle.await {
            Ok(result) => ended.push(result),
            Err(e) => tracing::error!(error = %e, "a run that left its batch panicked"),
        }
    }
    ended
}

/// A run that left its batch goes on alone, at once.
fn leave(wf: Workflows, mut m: Member, c: Committed) -> tokio::task::JoinHandle<(RunId, Result<(), EngineError>)> {
    tokio::spawn(async move {
        let id = m.input.run_id;
        let result = match m.after_commit(&wf, c).await {
            Ok(true) => m.finish_alone(&wf).await,
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        };
        (id, result)
    })
}

/// One round of every member in one transaction: one statement locks the
/// runs (in id order) and records the sends of their previous rounds. Each
/// member's memo and model answer change only once it commits.
async fn shared_round(wf: &Workflows, members: &mut [Member]) -> Result<Vec<Committed>, EngineError> {
    members.sort_by_key(|m| m.input.run_id.0);
    let ids: Vec<RunId> = members.iter().map(|m| m.input.run_id).collect();
    let sent: Vec<_> = members.iter().flat_map(|m| m.memo.sent.iter().cloned()).collect();
    let mut tx = wf.0.pool.begin().await?;
    let mut locked: HashMap<RunId, RunRow> =
        runs::lock_runs_recording(&mut tx, &ids, &sent).await?.into_iter().map(|r| (r.id, r)).collect();
    let mut committed = Vec::with_capacity(members.len());
    let mut memos = Vec::with_capacity(members.len());
    for m in members.iter() {
        let mut memo = m.memo.clone();
        memo.sent.clear();
        // A run is one member's at most (the first that owns it).
        let owned = locked.get(&m.input.run_id).is_some_and(|r| drive::owns(r, &m.input));
        let Some(run) = owned.then(|| locked.remove(&m.input.run_id)).flatten() else {
            committed.push(Committed::Finished);
            memos.push(memo);
            continue;
        };
        let business = drive::business_of(wf, &mut tx, &run).await?;
        let c = transact(wf, &mut tx, run, &business, &mut memo, m.force_wake(), m.injected.clone()).await?;
        committed.push(c);
        memos.push(memo);
    }
    tx.commit().await?;
    for (m, memo) in members.iter_mut().zip(memos) {
        (m.memo, m.recheck, m.injected) = (memo, None, None);
    }
    Ok(committed)
}
