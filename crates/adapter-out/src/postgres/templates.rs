//! `TemplateStore`: templates at their newest version, plus the version history.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{TemplateFilter, TemplateRecord, TemplateStore, TemplateVersion};
use hub_domain::template::TemplateKey;
use hub_domain::{Channel, Locale, TemplateId};
use sqlx::{Postgres, QueryBuilder};

use super::errors::{corrupt, db};
use super::rows::{int, parse, unsigned};
use super::{PgStore, commit, rollback};

const TEMPLATES: &str = "templates";

/// The columns that make a [`TemplateRecord`].
macro_rules! template_columns {
    () => {
        "id, key, locale, channel, title, body, version, created_at, updated_at"
    };
}

/// Channels sort in their canonical order (PUSH, EMAIL, …), not alphabetically, as the domain
/// orders them.
static CHANNEL_ORDER: LazyLock<String> = LazyLock::new(|| {
    let arms: String =
        Channel::CANONICAL.iter().map(|c| format!(" WHEN '{}' THEN {}", c.as_str(), c.index())).collect();
    format!("CASE channel{arms} END")
});

#[derive(Debug, sqlx::FromRow)]
struct TemplateRow {
    id: String,
    key: String,
    locale: String,
    channel: String,
    title: Option<String>,
    body: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TemplateRow {
    fn into_record(self) -> Result<TemplateRecord, PortError> {
        const T: &str = TEMPLATES;
        Ok(TemplateRecord {
            id: parse(T, "id", &self.id)?,
            key: TemplateKey::parse(&self.key)
                .map_err(|e| corrupt(T, format_args!("{}: key: {e}", self.id)))?,
            locale: Locale::parse(&self.locale)
                .map_err(|e| corrupt(T, format_args!("{}: locale: {e}", self.id)))?,
            channel: parse(T, "channel", &self.channel)?,
            title: self.title,
            body: self.body,
            version: unsigned(T, "version", self.version)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[async_trait]
impl TemplateStore for PgStore {
    async fn create(&self, t: &TemplateRecord) -> Result<bool, PortError> {
        let mut tx = self.begin().await?;
        // templates_key_locale_channel_key decides (ON CONFLICT ON CONSTRAINT); a duplicate id
        // is still an error.
        let created = sqlx::query(concat!(
            "INSERT INTO templates (",
            template_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT ON CONSTRAINT templates_key_locale_channel_key DO NOTHING"
        ))
        .bind(t.id.to_string())
        .bind(t.key.as_str())
        .bind(t.locale.as_str())
        .bind(t.channel.as_str())
        .bind(t.title.as_deref())
        .bind(&t.body)
        .bind(i64::from(t.version))
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db("creating a template"))?
        .rows_affected()
            == 1;
        if !created {
            rollback(tx).await;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO template_versions (template_id, version, title, body, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(t.id.to_string())
        .bind(i64::from(t.version))
        .bind(t.title.as_deref())
        .bind(&t.body)
        .bind(t.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db("writing a template version"))?;
        commit(tx).await?;
        Ok(true)
    }

    async fn get(&self, id: TemplateId) -> Result<Option<TemplateRecord>, PortError> {
        let row: Option<TemplateRow> =
            sqlx::query_as(concat!("SELECT ", template_columns!(), " FROM templates WHERE id = $1"))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a template"))?;
        row.map(TemplateRow::into_record).transpose()
    }

    async fn search(&self, filter: &TemplateFilter, limit: usize) -> Result<Vec<TemplateRecord>, PortError> {
        let mut query = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            template_columns!(),
            " FROM templates WHERE TRUE"
        ));
        if let Some(key) = &filter.key {
            query.push(" AND key = ").push_bind(key.as_str().to_owned());
        }
        if let Some(channel) = filter.channel {
            query.push(" AND channel = ").push_bind(channel.as_str());
        }
        if let Some(locale) = &filter.locale {
            query.push(" AND locale = ").push_bind(locale.as_str().to_owned());
        }
        query
            .push(" ORDER BY key, locale, ")
            .push(CHANNEL_ORDER.as_str())
            .push(" LIMIT ")
            .push_bind(int(limit));
        let rows: Vec<TemplateRow> =
            query.build_query_as().fetch_all(&self.pool).await.map_err(db("searching templates"))?;
        rows.into_iter().map(TemplateRow::into_record).collect()
    }

    async fn update(
        &self,
        id: TemplateId,
        title: Option<&str>,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TemplateRecord>, PortError> {
        let mut tx = self.begin().await?;
        // The row lock of the UPDATE orders concurrent updates: each gets its own version.
        let row: Option<TemplateRow> = sqlx::query_as(concat!(
            "UPDATE templates SET version = version + 1, title = $1, body = $2, updated_at = $3 \
             WHERE id = $4 RETURNING ",
            template_columns!()
        ))
        .bind(title)
        .bind(body)
        .bind(now)
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("updating a template"))?;
        let Some(row) = row else {
            rollback(tx).await;
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO template_versions (template_id, version, title, body, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.to_string())
        .bind(row.version)
        .bind(title)
        .bind(body)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("writing a template version"))?;
        commit(tx).await?;
        Ok(Some(row.into_record()?))
    }

    async fn delete(&self, id: TemplateId) -> Result<bool, PortError> {
        // The versions go with it (ON DELETE CASCADE).
        let n = sqlx::query("DELETE FROM templates WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("deleting a template"))?
            .rows_affected();
        Ok(n > 0)
    }

    async fn versions(&self, id: TemplateId) -> Result<Option<Vec<TemplateVersion>>, PortError> {
        let mut tx = self.read().await?;
        let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM templates WHERE id = $1)")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(db("reading a template"))?;
        if !known {
            rollback(tx).await;
            return Ok(None);
        }
        let rows: Vec<(i64, Option<String>, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT version, title, body, created_at FROM template_versions WHERE template_id = $1 \
             ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading template versions"))?;
        commit(tx).await?;
        rows.into_iter()
            .map(|(version, title, body, created_at)| {
                Ok(TemplateVersion {
                    version: unsigned("template_versions", "version", version)?,
                    title,
                    body,
                    created_at,
                })
            })
            .collect::<Result<Vec<_>, PortError>>()
            .map(Some)
    }

    async fn find(
        &self,
        key: &TemplateKey,
        locale: &Locale,
        channel: Channel,
    ) -> Result<Option<TemplateRecord>, PortError> {
        let row: Option<TemplateRow> = sqlx::query_as(concat!(
            "SELECT ",
            template_columns!(),
            " FROM templates WHERE key = $1 AND locale = $2 AND channel = $3"
        ))
        .bind(key.as_str())
        .bind(locale.as_str())
        .bind(channel.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("finding a template"))?;
        row.map(TemplateRow::into_record).transpose()
    }
}
