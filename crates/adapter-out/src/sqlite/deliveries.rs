//! `DeliveryStore`: claims, compare-and-set updates (ADR 0011), due scheduling, lease reaping.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{
    ClaimedDelivery, DeliveryRecord, DeliveryStore, DeliveryUpdate, DispatchResult, Expectation, JobStep,
    UpdateOutcome,
};
use hub_domain::{Channel, DeliveryId, NotificationId};
use sqlx::SqliteConnection;

use super::errors::{corrupt, db};
use super::outbox::{insert_outbox, new_outbox_event};
use super::rows::{
    DeliveryRow, delivery_by_id, delivery_columns, insert_try, int, micros, micros_opt, parse, unsigned,
    with_tries,
};
use super::writer::Done;
use super::{SqliteStore, dispatch_batches};

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn get(&self, id: DeliveryId) -> Result<Option<DeliveryRecord>, PortError> {
        let mut tx = self.read().await?;
        delivery_by_id(&mut tx, id).await
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
            " FROM deliveries WHERE vendor_message_id = ?1 AND (?2 IS NULL OR channel = ?2) ORDER BY id LIMIT 1"
        ))
        .bind(vendor_message_id)
        .bind(channel.map(|c| c.as_str()))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("finding a delivery by vendor message id"))?;
        Ok(with_tries(&mut tx, row.into_iter().collect()).await?.pop())
    }

    async fn claim(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, PortError> {
        self.write(move |conn| {
            Box::pin(async move {
                // One conditional UPDATE: of two workers holding the same queue message, exactly
                // one matches `status = 'PENDING'`; the other gets no row and drops its copy.
                let row: Option<DeliveryRow> = sqlx::query_as(concat!(
                    "UPDATE deliveries SET status = 'DISPATCHING', tries = tries + 1, lease_until = ?1, \
                     updated_at = ?2 WHERE id = ?3 AND status = 'PENDING' AND not_before <= ?2 RETURNING ",
                    delivery_columns!()
                ))
                .bind(micros(lease_until))
                .bind(micros(now))
                .bind(id.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db("claiming a delivery"))?;
                Ok(Done::keep(with_tries(conn, row.into_iter().collect()).await?.pop()))
            })
        })
        .await
    }

    async fn claim_many(
        &self,
        ids: &[DeliveryId],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, PortError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        self.write(move |conn| Box::pin(dispatch_batches::claim_many(conn, ids, now, lease_until))).await
    }

    async fn record_results(
        &self,
        results: &[DispatchResult],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, PortError> {
        if results.is_empty() {
            return Ok(Vec::new());
        }
        let results = results.to_vec();
        self.write(move |conn| Box::pin(dispatch_batches::record_results(conn, results, now))).await
    }

    async fn update(
        &self,
        id: DeliveryId,
        expected: Expectation,
        update: DeliveryUpdate,
        now: DateTime<Utc>,
    ) -> Result<UpdateOutcome, PortError> {
        self.write(move |conn| Box::pin(update_in(conn, id, expected, update, now))).await
    }

    async fn enqueue_due(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, PortError> {
        self.write(move |conn| {
            Box::pin(async move {
                // Select and mark in one statement, inside the writer's transaction: no other
                // scheduler (the writer is the only one) can queue the same rows meanwhile.
                let due: Vec<(String, String, String, String, i64)> = sqlx::query_as(
                    "UPDATE deliveries SET queued_at = ?1 WHERE id IN ( \
                         SELECT id FROM deliveries \
                         WHERE status = 'PENDING' AND not_before <= ?1 AND (queued_at IS NULL OR queued_at < ?2) \
                         ORDER BY not_before, id LIMIT ?3) \
                     RETURNING id, notification_id, channel, priority, tries",
                )
                .bind(micros(now))
                .bind(micros(stale_before))
                .bind(int(limit))
                .fetch_all(&mut *conn)
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
                insert_outbox(conn, &events).await?;
                Ok(Done::keep(events.len()).outbox(!events.is_empty()))
            })
        })
        .await
    }

    async fn expired_leases(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, PortError> {
        let mut tx = self.read().await?;
        let rows: Vec<DeliveryRow> = sqlx::query_as(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE status = 'DISPATCHING' AND lease_until <= ?1 ORDER BY lease_until, id LIMIT ?2"
        ))
        .bind(micros(now))
        .bind(int(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading expired leases"))?;
        with_tries(&mut tx, rows).await
    }

    async fn cancel_pending(
        &self,
        id: NotificationId,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, PortError> {
        self.write(move |conn| {
            Box::pin(async move {
                let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM notifications WHERE id = ?1")
                    .bind(id.to_string())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db("reading a notification"))?;
                if known.is_none() {
                    return Ok(Done::keep(None));
                }
                let cancelled = sqlx::query(
                    "UPDATE deliveries SET status = 'CANCELLED', updated_at = ?1 \
                     WHERE notification_id = ?2 AND status = 'PENDING'",
                )
                .bind(micros(now))
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(db("cancelling deliveries"))?
                .rows_affected();
                Ok(Done::keep(Some(usize::try_from(cancelled).unwrap_or(usize::MAX))))
            })
        })
        .await
    }
}

/// The compare-and-set update, run by the writer inside its own savepoint: a conditional
/// UPDATE (status and tries must still be as expected), then the try, the job step (guarded by
/// the job's cursor) and the replay's outbox row. Anything that does not match undoes it all.
async fn update_in(
    conn: &mut SqliteConnection,
    id: DeliveryId,
    expected: Expectation,
    update: DeliveryUpdate,
    now: DateTime<Utc>,
) -> Result<Done<UpdateOutcome>, PortError> {
    let id_text = id.to_string();
    let state = update.state;
    let row: Option<DeliveryRow> = sqlx::query_as(concat!(
        "UPDATE deliveries SET status = ?1, tries = ?2, not_before = ?3, lease_until = ?4, \
         vendor_message_id = COALESCE(?5, vendor_message_id), \
         last_error_class = COALESCE(?6, last_error_class), \
         discard_reason = COALESCE(?7, discard_reason), \
         exhausted_at = CASE WHEN ?1 = 'EXHAUSTED' THEN COALESCE(exhausted_at, ?8) ELSE NULL END, \
         queued_at = CASE WHEN ?9 THEN ?8 WHEN ?1 = 'PENDING' THEN NULL ELSE queued_at END, \
         updated_at = ?8 \
         WHERE id = ?10 AND status = ?11 AND tries = ?12 RETURNING ",
        delivery_columns!()
    ))
    .bind(state.status.as_str())
    .bind(i64::from(state.tries))
    .bind(micros(state.not_before))
    .bind(micros_opt(state.lease_until))
    .bind(update.vendor_message_id.as_deref())
    .bind(update.last_error_class.map(|c| c.as_str()))
    .bind(update.discard_reason.as_deref())
    .bind(micros(now))
    .bind(update.enqueue)
    .bind(&id_text)
    .bind(expected.status.as_str())
    .bind(i64::from(expected.tries))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("updating a delivery"))?;
    let Some(row) = row else {
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM deliveries WHERE id = ?1")
            .bind(&id_text)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading a delivery"))?;
        let outcome = if known.is_some() { UpdateOutcome::Conflict } else { UpdateOutcome::NotFound };
        return Ok(Done::keep(outcome));
    };
    if let Some(step) = &update.job_step {
        if !advance_job(conn, step, now).await? {
            return Ok(Done::undo(UpdateOutcome::Conflict));
        }
    }
    if let Some(t) = &update.push_try {
        insert_try(conn, &id_text, t).await?;
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
    Ok(Done::keep(UpdateOutcome::Applied(record)).outbox(update.enqueue))
}

/// Moves a bulk job's cursor from `step.from` to `step.to`, counting one success; `false` when
/// the job is unknown or its cursor moved on (the item was already processed).
async fn advance_job(
    conn: &mut SqliteConnection,
    step: &JobStep,
    now: DateTime<Utc>,
) -> Result<bool, PortError> {
    let moved = sqlx::query(
        "UPDATE bulk_jobs SET cursor_exhausted_at = ?1, cursor_id = ?2, processed_count = processed_count + 1, \
         success_count = success_count + 1, updated_at = ?3 \
         WHERE id = ?4 AND cursor_exhausted_at IS ?5 AND cursor_id IS ?6",
    )
    .bind(micros(step.to.exhausted_at))
    .bind(step.to.id.to_string())
    .bind(micros(now))
    .bind(step.job_id.to_string())
    .bind(step.from.map(|c| micros(c.exhausted_at)))
    .bind(step.from.map(|c| c.id.to_string()))
    .execute(&mut *conn)
    .await
    .map_err(db("advancing a bulk job"))?
    .rows_affected();
    Ok(moved == 1)
}
