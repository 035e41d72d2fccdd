//! `POST /api/v1/notifications` (SPEC §5.1): idempotency reservation → resolve → render →
//! rate limit → atomic accept → stored outcome for replay.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_domain::delivery::DeliveryState;
use hub_domain::idempotency::Fingerprint;
use hub_domain::rate_limit::BucketPolicy;
use hub_domain::resolver::{Decision, Outcome, Reason, ResolveRequest, resolve};
use hub_domain::template::{self, RenderedContent, TemplateError, TemplateKey};
use hub_domain::{Channel, DeliveryId, EventId, Kind, NotificationId};

use crate::App;
use crate::error::{ErrorCode, PortError};
use crate::ports::{
    AcceptKey, AcceptOutcome, Completion, DeliveryRecord, MetricEvent, NewNotification, NotificationRecord,
    OutboxEvent, RateDecision, RecipientRecord, ReplaySource, Reservation, SendVerdict, SkippedChannel,
    StoredResponse,
};
use crate::use_cases::notifications::derive;

mod command;
pub use command::*;

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
