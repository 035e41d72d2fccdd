use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::delivery::{DeliveryState, DeliveryStatus, ErrorClass, Try};
use hub_domain::resolver::Reason;
use hub_domain::{Channel, DeliveryId, JobId, NotificationId, Priority, RecipientId, Target};

use crate::error::PortError;

/// A stored delivery: one channel × target of a notification.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    /// Its id.
    pub id: DeliveryId,
    /// Its notification.
    pub notification_id: NotificationId,
    /// The recipient (kept after the recipient is erased; the target is then masked).
    pub recipient_id: RecipientId,
    /// The channel.
    pub channel: Channel,
    /// Where it goes.
    pub target: Target,
    /// Dispatch lane.
    pub priority: Priority,
    /// State-machine fields: status, tries, notBefore, lease.
    pub state: DeliveryState,
    /// Why it was deferred at accept time (QUIET_HOURS, KAKAO_NIGHT, SCHEDULED).
    pub defer_reason: Option<Reason>,
    /// `Some(KAKAO_ALIMTALK)` when this SMS is the Kakao night fallback.
    pub fallback_for: Option<Channel>,
    /// Rendered title.
    pub title: Option<String>,
    /// Rendered body.
    pub body: String,
    /// SMS sent as LMS.
    pub lms: bool,
    /// Every dispatch try, oldest first.
    pub tries: Vec<Try>,
    /// The vendor's id for the accepted message.
    pub vendor_message_id: Option<String>,
    /// Error class of the last failure (DLQ filter).
    pub last_error_class: Option<ErrorClass>,
    /// When it entered EXHAUSTED (DLQ ordering); `None` outside the DLQ.
    pub exhausted_at: Option<DateTime<Utc>>,
    /// Operator's reason when DISCARDED.
    pub discard_reason: Option<String>,
    /// When it was last handed to the outbox (`None` = not queued; the due scheduler queues it).
    pub queued_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// The condition a conditional update checks (compare-and-set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    /// The status the delivery must still have.
    pub status: DeliveryStatus,
    /// The try count it must still have (guards against a lease taken over by another worker).
    pub tries: u32,
}

/// Progress of a bulk job written in the same transaction as the item it processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStep {
    /// The job.
    pub job_id: JobId,
    /// The job's cursor must still be this (else the item was already processed: `Conflict`).
    pub from: Option<DlqCursor>,
    /// The cursor after this item.
    pub to: DlqCursor,
}

/// A conditional change of one delivery, written in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryUpdate {
    /// The new state-machine fields.
    pub state: DeliveryState,
    /// A try to append to the history.
    pub push_try: Option<Try>,
    /// Vendor message id to record (kept if `None`).
    pub vendor_message_id: Option<String>,
    /// Error class of this failure (kept if `None`).
    pub last_error_class: Option<ErrorClass>,
    /// Operator's discard reason (kept if `None`).
    pub discard_reason: Option<String>,
    /// Also write an outbox row for the delivery (replay), marking it queued.
    pub enqueue: bool,
    /// Bulk-job progress to write atomically with this item.
    pub job_step: Option<JobStep>,
}

impl DeliveryUpdate {
    /// An update that only changes the state-machine fields.
    pub fn state(state: DeliveryState) -> Self {
        DeliveryUpdate {
            state,
            push_try: None,
            vendor_message_id: None,
            last_error_class: None,
            discard_reason: None,
            enqueue: false,
            job_step: None,
        }
    }
}

/// The result of a conditional update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    /// Written; the delivery as it is now.
    Applied(DeliveryRecord),
    /// The delivery no longer matched the expectation (or the job step was already taken); nothing changed.
    Conflict,
    /// No such delivery.
    NotFound,
}

/// A delivery as a dispatcher claimed it: what the vendor call and the state machine need
/// (no try history: a dispatch appends to it without reading it).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    /// Its id.
    pub id: DeliveryId,
    /// Its notification.
    pub notification_id: NotificationId,
    /// The channel.
    pub channel: Channel,
    /// Where it goes.
    pub target: Target,
    /// Rendered title.
    pub title: Option<String>,
    /// Rendered body.
    pub body: String,
    /// SMS sent as LMS.
    pub lms: bool,
    /// State-machine fields as claimed: DISPATCHING, tries counting this one, leased.
    pub state: DeliveryState,
}

impl From<DeliveryRecord> for ClaimedDelivery {
    fn from(d: DeliveryRecord) -> Self {
        ClaimedDelivery {
            id: d.id,
            notification_id: d.notification_id,
            channel: d.channel,
            target: d.target,
            title: d.title,
            body: d.body,
            lms: d.lms,
            state: d.state,
        }
    }
}

/// The result of one dispatch, to store with [`DeliveryStore::record_results`].
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchResult {
    /// The delivery.
    pub id: DeliveryId,
    /// Its channel (for metrics of the final state).
    pub channel: Channel,
    /// What the claim left: DISPATCHING with the claimed try count.
    pub expected: Expectation,
    /// The new state-machine fields.
    pub state: DeliveryState,
    /// The try to append.
    pub attempt: Try,
    /// The vendor's message id (kept if `None`).
    pub vendor_message_id: Option<String>,
    /// Error class of this failure (kept if `None`).
    pub last_error_class: Option<ErrorClass>,
}

impl DispatchResult {
    /// The same change as a general [`DeliveryUpdate`].
    pub fn as_update(&self) -> DeliveryUpdate {
        DeliveryUpdate {
            push_try: Some(self.attempt.clone()),
            vendor_message_id: self.vendor_message_id.clone(),
            last_error_class: self.last_error_class,
            ..DeliveryUpdate::state(self.state)
        }
    }
}

/// Deliveries: claims, conditional updates, due scheduling, lease reaping, lookups.
#[async_trait]
pub trait DeliveryStore: Send + Sync + std::fmt::Debug {
    /// The delivery; `Ok(None)` when unknown.
    async fn get(&self, id: DeliveryId) -> Result<Option<DeliveryRecord>, PortError>;

    /// The delivery a vendor knows by `vendor_message_id` on `channel`; `Ok(None)` when unknown.
    async fn find_by_vendor_message_id(
        &self,
        channel: Option<Channel>,
        vendor_message_id: &str,
    ) -> Result<Option<DeliveryRecord>, PortError>;

    /// Atomically moves the delivery `PENDING → DISPATCHING` (tries + 1, lease until
    /// `lease_until`) if it is PENDING and `not_before <= now`; returns it as claimed.
    /// `Ok(None)` when it is unknown, not PENDING or not yet due — a duplicate queue message
    /// is dropped here.
    async fn claim(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, PortError>;

    /// Claims each of `ids` as [`claim`](Self::claim) does, for a dispatcher that took several
    /// queue messages at once; returns the claimed ones in no particular order (an id given
    /// twice is claimed once). A database claims them with one statement, locking rows in id
    /// order so that overlapping batches of two workers cannot deadlock.
    async fn claim_many(
        &self,
        ids: &[DeliveryId],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, PortError> {
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = self.claim(*id, now, lease_until).await? {
                claimed.push(ClaimedDelivery::from(d));
            }
        }
        Ok(claimed)
    }

    /// Stores dispatch results: each is a compare-and-set as [`update`](Self::update) with
    /// [`DispatchResult::as_update`], applied or not on its own (and `updated_at = now`).
    /// Returns, in the order given, whether each applied (`false`: the delivery no longer
    /// matched its expectation or is unknown — the lease was lost). A database writes the whole
    /// batch in one statement or transaction.
    async fn record_results(
        &self,
        results: &[DispatchResult],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, PortError> {
        let mut applied = Vec::with_capacity(results.len());
        for r in results {
            let outcome = self.update(r.id, r.expected, r.as_update(), now).await?;
            applied.push(matches!(outcome, UpdateOutcome::Applied(_)));
        }
        Ok(applied)
    }

    /// Applies `update` if the delivery still matches `expected`, in one transaction (with the
    /// outbox row and job progress it asks for). Sets `exhausted_at` when the new status is
    /// EXHAUSTED (cleared otherwise), clears `queued_at` when the new status is PENDING and
    /// `enqueue` is false, and sets `updated_at = now`.
    async fn update(
        &self,
        id: DeliveryId,
        expected: Expectation,
        update: DeliveryUpdate,
        now: DateTime<Utc>,
    ) -> Result<UpdateOutcome, PortError>;

    /// Hands up to `limit` due deliveries to the outbox: PENDING with `not_before <= now` and
    /// either not queued or queued before `stale_before` (a lost queue message). Writes their
    /// outbox rows and sets `queued_at = now` in one transaction; claims with `SKIP LOCKED`
    /// so replicas never queue the same delivery twice. Returns how many were queued.
    async fn enqueue_due(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, PortError>;

    /// Up to `limit` DISPATCHING deliveries whose lease ended before `now`.
    async fn expired_leases(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, PortError>;

    /// Cancels every PENDING delivery of the notification (→ CANCELLED); returns how many.
    /// `Ok(None)` when the notification is unknown.
    async fn cancel_pending(
        &self,
        id: NotificationId,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, PortError>;
}

/// Where a DLQ listing continues: oldest first over `(exhausted_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DlqCursor {
    /// `exhausted_at` of the last item.
    pub exhausted_at: DateTime<Utc>,
    /// Id of the last item.
    pub id: DeliveryId,
}

/// DLQ filters (SPEC §5.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DlqFilter {
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Exhausted at or after.
    pub from: Option<DateTime<Utc>>,
    /// Exhausted before.
    pub to: Option<DateTime<Utc>>,
    /// Only this error class.
    pub error_class: Option<ErrorClass>,
}

/// One row of the DLQ statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlqStatRow {
    /// Start of the time bucket.
    pub bucket_start: DateTime<Utc>,
    /// Channel.
    pub channel: Channel,
    /// Error class (`None` when unknown).
    pub error_class: Option<ErrorClass>,
    /// EXHAUSTED deliveries in the bucket.
    pub count: u64,
}

/// Read side of the dead-letter queue: EXHAUSTED deliveries.
#[async_trait]
pub trait DlqStore: Send + Sync + std::fmt::Debug {
    /// Up to `limit` EXHAUSTED deliveries matching `filter`, oldest `exhausted_at` first,
    /// strictly after `after`.
    async fn list(
        &self,
        filter: &DlqFilter,
        after: Option<DlqCursor>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, PortError>;

    /// How many EXHAUSTED deliveries match `filter`.
    async fn count(&self, filter: &DlqFilter) -> Result<u64, PortError>;

    /// Counts of EXHAUSTED deliveries with `exhausted_at` in `[from, to)`, grouped by
    /// `bucket_seconds`-long buckets (aligned to the Unix epoch), channel and error class,
    /// computed by the store (SQL `GROUP BY`), ordered by bucket, channel, error class.
    async fn stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_seconds: u64,
    ) -> Result<Vec<DlqStatRow>, PortError>;
}
