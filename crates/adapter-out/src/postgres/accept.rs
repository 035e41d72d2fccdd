//! The accept (SPEC §4): the notification, its deliveries (with any tries) and its outbox rows
//! written by ONE statement — data-modifying CTEs that insert only when the notification row
//! was inserted. A single statement is its own transaction: atomic, one round trip, one
//! commit, and nothing to roll back when the idempotency key already has a holder.

use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{AcceptKey, AcceptOutcome, DeliveryRecord, NewNotification};
use hub_domain::NotificationId;
use hub_domain::idempotency::Fingerprint;
use sqlx::PgPool;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;

use super::errors::{corrupt, db, encoding};
use super::outbox::OutboxColumns;
use super::rows::{TargetColumns, int, parse};

type PgQuery<'q> = Query<'q, sqlx::Postgres, PgArguments>;

/// The accept statement. `ON CONFLICT ON CONSTRAINT notifications_scope_idempotency_key_key DO
/// NOTHING`: the constraint is the authority (a concurrent accept of the same key waits for the
/// first one and then inserts nothing); the other inserts run only `WHERE EXISTS (SELECT 1 FROM
/// n)`. Foreign keys are checked at the end of the statement, when every row exists. Any other
/// violation (a duplicate id) fails the whole statement.
const ACCEPT: &str = "WITH n AS ( \
        INSERT INTO notifications (id, recipient_id, kind, priority, created_at, metadata, expires_at, skipped, \
            scope, idempotency_key, fingerprint) \
        VALUES ($1, $2, $3, $4, $5, $6::json, $7, $8::jsonb, $9, $10, $11) \
        ON CONFLICT ON CONSTRAINT notifications_scope_idempotency_key_key DO NOTHING RETURNING id), \
    d AS ( \
        INSERT INTO deliveries (id, notification_id, recipient_id, channel, target_kind, target_address, \
            target_device_id, target_token, target_masked, priority, status, tries, not_before, lease_until, \
            defer_reason, fallback_for, title, body, lms, vendor_message_id, last_error_class, exhausted_at, \
            discard_reason, queued_at, created_at, updated_at) \
        SELECT * FROM UNNEST($12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], \
            $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::int8[], $24::timestamptz[], \
            $25::timestamptz[], $26::text[], $27::text[], $28::text[], $29::text[], $30::bool[], $31::text[], \
            $32::text[], $33::timestamptz[], $34::text[], $35::timestamptz[], $36::timestamptz[], \
            $37::timestamptz[]) \
        WHERE EXISTS (SELECT 1 FROM n)), \
    t AS ( \
        INSERT INTO delivery_tries (delivery_id, seq, at, outcome, error_class, vendor_code, detail, latency_ms) \
        SELECT u.delivery_id, ROW_NUMBER() OVER (PARTITION BY u.delivery_id ORDER BY u.ord), \
            u.at, u.outcome, u.error_class, u.vendor_code, u.detail, u.latency_ms \
        FROM UNNEST($38::text[], $39::timestamptz[], $40::text[], $41::text[], $42::text[], $43::text[], \
            $44::int8[]) WITH ORDINALITY AS u(delivery_id, at, outcome, error_class, vendor_code, detail, \
            latency_ms, ord) \
        WHERE EXISTS (SELECT 1 FROM n)), \
    o AS ( \
        INSERT INTO outbox (id, delivery_id, notification_id, channel, priority, attempt, created_at, \
            publish_attempts, next_attempt_at) \
        SELECT * FROM UNNEST($45::text[], $46::text[], $47::text[], $48::text[], $49::text[], $50::int8[], \
            $51::timestamptz[], $52::int8[], $53::timestamptz[]) \
        WHERE EXISTS (SELECT 1 FROM n)) \
    SELECT id FROM n";

/// Writes the accept with one statement; `DuplicateKey` (with the holder) when the key is taken.
pub(super) async fn accept(pool: &PgPool, new: &NewNotification) -> Result<AcceptOutcome, PortError> {
    let n = &new.notification;
    let metadata = n
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| encoding("encoding metadata", e))?;
    let skipped = serde_json::to_string(&n.skipped).map_err(|e| encoding("encoding skipped channels", e))?;
    let key = new.key.as_ref();
    let query = sqlx::query(ACCEPT)
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
        .bind(key.map(|k| k.fingerprint.to_hex()));
    let query = DeliveryColumns::of(&new.deliveries).bind_to(query);
    let query = TryColumns::of(&new.deliveries).bind_to(query);
    let query = OutboxColumns::of(&new.outbox).bind_to(query);
    let inserted = query.fetch_optional(pool).await.map_err(db("writing a notification"))?;
    if inserted.is_some() {
        return Ok(AcceptOutcome::Accepted);
    }
    let Some(key) = key else {
        return Err(PortError::Unexpected(anyhow::anyhow!("a notification without a key conflicted")));
    };
    let (existing, fingerprint) = key_holder(pool, key).await?.ok_or_else(|| {
        PortError::Unexpected(anyhow::anyhow!("the idempotency key conflicted but has no holder"))
    })?;
    Ok(AcceptOutcome::DuplicateKey { existing, fingerprint })
}

/// The notification holding `key` in its scope, with the fingerprint it was accepted with.
async fn key_holder(
    pool: &PgPool,
    key: &AcceptKey,
) -> Result<Option<(NotificationId, Fingerprint)>, PortError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, fingerprint FROM notifications WHERE scope = $1 AND idempotency_key = $2")
            .bind(key.scope.as_str())
            .bind(key.key.as_str())
            .fetch_optional(pool)
            .await
            .map_err(db("reading an idempotency key"))?;
    let Some((id, fingerprint)) = row else { return Ok(None) };
    let fingerprint = Fingerprint::from_hex(&fingerprint)
        .ok_or_else(|| corrupt("notifications", format_args!("{id}: fingerprint is not 64 hex digits")))?;
    Ok(Some((parse("notifications", "id", &id)?, fingerprint)))
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
    /// The columns of `deliveries`.
    fn of(deliveries: &[DeliveryRecord]) -> Self {
        let len = deliveries.len();
        let mut c = DeliveryColumns {
            id: Vec::with_capacity(len),
            body: Vec::with_capacity(len),
            ..Default::default()
        };
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
        c
    }

    /// Binds the 26 arrays, in column order.
    fn bind_to(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.notification_id)
            .bind(self.recipient_id)
            .bind(self.channel)
            .bind(self.target_kind)
            .bind(self.target_address)
            .bind(self.target_device_id)
            .bind(self.target_token)
            .bind(self.target_masked)
            .bind(self.priority)
            .bind(self.status)
            .bind(self.tries)
            .bind(self.not_before)
            .bind(self.lease_until)
            .bind(self.defer_reason)
            .bind(self.fallback_for)
            .bind(self.title)
            .bind(self.body)
            .bind(self.lms)
            .bind(self.vendor_message_id)
            .bind(self.last_error_class)
            .bind(self.exhausted_at)
            .bind(self.discard_reason)
            .bind(self.queued_at)
            .bind(self.created_at)
            .bind(self.updated_at)
    }
}

/// The tries the accepted deliveries already carry (normally none), one array per column.
#[derive(Debug, Default)]
struct TryColumns {
    delivery_id: Vec<String>,
    at: Vec<DateTime<Utc>>,
    outcome: Vec<&'static str>,
    error_class: Vec<Option<&'static str>>,
    vendor_code: Vec<Option<String>>,
    detail: Vec<Option<String>>,
    latency_ms: Vec<Option<i64>>,
}

impl TryColumns {
    fn of(deliveries: &[DeliveryRecord]) -> Self {
        let mut c = TryColumns::default();
        for d in deliveries {
            for t in &d.tries {
                c.delivery_id.push(d.id.to_string());
                c.at.push(t.at);
                c.outcome.push(t.outcome.as_str());
                c.error_class.push(t.error_class.map(|e| e.as_str()));
                c.vendor_code.push(t.vendor_code.clone());
                c.detail.push(t.detail.clone());
                c.latency_ms.push(t.latency_ms.map(int));
            }
        }
        c
    }

    fn bind_to(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.delivery_id)
            .bind(self.at)
            .bind(self.outcome)
            .bind(self.error_class)
            .bind(self.vendor_code)
            .bind(self.detail)
            .bind(self.latency_ms)
    }
}
