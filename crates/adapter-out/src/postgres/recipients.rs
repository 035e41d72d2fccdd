//! `RecipientStore`: profiles, contacts, preferences, and erasure.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{PutOutcome, RecipientRecord, RecipientStore};
use hub_domain::preferences::{KindPreference, Preferences};
use hub_domain::time_window::DailyWindow;
use hub_domain::{Channel, Contact, Kind, Locale, Recipient, RecipientId, Timezone};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use super::devices::devices_from_columns;
use super::errors::{corrupt, db, encoding};
use super::rows::{DeliveryRow, delivery_columns, int, parse};
use super::{PgStore, commit, rollback};

const RECIPIENTS: &str = "recipients";

#[derive(Debug, sqlx::FromRow)]
struct RecipientRow {
    locale: String,
    timezone: String,
    preferences: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    contact_channels: Vec<String>,
    contact_addresses: Vec<Option<String>>,
    device_ids: Vec<String>,
    device_platforms: Vec<String>,
    device_tokens: Vec<String>,
    device_active: Vec<bool>,
    device_registered_at: Vec<DateTime<Utc>>,
}

/// The stored preference document (JSONB), the same shape as the API's.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PreferencesDoc {
    kinds: BTreeMap<Kind, KindDoc>,
    quiet_hours: Option<WindowDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindDoc {
    allowed: bool,
    channels: Vec<Channel>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowDoc {
    start: String,
    end: String,
}

fn encode_preferences(preferences: &Preferences) -> Result<String, PortError> {
    let doc = PreferencesDoc {
        kinds: preferences
            .kinds()
            .iter()
            .map(|(kind, p)| (*kind, KindDoc { allowed: p.allowed, channels: p.channels.to_vec() }))
            .collect(),
        quiet_hours: preferences.quiet_hours().map(|w| WindowDoc {
            start: w.start().format("%H:%M").to_string(),
            end: w.end().format("%H:%M").to_string(),
        }),
    };
    serde_json::to_string(&doc).map_err(|e| encoding("encoding preferences", e))
}

fn decode_preferences(text: &str) -> Result<Preferences, PortError> {
    let bad = |e: &dyn std::fmt::Display| corrupt(RECIPIENTS, format_args!("preferences: {e}"));
    let doc: PreferencesDoc = serde_json::from_str(text).map_err(|e| bad(&e))?;
    let kinds = doc
        .kinds
        .into_iter()
        .map(|(kind, p)| {
            (kind, KindPreference { allowed: p.allowed, channels: p.channels.into_iter().collect() })
        })
        .collect();
    let quiet_hours = doc
        .quiet_hours
        .map(|w| {
            let start = DailyWindow::parse_time(&w.start).map_err(|e| bad(&e))?;
            let end = DailyWindow::parse_time(&w.end).map_err(|e| bad(&e))?;
            DailyWindow::new(start, end).map_err(|e| bad(&e))
        })
        .transpose()?;
    Preferences::new(kinds, quiet_hours).map_err(|e| bad(&e))
}

#[async_trait]
impl RecipientStore for PgStore {
    async fn get(&self, id: &RecipientId) -> Result<Option<RecipientRecord>, PortError> {
        get_in(&self.pool, id).await
    }

    async fn put(&self, recipient: &Recipient, now: DateTime<Utc>) -> Result<PutOutcome, PortError> {
        let mut tx = self.begin().await?;
        let outcome = put_in(&mut tx, recipient, now).await?;
        commit(tx).await?;
        Ok(outcome)
    }

    async fn erase(&self, id: &RecipientId, now: DateTime<Utc>) -> Result<bool, PortError> {
        let mut tx = self.begin().await?;
        let erased = erase_in(&mut tx, id, now).await?;
        if erased {
            commit(tx).await?;
        } else {
            rollback(tx).await;
        }
        Ok(erased)
    }

    async fn put_preferences(
        &self,
        id: &RecipientId,
        preferences: &Preferences,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let doc = encode_preferences(preferences)?;
        let n = sqlx::query("UPDATE recipients SET preferences = $1::jsonb, updated_at = $2 WHERE id = $3")
            .bind(doc)
            .bind(now)
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db("storing preferences"))?
            .rows_affected();
        Ok(n > 0)
    }
}

async fn get_in(pool: &PgPool, id: &RecipientId) -> Result<Option<RecipientRecord>, PortError> {
    // One statement, so one snapshot: the profile, its contacts and its devices as of the
    // same instant, in one round trip (each list as parallel arrays, in its order).
    let row: Option<RecipientRow> = sqlx::query_as(
        "SELECT r.locale, r.timezone, r.preferences::text AS preferences, r.created_at, r.updated_at, \
             ARRAY(SELECT c.channel FROM recipient_contacts c WHERE c.recipient_id = r.id ORDER BY c.position) \
                 AS contact_channels, \
             ARRAY(SELECT c.address FROM recipient_contacts c WHERE c.recipient_id = r.id ORDER BY c.position) \
                 AS contact_addresses, \
             ARRAY(SELECT d.id FROM devices d WHERE d.recipient_id = r.id ORDER BY d.registered_at, d.id) \
                 AS device_ids, \
             ARRAY(SELECT d.platform FROM devices d WHERE d.recipient_id = r.id ORDER BY d.registered_at, d.id) \
                 AS device_platforms, \
             ARRAY(SELECT d.token FROM devices d WHERE d.recipient_id = r.id ORDER BY d.registered_at, d.id) \
                 AS device_tokens, \
             ARRAY(SELECT d.active FROM devices d WHERE d.recipient_id = r.id ORDER BY d.registered_at, d.id) \
                 AS device_active, \
             ARRAY(SELECT d.registered_at FROM devices d WHERE d.recipient_id = r.id \
                   ORDER BY d.registered_at, d.id) AS device_registered_at \
         FROM recipients r WHERE r.id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(db("reading a recipient"))?;
    let Some(row) = row else { return Ok(None) };
    if row.contact_channels.len() != row.contact_addresses.len() {
        return Err(corrupt(
            "recipient_contacts",
            format_args!("{id}: the contact columns differ in length"),
        ));
    }
    let contacts = row
        .contact_channels
        .iter()
        .zip(&row.contact_addresses)
        .map(|(channel, address)| {
            let channel: Channel = parse("recipient_contacts", "channel", channel)?;
            Contact::parse(channel, address.as_deref())
                .map_err(|e| corrupt("recipient_contacts", format_args!("{id} {channel}: {e}")))
        })
        .collect::<Result<Vec<_>, PortError>>()?;
    let devices = devices_from_columns(
        row.device_ids,
        row.device_platforms,
        row.device_tokens,
        row.device_active,
        row.device_registered_at,
    )?;
    let recipient = Recipient {
        id: id.clone(),
        contacts,
        locale: Locale::parse(&row.locale).map_err(|e| corrupt(RECIPIENTS, format_args!("{id}: {e}")))?,
        timezone: Timezone::parse(&row.timezone)
            .map_err(|e| corrupt(RECIPIENTS, format_args!("{id}: {e}")))?,
        devices,
    };
    Ok(Some(RecipientRecord {
        recipient,
        preferences: row.preferences.as_deref().map(decode_preferences).transpose()?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }))
}

/// Creates or replaces the profile in one upsert (which also locks the row, so concurrent
/// PUTs of one recipient run one after the other); preferences and devices stay.
async fn put_in(conn: &mut PgConnection, r: &Recipient, now: DateTime<Utc>) -> Result<PutOutcome, PortError> {
    // `xmax = 0` only for a freshly inserted row version: an updated one carries the locker.
    let created: bool = sqlx::query_scalar(
        "INSERT INTO recipients (id, locale, timezone, preferences, created_at, updated_at) \
         VALUES ($1, $2, $3, NULL, $4, $4) \
         ON CONFLICT ON CONSTRAINT recipients_pkey \
         DO UPDATE SET locale = EXCLUDED.locale, timezone = EXCLUDED.timezone, updated_at = EXCLUDED.updated_at \
         RETURNING (xmax = 0)",
    )
    .bind(r.id.as_str())
    .bind(r.locale.as_str())
    .bind(r.timezone.name())
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(db("writing a recipient"))?;
    if !created {
        sqlx::query("DELETE FROM recipient_contacts WHERE recipient_id = $1")
            .bind(r.id.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db("replacing a recipient's contacts"))?;
    }
    if !r.contacts.is_empty() {
        let channels: Vec<&str> = r.contacts.iter().map(|c| c.channel.as_str()).collect();
        let addresses: Vec<Option<String>> =
            r.contacts.iter().map(|c| c.address.as_ref().map(|a| a.as_str().to_owned())).collect();
        let positions: Vec<i64> = (0..r.contacts.len()).map(int).collect();
        sqlx::query(
            "INSERT INTO recipient_contacts (recipient_id, channel, address, position) \
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::int8[])",
        )
        .bind(r.id.as_str())
        .bind(channels)
        .bind(addresses)
        .bind(positions)
        .execute(&mut *conn)
        .await
        .map_err(db("writing a recipient's contacts"))?;
    }
    Ok(if created { PutOutcome::Created } else { PutOutcome::Replaced })
}

/// Erases the recipient: profile, contacts (cascade), preferences and devices go; its
/// deliveries stay with masked targets, and those still PENDING are cancelled (nothing is sent
/// to an erased person). `false` (nothing written) when the recipient is unknown.
async fn erase_in(conn: &mut PgConnection, id: &RecipientId, now: DateTime<Utc>) -> Result<bool, PortError> {
    let deleted = sqlx::query("DELETE FROM recipients WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db("erasing a recipient"))?
        .rows_affected();
    if deleted == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM devices WHERE recipient_id = $1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db("erasing a recipient's devices"))?;
    // The masked form comes from the domain's Target::masked, computed here and applied in one
    // UPDATE joined with the (id, masked) arrays. FOR UPDATE: no worker changes them meanwhile.
    let rows: Vec<DeliveryRow> = sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries WHERE recipient_id = $1 AND target_kind <> 'ERASED' FOR UPDATE"
    ))
    .bind(id.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading a recipient's deliveries"))?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut masked = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(row.id.clone());
        masked.push(row.into_record(Vec::new())?.target.masked());
    }
    sqlx::query(
        "UPDATE deliveries d SET target_kind = 'ERASED', target_address = NULL, target_device_id = NULL, \
         target_token = NULL, target_masked = m.masked \
         FROM UNNEST($1::text[], $2::text[]) AS m(id, masked) WHERE d.id = m.id",
    )
    .bind(ids)
    .bind(masked)
    .execute(&mut *conn)
    .await
    .map_err(db("masking a recipient's deliveries"))?;
    sqlx::query(
        "UPDATE deliveries SET status = CASE WHEN status = 'PENDING' THEN 'CANCELLED' ELSE status END, \
         updated_at = $1 WHERE recipient_id = $2",
    )
    .bind(now)
    .bind(id.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db("cancelling a recipient's deliveries"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_domain::ChannelSet;

    #[test]
    fn preferences_survive_the_json_document() {
        let mut kinds = BTreeMap::new();
        let channels: ChannelSet = [Channel::Email, Channel::Push].into_iter().collect();
        kinds.insert(Kind::Marketing, KindPreference { allowed: false, channels });
        kinds.insert(Kind::Security, KindPreference { allowed: true, channels: ChannelSet::EMPTY });
        let window = DailyWindow::parse("21:30-07:15").unwrap();
        for prefs in [Preferences::new(kinds, Some(window)).unwrap(), Preferences::default()] {
            let text = encode_preferences(&prefs).unwrap();
            assert_eq!(decode_preferences(&text).unwrap(), prefs, "{text}");
        }
    }

    #[test]
    fn a_corrupt_preference_document_is_an_error_not_a_panic() {
        for bad in ["{", r#"{"kinds":{},"quietHours":{"start":"25:00","end":"08:00"}}"#] {
            assert!(matches!(decode_preferences(bad), Err(PortError::Unexpected(_))), "{bad}");
        }
    }
}
