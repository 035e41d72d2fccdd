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
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::SqliteStore;
use super::devices::devices_from_json;
use super::errors::{corrupt, db};
use super::rows::{DeliveryRow, delivery_columns, int, micros, parse, time};
use super::writer::Done;

const RECIPIENTS: &str = "recipients";

#[derive(Debug, sqlx::FromRow)]
struct RecipientRow {
    locale: String,
    timezone: String,
    preferences: Option<String>,
    created_at: i64,
    updated_at: i64,
    /// JSON array of `[channel, address]`, in position order.
    contacts: String,
    /// JSON array of `[id, platform, token, active, registered_at]`, oldest registration first.
    devices: String,
}

/// The stored preference document (JSON), the same shape as the API's.
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
    serde_json::to_string(&doc)
        .map_err(|e| PortError::Unexpected(anyhow::Error::new(e).context("encoding preferences")))
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
impl RecipientStore for SqliteStore {
    async fn get(&self, id: &RecipientId) -> Result<Option<RecipientRecord>, PortError> {
        // One statement (one snapshot, one hop to the connection's thread): the profile with its
        // contacts and devices as JSON arrays of rows, each in its order.
        let mut conn = self.reader.acquire().await.map_err(db("reading a recipient"))?;
        let row: Option<RecipientRow> = sqlx::query_as(
            "SELECT r.locale, r.timezone, r.preferences, r.created_at, r.updated_at, \
                 (SELECT json_group_array(json_array(c.channel, c.address) ORDER BY c.position) \
                  FROM recipient_contacts c WHERE c.recipient_id = r.id) AS contacts, \
                 (SELECT json_group_array(json_array(d.id, d.platform, d.token, d.active, d.registered_at) \
                         ORDER BY d.registered_at, d.id) \
                  FROM devices d WHERE d.recipient_id = r.id) AS devices \
             FROM recipients r WHERE r.id = ?1",
        )
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("reading a recipient"))?;
        let Some(row) = row else { return Ok(None) };
        let contacts: Vec<(String, Option<String>)> = serde_json::from_str(&row.contacts)
            .map_err(|e| corrupt("recipient_contacts", format_args!("{id}: {e}")))?;
        let contacts = contacts
            .into_iter()
            .map(|(channel, address)| {
                let channel: Channel = parse("recipient_contacts", "channel", &channel)?;
                Contact::parse(channel, address.as_deref())
                    .map_err(|e| corrupt("recipient_contacts", format_args!("{id} {channel}: {e}")))
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        let devices = devices_from_json(&row.devices)?;
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
            created_at: time(RECIPIENTS, "created_at", row.created_at)?,
            updated_at: time(RECIPIENTS, "updated_at", row.updated_at)?,
        }))
    }

    async fn put(&self, recipient: &Recipient, now: DateTime<Utc>) -> Result<PutOutcome, PortError> {
        let recipient = recipient.clone();
        self.write(move |conn| Box::pin(put_in(conn, recipient, now))).await
    }

    async fn erase(&self, id: &RecipientId, now: DateTime<Utc>) -> Result<bool, PortError> {
        let id = id.clone();
        self.write(move |conn| Box::pin(erase_in(conn, id, now))).await
    }

    async fn put_preferences(
        &self,
        id: &RecipientId,
        preferences: &Preferences,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let id = id.clone();
        let doc = encode_preferences(preferences)?;
        self.write(move |conn| {
            Box::pin(async move {
                let n = sqlx::query("UPDATE recipients SET preferences = ?1, updated_at = ?2 WHERE id = ?3")
                    .bind(doc)
                    .bind(micros(now))
                    .bind(id.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(db("storing preferences"))?
                    .rows_affected();
                Ok(Done::keep(n > 0))
            })
        })
        .await
    }
}

/// Creates or replaces the profile; preferences and devices stay.
async fn put_in(
    conn: &mut SqliteConnection,
    r: Recipient,
    now: DateTime<Utc>,
) -> Result<Done<PutOutcome>, PortError> {
    let replaced =
        sqlx::query("UPDATE recipients SET locale = ?1, timezone = ?2, updated_at = ?3 WHERE id = ?4")
            .bind(r.locale.as_str())
            .bind(r.timezone.name())
            .bind(micros(now))
            .bind(r.id.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db("replacing a recipient"))?
            .rows_affected()
            > 0;
    if replaced {
        sqlx::query("DELETE FROM recipient_contacts WHERE recipient_id = ?1")
            .bind(r.id.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db("replacing a recipient's contacts"))?;
    } else {
        sqlx::query(
            "INSERT INTO recipients (id, locale, timezone, preferences, created_at, updated_at) \
             VALUES (?1, ?2, ?3, NULL, ?4, ?4)",
        )
        .bind(r.id.as_str())
        .bind(r.locale.as_str())
        .bind(r.timezone.name())
        .bind(micros(now))
        .execute(&mut *conn)
        .await
        .map_err(db("creating a recipient"))?;
    }
    if !r.contacts.is_empty() {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO recipient_contacts (recipient_id, channel, address, position) ",
        );
        insert.push_values(r.contacts.iter().enumerate(), |mut row, (position, c)| {
            row.push_bind(r.id.as_str().to_owned())
                .push_bind(c.channel.as_str())
                .push_bind(c.address.as_ref().map(|a| a.as_str().to_owned()))
                .push_bind(int(position));
        });
        insert.build().execute(&mut *conn).await.map_err(db("writing a recipient's contacts"))?;
    }
    Ok(Done::keep(if replaced { PutOutcome::Replaced } else { PutOutcome::Created }))
}

/// Erases the recipient: profile, contacts (cascade), preferences and devices go; its
/// deliveries stay with masked targets, and those still PENDING are cancelled (nothing is sent
/// to an erased person).
async fn erase_in(
    conn: &mut SqliteConnection,
    id: RecipientId,
    now: DateTime<Utc>,
) -> Result<Done<bool>, PortError> {
    let deleted = sqlx::query("DELETE FROM recipients WHERE id = ?1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db("erasing a recipient"))?
        .rows_affected();
    if deleted == 0 {
        return Ok(Done::keep(false));
    }
    sqlx::query("DELETE FROM devices WHERE recipient_id = ?1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db("erasing a recipient's devices"))?;
    // The masked form comes from the domain's Target::masked, computed here and applied in one
    // UPDATE through a JSON object {delivery id: masked}.
    let rows: Vec<DeliveryRow> = sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries WHERE recipient_id = ?1 AND target_kind <> 'ERASED'"
    ))
    .bind(id.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading a recipient's deliveries"))?;
    let mut masked = serde_json::Map::new();
    for row in rows {
        let key = row.id.clone();
        let record = row.into_record(Vec::new())?;
        masked.insert(key, serde_json::Value::String(record.target.masked()));
    }
    sqlx::query(
        "UPDATE deliveries SET target_kind = 'ERASED', target_address = NULL, target_device_id = NULL, \
         target_token = NULL, target_masked = (SELECT value FROM json_each(?1) WHERE key = deliveries.id) \
         WHERE id IN (SELECT key FROM json_each(?1))",
    )
    .bind(serde_json::Value::Object(masked).to_string())
    .execute(&mut *conn)
    .await
    .map_err(db("masking a recipient's deliveries"))?;
    sqlx::query(
        "UPDATE deliveries SET status = CASE WHEN status = 'PENDING' THEN 'CANCELLED' ELSE status END, \
         updated_at = ?1 WHERE recipient_id = ?2",
    )
    .bind(micros(now))
    .bind(id.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db("cancelling a recipient's deliveries"))?;
    Ok(Done::keep(true))
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
        let none = Preferences::new(BTreeMap::new(), None).unwrap();
        assert_eq!(decode_preferences(&encode_preferences(&none).unwrap()).unwrap(), none);
    }

    #[test]
    fn a_corrupt_preference_document_is_an_error_not_a_panic() {
        for bad in [
            "{",
            r#"{"kinds":{},"quietHours":{"start":"25:00","end":"08:00"}}"#,
            r#"{"kinds":{"SECURITY":{"allowed":false,"channels":[]}},"quietHours":null}"#,
        ] {
            assert!(matches!(decode_preferences(bad), Err(PortError::Unexpected(_))), "{bad}");
        }
    }
}
