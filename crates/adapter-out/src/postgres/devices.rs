//! `DeviceStore`: push devices, one row per token.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{DeviceRegistration, DeviceStore};
use hub_domain::recipient::devices_over_limit;
use hub_domain::{Device, DeviceId, DeviceToken, Platform, RecipientId};
use sqlx::PgConnection;

use super::errors::{corrupt, db};
use super::rows::{id_array, parse};
use super::{PgStore, commit};

const DEVICES: &str = "devices";

/// One `devices` row as read.
#[derive(Debug, sqlx::FromRow)]
struct DeviceRow {
    id: String,
    platform: String,
    token: String,
    active: bool,
    registered_at: DateTime<Utc>,
}

impl DeviceRow {
    fn into_device(self) -> Result<Device, PortError> {
        Ok(Device {
            id: parse(DEVICES, "id", &self.id)?,
            platform: parse(DEVICES, "platform", &self.platform)?,
            token: DeviceToken::parse(&self.token)
                .map_err(|e| corrupt(DEVICES, format_args!("{}: token: {e}", self.id)))?,
            active: self.active,
            registered_at: self.registered_at,
        })
    }
}

/// Devices read as parallel column arrays (one element per device, in the arrays' order).
pub(super) fn devices_from_columns(
    ids: Vec<String>,
    platforms: Vec<String>,
    tokens: Vec<String>,
    active: Vec<bool>,
    registered_at: Vec<DateTime<Utc>>,
) -> Result<Vec<Device>, PortError> {
    let n = ids.len();
    if [platforms.len(), tokens.len(), active.len(), registered_at.len()].iter().any(|l| *l != n) {
        return Err(corrupt(DEVICES, "the device columns read have different lengths"));
    }
    ids.into_iter()
        .zip(platforms)
        .zip(tokens)
        .zip(active)
        .zip(registered_at)
        .map(|((((id, platform), token), active), registered_at)| {
            DeviceRow { id, platform, token, active, registered_at }.into_device()
        })
        .collect()
}

/// The recipient's devices, active and disabled, oldest registration first.
pub(super) async fn devices_of(
    conn: &mut PgConnection,
    recipient: &RecipientId,
) -> Result<Vec<Device>, PortError> {
    let rows: Vec<DeviceRow> = sqlx::query_as(
        "SELECT id, platform, token, active, registered_at FROM devices WHERE recipient_id = $1 \
         ORDER BY registered_at, id",
    )
    .bind(recipient.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading devices"))?;
    rows.into_iter().map(DeviceRow::into_device).collect()
}

#[async_trait]
impl DeviceStore for PgStore {
    async fn register(
        &self,
        recipient: &RecipientId,
        platform: Platform,
        token: &DeviceToken,
        new_id: DeviceId,
        now: DateTime<Utc>,
    ) -> Result<DeviceRegistration, PortError> {
        let mut tx = self.begin().await?;
        let registration = register_in(&mut tx, recipient, platform, token, new_id, now).await?;
        commit(tx).await?;
        Ok(registration)
    }

    async fn list(&self, recipient: &RecipientId) -> Result<Vec<Device>, PortError> {
        let mut conn = self.pool.acquire().await.map_err(db("reading devices"))?;
        devices_of(&mut conn, recipient).await
    }

    async fn disable(&self, recipient: &RecipientId, id: DeviceId) -> Result<bool, PortError> {
        let n = sqlx::query("UPDATE devices SET active = FALSE WHERE id = $1 AND recipient_id = $2")
            .bind(id.to_string())
            .bind(recipient.as_str())
            .execute(&self.pool)
            .await
            .map_err(db("disabling a device"))?
            .rows_affected();
        Ok(n > 0)
    }

    async fn disable_by_id(&self, id: DeviceId) -> Result<bool, PortError> {
        let n = sqlx::query("UPDATE devices SET active = FALSE WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("disabling a device"))?
            .rows_affected();
        Ok(n > 0)
    }
}

/// The registration inside the caller's transaction.
async fn register_in(
    conn: &mut PgConnection,
    recipient: &RecipientId,
    platform: Platform,
    token: &DeviceToken,
    new_id: DeviceId,
    now: DateTime<Utc>,
) -> Result<DeviceRegistration, PortError> {
    // Registrations for one recipient run one after the other (the recipient row's lock), so
    // two of them cannot both leave more than the limit active.
    sqlx::query("SELECT 1 FROM recipients WHERE id = $1 FOR UPDATE")
        .bind(recipient.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("locking a recipient"))?;
    // A new token is inserted unless the token is taken (devices_token_key, the authority even
    // against a concurrent registration of the same token); a taken one is (re)activated,
    // registered now and moved here.
    let created = sqlx::query(
        "INSERT INTO devices (id, recipient_id, platform, token, active, registered_at) \
         VALUES ($1, $2, $3, $4, TRUE, $5) ON CONFLICT ON CONSTRAINT devices_token_key DO NOTHING",
    )
    .bind(new_id.to_string())
    .bind(recipient.as_str())
    .bind(platform.as_str())
    .bind(token.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db("registering a device"))?
    .rows_affected()
        == 1;
    let registration = if created {
        DeviceRegistration::Created(Device {
            id: new_id,
            platform,
            token: token.clone(),
            active: true,
            registered_at: now,
        })
    } else {
        let owner: String =
            sqlx::query_scalar("SELECT recipient_id FROM devices WHERE token = $1 FOR UPDATE")
                .bind(token.as_str())
                .fetch_one(&mut *conn)
                .await
                .map_err(db("finding a device token"))?;
        let row: DeviceRow = sqlx::query_as(
            "UPDATE devices SET recipient_id = $1, platform = $2, active = TRUE, registered_at = $3 \
             WHERE token = $4 RETURNING id, platform, token, active, registered_at",
        )
        .bind(recipient.as_str())
        .bind(platform.as_str())
        .bind(now)
        .bind(token.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(db("re-registering a device"))?;
        let device = row.into_device()?;
        if owner == recipient.as_str() {
            DeviceRegistration::Existing(device)
        } else {
            DeviceRegistration::Moved(device)
        }
    };
    // The domain rule decides which devices go past the limit (oldest first).
    let over = devices_over_limit(&devices_of(conn, recipient).await?);
    if !over.is_empty() {
        sqlx::query("UPDATE devices SET active = FALSE WHERE id = ANY($1)")
            .bind(id_array(over))
            .execute(&mut *conn)
            .await
            .map_err(db("disabling devices over the limit"))?;
    }
    Ok(registration)
}
