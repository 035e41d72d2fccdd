//! `NotificationStore`: the atomic accept, lookups and the newest-first listing.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{
    AcceptKey, AcceptOutcome, DeliveryRecord, NewNotification, NotificationCursor, NotificationFilter,
    NotificationRecord, NotificationStore, NotificationWithDeliveries, SkippedChannel,
};
use hub_domain::idempotency::Fingerprint;
use hub_domain::{NotificationId, RecipientId};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::errors::{corrupt, db, encoding};
use super::outbox::insert_outbox;
use super::rows::{
    DeliveryRow, TargetColumns, delivery_columns, id_array, insert_tries, int, parse, with_tries,
};
use super::{PgStore, commit, rollback};

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
        let mut tx = self.begin().await?;
        let outcome = accept_in(&mut tx, &new).await?;
        if outcome == AcceptOutcome::Accepted {
            commit(tx).await?;
            if !new.outbox.is_empty() {
                self.outbox_committed();
            }
        } else {
            rollback(tx).await;
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

/// The accept, inside the caller's transaction. The notification is inserted first with
/// `ON CONFLICT ON CONSTRAINT notifications_scope_idempotency_key_key DO NOTHING`: the
/// constraint is the authority (a concurrent accept of the same key waits for the first one
/// and then finds it), and no error aborts the transaction. Any other violation (a duplicate
/// id) is an error, and the caller's transaction is rolled back.
async fn accept_in(conn: &mut PgConnection, new: &NewNotification) -> Result<AcceptOutcome, PortError> {
    let n = &new.notification;
    let metadata = n
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| encoding("encoding metadata", e))?;
    let skipped = serde_json::to_string(&n.skipped).map_err(|e| encoding("encoding skipped channels", e))?;
    let key = new.key.as_ref();
    let inserted: Option<String> = sqlx::query_scalar(
        "INSERT INTO notifications (id, recipient_id, kind, priority, created_at, metadata, expires_at, skipped, \
         scope, idempotency_key, fingerprint) VALUES ($1, $2, $3, $4, $5, $6::json, $7, $8::jsonb, $9, $10, $11) \
         ON CONFLICT ON CONSTRAINT notifications_scope_idempotency_key_key DO NOTHING RETURNING id",
    )
    .bind(n.id.to_string())
    .bind(n.recipient_id.as_str())
    .bind(n.kind.as_str())
    .bind(n.priority.as_str())
    .bind(n.created_at)
    .bind(metadata)
    .bind(n.expires_at)
    .bind(skipped)
    .bind(key.map(|k| k.scope.as_str()))
    .bind(key.map(|k| k.key.as_str()))
    .bind(key.map(|k| k.fingerprint.to_hex()))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("writing a notification"))?;
    if inserted.is_none() {
        let Some(key) = key else {
            return Err(PortError::Unexpected(anyhow::anyhow!("a notification without a key conflicted")));
        };
        let (existing, fingerprint) = key_holder(conn, key).await?.ok_or_else(|| {
            PortError::Unexpected(anyhow::anyhow!("the idempotency key conflicted but has no holder"))
        })?;
        return Ok(AcceptOutcome::DuplicateKey { existing, fingerprint });
    }
    insert_deliveries(conn, &new.deliveries).await?;
    let tries: Vec<(String, &hub_domain::delivery::Try)> =
        new.deliveries.iter().flat_map(|d| d.tries.iter().map(move |t| (d.id.to_string(), t))).collect();
    insert_tries(conn, &tries).await?;
    insert_outbox(conn, &new.outbox).await?;
    Ok(AcceptOutcome::Accepted)
}

/// The notification holding `key` in its scope, with the fingerprint it was accepted with.
async fn key_holder(
    conn: &mut PgConnection,
    key: &AcceptKey,
) -> Result<Option<(NotificationId, Fingerprint)>, PortError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, fingerprint FROM notifications WHERE scope = $1 AND idempotency_key = $2")
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

/// Inserts deliveries with one `INSERT … SELECT FROM UNNEST` (one array per column).
async fn insert_deliveries(conn: &mut PgConnection, deliveries: &[DeliveryRecord]) -> Result<(), PortError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let len = deliveries.len();
    let mut c = DeliveryColumns::with_capacity(len);
    for d in deliveries {
        let target = TargetColumns::of(&d.target);
        c.id.push(d.id.to_string());
        c.notification_id.push(d.notification_id.to_string());
        c.recipient_id.push(d.recipient_id.as_str().to_owned());
        c.channel.push(d.channel.as_str());
        c.target_kind.push(target.kind);
        c.target_address.push(target.address);
        c.target_device_id.push(target.device_id);
        c.target_token.push(target.token);
        c.target_masked.push(target.masked);
        c.priority.push(d.priority.as_str());
        c.status.push(d.state.status.as_str());
        c.tries.push(i64::from(d.state.tries));
        c.not_before.push(d.state.not_before);
        c.lease_until.push(d.state.lease_until);
        c.defer_reason.push(d.defer_reason.map(|r| r.as_str()));
        c.fallback_for.push(d.fallback_for.map(|f| f.as_str()));
        c.title.push(d.title.clone());
        c.body.push(d.body.clone());
        c.lms.push(d.lms);
        c.vendor_message_id.push(d.vendor_message_id.clone());
        c.last_error_class.push(d.last_error_class.map(|e| e.as_str()));
        c.exhausted_at.push(d.exhausted_at);
        c.discard_reason.push(d.discard_reason.clone());
        c.queued_at.push(d.queued_at);
        c.created_at.push(d.created_at);
        c.updated_at.push(d.updated_at);
    }
    sqlx::query(concat!(
        "INSERT INTO deliveries (",
        delivery_columns!(),
        ") SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::int8[], $13::timestamptz[], \
         $14::timestamptz[], $15::text[], $16::text[], $17::text[], $18::text[], $19::bool[], $20::text[], \
         $21::text[], $22::timestamptz[], $23::text[], $24::timestamptz[], $25::timestamptz[], \
         $26::timestamptz[])"
    ))
    .bind(c.id)
    .bind(c.notification_id)
    .bind(c.recipient_id)
    .bind(c.channel)
    .bind(c.target_kind)
    .bind(c.target_address)
    .bind(c.target_device_id)
    .bind(c.target_token)
    .bind(c.target_masked)
    .bind(c.priority)
    .bind(c.status)
    .bind(c.tries)
    .bind(c.not_before)
    .bind(c.lease_until)
    .bind(c.defer_reason)
    .bind(c.fallback_for)
    .bind(c.title)
    .bind(c.body)
    .bind(c.lms)
    .bind(c.vendor_message_id)
    .bind(c.last_error_class)
    .bind(c.exhausted_at)
    .bind(c.discard_reason)
    .bind(c.queued_at)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(db("writing deliveries"))?;
    Ok(())
}

/// The `deliveries` columns of a batch, one array each (in [`delivery_columns!`] order).
#[derive(Debug, Default)]
struct DeliveryColumns {
    id: Vec<String>,
    notification_id: Vec<String>,
    recipient_id: Vec<String>,
    channel: Vec<&'static str>,
    target_kind: Vec<&'static str>,
    target_address: Vec<Option<String>>,
    target_device_id: Vec<Option<String>>,
    target_token: Vec<Option<String>>,
    target_masked: Vec<Option<String>>,
    priority: Vec<&'static str>,
    status: Vec<&'static str>,
    tries: Vec<i64>,
    not_before: Vec<DateTime<Utc>>,
    lease_until: Vec<Option<DateTime<Utc>>>,
    defer_reason: Vec<Option<&'static str>>,
    fallback_for: Vec<Option<&'static str>>,
    title: Vec<Option<String>>,
    body: Vec<String>,
    lms: Vec<bool>,
    vendor_message_id: Vec<Option<String>>,
    last_error_class: Vec<Option<&'static str>>,
    exhausted_at: Vec<Option<DateTime<Utc>>>,
    discard_reason: Vec<Option<String>>,
    queued_at: Vec<Option<DateTime<Utc>>>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
}

impl DeliveryColumns {
    fn with_capacity(len: usize) -> Self {
        DeliveryColumns { id: Vec::with_capacity(len), body: Vec::with_capacity(len), ..Default::default() }
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
