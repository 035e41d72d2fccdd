//! Templates: register, search, read, new version, delete, versions (SPEC §5.3).

use hub_domain::template::{self, TemplateError, TemplateKey};
use hub_domain::{Channel, Locale, TemplateId};

use crate::App;
use crate::error::{ErrorCode, PortError};
use crate::ports::{TemplateFilter, TemplateRecord, TemplateVersion};

/// Largest page of a template search.
pub const MAX_TEMPLATE_SEARCH: usize = 200;

/// `POST /api/v1/templates`.
#[derive(Debug, Clone)]
pub struct CreateTemplate {
    /// Dotted key.
    pub key: String,
    /// Locale.
    pub locale: String,
    /// Channel.
    pub channel: Channel,
    /// Title source.
    pub title: Option<String>,
    /// Body source.
    pub body: String,
}

/// Errors of the template use cases.
#[derive(Debug, thiserror::Error)]
pub enum TemplateUseCaseError {
    /// A field is invalid (400).
    #[error("{field}: {message}")]
    Validation {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// `(key, locale, channel)` exists (409).
    #[error("a template with this key, locale and channel already exists")]
    Exists,
    /// Unknown template (404).
    #[error("template {0} does not exist")]
    NotFound(TemplateId),
    /// A port failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl TemplateUseCaseError {
    /// The error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            TemplateUseCaseError::Validation { .. } => ErrorCode::ValidationFailed,
            TemplateUseCaseError::Exists => ErrorCode::TemplateExists,
            TemplateUseCaseError::NotFound(_) => ErrorCode::TemplateNotFound,
            TemplateUseCaseError::Port(e) => e.code(),
        }
    }
}

fn content_error(e: TemplateError) -> TemplateUseCaseError {
    let field = match &e {
        TemplateError::TooLong { field, .. } => field,
        _ => "body",
    };
    TemplateUseCaseError::Validation { field, message: e.to_string() }
}

fn validation(field: &'static str, message: impl ToString) -> TemplateUseCaseError {
    TemplateUseCaseError::Validation { field, message: message.to_string() }
}

impl App {
    /// Registers a template (version 1) after checking its syntax and channel limits.
    pub async fn create_template(&self, cmd: CreateTemplate) -> Result<TemplateRecord, TemplateUseCaseError> {
        let key = TemplateKey::parse(&cmd.key).map_err(|e| validation("key", e))?;
        let locale = Locale::parse(&cmd.locale).map_err(|e| validation("locale", e))?;
        template::validate_template(cmd.channel, cmd.title.as_deref(), &cmd.body).map_err(content_error)?;
        let now = self.now();
        let (ms, bits) = self.id_parts();
        let record = TemplateRecord {
            id: TemplateId::from_parts(ms, bits),
            key,
            locale,
            channel: cmd.channel,
            title: cmd.title,
            body: cmd.body,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        if self.deps.templates.create(&record).await? {
            Ok(record)
        } else {
            Err(TemplateUseCaseError::Exists)
        }
    }

    /// Searches templates by exact key, channel and locale.
    pub async fn search_templates(
        &self,
        key: Option<&str>,
        channel: Option<Channel>,
        locale: Option<&str>,
    ) -> Result<Vec<TemplateRecord>, TemplateUseCaseError> {
        let filter = TemplateFilter {
            key: key.map(TemplateKey::parse).transpose().map_err(|e| validation("key", e))?,
            channel,
            locale: locale.map(Locale::parse).transpose().map_err(|e| validation("locale", e))?,
        };
        Ok(self.deps.templates.search(&filter, MAX_TEMPLATE_SEARCH).await?)
    }

    /// The newest version of a template.
    pub async fn get_template(&self, id: TemplateId) -> Result<TemplateRecord, TemplateUseCaseError> {
        self.deps.templates.get(id).await?.ok_or(TemplateUseCaseError::NotFound(id))
    }

    /// Makes a new version; sends use the newest.
    pub async fn update_template(
        &self,
        id: TemplateId,
        title: Option<String>,
        body: String,
    ) -> Result<TemplateRecord, TemplateUseCaseError> {
        let current = self.get_template(id).await?;
        template::validate_template(current.channel, title.as_deref(), &body).map_err(content_error)?;
        self.deps
            .templates
            .update(id, title.as_deref(), &body, self.now())
            .await?
            .ok_or(TemplateUseCaseError::NotFound(id))
    }

    /// Deletes a template and its versions.
    pub async fn delete_template(&self, id: TemplateId) -> Result<(), TemplateUseCaseError> {
        if self.deps.templates.delete(id).await? { Ok(()) } else { Err(TemplateUseCaseError::NotFound(id)) }
    }

    /// Every version of a template, oldest first.
    pub async fn template_versions(
        &self,
        id: TemplateId,
    ) -> Result<Vec<TemplateVersion>, TemplateUseCaseError> {
        self.deps.templates.versions(id).await?.ok_or(TemplateUseCaseError::NotFound(id))
    }
}
