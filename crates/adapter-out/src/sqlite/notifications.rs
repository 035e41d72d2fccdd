//! `NotificationStore`: the atomic accept, lookups and the newest-first listing.

use std::collections::HashMap;

use async_trait::async_trait;
use hub_application::error::PortError;
use hub_application::ports::{
    AcceptKey, AcceptOutcome, DeliveryRecord, NewNotification, NotificationCursor, NotificationFilter,
    NotificationRecord, NotificationStore, NotificationWithDeliveries, SkippedChannel,
};
use hub_domain::idempotency::Fingerprint;
use hub_domain::{NotificationId, RecipientId};
use sqlx::error::ErrorKind;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::SqliteStore;
use super::errors::{corrupt, db, db_error};
use super::outbox::insert_outbox;
use super::rows::{
    DeliveryRow, TargetColumns, delivery_columns, id_list, insert_try, int, micros, micros_opt, parse, time,
    time_opt, with_tries,
};
use super::writer::Done;

/// The columns of `notifications` that make a [`NotificationRecord`].
macro_rules! notification_columns {
    () => {
        "id, recipient_id, kind, priority, created_at, metadata, expires_at, skipped"
    };
}

/// One `notifications` row as read.
#[derive(Debug, sqlx::FromRow)]
struct NotificationRow {
    id: String,
    recipient_id: String,
    kind: String,
    priority: String,
    created_at: i64,
    metadata: Option<String>,
    expires_at: Option<i64>,
    skipped: String,
}

impl NotificationRow {
    /// The record.
    fn into_record(self) -> Result<NotificationRecord, PortError> {
        const T: &str = "notifications";
        let metadata = self
            .metadata
            .as_deref()
            .map(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>)
            .transpose()
            .map_err(|e| corrupt(T, format_args!("{}: metadata: {e}", self.id)))?;
        let skipped: Vec<SkippedChannel> = serde_json::from_str(&self.skipped)
            .map_err(|e| corrupt(T, format_args!("{}: skipped: {e}", self.id)))?;
        Ok(NotificationRecord {
            id: parse::<NotificationId>(T, "id", &self.id)?,
            recipient_id: RecipientId::parse(&self.recipient_id)
                .map_err(|e| corrupt(T, format_args!("recipient_id: {e}")))?,
            kind: parse(T, "kind", &self.kind)?,
            priority: parse(T, "priority", &self.priority)?,
            created_at: time(T, "created_at", self.created_at)?,
            metadata,
            expires_at: time_opt(T, "expires_at", self.expires_at)?,
            skipped,
        })
    }
}

#[async_trait]
impl NotificationStore for SqliteStore {
    async fn accept(&self, new: NewNotification) -> Result<AcceptOutcome, PortError> {
        self.write(move |conn| Box::pin(accept_in(conn, new))).await
    }

    async fn get(&self, id: NotificationId) -> Result<Option<NotificationWithDeliveries>, PortError> {
        let mut tx = self.read().await?;
        let row: Option<NotificationRow> =
            sqlx::query_as(concat!("SELECT ", notification_columns!(), " FROM notifications WHERE id = ?1"))
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a notification"))?;
        let Some(row) = row else { return Ok(None) };
        let mut listed = with_deliveries(&mut tx, vec![row]).await?;
        Ok(listed.pop())
    }

    async fn list(
        &self,
        filter: &NotificationFilter,
        after: Option<NotificationCursor>,
        limit: usize,
    ) -> Result<Vec<NotificationWithDeliveries>, PortError> {
        let mut query = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            notification_columns!(),
            " FROM notifications WHERE 1 = 1"
        ));
        if let Some(recipient) = &filter.recipient_id {
            query.push(" AND recipient_id = ").push_bind(recipient.as_str().to_owned());
        }
        if let Some(kind) = filter.kind {
            query.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(from) = filter.from {
            query.push(" AND created_at >= ").push_bind(micros(from));
        }
        if let Some(to) = filter.to {
            query.push(" AND created_at < ").push_bind(micros(to));
        }
        if let Some(cursor) = after {
            // Row-value comparison: strictly after the cursor in (created_at DESC, id DESC), so
            // equal timestamps are neither skipped nor repeated.
            query
                .push(" AND (created_at, id) < (")
                .push_bind(micros(cursor.created_at))
                .push(", ")
                .push_bind(cursor.id.to_string())
                .push(")");
        }
        query.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(int(limit));
        let mut tx = self.read().await?;
        let rows: Vec<NotificationRow> =
            query.build_query_as().fetch_all(&mut *tx).await.map_err(db("listing notifications"))?;
        with_deliveries(&mut tx, rows).await
    }
}

/// The accept operation, run by the writer inside its own savepoint.
async fn accept_in(
    conn: &mut SqliteConnection,
    new: NewNotification,
) -> Result<Done<AcceptOutcome>, PortError> {
    let n = &new.notification;
    let metadata = n
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| PortError::Unexpected(anyhow::Error::new(e).context("encoding metadata")))?;
    let skipped = serde_json::to_string(&n.skipped)
        .map_err(|e| PortError::Unexpected(anyhow::Error::new(e).context("encoding skipped channels")))?;
    let key = new.key.as_ref();
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, recipient_id, kind, priority, created_at, metadata, expires_at, skipped, \
         scope, idempotency_key, fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(n.id.to_string())
    .bind(n.recipient_id.as_str())
    .bind(n.kind.as_str())
    .bind(n.priority.as_str())
    .bind(micros(n.created_at))
    .bind(metadata)
    .bind(micros_opt(n.expires_at))
    .bind(skipped)
    .bind(key.map(|k| k.scope.as_str()))
    .bind(key.map(|k| k.key.as_str()))
    .bind(key.map(|k| k.fingerprint.to_hex()))
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        // The constraint notifications_scope_idempotency_key_key is the authority: on a unique
        // violation, the key's holder (if any) is the answer, and nothing stays written.
        Err(sqlx::Error::Database(e)) if e.kind() == ErrorKind::UniqueViolation && key.is_some() => {
            if let Some(key) = key {
                if let Some((existing, fingerprint)) = key_holder(conn, key).await? {
                    return Ok(Done::undo(AcceptOutcome::DuplicateKey { existing, fingerprint }));
                }
            }
            return Err(db_error("writing a notification", sqlx::Error::Database(e)));
        }
        Err(e) => return Err(db_error("writing a notification", e)),
    }
    insert_deliveries(conn, &new.deliveries).await?;
    for d in &new.deliveries {
        let id = d.id.to_string();
        for t in &d.tries {
            insert_try(conn, &id, t).await?;
        }
    }
    insert_outbox(conn, &new.outbox).await?;
    Ok(Done::keep(AcceptOutcome::Accepted).outbox(!new.outbox.is_empty()))
}

/// The notification holding `key` in its scope, with the fingerprint it was accepted with.
async fn key_holder(
    conn: &mut SqliteConnection,
    key: &AcceptKey,
) -> Result<Option<(NotificationId, Fingerprint)>, PortError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, fingerprint FROM notifications WHERE scope = ?1 AND idempotency_key = ?2")
            .bind(key.scope.as_str())
            .bind(key.key.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading an idempotency key"))?;
    let Some((id, fingerprint)) = row else { return Ok(None) };
    let fingerprint = Fingerprint::from_hex(&fingerprint)
        .ok_or_else(|| corrupt("notifications", format_args!("{id}: fingerprint is not 64 hex digits")))?;
    Ok(Some((parse("notifications", "id", &id)?, fingerprint)))
}

/// Inserts deliveries with one multi-row INSERT.
async fn insert_deliveries(
    conn: &mut SqliteConnection,
    deliveries: &[DeliveryRecord],
) -> Result<(), PortError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let mut insert =
        QueryBuilder::<Sqlite>::new(concat!("INSERT INTO deliveries (", delivery_columns!(), ") "));
    insert.push_values(deliveries, |mut row, d| {
        let target = TargetColumns::of(&d.target);
        row.push_bind(d.id.to_string())
            .push_bind(d.notification_id.to_string())
            .push_bind(d.recipient_id.as_str().to_owned())
            .push_bind(d.channel.as_str())
            .push_bind(target.kind)
            .push_bind(target.address)
            .push_bind(target.device_id)
            .push_bind(target.token)
            .push_bind(target.masked)
            .push_bind(d.priority.as_str())
            .push_bind(d.state.status.as_str())
            .push_bind(i64::from(d.state.tries))
            .push_bind(micros(d.state.not_before))
            .push_bind(micros_opt(d.state.lease_until))
            .push_bind(d.defer_reason.map(|r| r.as_str()))
            .push_bind(d.fallback_for.map(|c| c.as_str()))
            .push_bind(d.title.clone())
            .push_bind(d.body.clone())
            .push_bind(i64::from(d.lms))
            .push_bind(d.vendor_message_id.clone())
            .push_bind(d.last_error_class.map(|c| c.as_str()))
            .push_bind(micros_opt(d.exhausted_at))
            .push_bind(d.discard_reason.clone())
            .push_bind(micros_opt(d.queued_at))
            .push_bind(micros(d.created_at))
            .push_bind(micros(d.updated_at));
    });
    insert.build().execute(&mut *conn).await.map_err(db("writing deliveries"))?;
    Ok(())
}

/// Attaches each notification's deliveries (id order) with their tries; two queries in all.
async fn with_deliveries(
    conn: &mut SqliteConnection,
    rows: Vec<NotificationRow>,
) -> Result<Vec<NotificationWithDeliveries>, PortError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let delivery_rows: Vec<DeliveryRow> = sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries WHERE notification_id IN (SELECT value FROM json_each(?1)) ORDER BY notification_id, id"
    ))
    .bind(id_list(rows.iter().map(|r| &r.id)))
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading deliveries"))?;
    let mut by_notification: HashMap<NotificationId, Vec<DeliveryRecord>> = HashMap::new();
    for d in with_tries(conn, delivery_rows).await? {
        by_notification.entry(d.notification_id).or_default().push(d);
    }
    rows.into_iter()
        .map(|row| {
            let notification = row.into_record()?;
            let deliveries = by_notification.remove(&notification.id).unwrap_or_default();
            Ok(NotificationWithDeliveries { notification, deliveries })
        })
        .collect()
}
