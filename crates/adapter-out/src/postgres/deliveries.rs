//! `DeliveryStore`: claims, compare-and-set updates (ADR 0011), due scheduling, lease reaping.
//!
//! Conditional UPDATEs take the row lock, so of two replicas racing for one delivery the
//! second waits, re-checks the condition on the committed row and matches nothing. The due
//! scheduler claims with `FOR UPDATE SKIP LOCKED`, so schedulers of several replicas split the
//! due rows instead of queueing any of them twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{
    ClaimedDelivery, DeliveryRecord, DeliveryStore, DeliveryUpdate, DispatchResult, Expectation, JobStep,
    UpdateOutcome,
};
use hub_domain::{Channel, DeliveryId, NotificationId};
use sqlx::PgConnection;

use super::errors::{corrupt, db};
use super::outbox::{insert_outbox, new_outbox_event};
use super::rows::{
    DeliveryRow, delivery_by_id, delivery_columns, insert_tries, int, parse, unsigned, with_tries,
};
use super::{PgStore, commit, dispatch_batches, rollback};

#[async_trait]
impl DeliveryStore for PgStore {
    async fn get(&self, id: DeliveryId) -> Result<Option<DeliveryRecord>, PortError> {
        let mut tx = self.read().await?;
        let record = delivery_by_id(&mut tx, id).await?;
        commit(tx).await?;
        Ok(record)
    }

    async fn find_by_vendor_message_id(
        &self,
        channel: Option<Channel>,
        vendor_message_id: &str,
    ) -> Result<Option<DeliveryRecord>, PortError> {
        let mut tx = self.read().await?;
        let row: Option<DeliveryRow> = sqlx::query_as(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE vendor_message_id = $1 AND ($2::text IS NULL OR channel = $2) \
             ORDER BY id LIMIT 1"
        ))
        .bind(vendor_message_id)
        .bind(channel.map(|c| c.as_str()))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("finding a delivery by vendor message id"))?;
        let record = with_tries(&mut tx, row.into_iter().collect()).await?.pop();
        commit(tx).await?;
        Ok(record)
    }

    async fn claim(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, PortError> {
        let mut conn = self.pool.acquire().await.map_err(db("claiming a delivery"))?;
        // One conditional UPDATE: of two workers holding the same queue message, exactly one
        // matches `status = 'PENDING'`; the other waits for its row lock, re-checks and gets no
        // row. The tries are read afterwards: only the lease holder appends to them.
        let row: Option<DeliveryRow> = sqlx::query_as(concat!(
            "UPDATE deliveries SET status = 'DISPATCHING', tries = tries + 1, lease_until = $1, \
             updated_at = $2 WHERE id = $3 AND status = 'PENDING' AND not_before <= $2 RETURNING ",
            delivery_columns!()
        ))
        .bind(lease_until)
        .bind(now)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("claiming a delivery"))?;
        Ok(with_tries(&mut conn, row.into_iter().collect()).await?.pop())
    }

    async fn claim_many(
        &self,
        ids: &[DeliveryId],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, PortError> {
        dispatch_batches::claim_many(&self.pool, ids, now, lease_until).await
    }

    async fn record_results(
        &self,
        results: &[DispatchResult],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, PortError> {
        dispatch_batches::record_results(&self.pool, results, now).await
    }

    async fn update(
        &self,
        id: DeliveryId,
        expected: Expectation,
        update: DeliveryUpdate,
        now: DateTime<Utc>,
    ) -> Result<UpdateOutcome, PortError> {
        let mut tx = self.begin().await?;
        let outcome = update_in(&mut tx, id, expected, &update, now).await?;
        if matches!(outcome, UpdateOutcome::Applied(_)) {
            commit(tx).await?;
            if update.enqueue {
                self.outbox_committed();
            }
        } else {
            // A conflict (including a stale job step) leaves nothing behind.
            rollback(tx).await;
        }
        Ok(outcome)
    }

    async fn enqueue_due(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, PortError> {
        let mut tx = self.begin().await?;
        // SKIP LOCKED: rows another scheduler is queueing are left to it. A row it queued and
        // committed meanwhile is re-checked when locked and no longer matches (queued_at = its now).
        let due: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "WITH due AS ( \
                 SELECT id FROM deliveries \
                 WHERE status = 'PENDING' AND not_before <= $1 AND (queued_at IS NULL OR queued_at < $2) \
                 ORDER BY not_before, id LIMIT $3 \
                 FOR UPDATE SKIP LOCKED) \
             UPDATE deliveries d SET queued_at = $1 FROM due WHERE d.id = due.id \
             RETURNING d.id, d.notification_id, d.channel, d.priority, d.tries",
        )
        .bind(now)
        .bind(stale_before)
        .bind(int(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db("queueing due deliveries"))?;
        const T: &str = "deliveries";
        let events = due
            .iter()
            .map(|(id, notification, channel, priority, tries)| {
                Ok(new_outbox_event(
                    parse(T, "id", id)?,
                    parse(T, "notification_id", notification)?,
                    parse(T, "channel", channel)?,
                    parse(T, "priority", priority)?,
                    unsigned(T, "tries", *tries)?,
                    now,
                ))
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        insert_outbox(&mut tx, &events).await?;
        commit(tx).await?;
        if !events.is_empty() {
            self.outbox_committed();
        }
        Ok(events.len())
    }

    async fn expired_leases(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, PortError> {
        // A plain read: the reaper changes each delivery by compare-and-set, so two replicas
        // reaping the same lease cannot both apply.
        let mut tx = self.read().await?;
        let rows: Vec<DeliveryRow> = sqlx::query_as(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE status = 'DISPATCHING' AND lease_until <= $1 \
             ORDER BY lease_until, id LIMIT $2"
        ))
        .bind(now)
        .bind(int(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading expired leases"))?;
        let records = with_tries(&mut tx, rows).await?;
        commit(tx).await?;
        Ok(records)
    }

    async fn cancel_pending(
        &self,
        id: NotificationId,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, PortError> {
        let (known, cancelled): (bool, i64) = sqlx::query_as(
            "WITH cancelled AS ( \
                 UPDATE deliveries SET status = 'CANCELLED', updated_at = $1 \
                 WHERE notification_id = $2 AND status = 'PENDING' RETURNING 1) \
             SELECT EXISTS (SELECT 1 FROM notifications WHERE id = $2), (SELECT COUNT(*) FROM cancelled)",
        )
        .bind(now)
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(db("cancelling deliveries"))?;
        Ok(known.then(|| usize::try_from(cancelled).unwrap_or(usize::MAX)))
    }
}

/// The compare-and-set update inside the caller's transaction: a conditional UPDATE (status
/// and tries must still be as expected), then the job step (guarded by the job's cursor), the
/// try and the replay's outbox row. Anything but `Applied` must be rolled back by the caller.
async fn update_in(
    conn: &mut PgConnection,
    id: DeliveryId,
    expected: Expectation,
    update: &DeliveryUpdate,
    now: DateTime<Utc>,
) -> Result<UpdateOutcome, PortError> {
    let id_text = id.to_string();
    let state = update.state;
    let row: Option<DeliveryRow> = sqlx::query_as(concat!(
        "UPDATE deliveries SET status = $1, tries = $2, not_before = $3, lease_until = $4, \
         vendor_message_id = COALESCE($5, vendor_message_id), \
         last_error_class = COALESCE($6, last_error_class), \
         discard_reason = COALESCE($7, discard_reason), \
         exhausted_at = CASE WHEN $1 = 'EXHAUSTED' THEN COALESCE(exhausted_at, $8) ELSE NULL END, \
         queued_at = CASE WHEN $9 THEN $8 WHEN $1 = 'PENDING' THEN NULL ELSE queued_at END, \
         updated_at = $8 \
         WHERE id = $10 AND status = $11 AND tries = $12 RETURNING ",
        delivery_columns!()
    ))
    .bind(state.status.as_str())
    .bind(i64::from(state.tries))
    .bind(state.not_before)
    .bind(state.lease_until)
    .bind(update.vendor_message_id.as_deref())
    .bind(update.last_error_class.map(|c| c.as_str()))
    .bind(update.discard_reason.as_deref())
    .bind(now)
    .bind(update.enqueue)
    .bind(&id_text)
    .bind(expected.status.as_str())
    .bind(i64::from(expected.tries))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("updating a delivery"))?;
    let Some(row) = row else {
        let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)")
            .bind(&id_text)
            .fetch_one(&mut *conn)
            .await
            .map_err(db("reading a delivery"))?;
        return Ok(if known { UpdateOutcome::Conflict } else { UpdateOutcome::NotFound });
    };
    if let Some(step) = &update.job_step {
        if !advance_job(conn, step, now).await? {
            return Ok(UpdateOutcome::Conflict);
        }
    }
    if let Some(t) = &update.push_try {
        insert_tries(conn, &[(id_text.clone(), t)]).await?;
    }
    let record = with_tries(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| corrupt("deliveries", format_args!("{id} vanished during its update")))?;
    if update.enqueue {
        let event = new_outbox_event(
            record.id,
            record.notification_id,
            record.channel,
            record.priority,
            record.state.tries,
            now,
        );
        insert_outbox(conn, &[event]).await?;
    }
    Ok(UpdateOutcome::Applied(record))
}

/// Moves a bulk job's cursor from `step.from` to `step.to`, counting one success; `false` when
/// the job is unknown or its cursor moved on (the item was already processed).
async fn advance_job(conn: &mut PgConnection, step: &JobStep, now: DateTime<Utc>) -> Result<bool, PortError> {
    let moved = sqlx::query(
        "UPDATE bulk_jobs SET cursor_exhausted_at = $1, cursor_id = $2, processed_count = processed_count + 1, \
         success_count = success_count + 1, updated_at = $3 \
         WHERE id = $4 AND cursor_exhausted_at IS NOT DISTINCT FROM $5 AND cursor_id IS NOT DISTINCT FROM $6",
    )
    .bind(step.to.exhausted_at)
    .bind(step.to.id.to_string())
    .bind(now)
    .bind(step.job_id.to_string())
    .bind(step.from.map(|c| c.exhausted_at))
    .bind(step.from.map(|c| c.id.to_string()))
    .execute(&mut *conn)
    .await
    .map_err(db("advancing a bulk job"))?
    .rows_affected();
    Ok(moved == 1)
}
