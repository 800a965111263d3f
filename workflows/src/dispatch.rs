//! The workers' notification loop: every poll period, send due emails and the
//! owner texts no run sends (see `activities::notify::dispatch`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use activities::notify::{self, Dispatcher};

use crate::engine::Workflows;

/// What the dispatcher sends with, from the engine's configuration.
pub fn dispatcher(wf: &Workflows) -> Dispatcher {
    let cfg = &wf.0.cfg;
    Dispatcher {
        transport: cfg.transport.clone(),
        status_callback: cfg.status_callback.clone(),
        retry: cfg.retry,
        mailer: cfg.mailer.clone(),
    }
}

pub(crate) async fn dispatch_every(wf: Workflows, poll: Duration, stop: CancellationToken) {
    let d = dispatcher(&wf);
    if d.mailer.is_none() {
        tracing::info!("no SMTP_URL: owner emails are kept in email_outbox as 'stored'");
    }
    loop {
        let pause = match notify::dispatch(wf.pool(), &d).await {
            Ok(done) => notify::dispatch::pause_after(&done, poll),
            Err(e) => {
                tracing::error!(error = %e, "notification dispatch failed");
                poll
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
