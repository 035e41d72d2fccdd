//! `CallbackLog`: the `webhook-id`s of vendor callbacks already taken (`callback_log`).
//!
//! `remember` is one upsert: a new key is inserted, an expired one renewed, a live one left
//! alone; the number of rows changed tells which. A concurrent insert of the same key waits
//! for the first to commit and then finds it live, so only one caller gets `New`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{CallbackLog, Remembered};

use super::PgStore;
use super::errors::db;
use super::rows::int;

#[async_trait]
impl CallbackLog for PgStore {
    async fn remember(
        &self,
        vendor: &str,
        webhook_id: &str,
        now: DateTime<Utc>,
        keep_until: DateTime<Utc>,
    ) -> Result<Remembered, PortError> {
        let changed = sqlx::query(
            "INSERT INTO callback_log (vendor, webhook_id, keep_until) VALUES ($1, $2, $3) \
             ON CONFLICT (vendor, webhook_id) DO UPDATE SET keep_until = excluded.keep_until \
             WHERE callback_log.keep_until <= $4",
        )
        .bind(vendor)
        .bind(webhook_id)
        .bind(keep_until)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db("recording a callback webhook-id"))?
        .rows_affected();
        Ok(if changed == 0 { Remembered::AlreadySeen } else { Remembered::New })
    }

    async fn forget(&self, vendor: &str, webhook_id: &str) -> Result<(), PortError> {
        sqlx::query("DELETE FROM callback_log WHERE vendor = $1 AND webhook_id = $2")
            .bind(vendor)
            .bind(webhook_id)
            .execute(&self.pool)
            .await
            .map_err(db("forgetting a callback webhook-id"))?;
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<u64, PortError> {
        // SKIP LOCKED: purgers of several replicas split the work instead of queueing on it.
        let purged = sqlx::query(
            "DELETE FROM callback_log WHERE (vendor, webhook_id) IN ( \
                 SELECT vendor, webhook_id FROM callback_log WHERE keep_until <= $1 \
                 ORDER BY keep_until LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(int(limit))
        .execute(&self.pool)
        .await
        .map_err(db("purging expired callback webhook-ids"))?
        .rows_affected();
        Ok(purged)
    }
}
