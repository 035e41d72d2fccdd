//! `Outbox`: the relay's side of the transactional outbox.
//!
//! A claim locks due rows with `FOR UPDATE SKIP LOCKED` (relays of other replicas skip them
//! instead of waiting) and leases them (`leased_until`) in the same `UPDATE … RETURNING`, so
//! they stay hidden after the claim's transaction ends, until published, failed or the lease
//! runs out. Rows are always taken oldest first, never behind an `id > last` cursor, so a row
//! committed late by a slow transaction is not skipped.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{Outbox, OutboxEvent};
use hub_domain::{Channel, DeliveryId, EventId, NotificationId, Priority};
use sqlx::PgConnection;

use super::PgStore;
use super::errors::db;
use super::rows::{id_array, int, parse, unsigned};

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
    created_at: DateTime<Utc>,
    publish_attempts: i64,
    next_attempt_at: DateTime<Utc>,
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
            created_at: self.created_at,
            publish_attempts: unsigned(T, "publish_attempts", self.publish_attempts)?,
            next_attempt_at: self.next_attempt_at,
        })
    }
}

/// Inserts outbox events with one `INSERT … SELECT FROM UNNEST`. The caller announces them
/// with [`PgStore::outbox_committed`](super::PgStore) once its transaction has committed.
pub(super) async fn insert_outbox(conn: &mut PgConnection, events: &[OutboxEvent]) -> Result<(), PortError> {
    if events.is_empty() {
        return Ok(());
    }
    let query = sqlx::query(concat!(
        "INSERT INTO outbox (",
        outbox_columns!(),
        ") SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], \
         $7::timestamptz[], $8::int8[], $9::timestamptz[])"
    ));
    OutboxColumns::of(events).bind_to(query).execute(&mut *conn).await.map_err(db("writing outbox rows"))?;
    Ok(())
}

/// Outbox rows as one array per column (in [`outbox_columns!`] order).
#[derive(Debug)]
pub(super) struct OutboxColumns {
    ids: Vec<String>,
    deliveries: Vec<String>,
    notifications: Vec<String>,
    channels: Vec<&'static str>,
    priorities: Vec<&'static str>,
    attempts: Vec<i64>,
    created: Vec<DateTime<Utc>>,
    publish_attempts: Vec<i64>,
    next: Vec<DateTime<Utc>>,
}

impl OutboxColumns {
    pub(super) fn of(events: &[OutboxEvent]) -> Self {
        OutboxColumns {
            ids: id_array(events.iter().map(|e| e.id)),
            deliveries: id_array(events.iter().map(|e| e.delivery_id)),
            notifications: id_array(events.iter().map(|e| e.notification_id)),
            channels: events.iter().map(|e| e.channel.as_str()).collect(),
            priorities: events.iter().map(|e| e.priority.as_str()).collect(),
            attempts: events.iter().map(|e| i64::from(e.attempt)).collect(),
            created: events.iter().map(|e| e.created_at).collect(),
            publish_attempts: events.iter().map(|e| i64::from(e.publish_attempts)).collect(),
            next: events.iter().map(|e| e.next_attempt_at).collect(),
        }
    }

    /// Binds the nine arrays, in column order.
    pub(super) fn bind_to(
        self,
        q: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
        q.bind(self.ids)
            .bind(self.deliveries)
            .bind(self.notifications)
            .bind(self.channels)
            .bind(self.priorities)
            .bind(self.attempts)
            .bind(self.created)
            .bind(self.publish_attempts)
            .bind(self.next)
    }
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
impl Outbox for PgStore {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, PortError> {
        let rows: Vec<OutboxRow> = sqlx::query_as(concat!(
            "UPDATE outbox SET leased_until = $1 WHERE id IN ( \
                 SELECT id FROM outbox \
                 WHERE published_at IS NULL AND next_attempt_at <= $2 \
                   AND (leased_until IS NULL OR leased_until <= $2) \
                 ORDER BY created_at, id LIMIT $3 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING ",
            outbox_columns!()
        ))
        .bind(lease_until)
        .bind(now)
        .bind(int(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("claiming outbox rows"))?;
        let mut events = rows.into_iter().map(OutboxRow::into_event).collect::<Result<Vec<_>, _>>()?;
        // RETURNING comes in no particular order; the relay publishes oldest first.
        events.sort_by_key(|e| (e.created_at, e.id));
        Ok(events)
    }

    async fn mark_published(&self, ids: &[EventId], now: DateTime<Utc>) -> Result<(), PortError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE outbox SET published_at = $1, leased_until = NULL WHERE id = ANY($2)")
            .bind(now)
            .bind(id_array(ids))
            .execute(&self.pool)
            .await
            .map_err(db("marking outbox rows published"))?;
        Ok(())
    }

    async fn mark_failed(&self, ids: &[EventId], retry_at: DateTime<Utc>) -> Result<(), PortError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE outbox SET publish_attempts = publish_attempts + 1, next_attempt_at = $1, \
             leased_until = NULL WHERE id = ANY($2)",
        )
        .bind(retry_at)
        .bind(id_array(ids))
        .execute(&self.pool)
        .await
        .map_err(db("marking outbox rows failed"))?;
        Ok(())
    }

    async fn purge_published(&self, older_than: DateTime<Utc>, limit: usize) -> Result<u64, PortError> {
        // SKIP LOCKED: purgers of several replicas split the work instead of queueing on it.
        let purged = sqlx::query(
            "DELETE FROM outbox WHERE id IN ( \
                 SELECT id FROM outbox WHERE published_at < $1 \
                 ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(older_than)
        .bind(int(limit))
        .execute(&self.pool)
        .await
        .map_err(db("purging published outbox rows"))?
        .rows_affected();
        Ok(purged)
    }

    async fn backlog(&self) -> Result<(u64, Option<DateTime<Utc>>), PortError> {
        let (count, oldest): (i64, Option<DateTime<Utc>>) =
            sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db("reading the outbox backlog"))?;
        Ok((unsigned("outbox", "COUNT(*)", count)?, oldest))
    }
}
