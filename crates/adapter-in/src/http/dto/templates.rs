//! Templates (SPEC §5.3).

use chrono::{DateTime, Utc};
use hub_application::ports::{TemplateRecord, TemplateVersion};
use hub_application::use_cases::templates::CreateTemplate;
use hub_domain::TemplateId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::enums as wire;
use super::formats;

/// `POST /api/v1/templates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateTemplateRequest {
    /// Dotted key, `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`.
    #[schema(value_type = formats::TemplateKey)]
    key: String,
    /// BCP-47 locale.
    #[schema(value_type = formats::Locale)]
    locale: String,
    /// The channel it renders for.
    channel: wire::Channel,
    /// Title source (Mustache).
    title: Option<String>,
    /// Body source (Mustache).
    #[schema(example = "Order {{orderId}} has shipped")]
    body: String,
}

impl CreateTemplateRequest {
    /// The use-case command.
    pub(crate) fn into_command(self) -> CreateTemplate {
        CreateTemplate {
            key: self.key,
            locale: self.locale,
            channel: self.channel.into(),
            title: self.title,
            body: self.body,
        }
    }
}

/// `PUT /api/v1/templates/{id}`: a new version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateTemplateRequest {
    /// Title source (Mustache).
    pub(crate) title: Option<String>,
    /// Body source (Mustache).
    pub(crate) body: String,
}

/// A template at its newest version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Template)]
pub(crate) struct TemplateDto {
    /// Its id (`tpl_…`), stable across versions.
    template_id: String,
    /// Dotted key.
    key: String,
    /// Locale.
    locale: String,
    /// Channel.
    channel: wire::Channel,
    /// Title source, or null.
    title: Option<String>,
    /// Body source.
    body: String,
    /// Version number, 1 for the first.
    version: u32,
    /// Creation of version 1.
    created_at: DateTime<Utc>,
    /// Creation of this version.
    updated_at: DateTime<Utc>,
}

impl From<&TemplateRecord> for TemplateDto {
    fn from(t: &TemplateRecord) -> Self {
        TemplateDto {
            template_id: t.id.to_string(),
            key: t.key.to_string(),
            locale: t.locale.to_string(),
            channel: t.channel.into(),
            title: t.title.clone(),
            body: t.body.clone(),
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// Search results, ordered by key, locale and channel.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TemplateList)]
pub(crate) struct TemplateListDto {
    /// The templates (at most 200).
    items: Vec<TemplateDto>,
}

impl TemplateListDto {
    /// Wraps a list.
    pub(crate) fn new(templates: &[TemplateRecord]) -> Self {
        TemplateListDto { items: templates.iter().map(Into::into).collect() }
    }
}

/// One historical version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TemplateVersion)]
pub(crate) struct TemplateVersionDto {
    /// Version number.
    version: u32,
    /// Title source, or null.
    title: Option<String>,
    /// Body source.
    body: String,
    /// When it was made.
    created_at: DateTime<Utc>,
}

/// Every version of a template, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TemplateVersions)]
pub(crate) struct TemplateVersionsDto {
    /// The template.
    template_id: String,
    /// Its versions.
    items: Vec<TemplateVersionDto>,
}

impl TemplateVersionsDto {
    /// Builds the list.
    pub(crate) fn new(id: TemplateId, versions: &[TemplateVersion]) -> Self {
        TemplateVersionsDto {
            template_id: id.to_string(),
            items: versions
                .iter()
                .map(|v| TemplateVersionDto {
                    version: v.version,
                    title: v.title.clone(),
                    body: v.body.clone(),
                    created_at: v.created_at,
                })
                .collect(),
        }
    }
}

/// `GET /api/v1/templates` parameters (exact matches).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchTemplatesQuery {
    /// Only this key.
    #[param(value_type = Option<formats::TemplateKey>)]
    pub(crate) key: Option<String>,
    /// Only this channel.
    #[param(value_type = Option<wire::Channel>)]
    pub(crate) channel: Option<String>,
    /// Only this locale.
    #[param(value_type = Option<formats::Locale>)]
    pub(crate) locale: Option<String>,
}
