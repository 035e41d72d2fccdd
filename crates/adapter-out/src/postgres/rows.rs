//! Row ↔ domain mapping shared by the role files: enums, ids, counts, and deliveries (with
//! their target columns and tries). Rows only one role reads live in that role's file.
//!
//! Instants are `TIMESTAMPTZ` read and written as `DateTime<Utc>` (microseconds, like the
//! domain's clock). Reading never panics: a value that does not map back to the domain is
//! reported as `PortError::Unexpected` naming the table and column.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::DeliveryRecord;
use hub_domain::delivery::{DeliveryState, Try};
use hub_domain::{DeliveryId, RecipientId, Target};
use sqlx::PgConnection;

use super::errors::{corrupt, db};

/// The columns of `deliveries` every query selects or returns, in [`DeliveryRow`] order.
macro_rules! delivery_columns {
    () => {
        "id, notification_id, recipient_id, channel, target_kind, target_address, target_device_id, \
         target_token, target_masked, priority, status, tries, not_before, lease_until, defer_reason, \
         fallback_for, title, body, lms, vendor_message_id, last_error_class, exhausted_at, \
         discard_reason, queued_at, created_at, updated_at"
    };
}
pub(super) use delivery_columns;

/// Parses a stored wire name or id with its `FromStr`.
pub(super) fn parse<T>(table: &str, column: &str, value: &str) -> Result<T, PortError>
where
    T: FromStr,
    T::Err: Display,
{
    value.parse().map_err(|e| corrupt(table, format_args!("{column} = {value:?}: {e}")))
}

/// Parses an optional stored wire name or id.
pub(super) fn parse_opt<T>(table: &str, column: &str, value: Option<&str>) -> Result<Option<T>, PortError>
where
    T: FromStr,
    T::Err: Display,
{
    value.map(|v| parse(table, column, v)).transpose()
}

/// A stored non-negative BIGINT as a narrower unsigned type.
pub(super) fn unsigned<T: TryFrom<i64>>(table: &str, column: &str, value: i64) -> Result<T, PortError> {
    T::try_from(value).map_err(|_| corrupt(table, format_args!("{column} = {value} is out of range")))
}

/// A count or limit as a BIGINT (saturating: a limit beyond i64 means "all").
pub(super) fn int<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// Ids as a `TEXT[]` parameter (`= ANY($1)`, `UNNEST($1)`).
pub(super) fn id_array<T: Display>(ids: impl IntoIterator<Item = T>) -> Vec<String> {
    ids.into_iter().map(|id| id.to_string()).collect()
}

use crate::sql_columns::StoredTarget;
pub(super) use crate::sql_columns::TargetColumns;

/// One `deliveries` row as read.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct DeliveryRow {
    pub(super) id: String,
    notification_id: String,
    recipient_id: String,
    channel: String,
    target_kind: String,
    target_address: Option<String>,
    target_device_id: Option<String>,
    target_token: Option<String>,
    target_masked: Option<String>,
    priority: String,
    status: String,
    tries: i64,
    not_before: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
    defer_reason: Option<String>,
    fallback_for: Option<String>,
    title: Option<String>,
    body: String,
    lms: bool,
    vendor_message_id: Option<String>,
    last_error_class: Option<String>,
    exhausted_at: Option<DateTime<Utc>>,
    discard_reason: Option<String>,
    queued_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const DELIVERIES: &str = "deliveries";

impl DeliveryRow {
    fn target(&self) -> Result<Target, PortError> {
        StoredTarget {
            table: DELIVERIES,
            id: &self.id,
            kind: &self.target_kind,
            address: self.target_address.as_deref(),
            device_id: self.target_device_id.as_deref(),
            token: self.target_token.as_deref(),
            masked: self.target_masked.as_deref(),
        }
        .read()
    }

    /// The record, with its tries (oldest first).
    pub(super) fn into_record(self, tries: Vec<Try>) -> Result<DeliveryRecord, PortError> {
        const T: &str = DELIVERIES;
        Ok(DeliveryRecord {
            target: self.target()?,
            id: parse(T, "id", &self.id)?,
            notification_id: parse(T, "notification_id", &self.notification_id)?,
            recipient_id: RecipientId::parse(&self.recipient_id)
                .map_err(|e| corrupt(T, format_args!("recipient_id: {e}")))?,
            channel: parse(T, "channel", &self.channel)?,
            priority: parse(T, "priority", &self.priority)?,
            state: DeliveryState {
                status: parse(T, "status", &self.status)?,
                tries: unsigned(T, "tries", self.tries)?,
                not_before: self.not_before,
                lease_until: self.lease_until,
            },
            defer_reason: parse_opt(T, "defer_reason", self.defer_reason.as_deref())?,
            fallback_for: parse_opt(T, "fallback_for", self.fallback_for.as_deref())?,
            title: self.title,
            body: self.body,
            lms: self.lms,
            tries,
            vendor_message_id: self.vendor_message_id,
            last_error_class: parse_opt(T, "last_error_class", self.last_error_class.as_deref())?,
            exhausted_at: self.exhausted_at,
            discard_reason: self.discard_reason,
            queued_at: self.queued_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// One `delivery_tries` row as read.
#[derive(Debug, sqlx::FromRow)]
struct TryRow {
    delivery_id: String,
    at: DateTime<Utc>,
    outcome: String,
    error_class: Option<String>,
    vendor_code: Option<String>,
    detail: Option<String>,
    latency_ms: Option<i64>,
}

impl TryRow {
    fn into_try(self) -> Result<Try, PortError> {
        const T: &str = "delivery_tries";
        Ok(Try {
            at: self.at,
            outcome: parse(T, "outcome", &self.outcome)?,
            error_class: parse_opt(T, "error_class", self.error_class.as_deref())?,
            vendor_code: self.vendor_code,
            detail: self.detail,
            latency_ms: self.latency_ms.map(|v| unsigned(T, "latency_ms", v)).transpose()?,
        })
    }
}

/// Inserts tries `(delivery id, try)` with one `INSERT … SELECT FROM UNNEST`; each continues
/// its delivery's history (`seq` after the stored ones, in the order given).
pub(super) async fn insert_tries(conn: &mut PgConnection, tries: &[(String, &Try)]) -> Result<(), PortError> {
    if tries.is_empty() {
        return Ok(());
    }
    let mut delivery = Vec::with_capacity(tries.len());
    let mut at = Vec::with_capacity(tries.len());
    let mut outcome = Vec::with_capacity(tries.len());
    let mut error_class = Vec::with_capacity(tries.len());
    let mut vendor_code = Vec::with_capacity(tries.len());
    let mut detail = Vec::with_capacity(tries.len());
    let mut latency = Vec::with_capacity(tries.len());
    for (id, t) in tries {
        delivery.push(id.clone());
        at.push(t.at);
        outcome.push(t.outcome.as_str());
        error_class.push(t.error_class.map(|c| c.as_str()));
        vendor_code.push(t.vendor_code.clone());
        detail.push(t.detail.clone());
        latency.push(t.latency_ms.map(int));
    }
    // `ord` keeps the given order within a delivery; the delivery rows are locked by the
    // caller's transaction (new or just updated), so MAX(seq) cannot race.
    sqlx::query(
        "INSERT INTO delivery_tries (delivery_id, seq, at, outcome, error_class, vendor_code, detail, latency_ms) \
         SELECT t.delivery_id, \
                COALESCE((SELECT MAX(seq) FROM delivery_tries d WHERE d.delivery_id = t.delivery_id), 0) \
                    + ROW_NUMBER() OVER (PARTITION BY t.delivery_id ORDER BY t.ord), \
                t.at, t.outcome, t.error_class, t.vendor_code, t.detail, t.latency_ms \
         FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[]) \
              WITH ORDINALITY AS t(delivery_id, at, outcome, error_class, vendor_code, detail, latency_ms, ord)",
    )
    .bind(delivery)
    .bind(at)
    .bind(outcome)
    .bind(error_class)
    .bind(vendor_code)
    .bind(detail)
    .bind(latency)
    .execute(&mut *conn)
    .await
    .map_err(db("writing delivery tries"))?;
    Ok(())
}

/// Turns delivery rows into records, reading all their tries with one query.
pub(super) async fn with_tries(
    conn: &mut PgConnection,
    rows: Vec<DeliveryRow>,
) -> Result<Vec<DeliveryRecord>, PortError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = id_array(rows.iter().map(|r| &r.id));
    let tries: Vec<TryRow> = sqlx::query_as(
        "SELECT delivery_id, at, outcome, error_class, vendor_code, detail, latency_ms FROM delivery_tries \
         WHERE delivery_id = ANY($1) ORDER BY delivery_id, seq",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading delivery tries"))?;
    let mut by_delivery: HashMap<String, Vec<Try>> = HashMap::new();
    for row in tries {
        let delivery = row.delivery_id.clone();
        by_delivery.entry(delivery).or_default().push(row.into_try()?);
    }
    rows.into_iter()
        .map(|row| {
            let tries = by_delivery.remove(&row.id).unwrap_or_default();
            row.into_record(tries)
        })
        .collect()
}

/// Reads one delivery with its tries.
pub(super) async fn delivery_by_id(
    conn: &mut PgConnection,
    id: DeliveryId,
) -> Result<Option<DeliveryRecord>, PortError> {
    let row: Option<DeliveryRow> =
        sqlx::query_as(concat!("SELECT ", delivery_columns!(), " FROM deliveries WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading a delivery"))?;
    Ok(with_tries(conn, row.into_iter().collect()).await?.pop())
}
