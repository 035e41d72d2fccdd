//! `DeviceStore`: push devices, one row per token.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{DeviceRegistration, DeviceStore};
use hub_domain::recipient::devices_over_limit;
use hub_domain::{Device, DeviceId, DeviceToken, Platform, RecipientId};
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::errors::{corrupt, db};
use super::rows::{id_list, micros, parse, time};
use super::writer::Done;

const DEVICES: &str = "devices";

/// One `devices` row as read.
#[derive(Debug, sqlx::FromRow)]
struct DeviceRow {
    id: String,
    platform: String,
    token: String,
    active: i64,
    registered_at: i64,
}

impl DeviceRow {
    fn into_device(self) -> Result<Device, PortError> {
        Ok(Device {
            id: parse(DEVICES, "id", &self.id)?,
            platform: parse(DEVICES, "platform", &self.platform)?,
            token: DeviceToken::parse(&self.token)
                .map_err(|e| corrupt(DEVICES, format_args!("{}: token: {e}", self.id)))?,
            active: self.active != 0,
            registered_at: time(DEVICES, "registered_at", self.registered_at)?,
        })
    }
}

/// Devices read as a JSON array of `[id, platform, token, active, registered_at]` rows.
pub(super) fn devices_from_json(json: &str) -> Result<Vec<Device>, PortError> {
    let rows: Vec<(String, String, String, i64, i64)> =
        serde_json::from_str(json).map_err(|e| corrupt(DEVICES, format_args!("the devices read: {e}")))?;
    rows.into_iter()
        .map(|(id, platform, token, active, registered_at)| {
            DeviceRow { id, platform, token, active, registered_at }.into_device()
        })
        .collect()
}

/// The recipient's devices, active and disabled, oldest registration first.
pub(super) async fn devices_of(
    conn: &mut SqliteConnection,
    recipient: &RecipientId,
) -> Result<Vec<Device>, PortError> {
    let rows: Vec<DeviceRow> = sqlx::query_as(
        "SELECT id, platform, token, active, registered_at FROM devices WHERE recipient_id = ?1 \
         ORDER BY registered_at, id",
    )
    .bind(recipient.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading devices"))?;
    rows.into_iter().map(DeviceRow::into_device).collect()
}

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn register(
        &self,
        recipient: &RecipientId,
        platform: Platform,
        token: &DeviceToken,
        new_id: DeviceId,
        now: DateTime<Utc>,
    ) -> Result<DeviceRegistration, PortError> {
        let recipient = recipient.clone();
        let token = token.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let holder: Option<(String, String)> =
                    sqlx::query_as("SELECT id, recipient_id FROM devices WHERE token = ?1")
                        .bind(token.as_str())
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db("finding a device token"))?;
                let registration = match holder {
                    // A known token: (re)activated and registered now, moving to this recipient.
                    Some((id, owner)) => {
                        let row: DeviceRow = sqlx::query_as(
                            "UPDATE devices SET recipient_id = ?1, platform = ?2, active = 1, registered_at = ?3 \
                             WHERE id = ?4 RETURNING id, platform, token, active, registered_at",
                        )
                        .bind(recipient.as_str())
                        .bind(platform.as_str())
                        .bind(micros(now))
                        .bind(&id)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db("re-registering a device"))?;
                        let device = row.into_device()?;
                        if owner == recipient.as_str() {
                            DeviceRegistration::Existing(device)
                        } else {
                            DeviceRegistration::Moved(device)
                        }
                    }
                    None => {
                        sqlx::query(
                            "INSERT INTO devices (id, recipient_id, platform, token, active, registered_at) \
                             VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                        )
                        .bind(new_id.to_string())
                        .bind(recipient.as_str())
                        .bind(platform.as_str())
                        .bind(token.as_str())
                        .bind(micros(now))
                        .execute(&mut *conn)
                        .await
                        .map_err(db("registering a device"))?;
                        DeviceRegistration::Created(Device {
                            id: new_id,
                            platform,
                            token,
                            active: true,
                            registered_at: now,
                        })
                    }
                };
                // The domain rule decides which devices go past the limit (oldest first).
                let over = devices_over_limit(&devices_of(conn, &recipient).await?);
                if !over.is_empty() {
                    sqlx::query("UPDATE devices SET active = 0 WHERE id IN (SELECT value FROM json_each(?1))")
                        .bind(id_list(over))
                        .execute(&mut *conn)
                        .await
                        .map_err(db("disabling devices over the limit"))?;
                }
                Ok(Done::keep(registration))
            })
        })
        .await
    }

    async fn list(&self, recipient: &RecipientId) -> Result<Vec<Device>, PortError> {
        let mut conn = self.reader.acquire().await.map_err(db("reading devices"))?;
        devices_of(&mut conn, recipient).await
    }

    async fn disable(&self, recipient: &RecipientId, id: DeviceId) -> Result<bool, PortError> {
        let recipient = recipient.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let n = sqlx::query("UPDATE devices SET active = 0 WHERE id = ?1 AND recipient_id = ?2")
                    .bind(id.to_string())
                    .bind(recipient.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(db("disabling a device"))?
                    .rows_affected();
                Ok(Done::keep(n > 0))
            })
        })
        .await
    }

    async fn disable_by_id(&self, id: DeviceId) -> Result<bool, PortError> {
        self.write(move |conn| {
            Box::pin(async move {
                let n = sqlx::query("UPDATE devices SET active = 0 WHERE id = ?1")
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(db("disabling a device"))?
                    .rows_affected();
                Ok(Done::keep(n > 0))
            })
        })
        .await
    }
}
