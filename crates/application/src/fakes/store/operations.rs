//! Audit trail and bulk jobs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;

#[async_trait]
impl AuditLog for InMemoryStore {
    async fn record(&self, entry: AuditEntry) -> Result<(), PortError> {
        self.state()?.audit.push(entry);
        Ok(())
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        after: Option<(DateTime<Utc>, AuditId)>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, PortError> {
        let state = self.state()?;
        let mut rows: Vec<&AuditEntry> = state
            .audit
            .iter()
            .filter(|e| filter.action.is_none_or(|a| a == e.action))
            .filter(|e| filter.from.is_none_or(|f| e.at >= f))
            .filter(|e| filter.to.is_none_or(|t| e.at < t))
            .filter(|e| after.is_none_or(|c| (e.at, e.id) < c))
            .collect();
        rows.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
        Ok(rows.into_iter().take(limit).cloned().collect())
    }
}

#[async_trait]
impl JobStore for InMemoryStore {
    async fn create(&self, job: &BulkJob) -> Result<(), PortError> {
        self.state()?.jobs.insert(job.id, job.clone());
        Ok(())
    }

    async fn get(&self, id: JobId) -> Result<Option<BulkJob>, PortError> {
        Ok(self.state()?.jobs.get(&id).cloned())
    }

    async fn claim_runnable(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<BulkJob>, PortError> {
        let mut state = self.state()?;
        let job = state
            .jobs
            .values_mut()
            .find(|j| j.state == JobState::Running && j.lease_until.is_none_or(|l| l <= now));
        Ok(job.map(|j| {
            j.lease_until = Some(lease_until);
            j.clone()
        }))
    }

    async fn record_failure(
        &self,
        id: JobId,
        from: Option<DlqCursor>,
        to: DlqCursor,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut state = self.state()?;
        let Some(job) = state.jobs.get_mut(&id) else { return Ok(false) };
        if job.cursor != from {
            return Ok(false);
        }
        job.cursor = Some(to);
        job.processed_count += 1;
        job.failure_count += 1;
        job.first_error.get_or_insert_with(|| error.to_owned());
        job.updated_at = now;
        Ok(true)
    }

    async fn release(&self, id: JobId) -> Result<(), PortError> {
        if let Some(job) = self.state()?.jobs.get_mut(&id) {
            job.lease_until = None;
        }
        Ok(())
    }

    async fn finish(&self, id: JobId, state_to: JobState, now: DateTime<Utc>) -> Result<(), PortError> {
        let mut state = self.state()?;
        if let Some(job) = state.jobs.get_mut(&id) {
            job.state = state_to;
            job.lease_until = None;
            job.updated_at = now;
        }
        Ok(())
    }
}
