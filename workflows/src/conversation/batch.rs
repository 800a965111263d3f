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

use sqlx::PgConnection;

use activities::store::{leads_many, outbox_many};

use super::driver::{schedule, transact, Committed, Deferred, Given, LaterWhat, Member, Wake};
use crate::engine::drive;
use crate::engine::runs::RunRow;
use crate::engine::runs_many;
use crate::engine::runs_many::{Ending, Progress};
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
        runs_many::lock_runs_recording(&mut tx, &ids, &sent).await?.into_iter().map(|r| (r.id, r)).collect();
    let mut committed = Vec::with_capacity(members.len());
    let mut memos = Vec::with_capacity(members.len());
    // The last statements the rounds left to the batch, and whose each is.
    let (mut deferred, mut owner) = (Deferred::default(), Vec::new());
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
        let given = Given { force_wake: m.force_wake(), injected: m.injected.clone(), deferred: Some(&mut deferred) };
        let c = transact(wf, &mut tx, run, &business, &mut memo, given).await?;
        if matches!(c, Committed::Later) {
            owner.push(committed.len());
        }
        committed.push(c);
        memos.push(memo);
    }
    for (at, done) in owner.into_iter().zip(made_later(wf, &mut tx, deferred).await?) {
        committed[at] = done;
    }
    tx.commit().await?;
    for (m, memo) in members.iter_mut().zip(memos) {
        (m.memo, m.recheck, m.injected) = (memo, None, None);
    }
    Ok(committed)
}

/// The claims and saves the rounds left to their batch, one statement for
/// each kind, in the batch's transaction; what each round then comes to, in
/// their order. A claim that finds nothing due after all (texts held for
/// quiet hours) schedules its run as the round alone would.
async fn made_later(
    wf: &Workflows,
    conn: &mut PgConnection,
    deferred: Deferred,
) -> Result<Vec<Committed>, EngineError> {
    let Deferred { writes, later } = deferred;
    outbox_many::insert_outbound_many(&mut *conn, &writes.texts).await?;
    outbox_many::insert_notifications_many(&mut *conn, &writes.notifications).await?;
    leads_many::move_leads_and_update_conversations(&mut *conn, &writes.pairs).await?;
    let mut done: Vec<Committed> = later.iter().map(|_| Committed::Finished).collect();
    let states = later.iter().map(|l| serde_json::to_value(&l.state).map_err(|e| EngineError::State(l.run.id, e)));
    let states: Vec<serde_json::Value> = states.collect::<Result<_, _>>()?;
    let progress = |i: usize| {
        let l = &later[i];
        Progress {
            key: (l.run.business_id, l.run.id),
            state: states[i].clone(),
            conversation_id: l.conversation_id,
            notes: &l.notes,
        }
    };
    let claims: Vec<usize> = (0..later.len()).filter(|i| matches!(later[*i].what, LaterWhat::Claim)).collect();
    if !claims.is_empty() {
        let runs: Vec<Progress> = claims.iter().map(|i| progress(*i)).collect();
        let (send_lease, lease) = (wf.0.cfg.retry.lease, wf.lease());
        let outboxes = runs_many::claim_saving_states(&mut *conn, &runs, send_lease, lease).await?;
        for (i, outbox) in claims.into_iter().zip(outboxes) {
            if outbox.due.is_empty() {
                let l = &later[i];
                let wake = Wake { force: None, retry: outbox.next_retry, notes: &[] };
                schedule(wf, &mut *conn, &l.run, &l.state, l.conversation_id, wake).await?;
            } else {
                done[i] = Committed::Deliver(outbox);
            }
        }
    }
    let saves: Vec<Ending> = (0..later.len())
        .filter_map(|i| match later[i].what {
            LaterWhat::Save { status, wake_token, wake_at, .. } => {
                Some(Ending { progress: progress(i), status, wake_token, wake_at })
            }
            LaterWhat::Claim => None,
        })
        .collect();
    if !saves.is_empty() {
        runs_many::save_runs(&mut *conn, &saves).await?;
    }
    Ok(done)
}
