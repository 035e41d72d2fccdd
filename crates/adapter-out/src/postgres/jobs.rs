//! `JobStore`: bulk DLQ jobs, leased by one runner at a time and resumable from their cursor.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{BulkJob, DlqCursor, DlqFilter, JobState, JobStore};
use hub_domain::JobId;

use super::PgStore;
use super::errors::{corrupt, db};
use super::rows::{parse, parse_opt, unsigned};

const JOBS: &str = "bulk_jobs";

/// The columns that make a [`BulkJob`].
macro_rules! job_columns {
    () => {
        "id, action, filter_channel, filter_from, filter_to, filter_error_class, reason, actor, state, \
         total_count, processed_count, success_count, failure_count, first_error, cursor_exhausted_at, \
         cursor_id, created_at, updated_at, lease_until"
    };
}

#[derive(Debug, sqlx::FromRow)]
struct JobRow {
    id: String,
    action: String,
    filter_channel: Option<String>,
    filter_from: Option<DateTime<Utc>>,
    filter_to: Option<DateTime<Utc>>,
    filter_error_class: Option<String>,
    reason: Option<String>,
    actor: String,
    state: String,
    total_count: i64,
    processed_count: i64,
    success_count: i64,
    failure_count: i64,
    first_error: Option<String>,
    cursor_exhausted_at: Option<DateTime<Utc>>,
    cursor_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
}

impl JobRow {
    fn into_job(self) -> Result<BulkJob, PortError> {
        const T: &str = JOBS;
        let cursor = match (self.cursor_exhausted_at, self.cursor_id.as_deref()) {
            (Some(exhausted_at), Some(id)) => {
                Some(DlqCursor { exhausted_at, id: parse(T, "cursor_id", id)? })
            }
            (None, None) => None,
            _ => return Err(corrupt(T, format_args!("{}: half a cursor", self.id))),
        };
        Ok(BulkJob {
            id: parse(T, "id", &self.id)?,
            action: parse(T, "action", &self.action)?,
            filter: DlqFilter {
                channel: parse_opt(T, "filter_channel", self.filter_channel.as_deref())?,
                from: self.filter_from,
                to: self.filter_to,
                error_class: parse_opt(T, "filter_error_class", self.filter_error_class.as_deref())?,
            },
            reason: self.reason,
            actor: self.actor,
            state: parse(T, "state", &self.state)?,
            total_count: unsigned(T, "total_count", self.total_count)?,
            processed_count: unsigned(T, "processed_count", self.processed_count)?,
            success_count: unsigned(T, "success_count", self.success_count)?,
            failure_count: unsigned(T, "failure_count", self.failure_count)?,
            first_error: self.first_error,
            cursor,
            created_at: self.created_at,
            updated_at: self.updated_at,
            lease_until: self.lease_until,
        })
    }
}

/// A count as a BIGINT; counts beyond i64 cannot happen, and are refused if they do.
fn count(value: u64) -> Result<i64, PortError> {
    i64::try_from(value).map_err(|_| PortError::Unexpected(anyhow::anyhow!("job count {value} is too large")))
}

#[async_trait]
impl JobStore for PgStore {
    async fn create(&self, job: &BulkJob) -> Result<(), PortError> {
        sqlx::query(concat!(
            "INSERT INTO bulk_jobs (",
            job_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ))
        .bind(job.id.to_string())
        .bind(job.action.as_str())
        .bind(job.filter.channel.map(|c| c.as_str()))
        .bind(job.filter.from)
        .bind(job.filter.to)
        .bind(job.filter.error_class.map(|c| c.as_str()))
        .bind(job.reason.as_deref())
        .bind(&job.actor)
        .bind(job.state.as_str())
        .bind(count(job.total_count)?)
        .bind(count(job.processed_count)?)
        .bind(count(job.success_count)?)
        .bind(count(job.failure_count)?)
        .bind(job.first_error.as_deref())
        .bind(job.cursor.map(|c| c.exhausted_at))
        .bind(job.cursor.map(|c| c.id.to_string()))
        .bind(job.created_at)
        .bind(job.updated_at)
        .bind(job.lease_until)
        .execute(&self.pool)
        .await
        .map_err(db("creating a bulk job"))?;
        Ok(())
    }

    async fn get(&self, id: JobId) -> Result<Option<BulkJob>, PortError> {
        let row: Option<JobRow> =
            sqlx::query_as(concat!("SELECT ", job_columns!(), " FROM bulk_jobs WHERE id = $1"))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a bulk job"))?;
        row.map(JobRow::into_job).transpose()
    }

    async fn claim_runnable(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<BulkJob>, PortError> {
        // SKIP LOCKED: runners of other replicas take another job (or none) instead of waiting.
        let row: Option<JobRow> = sqlx::query_as(concat!(
            "UPDATE bulk_jobs SET lease_until = $1 WHERE id = ( \
                 SELECT id FROM bulk_jobs \
                 WHERE state = 'RUNNING' AND (lease_until IS NULL OR lease_until <= $2) \
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING ",
            job_columns!()
        ))
        .bind(lease_until)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("claiming a bulk job"))?;
        row.map(JobRow::into_job).transpose()
    }

    async fn record_failure(
        &self,
        id: JobId,
        from: Option<DlqCursor>,
        to: DlqCursor,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        // Guarded by the cursor, like a successful step (JobStep): an item is counted once.
        let n = sqlx::query(
            "UPDATE bulk_jobs SET cursor_exhausted_at = $1, cursor_id = $2, \
             processed_count = processed_count + 1, failure_count = failure_count + 1, \
             first_error = COALESCE(first_error, $3), updated_at = $4 \
             WHERE id = $5 AND cursor_exhausted_at IS NOT DISTINCT FROM $6 AND cursor_id IS NOT DISTINCT FROM $7",
        )
        .bind(to.exhausted_at)
        .bind(to.id.to_string())
        .bind(error)
        .bind(now)
        .bind(id.to_string())
        .bind(from.map(|c| c.exhausted_at))
        .bind(from.map(|c| c.id.to_string()))
        .execute(&self.pool)
        .await
        .map_err(db("recording a bulk job failure"))?
        .rows_affected();
        Ok(n > 0)
    }

    async fn release(&self, id: JobId) -> Result<(), PortError> {
        sqlx::query("UPDATE bulk_jobs SET lease_until = NULL WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("releasing a bulk job"))?;
        Ok(())
    }

    async fn finish(&self, id: JobId, state: JobState, now: DateTime<Utc>) -> Result<(), PortError> {
        sqlx::query("UPDATE bulk_jobs SET state = $1, lease_until = NULL, updated_at = $2 WHERE id = $3")
            .bind(state.as_str())
            .bind(now)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("finishing a bulk job"))?;
        Ok(())
    }
}
