//! Bulk DLQ replay/discard (SPEC §5.6): dry run, confirmed jobs stored in the database,
//! processed in batches with one transaction per item, paced, resumable after a crash.

use std::time::Duration;

use hub_domain::{AuditId, DeliveryId, JobId};

use crate::App;
use crate::app::chrono_duration;
use crate::error::{ErrorCode, PortError};
use crate::ports::{AuditAction, AuditEntry, BulkAction, BulkJob, DlqCursor, DlqFilter, JobState, JobStep};
use crate::use_cases::dlq::{DlqChange, DlqError, check_range};

/// At most this many sample ids in a dry run.
pub const DRY_RUN_SAMPLES: usize = 10;

/// `POST /api/v1/admin/dlq/bulk-replay` and `/bulk-discard`.
#[derive(Debug, Clone)]
pub struct BulkCommand {
    /// Replay or discard.
    pub action: BulkAction,
    /// Which items.
    pub filter: DlqFilter,
    /// Execute (otherwise a dry run).
    pub confirm: bool,
    /// Discard reason (required for discard).
    pub reason: Option<String>,
    /// Who asks.
    pub actor: String,
}

/// The answer to a bulk request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkOutcome {
    /// Nothing changed: how many would be, and a few of them.
    DryRun {
        /// Matching items now.
        estimated_count: u64,
        /// Up to 10 of them, oldest first.
        sample_delivery_ids: Vec<DeliveryId>,
    },
    /// A job was stored and will run.
    Executing {
        /// Its id.
        job_id: JobId,
    },
}

/// Errors of the bulk use cases.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// A bad parameter (400).
    #[error("{0}")]
    Validation(String),
    /// No such job (404).
    #[error("job {0} does not exist")]
    JobNotFound(JobId),
    /// A port failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl BulkError {
    /// The error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            BulkError::Validation(_) => ErrorCode::ValidationFailed,
            BulkError::JobNotFound(_) => ErrorCode::JobNotFound,
            BulkError::Port(e) => e.code(),
        }
    }
}

/// What one job step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStepReport {
    /// The job worked on (`None` when no job was runnable).
    pub job_id: Option<JobId>,
    /// Items handled in this step.
    pub processed: usize,
    /// Pause before the next step to respect the replay rate.
    pub pause: Duration,
    /// The job finished in this step.
    pub finished: bool,
}

impl App {
    /// A dry run (nothing changes) unless `confirm`; then a stored job. Both are audited.
    pub async fn bulk(&self, cmd: BulkCommand) -> Result<BulkOutcome, BulkError> {
        check_range(cmd.filter.from, cmd.filter.to).map_err(|e| BulkError::Validation(e.to_string()))?;
        let reason = cmd.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
        if cmd.action == BulkAction::Discard && reason.is_none() {
            return Err(BulkError::Validation("reason: must not be blank for a bulk discard".into()));
        }
        let now = self.now();
        // Items exhausted after the request are not part of it (and a replayed item that fails
        // again is not replayed twice by the same job).
        let mut filter = cmd.filter.clone();
        filter.to = Some(filter.to.map_or(now, |t| t.min(now)));
        let count = self.deps.dlq.count(&filter).await?;
        let filter_json = serde_json::to_value(&cmd.filter).ok();
        let (ms, bits) = self.id_parts();
        let mut audit = AuditEntry {
            id: AuditId::from_parts(ms, bits),
            at: now,
            actor: cmd.actor.clone(),
            action: match (cmd.action, cmd.confirm) {
                (BulkAction::Replay, false) => AuditAction::DlqBulkReplayDryRun,
                (BulkAction::Discard, false) => AuditAction::DlqBulkDiscardDryRun,
                (BulkAction::Replay, true) => AuditAction::DlqBulkReplay,
                (BulkAction::Discard, true) => AuditAction::DlqBulkDiscard,
            },
            target: None,
            filter: filter_json,
            counts: Some(serde_json::json!({ "estimatedCount": count })),
            outcome: "OK".into(),
        };
        if !cmd.confirm {
            let sample = self.deps.dlq.list(&filter, None, DRY_RUN_SAMPLES).await?;
            self.deps.audit.record(audit).await?;
            return Ok(BulkOutcome::DryRun {
                estimated_count: count,
                sample_delivery_ids: sample.into_iter().map(|d| d.id).collect(),
            });
        }
        let (ms, bits) = self.id_parts();
        let job = BulkJob {
            id: JobId::from_parts(ms, bits),
            action: cmd.action,
            filter,
            reason,
            actor: cmd.actor,
            state: JobState::Running,
            total_count: count,
            processed_count: 0,
            success_count: 0,
            failure_count: 0,
            first_error: None,
            cursor: None,
            created_at: now,
            updated_at: now,
            lease_until: None,
        };
        self.deps.jobs.create(&job).await?;
        audit.target = Some(job.id.to_string());
        self.deps.audit.record(audit).await?;
        Ok(BulkOutcome::Executing { job_id: job.id })
    }

    /// A bulk job's progress.
    pub async fn bulk_job(&self, id: JobId) -> Result<BulkJob, BulkError> {
        self.deps.jobs.get(id).await?.ok_or(BulkError::JobNotFound(id))
    }

    /// Runs one batch of some runnable job: each item in its own transaction together with the
    /// job's progress, so a crash never processes an item twice. Returns the pause to keep the
    /// replay rate (`bulk_replay_rate` per second).
    pub async fn run_bulk_step(&self, batch: usize) -> Result<JobStepReport, PortError> {
        let now = self.now();
        let lease_until = now + chrono_duration(self.settings.job_lease);
        let Some(job) = self.deps.jobs.claim_runnable(now, lease_until).await? else {
            return Ok(JobStepReport { job_id: None, processed: 0, pause: Duration::ZERO, finished: false });
        };
        let items = self.deps.dlq.list(&job.filter, job.cursor, batch).await?;
        let mut cursor = job.cursor;
        let mut failed_any = job.failure_count > 0;
        let mut succeeded_any = job.success_count > 0;
        for item in &items {
            let Some(exhausted_at) = item.exhausted_at else { continue };
            let to = DlqCursor { exhausted_at, id: item.id };
            let change = match job.action {
                BulkAction::Replay => DlqChange::Replay,
                BulkAction::Discard => DlqChange::Discard(job.reason.clone().unwrap_or_default()),
            };
            let step = JobStep { job_id: job.id, from: cursor, to };
            match self.change_dlq_item(item.id, &change, Some(step)).await {
                Ok(_) => succeeded_any = true,
                Err(DlqError::Port(e)) => return Err(e),
                Err(other) => {
                    failed_any = true;
                    let message = format!("{}: {other}", item.id);
                    self.deps.jobs.record_failure(job.id, cursor, to, &message, self.now()).await?;
                }
            }
            cursor = Some(to);
        }
        let finished = items.len() < batch;
        if finished {
            let state = match (succeeded_any, failed_any) {
                (_, false) => JobState::Succeeded,
                (true, true) => JobState::PartialFailure,
                (false, true) => JobState::Failed,
            };
            self.deps.jobs.finish(job.id, state, self.now()).await?;
        } else {
            self.deps.jobs.release(job.id).await?;
        }
        let pause = match job.action {
            BulkAction::Replay if self.settings.bulk_replay_rate > 0 => {
                Duration::from_secs_f64(items.len() as f64 / f64::from(self.settings.bulk_replay_rate))
            }
            _ => Duration::ZERO,
        };
        Ok(JobStepReport { job_id: Some(job.id), processed: items.len(), pause, finished })
    }
}
