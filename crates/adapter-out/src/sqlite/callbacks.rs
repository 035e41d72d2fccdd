//! `CallbackLog`: the `webhook-id`s of vendor callbacks claimed or already taken (`callback_log`).
//!
//! `remember` is one upsert: a new key is inserted as an unsettled claim, an expired one
//! renewed as such, a live one left alone; the number of rows changed tells which, and for a
//! live row its `settled` flag tells an in-flight claim from a replay. Both statements run in one
//! operation of the single writer, so nothing can change the row between them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{CallbackLog, Remembered};

use super::SqliteStore;
use super::errors::db;
use super::rows::{int, micros};
use super::writer::Done;

#[async_trait]
impl CallbackLog for SqliteStore {
    async fn remember(
        &self,
        vendor: &str,
        webhook_id: &str,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
    ) -> Result<Remembered, PortError> {
        let (vendor, webhook_id) = (vendor.to_owned(), webhook_id.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                let claimed = sqlx::query(
                    "INSERT INTO callback_log (vendor, webhook_id, keep_until, settled) VALUES (?1, ?2, ?3, 0) \
                     ON CONFLICT (vendor, webhook_id) DO UPDATE SET keep_until = excluded.keep_until, settled = 0 \
                     WHERE callback_log.keep_until <= ?4",
                )
                .bind(&vendor)
                .bind(&webhook_id)
                .bind(micros(claim_until))
                .bind(micros(now))
                .execute(&mut *conn)
                .await
                .map_err(db("claiming a callback webhook-id"))?
                .rows_affected()
                    > 0;
                if claimed {
                    return Ok(Done::keep(Remembered::New));
                }
                let settled: i64 =
                    sqlx::query_scalar("SELECT settled FROM callback_log WHERE vendor = ?1 AND webhook_id = ?2")
                        .bind(&vendor)
                        .bind(&webhook_id)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db("reading a live callback webhook-id"))?;
                Ok(Done::keep(if settled == 0 { Remembered::InFlight } else { Remembered::AlreadySeen }))
            })
        })
        .await
    }

    async fn settle(
        &self,
        vendor: &str,
        webhook_id: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let (vendor, webhook_id) = (vendor.to_owned(), webhook_id.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE callback_log SET settled = 1, keep_until = ?3 WHERE vendor = ?1 AND webhook_id = ?2",
                )
                .bind(&vendor)
                .bind(&webhook_id)
                .bind(micros(keep_until))
                .execute(&mut *conn)
                .await
                .map_err(db("settling a callback webhook-id"))?;
                Ok(Done::keep(()))
            })
        })
        .await
    }

    async fn forget(&self, vendor: &str, webhook_id: &str) -> Result<(), PortError> {
        let (vendor, webhook_id) = (vendor.to_owned(), webhook_id.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query("DELETE FROM callback_log WHERE vendor = ?1 AND webhook_id = ?2")
                    .bind(&vendor)
                    .bind(&webhook_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db("forgetting a callback webhook-id"))?;
                Ok(Done::keep(()))
            })
        })
        .await
    }

    async fn purge_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<u64, PortError> {
        self.write(move |conn| {
            Box::pin(async move {
                let purged = sqlx::query(
                    "DELETE FROM callback_log WHERE (vendor, webhook_id) IN ( \
                         SELECT vendor, webhook_id FROM callback_log WHERE keep_until <= ?1 LIMIT ?2)",
                )
                .bind(micros(now))
                .bind(int(limit))
                .execute(&mut *conn)
                .await
                .map_err(db("purging expired callback webhook-ids"))?
                .rows_affected();
                Ok(Done::keep(purged))
            })
        })
        .await
    }
}
