//! The background work of the relay and worker roles (SPEC §4), as tasks that stop on one
//! cancellation token: the outbox relay (woken by commits, with a poll as fallback), per-channel
//! dispatchers with bounded concurrency, the due-retry scheduler, the lease reaper, bulk DLQ
//! jobs and the purge of the outbox and of expired callback webhook-ids.

use std::sync::Arc;
use std::time::Duration;

use hub_application::App;
use hub_domain::Channel;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Outbox rows per relay pass.
const RELAY_BATCH: usize = 500;
/// Relay poll when no commit wakes it: starts short after a pass that found work and doubles
/// up to the maximum while the outbox stays empty (a missed wake-up costs little when busy,
/// an idle relay costs one query a second).
const RELAY_POLL_MIN: Duration = Duration::from_millis(50);
/// The longest relay poll.
const RELAY_POLL_MAX: Duration = Duration::from_secs(1);
/// Due deliveries queued per scheduler pass.
const DUE_BATCH: usize = 500;
/// Scheduler period.
const DUE_PERIOD: Duration = Duration::from_millis(500);
/// Reaper period.
const REAP_PERIOD: Duration = Duration::from_secs(5);
/// Purge period.
const PURGE_PERIOD: Duration = Duration::from_secs(60);
/// How long a dispatcher waits for a message before checking for shutdown.
const RECEIVE_WAIT: Duration = Duration::from_millis(500);
/// Bulk items per step.
const BULK_BATCH: usize = 50;
/// Pause after a failed pass (a dependency is down).
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Sleeps for `d` unless the token is cancelled first; returns `false` when cancelled.
async fn pause(token: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        () = token.cancelled() => false,
        () = tokio::time::sleep(d) => true,
    }
}

/// Starts the relay role's tasks. `wake` is notified by the store after each commit that wrote
/// outbox rows.
pub fn spawn_relay(app: &App, wake: Arc<Notify>, token: &CancellationToken, tasks: &TaskTracker) {
    let (relay_app, relay_token) = (app.clone(), token.clone());
    tasks.spawn(async move {
        let mut poll = RELAY_POLL_MIN;
        loop {
            if relay_token.is_cancelled() {
                break;
            }
            match relay_app.relay_outbox(RELAY_BATCH).await {
                // A full batch: more is probably waiting.
                Ok(report) if report.claimed == RELAY_BATCH => continue,
                Ok(report) => {
                    poll = if report.claimed > 0 { RELAY_POLL_MIN } else { (poll * 2).min(RELAY_POLL_MAX) };
                    tokio::select! {
                        () = relay_token.cancelled() => break,
                        () = wake.notified() => {}
                        () = tokio::time::sleep(poll) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay pass failed");
                    if !pause(&relay_token, ERROR_BACKOFF).await {
                        break;
                    }
                }
            }
        }
        tracing::info!("outbox relay stopped");
    });
    let (purge_app, purge_token) = (app.clone(), token.clone());
    tasks.spawn(async move {
        while pause(&purge_token, PURGE_PERIOD).await {
            if let Err(e) = purge_app.purge_outbox(10_000).await {
                tracing::warn!(error = %e, "outbox purge failed");
            }
            // Expired callback webhook-ids count as absent anyway; this only keeps the table small.
            if let Err(e) = purge_app.purge_callback_log(10_000).await {
                tracing::warn!(error = %e, "callback webhook-id purge failed");
            }
        }
    });
}

/// Starts the worker role's tasks: per channel, dispatchers taking up to `batch` messages each
/// and `concurrency` in all ([`dispatcher_batches`]), the due-retry scheduler (which wakes the
/// relay when it queued something), the lease reaper and the bulk job runner.
pub fn spawn_workers(
    app: &App,
    concurrency: usize,
    batch: usize,
    wake: Arc<Notify>,
    token: &CancellationToken,
    tasks: &TaskTracker,
) {
    for channel in Channel::CANONICAL {
        for max in dispatcher_batches(concurrency, batch) {
            let (app, token) = (app.clone(), token.clone());
            tasks.spawn(async move {
                // A dispatch in progress finishes even after cancellation: the token is only
                // checked between batches, and shutdown waits for these tasks within the grace.
                while !token.is_cancelled() {
                    if let Err(e) = app.consume(channel, max, RECEIVE_WAIT).await {
                        tracing::warn!(channel = %channel, error = %e, "dispatcher pass failed");
                        if !pause(&token, ERROR_BACKOFF).await {
                            break;
                        }
                    }
                }
            });
        }
    }
    let (due_app, due_token) = (app.clone(), token.clone());
    tasks.spawn(async move {
        while pause(&due_token, DUE_PERIOD).await {
            match due_app.enqueue_due(DUE_BATCH).await {
                Ok(0) => {}
                Ok(_) => wake.notify_one(),
                Err(e) => tracing::warn!(error = %e, "due-retry scheduler pass failed"),
            }
        }
    });
    let (reap_app, reap_token) = (app.clone(), token.clone());
    tasks.spawn(async move {
        while pause(&reap_token, REAP_PERIOD).await {
            match reap_app.reap_expired_leases(DUE_BATCH).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(count = n, "took back deliveries whose worker lease expired"),
                Err(e) => tracing::warn!(error = %e, "lease reaper pass failed"),
            }
        }
    });
    let (bulk_app, bulk_token) = (app.clone(), token.clone());
    tasks.spawn(async move {
        let mut wait = Duration::from_secs(1);
        while pause(&bulk_token, wait).await {
            wait = match bulk_app.run_bulk_step(BULK_BATCH).await {
                Ok(step) if step.job_id.is_some() => step.pause,
                Ok(_) => Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(error = %e, "bulk job step failed");
                    ERROR_BACKOFF
                }
            };
        }
    });
}

/// The batch size of each dispatcher of one channel: as many full batches of `batch` as fit in
/// `concurrency`, and one smaller batch for the rest, so that at most `concurrency` vendor calls
/// are in flight per channel.
fn dispatcher_batches(concurrency: usize, batch: usize) -> Vec<usize> {
    let batch = batch.clamp(1, concurrency.max(1));
    let mut sizes = vec![batch; concurrency / batch];
    if concurrency % batch > 0 {
        sizes.push(concurrency % batch);
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::dispatcher_batches;

    #[test]
    fn dispatcher_batches_never_exceed_the_concurrency() {
        assert_eq!(dispatcher_batches(16, 8), vec![8, 8]);
        assert_eq!(dispatcher_batches(20, 8), vec![8, 8, 4]);
        assert_eq!(dispatcher_batches(3, 8), vec![3], "a batch larger than the concurrency is cut to it");
        assert_eq!(dispatcher_batches(5, 1), vec![1; 5]);
        for (concurrency, batch) in [(1, 1), (7, 3), (256, 8), (100, 1000)] {
            let sizes = dispatcher_batches(concurrency, batch);
            assert_eq!(sizes.iter().sum::<usize>(), concurrency, "{concurrency}/{batch}: {sizes:?}");
            assert!(sizes.iter().all(|s| (1..=batch).contains(s)), "{concurrency}/{batch}: {sizes:?}");
        }
    }
}
