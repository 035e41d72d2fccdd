//! `POST /api/v1/notifications` (SPEC §5.1): idempotency reservation → resolve → render →
//! rate limit → atomic accept → stored outcome for replay.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hub_domain::delivery::DeliveryState;
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::rate_limit::BucketPolicy;
use hub_domain::resolver::{Decision, Outcome, Reason, ResolveRequest, resolve};
use hub_domain::status::NotificationStatus;
use hub_domain::template::{self, Payload, RenderedContent, TemplateError, TemplateKey};
use hub_domain::{Channel, ChannelSet, DeliveryId, EventId, Kind, NotificationId, Priority, RecipientId};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::{ErrorCode, PortError};
use crate::ports::{
    AcceptKey, AcceptOutcome, Completion, DeliveryRecord, MetricEvent, NewNotification, NotificationRecord,
    OutboxEvent, RateDecision, RecipientRecord, ReplaySource, Reservation, SendVerdict, SkippedChannel,
    StoredResponse,
};
use crate::use_cases::notifications::derive;

/// Maximum title length of a direct send.
pub const MAX_TITLE_CHARS: usize = 200;
/// Maximum body length of a direct send.
pub const MAX_BODY_CHARS: usize = 4000;
/// Maximum serialized size of `metadata`.
pub const MAX_METADATA_BYTES: usize = 4096;

/// What to send: literal text or a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Literal title and body, used on every channel.
    Direct {
        /// Title (≤ 200 chars).
        title: Option<String>,
        /// Body (≤ 4000 chars).
        body: String,
    },
    /// A template per channel, rendered with the payload.
    Template {
        /// Template key.
        key: TemplateKey,
        /// Variables.
        payload: Payload,
    },
}

/// A caller's send request, already parsed from its DTO.
#[derive(Debug, Clone)]
pub struct SendCommand {
    /// Caller scope of the idempotency key.
    pub scope: String,
    /// The `Idempotency-Key`.
    pub idempotency_key: IdempotencyKey,
    /// Fingerprint of the request body.
    pub fingerprint: Fingerprint,
    /// Who.
    pub recipient_id: RecipientId,
    /// What kind.
    pub kind: Kind,
    /// What.
    pub content: Content,
    /// Restrict to these channels.
    pub channels: Option<ChannelSet>,
    /// Not before.
    pub send_at: Option<DateTime<Utc>>,
    /// Drop deliveries that could not go out before.
    pub expires_at: Option<DateTime<Utc>>,
    /// Lane.
    pub priority: Priority,
    /// Echoed metadata.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One delivery in the accept answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptDelivery {
    /// Its id.
    pub delivery_id: DeliveryId,
    /// Channel.
    pub channel: Channel,
    /// Masked address.
    pub address: String,
    /// Status (PENDING at accept).
    pub status: hub_domain::delivery::DeliveryStatus,
    /// Earliest dispatch.
    pub not_before: DateTime<Utc>,
    /// Why it was deferred, if it was.
    pub reason: Option<Reason>,
}

/// The answer to an accepted (202) or suppressed (200) send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendReceipt {
    /// The notification.
    pub notification_id: NotificationId,
    /// Derived status at accept time.
    pub status: NotificationStatus,
    /// Deliveries created.
    pub deliveries: Vec<ReceiptDelivery>,
    /// Channels skipped, with reasons.
    pub skipped: Vec<SkippedChannel>,
    /// Why nothing is sent, when suppressed.
    pub suppression_reason: Option<Reason>,
}

/// A business rejection that is stored with the key and replayed like a success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    /// Stable code (RECIPIENT_NOT_FOUND, TEMPLATE_NOT_FOUND, TEMPLATE_VARIABLE_MISSING, VALIDATION_FAILED).
    pub code: ErrorCode,
    /// Human-readable detail.
    pub detail: String,
    /// The missing template variable, for TEMPLATE_VARIABLE_MISSING.
    pub variable: Option<String>,
}

/// The outcome stored under the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SendOutcome {
    /// 202: deliveries were created.
    Accepted(SendReceipt),
    /// 200: every channel was skipped.
    Suppressed(SendReceipt),
    /// 4xx: rejected after the request started executing.
    Rejected(Rejection),
}

/// A send's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// What happened.
    pub outcome: SendOutcome,
    /// `true` when this is the stored outcome of an earlier request with the same key.
    pub replayed: bool,
}

/// Failures of a send that are NOT stored with the key (the caller may retry with it).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request is invalid (400 VALIDATION_FAILED); nothing was reserved.
    #[error("{0}")]
    Validation(String),
    /// The same key is being processed (409, `Retry-After: 1`).
    #[error("a request with this Idempotency-Key is still in flight")]
    InFlight,
    /// The key was used with a different body (422).
    #[error("this Idempotency-Key was used with a different request body")]
    KeyReused,
    /// A bucket is empty (429); nothing was consumed and the key was released.
    #[error("rate limit exceeded for channel {channel}")]
    RateLimited {
        /// The binding channel.
        channel: Channel,
        /// Its policy.
        policy: BucketPolicy,
        /// Until one token is back.
        retry_after: Duration,
    },
    /// A store, cache or limiter failed; the key was released.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl SendError {
    /// The error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            SendError::Validation(_) => ErrorCode::ValidationFailed,
            SendError::InFlight => ErrorCode::IdempotencyInFlight,
            SendError::KeyReused => ErrorCode::IdempotencyKeyReused,
            SendError::RateLimited { .. } => ErrorCode::RateLimited,
            SendError::Port(e) => e.code(),
        }
    }
}

/// A storable outcome, and whether it repeats a notification the store already had under the
/// key (the idempotency store had lost it).
#[derive(Debug)]
struct Settled {
    outcome: SendOutcome,
    from_store: bool,
}

impl From<SendOutcome> for Settled {
    fn from(outcome: SendOutcome) -> Self {
        Settled { outcome, from_store: false }
    }
}

/// Internal: the inner run either produces a storable outcome or a non-storable error.
type Inner = Result<Settled, SendError>;

impl SendCommand {
    fn validate(&self) -> Result<(), SendError> {
        // No store keeps NUL in text (PostgreSQL refuses it): refuse it up front on every
        // backend, rather than accept on SQLite and fail on PostgreSQL.
        let nul = |field: &str| SendError::Validation(format!("{field}: NUL characters are not allowed"));
        match &self.content {
            Content::Direct { title, body } => {
                if title.as_deref().is_some_and(|t| t.contains('\0')) {
                    return Err(nul("title"));
                }
                if body.contains('\0') {
                    return Err(nul("body"));
                }
            }
            Content::Template { payload, .. } => {
                let has_nul = |s: &str| s.contains('\0');
                if payload.iter().any(|(k, v)| {
                    has_nul(k) || matches!(v, hub_domain::template::PayloadValue::String(s) if has_nul(s))
                }) {
                    return Err(nul("payload"));
                }
            }
        }
        if let Content::Direct { title, body } = &self.content {
            if title.as_ref().is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS) {
                return Err(SendError::Validation(format!("title: at most {MAX_TITLE_CHARS} characters")));
            }
            if body.trim().is_empty() {
                return Err(SendError::Validation("body: must not be blank".into()));
            }
            if body.chars().count() > MAX_BODY_CHARS {
                return Err(SendError::Validation(format!("body: at most {MAX_BODY_CHARS} characters")));
            }
        }
        if let Some(meta) = &self.metadata {
            let size = serde_json::to_vec(meta).map(|v| v.len()).unwrap_or(usize::MAX);
            if size > MAX_METADATA_BYTES {
                return Err(SendError::Validation(format!("metadata: at most {MAX_METADATA_BYTES} bytes")));
            }
        }
        if self.channels.is_some_and(|c| c.is_empty()) {
            return Err(SendError::Validation("channels: must name at least one channel when given".into()));
        }
        if let (Some(send_at), Some(expires_at)) = (self.send_at, self.expires_at) {
            if expires_at <= send_at {
                return Err(SendError::Validation("expiresAt: must be after sendAt".into()));
            }
        }
        Ok(())
    }
}

fn rejection(code: ErrorCode, detail: impl Into<String>) -> SendOutcome {
    SendOutcome::Rejected(Rejection { code, detail: detail.into(), variable: None })
}

impl App {
    /// Accepts a notification exactly once per `(scope, Idempotency-Key)`.
    pub async fn send(&self, cmd: SendCommand) -> Result<SendResult, SendError> {
        let kind = cmd.kind;
        let mut replayed_from = None;
        let result = self.send_once(cmd, &mut replayed_from).await;
        self.record_send(kind, &result, replayed_from);
        result
    }

    /// Counts a send by kind and verdict, and its replay or rate-limit denial.
    fn record_send(
        &self,
        kind: Kind,
        result: &Result<SendResult, SendError>,
        replayed_from: Option<ReplaySource>,
    ) {
        let verdict = match (result, replayed_from) {
            (Ok(_), Some(source)) => {
                self.record(MetricEvent::IdempotentReplay { source });
                SendVerdict::Replayed
            }
            (Ok(result), None) => match &result.outcome {
                SendOutcome::Accepted(_) => SendVerdict::Accepted,
                SendOutcome::Suppressed(_) => SendVerdict::Suppressed,
                SendOutcome::Rejected(rejection) => SendVerdict::for_code(rejection.code),
            },
            (Err(error), _) => {
                if let SendError::RateLimited { channel, .. } = error {
                    self.record(MetricEvent::RateLimitDenied { channel: *channel });
                }
                SendVerdict::for_code(error.code())
            }
        };
        self.record(MetricEvent::NotificationSend { kind, verdict });
    }

    /// [`App::send`]; `replayed_from` says where a replayed answer came from.
    async fn send_once(
        &self,
        cmd: SendCommand,
        replayed_from: &mut Option<ReplaySource>,
    ) -> Result<SendResult, SendError> {
        cmd.validate()?;
        let now = self.now();
        let reservation = self
            .deps
            .idempotency
            .reserve(
                &cmd.scope,
                &cmd.idempotency_key,
                &cmd.fingerprint,
                now,
                self.settings.idempotency_in_flight_ttl,
            )
            .await?;
        let token = match reservation {
            Reservation::Reserved { token } => token,
            Reservation::InFlight { fingerprint } => {
                return Err(if fingerprint == cmd.fingerprint {
                    SendError::InFlight
                } else {
                    SendError::KeyReused
                });
            }
            Reservation::Completed(stored) => {
                let answer = replay(&stored, &cmd.fingerprint);
                if answer.is_ok() {
                    *replayed_from = Some(ReplaySource::Cache);
                }
                return answer;
            }
        };
        let result = self.run_send(&cmd, now).await;
        match result {
            Ok(Settled { outcome, from_store }) => {
                if from_store {
                    *replayed_from = Some(ReplaySource::Store);
                }
                let body = serde_json::to_string(&outcome).map_err(|e| PortError::Unexpected(e.into()))?;
                let stored = StoredResponse { fingerprint: cmd.fingerprint, body };
                // The retention and the holder check count from the moment of completion.
                let completed = self
                    .deps
                    .idempotency
                    .complete(
                        &cmd.scope,
                        &cmd.idempotency_key,
                        token,
                        stored,
                        self.now(),
                        self.settings.idempotency_retention,
                    )
                    .await;
                // Either way the notification is committed; the store's unique key still
                // prevents a duplicate if the caller retries without a stored outcome.
                match completed {
                    Ok(Completion::Stored) => {}
                    Ok(Completion::Lost) => tracing::warn!(
                        "the idempotency reservation expired before the outcome was stored; no replay"
                    ),
                    Err(e) => tracing::warn!(error = %e, "could not store the idempotent outcome"),
                }
                Ok(SendResult { outcome, replayed: false })
            }
            Err(error) => {
                if let Err(e) = self.deps.idempotency.release(&cmd.scope, &cmd.idempotency_key, token).await {
                    tracing::warn!(error = %e, "could not release the idempotency key");
                }
                Err(error)
            }
        }
    }

    async fn run_send(&self, cmd: &SendCommand, now: DateTime<Utc>) -> Inner {
        let Some(record) = self.deps.recipients.get(&cmd.recipient_id).await? else {
            return Ok(rejection(
                ErrorCode::RecipientNotFound,
                format!("recipient {} does not exist", cmd.recipient_id),
            )
            .into());
        };
        let preferences = record.preferences.clone().unwrap_or_default();
        let resolution = resolve(
            &ResolveRequest {
                kind: cmd.kind,
                requested: cmd.channels,
                recipient: &record.recipient,
                preferences: &preferences,
                now,
                send_at: cmd.send_at,
                expires_at: cmd.expires_at,
            },
            &self.settings.resolver,
        );
        let notification_id = {
            let (ms, bits) = self.id_parts();
            NotificationId::from_parts(ms, bits)
        };
        let skipped: Vec<SkippedChannel> = resolution
            .skipped()
            .map(|d| SkippedChannel {
                channel: d.channel,
                reason: match d.outcome {
                    Outcome::Skip(reason) => reason,
                    _ => Reason::ChannelNotAllowed,
                },
            })
            .collect();
        let notification = NotificationRecord {
            id: notification_id,
            recipient_id: cmd.recipient_id.clone(),
            kind: cmd.kind,
            priority: cmd.priority,
            created_at: now,
            metadata: cmd.metadata.clone(),
            expires_at: cmd.expires_at,
            skipped: skipped.clone(),
        };
        let key = AcceptKey {
            scope: cmd.scope.clone(),
            key: cmd.idempotency_key.clone(),
            fingerprint: cmd.fingerprint,
        };

        if resolution.is_suppressed() {
            let new =
                NewNotification { key: Some(key), notification, deliveries: Vec::new(), outbox: Vec::new() };
            return self.commit(new, cmd, now, resolution.suppression_reason()).await;
        }

        let decisions: Vec<&Decision> = resolution.deliveries().collect();
        let rendered = match self.render_all(cmd, &record, &decisions).await? {
            Ok(rendered) => rendered,
            Err(outcome) => return Ok(outcome.into()),
        };

        let channels: Vec<(Channel, BucketPolicy)> =
            resolution.channels_to_send().iter().map(|c| (c, self.settings.rate_limits.policy(c))).collect();
        if let RateDecision::Denied { channel, policy, retry_after } =
            self.deps.rate_limiter.acquire(&cmd.recipient_id, &channels, now).await?
        {
            return Err(SendError::RateLimited { channel, policy, retry_after });
        }

        let mut deliveries = Vec::with_capacity(decisions.len());
        let mut outbox = Vec::new();
        for decision in decisions {
            let (not_before, defer_reason) = match decision.outcome {
                Outcome::Defer { until, reason } => (until, Some(reason)),
                _ => (now, None),
            };
            let content = &rendered[&(decision.channel, decision.fallback_for)];
            let (ms, bits) = self.id_parts();
            let delivery_id = DeliveryId::from_parts(ms, bits);
            let due = not_before <= now;
            if due {
                let (ms, bits) = self.id_parts();
                outbox.push(OutboxEvent {
                    id: EventId::from_parts(ms, bits),
                    delivery_id,
                    notification_id,
                    channel: decision.channel,
                    priority: cmd.priority,
                    attempt: 1,
                    created_at: now,
                    publish_attempts: 0,
                    next_attempt_at: now,
                });
            }
            let Some(target) = decision.target.clone() else {
                return Err(SendError::Port(PortError::Unexpected(anyhow::anyhow!(
                    "resolver produced a delivery without a target"
                ))));
            };
            deliveries.push(DeliveryRecord {
                id: delivery_id,
                notification_id,
                recipient_id: cmd.recipient_id.clone(),
                channel: decision.channel,
                target,
                priority: cmd.priority,
                state: DeliveryState::pending(not_before),
                defer_reason,
                fallback_for: decision.fallback_for,
                title: content.title.clone(),
                body: content.body.clone(),
                lms: content.lms,
                tries: Vec::new(),
                vendor_message_id: None,
                last_error_class: None,
                exhausted_at: None,
                discard_reason: None,
                queued_at: due.then_some(now),
                created_at: now,
                updated_at: now,
            });
        }
        let new = NewNotification { key: Some(key), notification, deliveries, outbox };
        self.commit(new, cmd, now, None).await
    }

    async fn commit(
        &self,
        new: NewNotification,
        cmd: &SendCommand,
        now: DateTime<Utc>,
        suppression_reason: Option<Reason>,
    ) -> Inner {
        let answer = receipt(&new, now, suppression_reason);
        match self.deps.notifications.accept(new).await? {
            AcceptOutcome::Accepted => Ok(if answer.deliveries.is_empty() {
                SendOutcome::Suppressed(answer)
            } else {
                SendOutcome::Accepted(answer)
            }
            .into()),
            AcceptOutcome::DuplicateKey { existing, fingerprint } => {
                if fingerprint != cmd.fingerprint {
                    return Err(SendError::KeyReused);
                }
                // The cache lost the key (restart, flush) but the store kept it: answer with
                // the notification accepted the first time.
                let Some(found) = self.deps.notifications.get(existing).await? else {
                    return Err(PortError::Unexpected(anyhow::anyhow!(
                        "duplicate key points to a missing notification"
                    ))
                    .into());
                };
                let again = NewNotification {
                    key: None,
                    notification: found.notification,
                    deliveries: found.deliveries,
                    outbox: Vec::new(),
                };
                let first = receipt(&again, now, suppression_reason);
                let outcome = if first.deliveries.is_empty() {
                    SendOutcome::Suppressed(first)
                } else {
                    SendOutcome::Accepted(first)
                };
                Ok(Settled { outcome, from_store: true })
            }
        }
    }

    /// Renders the content once per (channel, fallback) pair that will send. `Ok(Err(outcome))`
    /// carries a stored rejection (template missing, variable missing, too long).
    async fn render_all(
        &self,
        cmd: &SendCommand,
        record: &RecipientRecord,
        decisions: &[&Decision],
    ) -> Result<Result<BTreeMap<(Channel, Option<Channel>), RenderedContent>, SendOutcome>, SendError> {
        let mut out = BTreeMap::new();
        for decision in decisions {
            let slot = (decision.channel, decision.fallback_for);
            if out.contains_key(&slot) {
                continue;
            }
            let rendered = match &cmd.content {
                Content::Direct { title, body } => {
                    template::check_limits(decision.channel, title.as_deref(), body)
                        .map(|lms| RenderedContent { title: title.clone(), body: body.clone(), lms })
                }
                Content::Template { key, payload } => {
                    let mut found = None;
                    // An SMS fallback for Kakao uses the SMS template if there is one, else Kakao's.
                    let channels: Vec<Channel> =
                        std::iter::once(decision.channel).chain(decision.fallback_for).collect();
                    for channel in &channels {
                        found = self.find_template(key, &record.recipient.locale, *channel).await?;
                        if found.is_some() {
                            break;
                        }
                    }
                    let Some(tpl) = found else {
                        return Ok(Err(rejection(
                            ErrorCode::TemplateNotFound,
                            format!(
                                "no template {} for channel {} in locale {} or its fallbacks",
                                key.as_str(),
                                decision.channel,
                                record.recipient.locale
                            ),
                        )));
                    };
                    template::render(decision.channel, tpl.title.as_deref(), &tpl.body, payload)
                }
            };
            match rendered {
                Ok(content) => {
                    out.insert(slot, content);
                }
                Err(TemplateError::MissingVariable(name)) => {
                    return Ok(Err(SendOutcome::Rejected(Rejection {
                        code: ErrorCode::TemplateVariableMissing,
                        detail: format!("template variable `{name}` is missing from payload"),
                        variable: Some(name),
                    })));
                }
                Err(other) => {
                    return Ok(Err(rejection(
                        ErrorCode::ValidationFailed,
                        format!("content for channel {}: {other}", decision.channel),
                    )));
                }
            }
        }
        Ok(Ok(out))
    }

    /// The newest template for `key` and `channel`, by locale fallback: exact → language → default.
    pub(crate) async fn find_template(
        &self,
        key: &TemplateKey,
        locale: &hub_domain::Locale,
        channel: Channel,
    ) -> Result<Option<crate::ports::TemplateRecord>, PortError> {
        for candidate in template::locale_fallback_chain(locale, &self.settings.default_locale) {
            if let Some(found) = self.deps.templates.find(key, &candidate, channel).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

fn replay(stored: &StoredResponse, fingerprint: &Fingerprint) -> Result<SendResult, SendError> {
    if stored.fingerprint != *fingerprint {
        return Err(SendError::KeyReused);
    }
    let outcome: SendOutcome = serde_json::from_str(&stored.body)
        .map_err(|e| PortError::Unexpected(anyhow::anyhow!("stored outcome: {e}")))?;
    Ok(SendResult { outcome, replayed: true })
}

fn receipt(new: &NewNotification, now: DateTime<Utc>, suppression_reason: Option<Reason>) -> SendReceipt {
    let suppression_reason = if new.deliveries.is_empty() {
        // No candidate channel at all (an empty channel list) reads as "no address".
        Some(
            suppression_reason
                .or_else(|| new.notification.skipped.first().map(|s| s.reason))
                .unwrap_or(Reason::NoAddress),
        )
    } else {
        None
    };
    SendReceipt {
        notification_id: new.notification.id,
        status: derive(&new.deliveries, now),
        deliveries: new
            .deliveries
            .iter()
            .map(|d| ReceiptDelivery {
                delivery_id: d.id,
                channel: d.channel,
                address: d.target.masked(),
                status: d.state.status,
                not_before: d.state.not_before,
                reason: d.defer_reason,
            })
            .collect(),
        skipped: new.notification.skipped.clone(),
        suppression_reason,
    }
}
