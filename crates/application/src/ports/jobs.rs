use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::JobId;

use super::delivery_store::{DlqCursor, DlqFilter};
use crate::error::PortError;

hub_domain::named_enum!(
    /// What a bulk job does to each DLQ item.
    BulkAction {
        Replay => "REPLAY",
        Discard => "DISCARD",
    }
);

hub_domain::named_enum!(
    /// A bulk job's state (SPEC §5.6).
    JobState {
        Running => "RUNNING",
        Succeeded => "SUCCEEDED",
        PartialFailure => "PARTIAL_FAILURE",
        Failed => "FAILED",
    }
);

/// A confirmed bulk replay/discard, stored so any replica can run and resume it.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkJob {
    /// Its id.
    pub id: JobId,
    /// Replay or discard.
    pub action: BulkAction,
    /// Which DLQ items (its `to` is capped at the job's creation so re-failed items are not redone).
    pub filter: DlqFilter,
    /// Discard reason.
    pub reason: Option<String>,
    /// Who asked.
    pub actor: String,
    /// Current state.
    pub state: JobState,
    /// Items matching at creation.
    pub total_count: u64,
    /// Items handled so far.
    pub processed_count: u64,
    /// Items changed.
    pub success_count: u64,
    /// Items that could not be changed.
    pub failure_count: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// The last item handled (resume point).
    pub cursor: Option<DlqCursor>,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Last progress.
    pub updated_at: DateTime<Utc>,
    /// A runner holds the job until then.
    pub lease_until: Option<DateTime<Utc>>,
}

/// Bulk jobs.
#[async_trait]
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// Stores a new job.
    async fn create(&self, job: &BulkJob) -> Result<(), PortError>;

    /// The job; `Ok(None)` when unknown.
    async fn get(&self, id: JobId) -> Result<Option<BulkJob>, PortError>;

    /// Leases one RUNNING job whose lease is free or expired (`SKIP LOCKED`), until `lease_until`.
    async fn claim_runnable(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<BulkJob>, PortError>;

    /// Records an item that could not be changed: counts it as processed and failed, keeps the
    /// first error, and advances the cursor — only if the cursor is still `from` (else a no-op
    /// returning `false`).
    async fn record_failure(
        &self,
        id: JobId,
        from: Option<DlqCursor>,
        to: DlqCursor,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError>;

    /// Releases the lease after a step so any runner (of any replica) can take the next one.
    async fn release(&self, id: JobId) -> Result<(), PortError>;

    /// Sets the final state and releases the lease.
    async fn finish(&self, id: JobId, state: JobState, now: DateTime<Utc>) -> Result<(), PortError>;
}
