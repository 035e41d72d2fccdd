//! The dead-letter queue for operators (SPEC §5.6): list, detail, replay, discard, stats.

use chrono::{DateTime, Utc};
use hub_domain::delivery::{DeliveryEvent, DeliveryStatus};
use hub_domain::{AuditId, DeliveryId};

use crate::App;
use crate::app::EntropySource;
use crate::cursor::{self, InvalidCursor};
use crate::error::{ErrorCode, PortError};
use crate::ports::{
    AuditAction, AuditEntry, DeliveryRecord, DeliveryUpdate, DlqCursor, DlqFilter, DlqStatRow, Expectation,
    JobStep, UpdateOutcome,
};
use crate::use_cases::notifications::{Page, page_size};

/// Default DLQ page size.
pub const DLQ_DEFAULT_PAGE: usize = 50;
/// Largest DLQ page size.
pub const DLQ_MAX_PAGE: usize = 200;
/// Smallest stats bucket.
pub const MIN_STATS_BUCKET_SECONDS: u64 = 60;
/// At most this many stats buckets per request.
pub const MAX_STATS_BUCKETS: u64 = 10_000;

/// An EXHAUSTED delivery as an operator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DlqItem {
    /// The delivery (its target is shown masked by the edge).
    pub delivery: DeliveryRecord,
    /// Tries allowed by the retry policy.
    pub max_tries: u32,
    /// The queue topic it is published to.
    pub topic: String,
}

/// Errors of the DLQ use cases.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// A bad parameter (400).
    #[error("{0}")]
    Validation(String),
    /// No such delivery (404).
    #[error("delivery {0} does not exist")]
    NotFound(DeliveryId),
    /// The delivery is not EXHAUSTED (409).
    #[error("delivery {id} is {status}; only EXHAUSTED deliveries can be replayed or discarded")]
    Illegal {
        /// The delivery.
        id: DeliveryId,
        /// Its status.
        status: DeliveryStatus,
    },
    /// A port failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl DlqError {
    /// The error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            DlqError::Validation(_) => ErrorCode::ValidationFailed,
            DlqError::NotFound(_) => ErrorCode::DeliveryNotFound,
            DlqError::Illegal { .. } => ErrorCode::IllegalDlqOperation,
            DlqError::Port(e) => e.code(),
        }
    }
}

impl From<InvalidCursor> for DlqError {
    fn from(e: InvalidCursor) -> Self {
        DlqError::Validation(format!("cursor: {e}"))
    }
}

/// Which operator change to make to an EXHAUSTED delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DlqChange {
    Replay,
    Discard(String),
}

pub(crate) fn check_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<(), DlqError> {
    match (from, to) {
        (Some(f), Some(t)) if f >= t => Err(DlqError::Validation("from: must be before to".into())),
        _ => Ok(()),
    }
}

impl App {
    fn dlq_item(&self, delivery: DeliveryRecord) -> DlqItem {
        DlqItem {
            topic: delivery.channel.topic(&self.settings.topic_prefix),
            max_tries: self.settings.retry.max_tries(),
            delivery,
        }
    }

    /// EXHAUSTED deliveries, oldest first, over an opaque cursor; `limit` 1–200.
    pub async fn list_dlq(
        &self,
        filter: DlqFilter,
        cursor_text: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Page<DlqItem>, DlqError> {
        let limit = page_size(limit, DLQ_DEFAULT_PAGE, DLQ_MAX_PAGE).map_err(DlqError::Validation)?;
        check_range(filter.from, filter.to)?;
        let after = cursor_text
            .map(|c| {
                cursor::decode(c, DeliveryId::parse).map(|(exhausted_at, id)| DlqCursor { exhausted_at, id })
            })
            .transpose()?;
        let rows = self.deps.dlq.list(&filter, after, limit + 1).await?;
        let page = Page::from_overfetch(rows, limit, |d| d.exhausted_at.map(|at| cursor::encode(at, &d.id)));
        Ok(Page {
            items: page.items.into_iter().map(|d| self.dlq_item(d)).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// One delivery with every try (any status, so an operator can follow up on a replay).
    pub async fn dlq_detail(&self, id: DeliveryId) -> Result<DlqItem, DlqError> {
        let delivery = self.deps.deliveries.get(id).await?.ok_or(DlqError::NotFound(id))?;
        Ok(self.dlq_item(delivery))
    }

    /// Replays an EXHAUSTED delivery: PENDING with tries reset, re-queued through the outbox.
    pub async fn replay_dlq(&self, id: DeliveryId, actor: &str) -> Result<DeliveryRecord, DlqError> {
        let result = self.change_dlq_item(id, &DlqChange::Replay, None).await;
        self.audit_single(AuditAction::DlqReplay, actor, id, &result).await?;
        result
    }

    /// Discards an EXHAUSTED delivery with a reason (DISCARDED; nothing is deleted).
    pub async fn discard_dlq(
        &self,
        id: DeliveryId,
        reason: &str,
        actor: &str,
    ) -> Result<DeliveryRecord, DlqError> {
        let result = if reason.trim().is_empty() {
            Err(DlqError::Validation("reason: must not be blank".into()))
        } else {
            self.change_dlq_item(id, &DlqChange::Discard(reason.trim().to_owned()), None).await
        };
        self.audit_single(AuditAction::DlqDiscard, actor, id, &result).await?;
        result
    }

    /// Applies a replay or discard to one EXHAUSTED delivery, optionally as a bulk-job step.
    pub(crate) async fn change_dlq_item(
        &self,
        id: DeliveryId,
        change: &DlqChange,
        job_step: Option<JobStep>,
    ) -> Result<DeliveryRecord, DlqError> {
        let delivery = self.deps.deliveries.get(id).await?.ok_or(DlqError::NotFound(id))?;
        let now = self.now();
        let event = match change {
            DlqChange::Replay => DeliveryEvent::Replay,
            DlqChange::Discard(_) => DeliveryEvent::Discard,
        };
        let mut random = EntropySource(self.deps.entropy.as_ref());
        let state = delivery
            .state
            .apply(&event, now, &self.settings.retry, &mut random)
            .map_err(|_| DlqError::Illegal { id, status: delivery.state.status })?;
        let update = DeliveryUpdate {
            enqueue: matches!(change, DlqChange::Replay),
            discard_reason: match change {
                DlqChange::Discard(reason) => Some(reason.clone()),
                DlqChange::Replay => None,
            },
            job_step,
            ..DeliveryUpdate::state(state)
        };
        let expected = Expectation { status: delivery.state.status, tries: delivery.state.tries };
        match self.deps.deliveries.update(id, expected, update, now).await? {
            UpdateOutcome::Applied(after) => Ok(after),
            UpdateOutcome::NotFound => Err(DlqError::NotFound(id)),
            UpdateOutcome::Conflict => {
                let current = self.deps.deliveries.get(id).await?.ok_or(DlqError::NotFound(id))?;
                Err(DlqError::Illegal { id, status: current.state.status })
            }
        }
    }

    async fn audit_single(
        &self,
        action: AuditAction,
        actor: &str,
        id: DeliveryId,
        result: &Result<DeliveryRecord, DlqError>,
    ) -> Result<(), PortError> {
        let outcome = match result {
            Ok(d) => format!("OK: {}", d.state.status),
            Err(DlqError::Port(_)) => return Ok(()),
            Err(e) => format!("REJECTED: {}", e.code()),
        };
        let (ms, bits) = self.id_parts();
        self.deps
            .audit
            .record(AuditEntry {
                id: AuditId::from_parts(ms, bits),
                at: self.now(),
                actor: actor.to_owned(),
                action,
                target: Some(id.to_string()),
                filter: None,
                counts: None,
                outcome,
            })
            .await
    }

    /// DLQ counts by time bucket, channel and error class in `[from, to)`, computed by the store.
    pub async fn dlq_stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_seconds: u64,
    ) -> Result<Vec<DlqStatRow>, DlqError> {
        check_range(Some(from), Some(to))?;
        if bucket_seconds < MIN_STATS_BUCKET_SECONDS {
            return Err(DlqError::Validation(format!("bucket: at least {MIN_STATS_BUCKET_SECONDS} seconds")));
        }
        let span = u64::try_from((to - from).num_seconds()).unwrap_or(u64::MAX);
        if span / bucket_seconds > MAX_STATS_BUCKETS {
            return Err(DlqError::Validation(format!(
                "bucket: at most {MAX_STATS_BUCKETS} buckets per request"
            )));
        }
        Ok(self.deps.dlq.stats(from, to, bucket_seconds).await?)
    }
}
