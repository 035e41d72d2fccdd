//! A dispatcher's batch as one writer operation: its claims together, its results together
//! (ADR 0027). SQLite statements are in-process calls, so each item keeps its own statement;
//! what the batch saves is the writer round trips and the reading of try histories.

use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{ClaimedDelivery, DispatchResult};
use hub_domain::DeliveryId;
use sqlx::SqliteConnection;

use super::errors::db;
use super::rows::{DeliveryRow, delivery_columns, insert_try, micros, micros_opt};
use super::writer::Done;

/// `PENDING → DISPATCHING` for each due PENDING delivery of `ids` (an id given twice is
/// claimed once: the second UPDATE no longer matches).
pub(super) async fn claim_many(
    conn: &mut SqliteConnection,
    ids: Vec<DeliveryId>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Done<Vec<ClaimedDelivery>>, PortError> {
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
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
        .map_err(db("claiming deliveries"))?;
        if let Some(row) = row {
            // The dispatcher does not read the try history, so none is loaded.
            claimed.push(ClaimedDelivery::from(row.into_record(Vec::new())?));
        }
    }
    Ok(Done::keep(claimed))
}

/// Each result as a compare-and-set (status and tries as claimed) with its try appended.
pub(super) async fn record_results(
    conn: &mut SqliteConnection,
    results: Vec<DispatchResult>,
    now: DateTime<Utc>,
) -> Result<Done<Vec<bool>>, PortError> {
    let mut applied = Vec::with_capacity(results.len());
    for r in results {
        let id = r.id.to_string();
        let changed = sqlx::query(
            "UPDATE deliveries SET status = ?1, tries = ?2, not_before = ?3, lease_until = ?4, \
             vendor_message_id = COALESCE(?5, vendor_message_id), \
             last_error_class = COALESCE(?6, last_error_class), \
             exhausted_at = CASE WHEN ?1 = 'EXHAUSTED' THEN COALESCE(exhausted_at, ?7) ELSE NULL END, \
             queued_at = CASE WHEN ?1 = 'PENDING' THEN NULL ELSE queued_at END, \
             updated_at = ?7 \
             WHERE id = ?8 AND status = ?9 AND tries = ?10",
        )
        .bind(r.state.status.as_str())
        .bind(i64::from(r.state.tries))
        .bind(micros(r.state.not_before))
        .bind(micros_opt(r.state.lease_until))
        .bind(r.vendor_message_id.as_deref())
        .bind(r.last_error_class.map(|c| c.as_str()))
        .bind(micros(now))
        .bind(&id)
        .bind(r.expected.status.as_str())
        .bind(i64::from(r.expected.tries))
        .execute(&mut *conn)
        .await
        .map_err(db("storing a dispatch result"))?
        .rows_affected()
            == 1;
        if changed {
            insert_try(conn, &id, &r.attempt).await?;
        }
        applied.push(changed);
    }
    Ok(Done::keep(applied))
}
