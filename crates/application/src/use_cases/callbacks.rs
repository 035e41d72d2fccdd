//! Applying a verified vendor callback (SPEC §5.5). Signature checks happen at the edge.
//!
//! Claim, then settle. A signed callback's `webhook-id` is first CLAIMED in the
//! [`CallbackLog`](crate::ports::CallbackLog) for [`WEBHOOK_CLAIM`], so two deliveries of it (a
//! vendor retry racing the first, another replica) never both apply: the second one is answered
//! [`CallbackError::InFlight`] (503, the vendor retries). Once applied, the claim is SETTLED and
//! kept for [`WEBHOOK_ID_RETENTION`]; from then on the id answers
//! [`CallbackOutcome::Replayed`]. When applying fails (unknown delivery, not recorded yet, a
//! port error), the claim is deleted again so the vendor's retry is taken at once.
//!
//! Nothing accepted is lost: a crash between claim and apply (or a failed delete after a failed
//! apply) leaves an unsettled claim, which expires by itself after [`WEBHOOK_CLAIM`]; until then
//! the vendor's retries get 503, and the first retry after it is applied. The vendor only sees
//! a 2xx for a callback whose effect is stored.

use std::time::Duration;

use hub_domain::delivery::{DeliveryEvent, DeliveryStatus, ErrorClass, ReceiptStatus, Try, TryOutcome};
use hub_domain::{Channel, DeliveryId};

use crate::App;
use crate::app::{EntropySource, chrono_duration};
use crate::error::{ErrorCode, PortError};
use crate::ports::{AuditAction, AuditEntry, DeliveryUpdate, Expectation, Remembered, UpdateOutcome};

/// How far a signed callback's `webhook-timestamp` may be from the clock, either way (SPEC §5.5).
pub const WEBHOOK_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// How long a `webhook-id` is claimed while its callback is applied: far longer than applying
/// takes (a few store statements, each bounded by the store's timeouts), so a live claim means
/// "in flight" and not "stuck", yet short enough that after a crash the vendor's next retry
/// (Standard Webhooks senders back off over seconds to minutes) finds it expired and is applied.
/// Should an apply ever outlast it, a retry may apply concurrently; the delivery's conditional
/// update still lets only one of them change it.
pub const WEBHOOK_CLAIM: Duration = Duration::from_secs(30);

/// How long a settled `webhook-id` is remembered: twice the tolerance, so a replay is recognised
/// for as long as its signature could still be accepted (a timestamp up to the tolerance ahead of
/// the clock stays acceptable until the tolerance after that).
pub const WEBHOOK_ID_RETENTION: Duration = Duration::from_secs(2 * WEBHOOK_TOLERANCE.as_secs());

/// How the callback names the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryRef {
    /// Our id.
    Delivery(DeliveryId),
    /// The vendor's message id.
    VendorMessage(String),
}

/// A vendor's delivery report, after its signature was verified.
#[derive(Debug, Clone)]
pub struct VendorCallback {
    /// Vendor name from the path.
    pub vendor: String,
    /// Channel the vendor serves, when known (narrows vendor-message-id lookups).
    pub channel: Option<Channel>,
    /// Which delivery.
    pub delivery: DeliveryRef,
    /// What happened.
    pub status: ReceiptStatus,
    /// The vendor's reason text.
    pub reason: Option<String>,
}

/// What the callback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The delivery moved to this status.
    Applied(DeliveryStatus),
    /// The delivery was not in SENT (terminal, or not dispatched yet): left unchanged.
    Unchanged(DeliveryStatus),
    /// The `webhook-id` was taken before, within [`WEBHOOK_ID_RETENTION`]: nothing was done.
    Replayed,
}

/// Errors of the callback use case.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No such delivery (404).
    #[error("delivery not found")]
    DeliveryNotFound,
    /// The delivery is still DISPATCHING: the worker has not stored the vendor's acceptance
    /// yet. Answered 503 with `Retry-After` so the vendor sends the callback again instead of
    /// the receipt being lost.
    #[error("the delivery's dispatch result is not stored yet; retry the callback")]
    NotYetRecorded,
    /// Another delivery of this `webhook-id` is being applied (or its applier crashed and the
    /// claim has not expired yet, see [`WEBHOOK_CLAIM`]). Answered 503 with `Retry-After`: the
    /// retry then finds it settled (a replay) or gone (applied then).
    #[error("this webhook-id is being applied; retry the callback")]
    InFlight,
    /// A port failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl CallbackError {
    /// The error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            CallbackError::DeliveryNotFound => ErrorCode::DeliveryNotFound,
            CallbackError::NotYetRecorded | CallbackError::InFlight => ErrorCode::DependencyUnavailable,
            CallbackError::Port(e) => e.code(),
        }
    }
}

impl App {
    /// Applies a callback: `DELIVERED` moves SENT → DELIVERED; `FAILED` is a transient failure
    /// (retry or EXHAUSTED); `BOUNCED`/`UNREGISTERED` are permanent (EXHAUSTED; an unregistered
    /// push token disables the device). A DISPATCHING delivery answers `NotYetRecorded`; other
    /// states are left unchanged. Applied callbacks are audited.
    pub async fn apply_callback(&self, callback: VendorCallback) -> Result<CallbackOutcome, CallbackError> {
        let delivery = match &callback.delivery {
            DeliveryRef::Delivery(id) => self.deps.deliveries.get(*id).await?,
            DeliveryRef::VendorMessage(vid) => {
                self.deps.deliveries.find_by_vendor_message_id(callback.channel, vid).await?
            }
        }
        .ok_or(CallbackError::DeliveryNotFound)?;
        if delivery.state.status == DeliveryStatus::Dispatching {
            return Err(CallbackError::NotYetRecorded);
        }
        let now = self.now();
        let mut random = EntropySource(self.deps.entropy.as_ref());
        let Ok(state) = delivery.state.apply(
            &DeliveryEvent::Receipt(callback.status),
            now,
            &self.settings.retry,
            &mut random,
        ) else {
            return Ok(CallbackOutcome::Unchanged(delivery.state.status));
        };
        let error_class = match callback.status {
            ReceiptStatus::Delivered => None,
            ReceiptStatus::Failed => Some(ErrorClass::Transient),
            ReceiptStatus::Bounced => Some(ErrorClass::Bounced),
            ReceiptStatus::Unregistered => Some(ErrorClass::Unregistered),
        };
        let push_try = error_class.map(|class| Try {
            at: now,
            outcome: TryOutcome::Failed,
            error_class: Some(class),
            vendor_code: Some(callback.status.as_str().to_owned()),
            detail: callback.reason.clone().or_else(|| Some(format!("reported by {}", callback.vendor))),
            latency_ms: None,
        });
        let update =
            DeliveryUpdate { push_try, last_error_class: error_class, ..DeliveryUpdate::state(state) };
        let expected = Expectation { status: delivery.state.status, tries: delivery.state.tries };
        let applied = match self.deps.deliveries.update(delivery.id, expected, update, now).await? {
            UpdateOutcome::Applied(after) => after,
            // Changed under us (another callback won the race): report its current state.
            UpdateOutcome::Conflict | UpdateOutcome::NotFound => {
                let current =
                    self.deps.deliveries.get(delivery.id).await?.ok_or(CallbackError::DeliveryNotFound)?;
                return Ok(CallbackOutcome::Unchanged(current.state.status));
            }
        };
        if callback.status == ReceiptStatus::Unregistered {
            self.disable_unregistered_device(&delivery.target).await?;
        }
        let (ms, bits) = self.id_parts();
        self.deps
            .audit
            .record(AuditEntry {
                id: hub_domain::AuditId::from_parts(ms, bits),
                at: now,
                actor: format!("vendor:{}", callback.vendor),
                action: AuditAction::CallbackApplied,
                target: Some(delivery.id.to_string()),
                filter: None,
                counts: None,
                // What the vendor said and what it did: `DELIVERED reported: SENT -> DELIVERED`.
                outcome: format!(
                    "{} reported: {} -> {}",
                    callback.status, delivery.state.status, applied.state.status
                ),
            })
            .await?;
        Ok(CallbackOutcome::Applied(applied.state.status))
    }
}

impl App {
    /// Applies a callback whose signature the edge verified, once per `(vendor, webhook_id)`:
    /// a `webhook-id` settled within [`WEBHOOK_ID_RETENTION`] answers
    /// [`CallbackOutcome::Replayed`] and changes nothing; one claimed by a delivery still being
    /// applied answers [`CallbackError::InFlight`]. Otherwise as [`App::apply_callback`]; when
    /// that fails, the claim is forgotten again so the vendor's retry is applied (see the module
    /// docs).
    pub async fn apply_signed_callback(
        &self,
        webhook_id: &str,
        callback: VendorCallback,
    ) -> Result<CallbackOutcome, CallbackError> {
        let now = self.now();
        let claim_until = now + chrono_duration(WEBHOOK_CLAIM);
        let vendor = callback.vendor.clone();
        match self.deps.callbacks.remember(&vendor, webhook_id, now, claim_until).await? {
            Remembered::New => {}
            Remembered::InFlight => {
                tracing::debug!(vendor = %vendor, webhook_id, "callback already being applied");
                return Err(CallbackError::InFlight);
            }
            Remembered::AlreadySeen => {
                tracing::debug!(vendor = %vendor, webhook_id, "callback replay ignored");
                return Ok(CallbackOutcome::Replayed);
            }
        }
        let result = self.apply_callback(callback).await;
        match &result {
            Ok(_) => {
                let keep_until = self.now() + chrono_duration(WEBHOOK_ID_RETENTION);
                if let Err(e) = self.deps.callbacks.settle(&vendor, webhook_id, keep_until).await {
                    // The effect is stored, so the vendor gets its 2xx and normally sends this id
                    // no more. The id merely stays an unsettled claim: retries within
                    // WEBHOOK_CLAIM get 503, a replay after it would be applied again (harmless
                    // for DELIVERED and the permanent outcomes, which find a terminal delivery;
                    // a repeated FAILED may cost one extra send). Answering an error instead
                    // would make the vendor retry and apply it twice for sure.
                    tracing::error!(
                        vendor = %vendor,
                        webhook_id,
                        error = %e,
                        "an applied callback's webhook-id could not be settled: replays are recognised only until its claim expires"
                    );
                }
            }
            Err(_) => {
                if let Err(e) = self.deps.callbacks.forget(&vendor, webhook_id).await {
                    tracing::error!(
                        vendor = %vendor,
                        webhook_id,
                        error = %e,
                        "a failed callback's webhook-id could not be forgotten: its retries are answered 503 until the claim expires"
                    );
                }
            }
        }
        result
    }

    /// Deletes up to `limit` expired `webhook-id` records; returns how many.
    pub async fn purge_callback_log(&self, limit: usize) -> Result<u64, PortError> {
        self.deps.callbacks.purge_expired(self.now(), limit).await
    }
}
