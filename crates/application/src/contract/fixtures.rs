//! Builders shared by the contract checks: fixed instants, ids and records.
//!
//! Every instant is whole seconds after [`t0`] so that stores with millisecond or microsecond
//! precision round-trip it exactly. Ids are built from `t0` and a small number, so a larger
//! number sorts later.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use hub_domain::delivery::{DeliveryState, DeliveryStatus, ErrorClass, Try, TryOutcome};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::preferences::{KindPreference, Preferences};
use hub_domain::rate_limit::BucketPolicy;
use hub_domain::template::TemplateKey;
use hub_domain::{
    Address, AuditId, Channel, ChannelSet, Contact, DailyWindow, DeliveryId, DeviceId, EventId, JobId, Kind,
    Locale, NotificationId, Priority, Recipient, RecipientId, Target, TemplateId, Timezone,
};

use super::StoreParts;
use crate::ports::{
    AcceptKey, AcceptOutcome, AuditAction, AuditEntry, BulkAction, BulkJob, DeliveryRecord, DeliveryUpdate,
    DlqCursor, DlqFilter, Expectation, JobState, NewNotification, NotificationRecord, OutboxEvent,
    QueueMessage, TemplateRecord, UpdateOutcome,
};

/// The reference instant of every check: 2026-01-15T03:00:00Z (12:00 in Seoul).
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_768_446_000, 0).expect("a valid instant")
}

/// `t0` plus `seconds` (negative for earlier).
pub fn at(seconds: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(seconds)
}

fn id_ms() -> u64 {
    u64::try_from(t0().timestamp_millis()).expect("after the epoch")
}

/// Notification id number `n`.
pub fn notification_id(n: u128) -> NotificationId {
    NotificationId::from_parts(id_ms(), n)
}

/// Delivery id number `n`.
pub fn delivery_id(n: u128) -> DeliveryId {
    DeliveryId::from_parts(id_ms(), n)
}

/// Outbox event id number `n`.
pub fn event_id(n: u128) -> EventId {
    EventId::from_parts(id_ms(), n)
}

/// Device id number `n`.
pub fn device_id(n: u128) -> DeviceId {
    DeviceId::from_parts(id_ms(), n)
}

/// Template id number `n`.
pub fn template_id(n: u128) -> TemplateId {
    TemplateId::from_parts(id_ms(), n)
}

/// Job id number `n`.
pub fn job_id(n: u128) -> JobId {
    JobId::from_parts(id_ms(), n)
}

/// Audit id number `n`.
pub fn audit_id(n: u128) -> AuditId {
    AuditId::from_parts(id_ms(), n)
}

/// A recipient id.
pub fn recipient_id(id: &str) -> RecipientId {
    RecipientId::parse(id).expect("valid recipient id")
}

/// An idempotency key.
pub fn idempotency_key(key: &str) -> IdempotencyKey {
    IdempotencyKey::parse(key).expect("valid idempotency key")
}

/// The fingerprint of a request body `{"body": body}`.
pub fn fingerprint(body: &str) -> Fingerprint {
    Fingerprint::of_json(&serde_json::json!({ "body": body }))
}

/// A template key.
pub fn template_key(key: &str) -> TemplateKey {
    TemplateKey::parse(key).expect("valid template key")
}

/// A locale.
pub fn locale(tag: &str) -> Locale {
    Locale::parse(tag).expect("valid locale")
}

/// A bucket of `capacity` tokens refilled over `period_secs`.
pub fn policy(capacity: u32, period_secs: u64) -> BucketPolicy {
    BucketPolicy::new(capacity, Duration::from_secs(period_secs)).expect("valid policy")
}

/// A push token (at least 32 characters) distinct per `n`.
pub fn push_token(n: u128) -> String {
    format!("push-token-{n:04}-abcdefghijklmnopqrstuvwxyz")
}

/// A target fitting `channel`, distinct per delivery number `n` for push devices.
pub fn target(channel: Channel, n: u128) -> Target {
    let address = |text: &str| Target::Address(Address::parse(channel, text).expect("valid address"));
    match channel {
        Channel::Push => Target::Device { id: device_id(n), token: push_token(n) },
        Channel::Email => address("ada@example.com"),
        Channel::Sms | Channel::KakaoAlimtalk => address("+821012345678"),
        Channel::Slack => address("https://hooks.slack.com/services/T000/B000/XXXX"),
        Channel::InApp => Target::Inbox,
    }
}

/// A recipient with an e-mail address and the in-app inbox, in Seoul.
pub fn recipient(id: &str, email: &str) -> Recipient {
    Recipient {
        id: recipient_id(id),
        contacts: vec![
            Contact::parse(Channel::Email, Some(email)).expect("valid e-mail"),
            Contact::parse(Channel::InApp, None).expect("in-app needs no address"),
        ],
        locale: locale("ko-KR"),
        timezone: Timezone::parse("Asia/Seoul").expect("valid timezone"),
        devices: Vec::new(),
    }
}

/// A notification number `n` without metadata, expiry or skips.
pub fn notification(n: u128, recipient: &str, kind: Kind, created_at: DateTime<Utc>) -> NotificationRecord {
    NotificationRecord {
        id: notification_id(n),
        recipient_id: recipient_id(recipient),
        kind,
        priority: Priority::Normal,
        created_at,
        metadata: None,
        expires_at: None,
        skipped: Vec::new(),
    }
}

/// A PENDING delivery number `n` of `notification`, due at its creation, never queued.
pub fn delivery(notification: &NotificationRecord, n: u128, channel: Channel) -> DeliveryRecord {
    DeliveryRecord {
        id: delivery_id(n),
        notification_id: notification.id,
        recipient_id: notification.recipient_id.clone(),
        channel,
        target: target(channel, n),
        priority: notification.priority,
        state: DeliveryState::pending(notification.created_at),
        defer_reason: None,
        fallback_for: None,
        title: Some(format!("Title {n}")),
        body: format!("Body of delivery {n}"),
        lms: false,
        tries: Vec::new(),
        vendor_message_id: None,
        last_error_class: None,
        exhausted_at: None,
        discard_reason: None,
        queued_at: None,
        created_at: notification.created_at,
        updated_at: notification.created_at,
    }
}

/// The outbox row number `n` for the first dispatch of `delivery`, due at `created_at`.
pub fn outbox_event(delivery: &DeliveryRecord, n: u128, created_at: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent {
        id: event_id(n),
        delivery_id: delivery.id,
        notification_id: delivery.notification_id,
        channel: delivery.channel,
        priority: delivery.priority,
        attempt: delivery.state.tries + 1,
        created_at,
        publish_attempts: 0,
        next_attempt_at: created_at,
    }
}

/// What accept writes for `notification` and `deliveries`: no key, no outbox row.
pub fn new_notification(
    notification: NotificationRecord,
    deliveries: Vec<DeliveryRecord>,
) -> NewNotification {
    NewNotification { key: None, notification, deliveries, outbox: Vec::new() }
}

/// The key `key` in `scope`, fingerprinted from `body`.
pub fn accept_key(scope: &str, key: &str, body: &str) -> AcceptKey {
    AcceptKey { scope: scope.to_owned(), key: idempotency_key(key), fingerprint: fingerprint(body) }
}

/// Accepts `new`, panicking unless it is `Accepted`.
pub async fn accept(s: &StoreParts, new: NewNotification) {
    let id = new.notification.id;
    let outcome = s.notifications.accept(new).await.expect("accept");
    assert_eq!(outcome, AcceptOutcome::Accepted, "accepting notification {id} with a fresh id and key");
}

/// Stores notification `n` (recipient `alice`, created at `t0`) with one PENDING delivery per
/// channel, numbered `n * 100 + i` and due at `not_before`, without outbox rows.
pub async fn seed(
    s: &StoreParts,
    n: u128,
    channels: &[Channel],
    not_before: DateTime<Utc>,
) -> (NotificationRecord, Vec<DeliveryRecord>) {
    let record = notification(n, "alice", Kind::Transactional, t0());
    let deliveries: Vec<DeliveryRecord> = (0..)
        .zip(channels)
        .map(|(i, channel)| {
            let mut d = delivery(&record, n * 100 + i, *channel);
            d.state.not_before = not_before;
            d
        })
        .collect();
    accept(s, new_notification(record.clone(), deliveries.clone())).await;
    (record, deliveries)
}

/// The stored delivery, panicking when it is unknown.
pub async fn stored(s: &StoreParts, id: DeliveryId) -> DeliveryRecord {
    s.deliveries.get(id).await.expect("get delivery").unwrap_or_else(|| panic!("delivery {id} is stored"))
}

/// Claims the delivery at `now` with a 30 s lease, panicking when the claim is refused.
pub async fn claim(s: &StoreParts, id: DeliveryId, now: DateTime<Utc>) -> DeliveryRecord {
    let lease = now + TimeDelta::seconds(30);
    s.deliveries.claim(id, now, lease).await.expect("claim").unwrap_or_else(|| panic!("{id} is claimable"))
}

/// Applies `update` expecting `Applied`, and returns the delivery as written.
pub async fn apply(
    s: &StoreParts,
    id: DeliveryId,
    expected: Expectation,
    update: DeliveryUpdate,
    now: DateTime<Utc>,
) -> DeliveryRecord {
    match s.deliveries.update(id, expected, update, now).await.expect("update") {
        UpdateOutcome::Applied(d) => d,
        other => panic!("update of {id} expecting {expected:?} should apply, got {other:?}"),
    }
}

/// One failed try at `at`.
pub fn failed_try(at: DateTime<Utc>, class: ErrorClass) -> Try {
    Try {
        at,
        outcome: TryOutcome::Failed,
        error_class: Some(class),
        vendor_code: Some("503".to_owned()),
        detail: Some("vendor unavailable".to_owned()),
        latency_ms: Some(120),
    }
}

/// One successful try at `at`.
pub fn sent_try(at: DateTime<Utc>) -> Try {
    Try {
        at,
        outcome: TryOutcome::Sent,
        error_class: None,
        vendor_code: None,
        detail: None,
        latency_ms: Some(80),
    }
}

/// Claims the PENDING delivery at `at` and fails it for good with `class`: EXHAUSTED at `at`.
pub async fn exhaust(
    s: &StoreParts,
    id: DeliveryId,
    at: DateTime<Utc>,
    class: Option<ErrorClass>,
) -> DeliveryRecord {
    let claimed = claim(s, id, at).await;
    let state = DeliveryState { status: DeliveryStatus::Exhausted, lease_until: None, ..claimed.state };
    let update = DeliveryUpdate { last_error_class: class, ..DeliveryUpdate::state(state) };
    let expected = Expectation { status: DeliveryStatus::Dispatching, tries: claimed.state.tries };
    apply(s, id, expected, update, at).await
}

/// The DLQ cursor pointing at `delivery`.
pub fn cursor_of(delivery: &DeliveryRecord) -> DlqCursor {
    DlqCursor { exhausted_at: delivery.exhausted_at.expect("an exhausted delivery"), id: delivery.id }
}

/// A RUNNING bulk replay number `n` created at `created_at`, never leased.
pub fn bulk_job(n: u128, created_at: DateTime<Utc>) -> BulkJob {
    BulkJob {
        id: job_id(n),
        action: BulkAction::Replay,
        filter: DlqFilter { channel: Some(Channel::Email), to: Some(created_at), ..DlqFilter::default() },
        reason: None,
        actor: "ops".to_owned(),
        state: JobState::Running,
        total_count: 3,
        processed_count: 0,
        success_count: 0,
        failure_count: 0,
        first_error: None,
        cursor: None,
        created_at,
        updated_at: created_at,
        lease_until: None,
    }
}

/// An audit entry number `n` at `at`.
pub fn audit_entry(n: u128, at: DateTime<Utc>, action: AuditAction) -> AuditEntry {
    AuditEntry {
        id: audit_id(n),
        at,
        actor: format!("admin-{n}"),
        action,
        target: Some(delivery_id(n).to_string()),
        filter: Some(serde_json::json!({ "channel": "EMAIL" })),
        counts: Some(serde_json::json!({ "processed": n })),
        outcome: "OK".to_owned(),
    }
}

/// Version 1 of template number `n`, created at `created_at`.
pub fn template(
    n: u128,
    key: &str,
    locale_tag: &str,
    channel: Channel,
    created_at: DateTime<Utc>,
) -> TemplateRecord {
    TemplateRecord {
        id: template_id(n),
        key: template_key(key),
        locale: locale(locale_tag),
        channel,
        title: Some(format!("Title {{{{name}}}} {n}")),
        body: format!("Hello {{{{name}}}}, template {n}"),
        version: 1,
        created_at,
        updated_at: created_at,
    }
}

/// Marketing by e-mail only, quiet from 23:00 to 07:00.
pub fn sample_preferences() -> Preferences {
    let hour = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("a whole hour");
    let marketing =
        KindPreference { allowed: true, channels: [Channel::Email].into_iter().collect::<ChannelSet>() };
    let service = KindPreference { allowed: false, channels: ChannelSet::EMPTY };
    let kinds = BTreeMap::from([(Kind::Marketing, marketing), (Kind::Service, service)]);
    let quiet = DailyWindow::new(hour(23), hour(7)).expect("a valid window");
    Preferences::new(kinds, Some(quiet)).expect("valid preferences")
}

/// Queue message number `n` on `channel`.
pub fn queue_message(n: u128, channel: Channel) -> QueueMessage {
    QueueMessage {
        event_id: event_id(n),
        delivery_id: delivery_id(n),
        notification_id: notification_id(n),
        channel,
        priority: Priority::Normal,
        attempt: 1,
    }
}
