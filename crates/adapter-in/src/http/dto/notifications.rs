//! `POST /api/v1/notifications` request and the listing's query (SPEC §5.1).

use chrono::{DateTime, Utc};
use hub_application::ports::NotificationFilter;
use hub_application::use_cases::notifications::ListNotifications;
use hub_application::use_cases::send::{Content, SendCommand};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::template::{Payload, PayloadValue, TemplateKey};
use hub_domain::{ChannelSet, Kind, NotificationStatus, RecipientId};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::enums as wire;
use super::formats;
use crate::http::error::ApiError;
use crate::http::extract::param;

/// A send: literal `title`/`body` or a `templateKey` with its `payload`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SendNotificationRequest {
    /// The recipient's id (1–128 characters).
    #[schema(value_type = formats::RecipientId)]
    recipient_id: String,
    /// What the notification is about.
    kind: wire::Kind,
    /// Literal title (≤ 200 characters); only with `body`.
    #[schema(max_length = 200)]
    title: Option<String>,
    /// Literal body (≤ 4000 characters); exactly one of `body` and `templateKey`.
    #[schema(max_length = 4000)]
    body: Option<String>,
    /// Template key (`order.shipped`); exactly one of `body` and `templateKey`.
    #[schema(value_type = Option<formats::TemplateKey>)]
    template_key: Option<String>,
    /// Template variables: strings, numbers and booleans; only with `templateKey`.
    #[schema(value_type = Option<HashMap<String, PayloadScalar>>)]
    payload: Option<Map<String, Value>>,
    /// Restrict to these channels (at least one when given).
    #[schema(min_items = 1)]
    channels: Option<Vec<wire::Channel>>,
    /// Not before this instant (RFC 3339).
    send_at: Option<DateTime<Utc>>,
    /// Drop deliveries that could not go out before this instant (RFC 3339).
    expires_at: Option<DateTime<Utc>>,
    /// Dispatch priority (default NORMAL).
    priority: Option<wire::Priority>,
    /// Caller's object (≤ 4 KiB serialized), echoed back.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Map<String, Value>>,
}

/// One template variable value (schema only).
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Only describes the payload in the OpenAPI document.
pub(crate) enum PayloadScalar {
    /// A string.
    String(String),
    /// A number, rendered as written.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

impl SendNotificationRequest {
    /// The use-case command; shape errors (body vs template, payload values) are 400 here,
    /// the limits are checked by the use case.
    pub(crate) fn try_into_command(
        self,
        scope: &str,
        key: IdempotencyKey,
        fingerprint: Fingerprint,
    ) -> Result<SendCommand, ApiError> {
        let recipient_id =
            RecipientId::parse(&self.recipient_id).map_err(|e| ApiError::validation("recipientId", e))?;
        let content = match (self.body, self.template_key) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation("templateKey", "give either body or templateKey, not both"));
            }
            (None, None) => return Err(ApiError::validation("body", "give either body or templateKey")),
            (Some(body), None) => {
                if self.payload.is_some() {
                    return Err(ApiError::validation("payload", "payload is only allowed with templateKey"));
                }
                Content::Direct { title: self.title, body }
            }
            (None, Some(key)) => {
                if self.title.is_some() {
                    return Err(ApiError::validation("title", "title is only allowed with body"));
                }
                let key = TemplateKey::parse(&key).map_err(|e| ApiError::validation("templateKey", e))?;
                Content::Template { key, payload: payload(self.payload.unwrap_or_default())? }
            }
        };
        Ok(SendCommand {
            scope: scope.to_owned(),
            idempotency_key: key,
            fingerprint,
            recipient_id,
            kind: Kind::from(self.kind),
            content,
            channels: self
                .channels
                .map(|list| list.into_iter().map(hub_domain::Channel::from).collect::<ChannelSet>()),
            send_at: self.send_at,
            expires_at: self.expires_at,
            priority: self.priority.map(Into::into).unwrap_or_default(),
            metadata: self.metadata,
        })
    }
}

fn payload(values: Map<String, Value>) -> Result<Payload, ApiError> {
    values
        .into_iter()
        .map(|(name, value)| match PayloadValue::from_json(&value) {
            Some(v) => Ok((name, v)),
            None => {
                Err(ApiError::validation(format!("payload.{name}"), "must be a string, number or boolean"))
            }
        })
        .collect()
}

/// `GET /api/v1/notifications` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListNotificationsQuery {
    /// Only this recipient's notifications.
    #[param(value_type = Option<formats::RecipientId>)]
    recipient_id: Option<String>,
    /// Only this kind.
    #[param(value_type = Option<wire::Kind>)]
    kind: Option<String>,
    /// Only this derived status.
    #[param(value_type = Option<wire::NotificationStatus>)]
    status: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Created before (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

impl ListNotificationsQuery {
    /// The use-case query.
    pub(crate) fn try_into_query(self) -> Result<ListNotifications, ApiError> {
        let recipient_id = self
            .recipient_id
            .map(|id| RecipientId::parse(&id).map_err(|e| ApiError::validation("recipientId", e)))
            .transpose()?;
        Ok(ListNotifications {
            filter: NotificationFilter {
                recipient_id,
                kind: param::<Kind>("kind", self.kind)?,
                from: timestamp("from", self.from)?,
                to: timestamp("to", self.to)?,
            },
            status: param::<NotificationStatus>("status", self.status)?,
            cursor: self.cursor,
            limit: param::<usize>("limit", self.limit)?,
        })
    }
}

fn timestamp(name: &str, raw: Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|text| {
        DateTime::parse_from_rfc3339(&text).map(|t| t.to_utc()).map_err(|_| {
            ApiError::validation(name, "must be an RFC 3339 timestamp such as 2026-01-15T03:00:00Z")
        })
    })
    .transpose()
}
