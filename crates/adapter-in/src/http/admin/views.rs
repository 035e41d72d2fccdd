//! Admin response shapes (SPEC §5.6): DLQ items and pages, stats, bulk answers, jobs, audit.

use chrono::{DateTime, Utc};
use hub_application::ports::{AuditEntry, BulkJob, DlqStatRow};
use hub_application::use_cases::bulk::BulkOutcome;
use hub_application::use_cases::dlq::DlqItem;
use hub_application::use_cases::notifications::Page;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::dto::{AuditAction, BulkAction, BulkMode, JobState, StatsWindow};
use crate::http::dto::enums as wire;
use crate::http::dto::views::TryDto;

/// A delivery as an operator sees it: content, masked address, every try, and where it would
/// be published.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DlqItem)]
pub(crate) struct DlqItemDto {
    /// Its id (`dlv_…`).
    #[schema(example = "dlv_01KF0C9F4G0000000000000002")]
    delivery_id: String,
    /// Its notification (`ntf_…`).
    notification_id: String,
    /// The recipient.
    recipient_id: String,
    /// The channel.
    channel: wire::Channel,
    /// The address, masked (`us***om`).
    address: String,
    /// EXHAUSTED in the DLQ; PENDING after a replay, DISCARDED after a discard.
    status: wire::DeliveryStatus,
    /// Dispatch lane.
    priority: wire::Priority,
    /// Not dispatched before.
    not_before: DateTime<Utc>,
    /// Rendered title, or null.
    title: Option<String>,
    /// Rendered body.
    body: String,
    /// Every dispatch try, oldest first, each with its error.
    tries: Vec<TryDto>,
    /// Error class of the last failure, or null.
    error_class: Option<wire::ErrorClass>,
    /// Tries the retry policy allows.
    max_tries: u32,
    /// The queue topic a replay publishes to.
    #[schema(example = "notification.delivery.email")]
    topic: String,
    /// When it entered the DLQ, or null when it is not there now.
    exhausted_at: Option<DateTime<Utc>>,
    /// The operator's reason, when DISCARDED.
    discard_reason: Option<String>,
    /// The vendor's message id, or null.
    vendor_message_id: Option<String>,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// Last change.
    updated_at: DateTime<Utc>,
}

impl From<&DlqItem> for DlqItemDto {
    fn from(item: &DlqItem) -> Self {
        let d = &item.delivery;
        DlqItemDto {
            delivery_id: d.id.to_string(),
            notification_id: d.notification_id.to_string(),
            recipient_id: d.recipient_id.to_string(),
            channel: d.channel.into(),
            address: d.target.masked(),
            status: d.state.status.into(),
            priority: d.priority.into(),
            not_before: d.state.not_before,
            title: d.title.clone(),
            body: d.body.clone(),
            tries: d.tries.iter().map(Into::into).collect(),
            error_class: d.last_error_class.map(Into::into),
            max_tries: item.max_tries,
            topic: item.topic.clone(),
            exhausted_at: d.exhausted_at,
            discard_reason: d.discard_reason.clone(),
            vendor_message_id: d.vendor_message_id.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A page of the DLQ, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DlqPage)]
pub(crate) struct DlqPageDto {
    /// EXHAUSTED deliveries.
    items: Vec<DlqItemDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

impl From<&Page<DlqItem>> for DlqPageDto {
    fn from(p: &Page<DlqItem>) -> Self {
        DlqPageDto { items: p.items.iter().map(Into::into).collect(), next_cursor: p.next_cursor.clone() }
    }
}

/// One count of the DLQ statistics.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DlqStatRow)]
pub(crate) struct DlqStatRowDto {
    /// Start of the bucket (buckets are aligned to the Unix epoch).
    bucket_start: DateTime<Utc>,
    /// The channel.
    channel: wire::Channel,
    /// The error class of the last failure, or null when unknown.
    error_class: Option<wire::ErrorClass>,
    /// Deliveries that entered the DLQ in the bucket and are still there.
    count: u64,
}

/// DLQ counts by time bucket, channel and error class (only non-zero rows).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DlqStats)]
pub(crate) struct DlqStatsDto {
    /// Start of the window, inclusive.
    from: DateTime<Utc>,
    /// End of the window, exclusive.
    to: DateTime<Utc>,
    /// Bucket length in seconds.
    bucket_seconds: u64,
    /// Sum of all counts.
    total: u64,
    /// Rows ordered by bucket, channel, error class.
    items: Vec<DlqStatRowDto>,
}

impl DlqStatsDto {
    pub(crate) fn new(window: &StatsWindow, rows: &[DlqStatRow]) -> Self {
        DlqStatsDto {
            from: window.from,
            to: window.to,
            bucket_seconds: window.bucket_seconds,
            total: rows.iter().map(|r| r.count).sum(),
            items: rows
                .iter()
                .map(|r| DlqStatRowDto {
                    bucket_start: r.bucket_start,
                    channel: r.channel.into(),
                    error_class: r.error_class.map(Into::into),
                    count: r.count,
                })
                .collect(),
        }
    }
}

/// The answer to a bulk request without `confirm: true`: nothing changed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BulkDryRun)]
pub(crate) struct BulkDryRunDto {
    /// Always DRY_RUN.
    #[schema(example = "DRY_RUN")]
    mode: BulkMode,
    /// EXHAUSTED deliveries matching now.
    estimated_count: u64,
    /// Up to 10 of them, oldest first.
    sample_delivery_ids: Vec<String>,
}

/// The answer to a confirmed bulk request: a stored job.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BulkExecuting)]
pub(crate) struct BulkExecutingDto {
    /// Always EXECUTING.
    #[schema(example = "EXECUTING")]
    mode: BulkMode,
    /// The job (`job_…`); follow it at `/api/v1/admin/dlq/bulk-jobs/{jobId}`.
    job_id: String,
}

impl BulkExecutingDto {
    /// The job id.
    pub(crate) fn job_id(&self) -> &str {
        &self.job_id
    }
}

/// Either bulk answer.
#[derive(Debug)]
pub(crate) enum BulkAnswer {
    /// 200.
    DryRun(BulkDryRunDto),
    /// 202.
    Executing(BulkExecutingDto),
}

impl From<&BulkOutcome> for BulkAnswer {
    fn from(outcome: &BulkOutcome) -> Self {
        match outcome {
            BulkOutcome::DryRun { estimated_count, sample_delivery_ids } => {
                BulkAnswer::DryRun(BulkDryRunDto {
                    mode: BulkMode::DryRun,
                    estimated_count: *estimated_count,
                    sample_delivery_ids: sample_delivery_ids.iter().map(ToString::to_string).collect(),
                })
            }
            BulkOutcome::Executing { job_id } => BulkAnswer::Executing(BulkExecutingDto {
                mode: BulkMode::Executing,
                job_id: job_id.to_string(),
            }),
        }
    }
}

/// The filter of a bulk job.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DlqFilter)]
pub(crate) struct DlqFilterDto {
    /// Only this channel, or null.
    channel: Option<wire::Channel>,
    /// Exhausted at or after, or null.
    from: Option<DateTime<Utc>>,
    /// Exhausted before (capped at the job's creation).
    to: Option<DateTime<Utc>>,
    /// Only this error class, or null.
    error_class: Option<wire::ErrorClass>,
}

/// A bulk job's progress.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BulkJob)]
pub(crate) struct BulkJobDto {
    /// Its id (`job_…`).
    job_id: String,
    /// REPLAY or DISCARD.
    action: BulkAction,
    /// RUNNING until every item is handled.
    state: JobState,
    /// Matching items when the job was created.
    total_count: u64,
    /// Items handled so far.
    processed_count: u64,
    /// Items changed.
    success_count: u64,
    /// Items that could not be changed (e.g. replayed by hand meanwhile).
    failure_count: u64,
    /// The first failure's message, or null.
    first_error: Option<String>,
    /// Which items.
    filter: DlqFilterDto,
    /// The discard reason, or null.
    reason: Option<String>,
    /// Who asked.
    actor: String,
    /// Creation.
    created_at: DateTime<Utc>,
    /// Last progress.
    updated_at: DateTime<Utc>,
}

impl From<&BulkJob> for BulkJobDto {
    fn from(j: &BulkJob) -> Self {
        BulkJobDto {
            job_id: j.id.to_string(),
            action: j.action.into(),
            state: j.state.into(),
            total_count: j.total_count,
            processed_count: j.processed_count,
            success_count: j.success_count,
            failure_count: j.failure_count,
            first_error: j.first_error.clone(),
            filter: DlqFilterDto {
                channel: j.filter.channel.map(Into::into),
                from: j.filter.from,
                to: j.filter.to,
                error_class: j.filter.error_class.map(Into::into),
            },
            reason: j.reason.clone(),
            actor: j.actor.clone(),
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// One audit-trail entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEntry)]
pub(crate) struct AuditEntryDto {
    /// Its id (`aud_…`).
    audit_id: String,
    /// When.
    at: DateTime<Utc>,
    /// Who: `admin` for calls with the admin token, the vendor for callbacks.
    actor: String,
    /// What.
    action: AuditAction,
    /// The delivery or job acted on, or null.
    target: Option<String>,
    /// The filter of a bulk action or dry run (`channel`, `from`, `to`, `errorClass`), or null.
    #[schema(value_type = Option<Object>)]
    filter: Option<Value>,
    /// Counts, e.g. `{"estimatedCount": 12}`, or null.
    #[schema(value_type = Option<Object>)]
    counts: Option<Value>,
    /// `OK…` or `REJECTED: <code>`.
    outcome: String,
}

impl From<&AuditEntry> for AuditEntryDto {
    fn from(e: &AuditEntry) -> Self {
        AuditEntryDto {
            audit_id: e.id.to_string(),
            at: e.at,
            actor: e.actor.clone(),
            action: e.action.into(),
            target: e.target.clone(),
            filter: e.filter.as_ref().map(camel_keys),
            counts: e.counts.clone(),
            outcome: e.outcome.clone(),
        }
    }
}

/// The stored filter has Rust field names (`error_class`); the wire speaks camelCase.
fn camel_keys(value: &Value) -> Value {
    let Value::Object(map) = value else { return value.clone() };
    let out: Map<String, Value> = map
        .iter()
        .map(|(k, v)| {
            let mut key = String::with_capacity(k.len());
            let mut upper = false;
            for c in k.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    key.extend(c.to_uppercase());
                    upper = false;
                } else {
                    key.push(c);
                }
            }
            (key, v.clone())
        })
        .collect();
    Value::Object(out)
}

/// A page of the audit trail, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditPage)]
pub(crate) struct AuditPageDto {
    /// The entries.
    items: Vec<AuditEntryDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

impl From<&Page<AuditEntry>> for AuditPageDto {
    fn from(p: &Page<AuditEntry>) -> Self {
        AuditPageDto { items: p.items.iter().map(Into::into).collect(), next_cursor: p.next_cursor.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_filters_are_shown_in_camel_case() {
        let stored = serde_json::json!({ "channel": "EMAIL", "error_class": "TRANSIENT", "from": null });
        assert_eq!(
            camel_keys(&stored),
            serde_json::json!({ "channel": "EMAIL", "errorClass": "TRANSIENT", "from": null })
        );
    }
}
