//! Row ↔ domain mapping shared by the role files: timestamps, enums, ids, and deliveries (with
//! their target columns and tries). Rows only one role reads live in that role's file.
//!
//! Reading never panics: a value that does not map back to the domain is reported as
//! `PortError::Unexpected` naming the table and column.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::DeliveryRecord;
use hub_domain::delivery::{DeliveryState, Try};
use hub_domain::{DeliveryId, RecipientId, Target};
use sqlx::SqliteConnection;

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

/// A timestamp as stored: microseconds since the Unix epoch, UTC.
pub(super) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// An optional timestamp as stored.
pub(super) fn micros_opt(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(micros)
}

/// A stored timestamp back.
pub(super) fn time(table: &str, column: &str, value: i64) -> Result<DateTime<Utc>, PortError> {
    DateTime::from_timestamp_micros(value)
        .ok_or_else(|| corrupt(table, format_args!("{column} = {value} is not a timestamp")))
}

/// An optional stored timestamp back.
pub(super) fn time_opt(
    table: &str,
    column: &str,
    value: Option<i64>,
) -> Result<Option<DateTime<Utc>>, PortError> {
    value.map(|v| time(table, column, v)).transpose()
}

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

/// A stored non-negative integer as a narrower unsigned type.
pub(super) fn unsigned<T: TryFrom<i64>>(table: &str, column: &str, value: i64) -> Result<T, PortError> {
    T::try_from(value).map_err(|_| corrupt(table, format_args!("{column} = {value} is out of range")))
}

/// A count or limit as SQLite's integer (saturating: a limit beyond i64 means "all").
pub(super) fn int<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// A JSON array of ids, bound as one parameter and expanded with `json_each` (no dynamic SQL).
pub(super) fn id_list<T: Display>(ids: impl IntoIterator<Item = T>) -> String {
    serde_json::Value::Array(ids.into_iter().map(|id| serde_json::Value::String(id.to_string())).collect())
        .to_string()
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
    not_before: i64,
    lease_until: Option<i64>,
    defer_reason: Option<String>,
    fallback_for: Option<String>,
    title: Option<String>,
    body: String,
    lms: i64,
    vendor_message_id: Option<String>,
    last_error_class: Option<String>,
    exhausted_at: Option<i64>,
    discard_reason: Option<String>,
    queued_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
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
                not_before: time(T, "not_before", self.not_before)?,
                lease_until: time_opt(T, "lease_until", self.lease_until)?,
            },
            defer_reason: parse_opt(T, "defer_reason", self.defer_reason.as_deref())?,
            fallback_for: parse_opt(T, "fallback_for", self.fallback_for.as_deref())?,
            title: self.title,
            body: self.body,
            lms: self.lms != 0,
            tries,
            vendor_message_id: self.vendor_message_id,
            last_error_class: parse_opt(T, "last_error_class", self.last_error_class.as_deref())?,
            exhausted_at: time_opt(T, "exhausted_at", self.exhausted_at)?,
            discard_reason: self.discard_reason,
            queued_at: time_opt(T, "queued_at", self.queued_at)?,
            created_at: time(T, "created_at", self.created_at)?,
            updated_at: time(T, "updated_at", self.updated_at)?,
        })
    }
}

/// One `delivery_tries` row as read.
#[derive(Debug, sqlx::FromRow)]
struct TryRow {
    delivery_id: String,
    at: i64,
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
            at: time(T, "at", self.at)?,
            outcome: parse(T, "outcome", &self.outcome)?,
            error_class: parse_opt(T, "error_class", self.error_class.as_deref())?,
            vendor_code: self.vendor_code,
            detail: self.detail,
            latency_ms: self.latency_ms.map(|v| unsigned(T, "latency_ms", v)).transpose()?,
        })
    }
}

/// Appends a try to a delivery's history (next `seq`).
pub(super) async fn insert_try(
    conn: &mut SqliteConnection,
    delivery: &str,
    t: &Try,
) -> Result<(), PortError> {
    sqlx::query(
        "INSERT INTO delivery_tries (delivery_id, seq, at, outcome, error_class, vendor_code, detail, latency_ms) \
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM delivery_tries WHERE delivery_id = ?1), \
                 ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(delivery)
    .bind(micros(t.at))
    .bind(t.outcome.as_str())
    .bind(t.error_class.map(|c| c.as_str()))
    .bind(t.vendor_code.as_deref())
    .bind(t.detail.as_deref())
    .bind(t.latency_ms.map(int))
    .execute(&mut *conn)
    .await
    .map_err(db("appending a delivery try"))?;
    Ok(())
}

/// Turns delivery rows into records, reading all their tries with one query.
pub(super) async fn with_tries(
    conn: &mut SqliteConnection,
    rows: Vec<DeliveryRow>,
) -> Result<Vec<DeliveryRecord>, PortError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = id_list(rows.iter().map(|r| &r.id));
    let tries: Vec<TryRow> = sqlx::query_as(
        "SELECT delivery_id, at, outcome, error_class, vendor_code, detail, latency_ms FROM delivery_tries \
         WHERE delivery_id IN (SELECT value FROM json_each(?1)) ORDER BY delivery_id, seq",
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
    conn: &mut SqliteConnection,
    id: DeliveryId,
) -> Result<Option<DeliveryRecord>, PortError> {
    let row: Option<DeliveryRow> =
        sqlx::query_as(concat!("SELECT ", delivery_columns!(), " FROM deliveries WHERE id = ?1"))
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading a delivery"))?;
    Ok(with_tries(conn, row.into_iter().collect()).await?.pop())
}
