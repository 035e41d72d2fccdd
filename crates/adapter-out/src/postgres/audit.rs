//! `AuditLog`: the append-only audit trail (triggers refuse UPDATE, DELETE and TRUNCATE).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::error::PortError;
use hub_application::ports::{AuditEntry, AuditFilter, AuditLog};
use hub_domain::AuditId;
use sqlx::{Postgres, QueryBuilder};

use super::PgStore;
use super::errors::{corrupt, db};
use super::rows::{int, parse};

const AUDIT: &str = "audit_log";

#[derive(Debug, sqlx::FromRow)]
struct AuditRow {
    id: String,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    target: Option<String>,
    filter: Option<String>,
    counts: Option<String>,
    outcome: String,
}

fn json_column(id: &str, column: &str, text: Option<&str>) -> Result<Option<serde_json::Value>, PortError> {
    text.map(serde_json::from_str)
        .transpose()
        .map_err(|e| corrupt(AUDIT, format_args!("{id}: {column}: {e}")))
}

impl AuditRow {
    fn into_entry(self) -> Result<AuditEntry, PortError> {
        Ok(AuditEntry {
            filter: json_column(&self.id, "filter", self.filter.as_deref())?,
            counts: json_column(&self.id, "counts", self.counts.as_deref())?,
            id: parse(AUDIT, "id", &self.id)?,
            at: self.at,
            actor: self.actor,
            action: parse(AUDIT, "action", &self.action)?,
            target: self.target,
            outcome: self.outcome,
        })
    }
}

#[async_trait]
impl AuditLog for PgStore {
    async fn record(&self, entry: AuditEntry) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor, action, target, filter, counts, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)",
        )
        .bind(entry.id.to_string())
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(entry.action.as_str())
        .bind(entry.target.as_deref())
        .bind(entry.filter.as_ref().map(|v| v.to_string()))
        .bind(entry.counts.as_ref().map(|v| v.to_string()))
        .bind(&entry.outcome)
        .execute(&self.pool)
        .await
        .map_err(db("recording an audit entry"))?;
        Ok(())
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        after: Option<(DateTime<Utc>, AuditId)>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, PortError> {
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT id, at, actor, action, target, filter::text AS filter, counts::text AS counts, outcome \
             FROM audit_log WHERE TRUE",
        );
        if let Some(action) = filter.action {
            query.push(" AND action = ").push_bind(action.as_str());
        }
        if let Some(from) = filter.from {
            query.push(" AND at >= ").push_bind(from);
        }
        if let Some(to) = filter.to {
            query.push(" AND at < ").push_bind(to);
        }
        if let Some((at, id)) = after {
            query.push(" AND (at, id) < (").push_bind(at).push(", ").push_bind(id.to_string()).push(")");
        }
        query.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(int(limit));
        let rows: Vec<AuditRow> =
            query.build_query_as().fetch_all(&self.pool).await.map_err(db("listing the audit trail"))?;
        rows.into_iter().map(AuditRow::into_entry).collect()
    }
}
