use std::sync::{Arc, Mutex};

use hub_application::ports::SendErrorKind;
use hub_domain::{Address, DeliveryId, DeviceId, NotificationId, Target};
use tokio::time::Instant;

use super::*;

fn email(address: &str) -> Target {
    Target::Address(Address::parse(Channel::Email, address).expect("valid address"))
}

fn device(token: &str) -> Target {
    Target::Device { id: DeviceId::from_ulid(Ulid::from_parts(1, 1)), token: token.to_owned() }
}

fn request(channel: Channel, target: Target, attempt: u32) -> DispatchRequest {
    DispatchRequest {
        delivery_id: DeliveryId::from_ulid(Ulid::from_parts(1, 2)),
        notification_id: NotificationId::from_ulid(Ulid::from_parts(1, 3)),
        channel,
        target,
        title: Some("Your code".to_owned()),
        body: "secret body 123456".to_owned(),
        lms: false,
        attempt,
    }
}

fn kind(result: Result<VendorReceipt, SendError>) -> Option<SendErrorKind> {
    result.err().map(|e| e.kind)
}

#[tokio::test]
async fn an_ordinary_target_is_accepted_with_a_mock_message_id_per_channel() {
    let sender = MockSender::default();
    let receipt =
        sender.send(&request(Channel::Email, email("user@example.com"), 1)).await.expect("accepted");
    let id = receipt.vendor_message_id.expect("an id");
    let ulid = id.strip_prefix("mock-email-").expect("mock-email- prefix");
    assert!(Ulid::from_string(ulid).is_ok(), "{id}");

    let receipt = sender.send(&request(Channel::KakaoAlimtalk, Target::Inbox, 1)).await.expect("accepted");
    assert!(receipt.vendor_message_id.expect("an id").starts_with("mock-kakao_alimtalk-"));
}

#[tokio::test]
async fn every_accepted_send_gets_its_own_message_id() {
    let sender = MockSender::default();
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..100 {
        let receipt = sender.send(&request(Channel::Push, device("tok-ok"), 1)).await.expect("accepted");
        ids.insert(receipt.vendor_message_id.expect("an id"));
    }
    assert_eq!(ids.len(), 100);
}

#[tokio::test]
async fn fail_transient_fails_transiently_on_every_try() {
    let sender = MockSender::default();
    for attempt in 1..=6 {
        let result =
            sender.send(&request(Channel::Email, email("a+fail-transient@example.com"), attempt)).await;
        assert_eq!(kind(result), Some(SendErrorKind::Transient { retry_after: None }), "try {attempt}");
    }
}

#[tokio::test]
async fn fail_once_fails_exactly_on_attempt_one() {
    let sender = MockSender::default();
    let target = email("a+fail-once@example.com");
    let first = sender.send(&request(Channel::Email, target.clone(), 1)).await;
    assert_eq!(kind(first), Some(SendErrorKind::Transient { retry_after: None }));
    for attempt in 2..=4 {
        assert!(
            sender.send(&request(Channel::Email, target.clone(), attempt)).await.is_ok(),
            "try {attempt}"
        );
    }
    // Stateless: try 1 fails again (after an operator replay, on another replica, …).
    assert!(sender.send(&request(Channel::Email, target, 1)).await.is_err());
}

#[tokio::test]
async fn fail_permanent_and_unregistered_answer_with_their_kinds() {
    let sender = MockSender::default();
    let permanent = sender.send(&request(Channel::Email, email("a+fail-permanent@example.com"), 1)).await;
    assert_eq!(kind(permanent), Some(SendErrorKind::Permanent));
    let unregistered = sender.send(&request(Channel::Push, device("tok-unregistered-42"), 1)).await;
    assert_eq!(kind(unregistered), Some(SendErrorKind::Unregistered));
}

#[tokio::test(start_paused = true)]
async fn the_configured_latency_is_awaited_before_answering() {
    let sender = MockSender::new(Duration::from_millis(250));
    let started = Instant::now();
    sender.send(&request(Channel::Sms, Target::Inbox, 1)).await.expect("accepted");
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(sender.latency(), Duration::from_millis(250));
}

#[tokio::test(start_paused = true)]
async fn without_latency_the_answer_is_immediate() {
    let sender = MockSender::new(Duration::ZERO);
    let started = Instant::now();
    sender.send(&request(Channel::Sms, Target::Inbox, 1)).await.expect("accepted");
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_send_cancelled_during_the_latency_answers_and_counts_nothing() {
    let sender = MockSender::new(Duration::from_secs(1));
    let cancelled = tokio::time::timeout(
        Duration::from_millis(500),
        sender.send(&request(Channel::Sms, Target::Inbox, 1)),
    )
    .await;
    assert!(cancelled.is_err());
    assert_eq!(sender.totals(), MockSendStats::default());
}

#[tokio::test]
async fn sends_are_counted_per_channel_and_outcome() {
    let sender = MockSender::default();
    for target in
        ["a@example.com", "b@example.com", "c+fail-permanent@example.com", "d+fail-once@example.com"]
    {
        let _ = sender.send(&request(Channel::Email, email(target), 1)).await;
    }
    let _ = sender.send(&request(Channel::Push, device("tok-unregistered"), 1)).await;
    let _ = sender.send(&request(Channel::Push, device("tok-fail-transient"), 3)).await;

    let email_stats = sender.stats(Channel::Email);
    assert_eq!(email_stats, MockSendStats { sent: 2, transient: 1, permanent: 1, unregistered: 0 });
    assert_eq!(email_stats.failed(), 2);
    assert_eq!(
        sender.stats(Channel::Push),
        MockSendStats { sent: 0, transient: 1, permanent: 0, unregistered: 1 }
    );
    assert_eq!(sender.stats(Channel::Slack), MockSendStats::default());
    assert_eq!(sender.totals(), MockSendStats { sent: 2, transient: 2, permanent: 1, unregistered: 1 });
}

#[tokio::test]
async fn the_send_log_shows_the_masked_target_and_never_the_address_or_content() {
    let logs = Arc::new(Mutex::new(String::new()));
    let _guard = tracing::subscriber::set_default(Capture(logs.clone()));
    let sender = MockSender::default();
    let target = email("very.private@example.com");
    let masked = target.masked();
    sender.send(&request(Channel::Email, target, 2)).await.expect("accepted");

    let logs = logs.lock().expect("lock").clone();
    assert!(logs.contains("mock vendor send"), "{logs}");
    assert!(logs.contains(&masked), "{logs}");
    assert!(logs.contains("accepted"), "{logs}");
    for secret in ["very.private", "secret body", "Your code"] {
        assert!(!logs.contains(secret), "{secret} leaked: {logs}");
    }
}

/// A subscriber that writes every event's fields into a string (no dependency needed).
struct Capture(Arc<Mutex<String>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("{} ", event.metadata().level());
        event.record(&mut Fields(&mut line));
        let mut logs = self.0.lock().expect("lock");
        logs.push_str(&line);
        logs.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}
