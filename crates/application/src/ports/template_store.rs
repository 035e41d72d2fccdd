use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::template::TemplateKey;
use hub_domain::{Channel, Locale, TemplateId};

use crate::error::PortError;

/// A template at its newest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRecord {
    /// Stable id across versions.
    pub id: TemplateId,
    /// Dotted key (`order.shipped`).
    pub key: TemplateKey,
    /// Locale.
    pub locale: Locale,
    /// Channel.
    pub channel: Channel,
    /// Title source (Mustache).
    pub title: Option<String>,
    /// Body source (Mustache).
    pub body: String,
    /// Version number, 1 for the first.
    pub version: u32,
    /// Creation of version 1.
    pub created_at: DateTime<Utc>,
    /// Creation of this version.
    pub updated_at: DateTime<Utc>,
}

/// One historical version of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersion {
    /// Version number.
    pub version: u32,
    /// Title source.
    pub title: Option<String>,
    /// Body source.
    pub body: String,
    /// When the version was made.
    pub created_at: DateTime<Utc>,
}

/// Template search filters; `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateFilter {
    /// Exact key.
    pub key: Option<TemplateKey>,
    /// Exact channel.
    pub channel: Option<Channel>,
    /// Exact locale.
    pub locale: Option<Locale>,
}

/// Templates and their versions.
#[async_trait]
pub trait TemplateStore: Send + Sync + std::fmt::Debug {
    /// Stores a new template (version 1). `Ok(false)` when `(key, locale, channel)` already
    /// exists (unique constraint `templates_key_locale_channel_key`), nothing written.
    async fn create(&self, template: &TemplateRecord) -> Result<bool, PortError>;

    /// The newest version; `Ok(None)` when unknown or deleted.
    async fn get(&self, id: TemplateId) -> Result<Option<TemplateRecord>, PortError>;

    /// Templates matching the filter, ordered by key, locale, channel; at most `limit`.
    async fn search(&self, filter: &TemplateFilter, limit: usize) -> Result<Vec<TemplateRecord>, PortError>;

    /// Makes a new version with this title/body (version + 1, `updated_at = now`) and returns
    /// it; `Ok(None)` when unknown.
    async fn update(
        &self,
        id: TemplateId,
        title: Option<&str>,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TemplateRecord>, PortError>;

    /// Deletes the template and its versions; `false` when unknown.
    async fn delete(&self, id: TemplateId) -> Result<bool, PortError>;

    /// All versions, oldest first; `Ok(None)` when unknown.
    async fn versions(&self, id: TemplateId) -> Result<Option<Vec<TemplateVersion>>, PortError>;

    /// The newest version for exactly `(key, locale, channel)`; `Ok(None)` when absent.
    async fn find(
        &self,
        key: &TemplateKey,
        locale: &Locale,
        channel: Channel,
    ) -> Result<Option<TemplateRecord>, PortError>;
}
