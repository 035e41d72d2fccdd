use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::AuditId;

use crate::error::PortError;

hub_domain::named_enum!(
    /// What was done.
    AuditAction {
        DlqReplay => "DLQ_REPLAY",
        DlqDiscard => "DLQ_DISCARD",
        DlqBulkReplayDryRun => "DLQ_BULK_REPLAY_DRY_RUN",
        DlqBulkDiscardDryRun => "DLQ_BULK_DISCARD_DRY_RUN",
        DlqBulkReplay => "DLQ_BULK_REPLAY",
        DlqBulkDiscard => "DLQ_BULK_DISCARD",
        CallbackApplied => "CALLBACK_APPLIED",
    }
);

/// One audit-trail entry: who did what, to what, with which result.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Its id.
    pub id: AuditId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (admin token holder, vendor name).
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// The object acted on (delivery id, job id), if one.
    pub target: Option<String>,
    /// The filter of a bulk action or dry run.
    pub filter: Option<serde_json::Value>,
    /// Counts (estimated, processed…).
    pub counts: Option<serde_json::Value>,
    /// Result in a word or two (`OK`, `REJECTED: …`).
    pub outcome: String,
}

/// Audit listing filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<AuditAction>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// The audit trail. Entries are never changed or deleted.
#[async_trait]
pub trait AuditLog: Send + Sync + std::fmt::Debug {
    /// Appends an entry.
    async fn record(&self, entry: AuditEntry) -> Result<(), PortError>;

    /// Up to `limit` entries matching `filter`, newest first, strictly after the entry `after`
    /// in `(at DESC, id DESC)` order.
    async fn list(
        &self,
        filter: &AuditFilter,
        after: Option<(DateTime<Utc>, AuditId)>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, PortError>;
}
