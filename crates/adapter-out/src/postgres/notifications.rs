//! `NotificationStore`: the atomic accept, lookups and the newest-first listing.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{
    AcceptOutcome, DeliveryRecord, NewNotification, NotificationCursor, NotificationFilter,
    NotificationRecord, NotificationStore, NotificationWithDeliveries, SkippedChannel,
};
use hub_domain::{NotificationId, RecipientId};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::errors::{corrupt, db};
use super::rows::{DeliveryRow, delivery_columns, id_array, int, parse, with_tries};
use super::{PgStore, accept, commit};

/// The columns of `notifications` that make a [`NotificationRecord`] (documents as text).
macro_rules! notification_columns {
    () => {
        "id, recipient_id, kind, priority, created_at, metadata::text AS metadata, expires_at, \
         skipped::text AS skipped"
    };
}

/// One `notifications` row as read.
#[derive(Debug, sqlx::FromRow)]
struct NotificationRow {
    id: String,
    recipient_id: String,
    kind: String,
    priority: String,
    created_at: DateTime<Utc>,
    metadata: Option<String>,
    expires_at: Option<DateTime<Utc>>,
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
            created_at: self.created_at,
            metadata,
            expires_at: self.expires_at,
            skipped,
        })
    }
}

#[async_trait]
impl NotificationStore for PgStore {
    async fn accept(&self, new: NewNotification) -> Result<AcceptOutcome, PortError> {
        let outcome = accept::accept(&self.pool, &new).await?;
        if outcome == AcceptOutcome::Accepted && !new.outbox.is_empty() {
            self.outbox_committed();
        }
        Ok(outcome)
    }

    async fn get(&self, id: NotificationId) -> Result<Option<NotificationWithDeliveries>, PortError> {
        let mut tx = self.read().await?;
        let row: Option<NotificationRow> =
            sqlx::query_as(concat!("SELECT ", notification_columns!(), " FROM notifications WHERE id = $1"))
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a notification"))?;
        let listed = with_deliveries(&mut tx, row.into_iter().collect()).await?;
        commit(tx).await?;
        Ok(listed.into_iter().next())
    }

    async fn list(
        &self,
        filter: &NotificationFilter,
        after: Option<NotificationCursor>,
        limit: usize,
    ) -> Result<Vec<NotificationWithDeliveries>, PortError> {
        let mut query = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            notification_columns!(),
            " FROM notifications WHERE TRUE"
        ));
        if let Some(recipient) = &filter.recipient_id {
            query.push(" AND recipient_id = ").push_bind(recipient.as_str().to_owned());
        }
        if let Some(kind) = filter.kind {
            query.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(from) = filter.from {
            query.push(" AND created_at >= ").push_bind(from);
        }
        if let Some(to) = filter.to {
            query.push(" AND created_at < ").push_bind(to);
        }
        if let Some(cursor) = after {
            // Row-value comparison: strictly after the cursor in (created_at DESC, id DESC), so
            // equal timestamps are neither skipped nor repeated (and the index serves it).
            query
                .push(" AND (created_at, id) < (")
                .push_bind(cursor.created_at)
                .push(", ")
                .push_bind(cursor.id.to_string())
                .push(")");
        }
        query.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(int(limit));
        // One snapshot, so the deliveries match the notifications listed.
        let mut tx = self.read().await?;
        let rows: Vec<NotificationRow> =
            query.build_query_as().fetch_all(&mut *tx).await.map_err(db("listing notifications"))?;
        let listed = with_deliveries(&mut tx, rows).await?;
        commit(tx).await?;
        Ok(listed)
    }
}

/// Attaches each notification's deliveries (id order) with their tries; two queries in all.
async fn with_deliveries(
    conn: &mut PgConnection,
    rows: Vec<NotificationRow>,
) -> Result<Vec<NotificationWithDeliveries>, PortError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let delivery_rows: Vec<DeliveryRow> = sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries WHERE notification_id = ANY($1) ORDER BY notification_id, id"
    ))
    .bind(id_array(rows.iter().map(|r| &r.id)))
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
