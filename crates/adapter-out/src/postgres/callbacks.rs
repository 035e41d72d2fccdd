//! `CallbackLog`: the `webhook-id`s of vendor callbacks claimed or already taken (`callback_log`).
//!
//! `remember` is one upsert: a new key is inserted as an unsettled claim, an expired one
//! renewed as such, a live one left alone; the number of rows changed tells which. A
//! concurrent insert of the same key waits for the first to commit and then finds it live, so
//! only one caller gets `New`. For a live row, the `settled` flag tells an in-flight claim from
//! a replay: it is read in the same transaction, after the upsert, which locks the conflicting
//! row even when its `WHERE` leaves it unchanged — so no settle, forget or purge can slip in
//! between, and the row (committed before the upsert went on) is visible to the read.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{CallbackLog, Remembered};

use super::errors::db;
use super::rows::int;
use super::{PgStore, commit};

#[async_trait]
impl CallbackLog for PgStore {
    async fn remember(
        &self,
        vendor: &str,
        webhook_id: &str,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
    ) -> Result<Remembered, PortError> {
        let mut tx = self.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO callback_log (vendor, webhook_id, keep_until, settled) VALUES ($1, $2, $3, false) \
             ON CONFLICT (vendor, webhook_id) DO UPDATE SET keep_until = excluded.keep_until, settled = false \
             WHERE callback_log.keep_until <= $4",
        )
        .bind(vendor)
        .bind(webhook_id)
        .bind(claim_until)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("claiming a callback webhook-id"))?
        .rows_affected()
            > 0;
        let found = if claimed {
            Remembered::New
        } else {
            let settled: bool =
                sqlx::query_scalar("SELECT settled FROM callback_log WHERE vendor = $1 AND webhook_id = $2")
                    .bind(vendor)
                    .bind(webhook_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("reading a live callback webhook-id"))?;
            if settled { Remembered::AlreadySeen } else { Remembered::InFlight }
        };
        commit(tx).await?;
        Ok(found)
    }

    async fn settle(
        &self,
        vendor: &str,
        webhook_id: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<(), PortError> {
        sqlx::query(
            "UPDATE callback_log SET settled = true, keep_until = $3 WHERE vendor = $1 AND webhook_id = $2",
        )
        .bind(vendor)
        .bind(webhook_id)
        .bind(keep_until)
        .execute(&self.pool)
        .await
        .map_err(db("settling a callback webhook-id"))?;
        Ok(())
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
