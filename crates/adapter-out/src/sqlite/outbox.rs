//! `Outbox`: the relay's side of the transactional outbox.
//!
//! SQLite has no `FOR UPDATE SKIP LOCKED`; a claim instead leases rows (`leased_until`) in one
//! `UPDATE … RETURNING`, and other claimers skip leased rows until the lease ends. Since every
//! write goes through the one writer, two claims can never take the same row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{Outbox, OutboxEvent};
use hub_domain::{Channel, DeliveryId, EventId, NotificationId, Priority};
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::errors::db;
use super::rows::{id_list, int, micros, parse, time, time_opt, unsigned};
use super::writer::Done;

/// The columns of `outbox` that make an [`OutboxEvent`].
macro_rules! outbox_columns {
    () => {
        "id, delivery_id, notification_id, channel, priority, attempt, created_at, publish_attempts, \
         next_attempt_at"
    };
}

/// One `outbox` row as read.
#[derive(Debug, sqlx::FromRow)]
struct OutboxRow {
    id: String,
    delivery_id: String,
    notification_id: String,
    channel: String,
    priority: String,
    attempt: i64,
    created_at: i64,
    publish_attempts: i64,
    next_attempt_at: i64,
}

impl OutboxRow {
    /// The event.
    fn into_event(self) -> Result<OutboxEvent, PortError> {
        const T: &str = "outbox";
        Ok(OutboxEvent {
            id: parse::<EventId>(T, "id", &self.id)?,
            delivery_id: parse(T, "delivery_id", &self.delivery_id)?,
            notification_id: parse(T, "notification_id", &self.notification_id)?,
            channel: parse(T, "channel", &self.channel)?,
            priority: parse(T, "priority", &self.priority)?,
            attempt: unsigned(T, "attempt", self.attempt)?,
            created_at: time(T, "created_at", self.created_at)?,
            publish_attempts: unsigned(T, "publish_attempts", self.publish_attempts)?,
            next_attempt_at: time(T, "next_attempt_at", self.next_attempt_at)?,
        })
    }
}

/// Inserts outbox events with one multi-row INSERT.
pub(super) async fn insert_outbox(
    conn: &mut SqliteConnection,
    events: &[OutboxEvent],
) -> Result<(), PortError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut insert = sqlx::QueryBuilder::new(concat!("INSERT INTO outbox (", outbox_columns!(), ") "));
    insert.push_values(events, |mut row, e| {
        row.push_bind(e.id.to_string())
            .push_bind(e.delivery_id.to_string())
            .push_bind(e.notification_id.to_string())
            .push_bind(e.channel.as_str())
            .push_bind(e.priority.as_str())
            .push_bind(i64::from(e.attempt))
            .push_bind(micros(e.created_at))
            .push_bind(i64::from(e.publish_attempts))
            .push_bind(micros(e.next_attempt_at));
    });
    insert.build().execute(&mut *conn).await.map_err(db("writing outbox rows"))?;
    Ok(())
}

/// A new outbox event for a delivery whose try count is `tries` (the publication leads to try
/// `tries + 1`), written at `now`. The id is a ULID of `now` with random bits.
pub(super) fn new_outbox_event(
    delivery_id: DeliveryId,
    notification_id: NotificationId,
    channel: Channel,
    priority: Priority,
    tries: u32,
    now: DateTime<Utc>,
) -> OutboxEvent {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    OutboxEvent {
        id: EventId::from_parts(millis, rand::random()),
        delivery_id,
        notification_id,
        channel,
        priority,
        attempt: tries.saturating_add(1),
        created_at: now,
        publish_attempts: 0,
        next_attempt_at: now,
    }
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, PortError> {
        self.write(move |conn| {
            Box::pin(async move {
                let rows: Vec<OutboxRow> = sqlx::query_as(concat!(
                    "UPDATE outbox SET leased_until = ?1 WHERE id IN ( \
                         SELECT id FROM outbox \
                         WHERE published_at IS NULL AND next_attempt_at <= ?2 \
                           AND (leased_until IS NULL OR leased_until <= ?2) \
                         ORDER BY created_at, id LIMIT ?3) \
                     RETURNING ",
                    outbox_columns!()
                ))
                .bind(micros(lease_until))
                .bind(micros(now))
                .bind(int(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(db("claiming outbox rows"))?;
                let mut events =
                    rows.into_iter().map(OutboxRow::into_event).collect::<Result<Vec<_>, _>>()?;
                // RETURNING comes in no particular order; the relay publishes oldest first.
                events.sort_by_key(|e| (e.created_at, e.id));
                Ok(Done::keep(events))
            })
        })
        .await
    }

    async fn mark_published(&self, ids: &[EventId], now: DateTime<Utc>) -> Result<(), PortError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = id_list(ids);
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE outbox SET published_at = ?1, leased_until = NULL \
                     WHERE id IN (SELECT value FROM json_each(?2))",
                )
                .bind(micros(now))
                .bind(ids)
                .execute(&mut *conn)
                .await
                .map_err(db("marking outbox rows published"))?;
                Ok(Done::keep(()))
            })
        })
        .await
    }

    async fn mark_failed(&self, ids: &[EventId], retry_at: DateTime<Utc>) -> Result<(), PortError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = id_list(ids);
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE outbox SET publish_attempts = publish_attempts + 1, next_attempt_at = ?1, \
                     leased_until = NULL WHERE id IN (SELECT value FROM json_each(?2))",
                )
                .bind(micros(retry_at))
                .bind(ids)
                .execute(&mut *conn)
                .await
                .map_err(db("marking outbox rows failed"))?;
                Ok(Done::keep(()))
            })
        })
        .await
    }

    async fn purge_published(&self, older_than: DateTime<Utc>, limit: usize) -> Result<u64, PortError> {
        self.write(move |conn| {
            Box::pin(async move {
                let purged = sqlx::query(
                    "DELETE FROM outbox WHERE id IN ( \
                         SELECT id FROM outbox WHERE published_at IS NOT NULL AND published_at < ?1 LIMIT ?2)",
                )
                .bind(micros(older_than))
                .bind(int(limit))
                .execute(&mut *conn)
                .await
                .map_err(db("purging published outbox rows"))?
                .rows_affected();
                Ok(Done::keep(purged))
            })
        })
        .await
    }

    async fn backlog(&self) -> Result<(u64, Option<DateTime<Utc>>), PortError> {
        let (count, oldest): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&self.reader)
                .await
                .map_err(db("reading the outbox backlog"))?;
        Ok((unsigned("outbox", "COUNT(*)", count)?, time_opt("outbox", "created_at", oldest)?))
    }
}
