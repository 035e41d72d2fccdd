//! `DlqStore`: the read side of the dead-letter queue (EXHAUSTED deliveries).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{DeliveryRecord, DlqCursor, DlqFilter, DlqStatRow, DlqStore};
use sqlx::{Postgres, QueryBuilder};

use super::errors::{corrupt, db};
use super::rows::{DeliveryRow, delivery_columns, int, parse, parse_opt, unsigned, with_tries};
use super::{PgStore, commit};

/// Bucket widths above this many microseconds (about 73,000 years) put every realistic
/// instant in bucket 0 anyway; the cap keeps the bucket arithmetic inside BIGINT.
const MAX_BUCKET_MICROS: i64 = 1 << 61;

/// `WHERE` for EXHAUSTED deliveries matching `filter`. Rows without `exhausted_at` are left out,
/// as they cannot be placed in the DLQ order.
fn push_filter(query: &mut QueryBuilder<'_, Postgres>, filter: &DlqFilter) {
    query.push(" WHERE status = 'EXHAUSTED' AND exhausted_at IS NOT NULL");
    if let Some(channel) = filter.channel {
        query.push(" AND channel = ").push_bind(channel.as_str());
    }
    if let Some(from) = filter.from {
        query.push(" AND exhausted_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        query.push(" AND exhausted_at < ").push_bind(to);
    }
    if let Some(class) = filter.error_class {
        query.push(" AND last_error_class = ").push_bind(class.as_str());
    }
}

#[async_trait]
impl DlqStore for PgStore {
    async fn list(
        &self,
        filter: &DlqFilter,
        after: Option<DlqCursor>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, PortError> {
        let mut query =
            QueryBuilder::<Postgres>::new(concat!("SELECT ", delivery_columns!(), " FROM deliveries"));
        push_filter(&mut query, filter);
        if let Some(cursor) = after {
            query
                .push(" AND (exhausted_at, id) > (")
                .push_bind(cursor.exhausted_at)
                .push(", ")
                .push_bind(cursor.id.to_string())
                .push(")");
        }
        query.push(" ORDER BY exhausted_at, id LIMIT ").push_bind(int(limit));
        let mut tx = self.read().await?;
        let rows: Vec<DeliveryRow> =
            query.build_query_as().fetch_all(&mut *tx).await.map_err(db("listing the DLQ"))?;
        let records = with_tries(&mut tx, rows).await?;
        commit(tx).await?;
        Ok(records)
    }

    async fn count(&self, filter: &DlqFilter) -> Result<u64, PortError> {
        let mut query = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM deliveries");
        push_filter(&mut query, filter);
        let n: i64 =
            query.build_query_scalar().fetch_one(&self.pool).await.map_err(db("counting the DLQ"))?;
        unsigned("deliveries", "COUNT(*)", n)
    }

    async fn stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_seconds: u64,
    ) -> Result<Vec<DlqStatRow>, PortError> {
        let bucket = int(bucket_seconds).max(1).saturating_mul(1_000_000).min(MAX_BUCKET_MICROS);
        // Exact integer microseconds since the epoch (EXTRACT gives a NUMERIC), floored to the
        // bucket even before the epoch (% truncates toward zero).
        let rows: Vec<(i64, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT m - (((m % $1) + $1) % $1) AS bucket_start, channel, last_error_class, COUNT(*) \
             FROM ( \
                 SELECT (EXTRACT(EPOCH FROM exhausted_at) * 1000000)::bigint AS m, channel, last_error_class \
                 FROM deliveries \
                 WHERE status = 'EXHAUSTED' AND exhausted_at >= $2 AND exhausted_at < $3) AS exhausted \
             GROUP BY bucket_start, channel, last_error_class \
             ORDER BY bucket_start",
        )
        .bind(bucket)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(db("computing DLQ statistics"))?;
        const T: &str = "deliveries";
        let mut stats = rows
            .into_iter()
            .map(|(start, channel, class, count)| {
                Ok(DlqStatRow {
                    bucket_start: DateTime::from_timestamp_micros(start)
                        .ok_or_else(|| corrupt(T, format_args!("bucket {start} is not an instant")))?,
                    channel: parse(T, "channel", &channel)?,
                    error_class: parse_opt(T, "last_error_class", class.as_deref())?,
                    count: unsigned(T, "COUNT(*)", count)?,
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        // Channel and error class in their domain order (canonical channel order), not text order.
        stats.sort_by_key(|row| (row.bucket_start, row.channel, row.error_class));
        Ok(stats)
    }
}
