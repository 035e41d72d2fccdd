//! A dispatcher's batch: claim many deliveries with one statement, store many results with
//! one statement (ADR 0027). Each statement is its own transaction: one commit per batch.

use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{ClaimedDelivery, DispatchResult};
use hub_domain::DeliveryId;
use sqlx::PgPool;

use super::errors::db;
use super::rows::{DeliveryRow, delivery_columns, id_array, int};

/// `PENDING → DISPATCHING` for each due PENDING delivery of `ids`. The rows are locked in id
/// order first (`ORDER BY … FOR UPDATE`), so two workers whose batches overlap (a duplicate
/// queue message) wait for each other instead of deadlocking; the second re-checks the
/// committed row and skips it.
pub(super) async fn claim_many(
    pool: &PgPool,
    ids: &[DeliveryId],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<ClaimedDelivery>, PortError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<DeliveryRow> = sqlx::query_as(concat!(
        "WITH picked AS ( \
             SELECT id AS picked_id FROM deliveries \
             WHERE id = ANY($3) AND status = 'PENDING' AND not_before <= $2 \
             ORDER BY id FOR UPDATE) \
         UPDATE deliveries SET status = 'DISPATCHING', tries = tries + 1, lease_until = $1, updated_at = $2 \
         FROM picked WHERE id = picked_id RETURNING ",
        delivery_columns!()
    ))
    .bind(lease_until)
    .bind(now)
    .bind(id_array(ids))
    .fetch_all(pool)
    .await
    .map_err(db("claiming deliveries"))?;
    // The dispatcher does not read the try history, so none is loaded.
    rows.into_iter().map(|row| row.into_record(Vec::new()).map(ClaimedDelivery::from)).collect()
}

/// Each result as a compare-and-set (status and tries as claimed) with its try appended, all
/// in one statement. Rows are locked in id order, as in [`claim_many`]. `results` name distinct
/// deliveries (a batch claims each once).
pub(super) async fn record_results(
    pool: &PgPool,
    results: &[DispatchResult],
    now: DateTime<Utc>,
) -> Result<Vec<bool>, PortError> {
    if results.is_empty() {
        return Ok(Vec::new());
    }
    let n = results.len();
    let mut id = Vec::with_capacity(n);
    let (mut status, mut tries, mut not_before, mut lease_until) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut vendor_message_id, mut last_error_class) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut expected_status, mut expected_tries) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut at, mut outcome, mut error_class) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut vendor_code, mut detail, mut latency) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for r in results {
        id.push(r.id.to_string());
        status.push(r.state.status.as_str());
        tries.push(i64::from(r.state.tries));
        not_before.push(r.state.not_before);
        lease_until.push(r.state.lease_until);
        vendor_message_id.push(r.vendor_message_id.as_deref());
        last_error_class.push(r.last_error_class.map(|c| c.as_str()));
        expected_status.push(r.expected.status.as_str());
        expected_tries.push(i64::from(r.expected.tries));
        at.push(r.attempt.at);
        outcome.push(r.attempt.outcome.as_str());
        error_class.push(r.attempt.error_class.map(|c| c.as_str()));
        vendor_code.push(r.attempt.vendor_code.as_deref());
        detail.push(r.attempt.detail.as_deref());
        latency.push(r.attempt.latency_ms.map(int));
    }
    // `locked` takes the row locks in id order; `updated` applies the compare-and-set (the
    // same conditions, on rows now held); `tried` appends each applied result's try after the
    // delivery's stored ones (the row lock keeps MAX(seq) from racing, as in `insert_tries`).
    let applied: Vec<String> = sqlx::query_scalar(
        "WITH input AS ( \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::timestamptz[], $5::timestamptz[], \
                                  $6::text[], $7::text[], $8::text[], $9::int8[], $10::timestamptz[], \
                                  $11::text[], $12::text[], $13::text[], $14::text[], $15::int8[]) \
             AS t(id, status, tries, not_before, lease_until, vendor_message_id, last_error_class, \
                  expected_status, expected_tries, at, outcome, error_class, vendor_code, detail, latency_ms)), \
         locked AS ( \
             SELECT d.id AS locked_id FROM deliveries d JOIN input i ON d.id = i.id \
             WHERE d.status = i.expected_status AND d.tries = i.expected_tries \
             ORDER BY d.id FOR UPDATE OF d), \
         updated AS ( \
             UPDATE deliveries d SET status = i.status, tries = i.tries, not_before = i.not_before, \
                 lease_until = i.lease_until, \
                 vendor_message_id = COALESCE(i.vendor_message_id, d.vendor_message_id), \
                 last_error_class = COALESCE(i.last_error_class, d.last_error_class), \
                 exhausted_at = CASE WHEN i.status = 'EXHAUSTED' THEN COALESCE(d.exhausted_at, $16) ELSE NULL END, \
                 queued_at = CASE WHEN i.status = 'PENDING' THEN NULL ELSE d.queued_at END, \
                 updated_at = $16 \
             FROM input i, locked l \
             WHERE d.id = i.id AND d.id = l.locked_id \
               AND d.status = i.expected_status AND d.tries = i.expected_tries \
             RETURNING d.id), \
         tried AS ( \
             INSERT INTO delivery_tries (delivery_id, seq, at, outcome, error_class, vendor_code, detail, latency_ms) \
             SELECT i.id, COALESCE((SELECT MAX(seq) FROM delivery_tries t WHERE t.delivery_id = i.id), 0) + 1, \
                    i.at, i.outcome, i.error_class, i.vendor_code, i.detail, i.latency_ms \
             FROM input i JOIN updated u ON u.id = i.id) \
         SELECT id FROM updated",
    )
    .bind(id.clone())
    .bind(status)
    .bind(tries)
    .bind(not_before)
    .bind(lease_until)
    .bind(vendor_message_id)
    .bind(last_error_class)
    .bind(expected_status)
    .bind(expected_tries)
    .bind(at)
    .bind(outcome)
    .bind(error_class)
    .bind(vendor_code)
    .bind(detail)
    .bind(latency)
    .bind(now)
    .fetch_all(pool)
    .await
    .map_err(db("storing dispatch results"))?;
    let applied: std::collections::HashSet<String> = applied.into_iter().collect();
    Ok(id.iter().map(|id| applied.contains(id)).collect())
}
