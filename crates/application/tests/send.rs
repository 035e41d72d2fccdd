//! Send use case with fakes: idempotency, rate limits, resolution, rendering, the full cycle.

mod common;

use std::time::Duration;

use common::*;
use hub_application::ErrorCode;
use hub_application::fakes::FakeHub;
use hub_application::ports::{IdempotencyStore, NotificationFilter};
use hub_application::use_cases::notifications::ListNotifications;
use hub_application::use_cases::recipients::{KindPreferenceInput, PutPreferences};
use hub_application::use_cases::send::{Content, SendError, SendOutcome};
use hub_application::use_cases::templates::CreateTemplate;
use hub_domain::delivery::DeliveryStatus;
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::resolver::Reason;
use hub_domain::status::NotificationStatus;
use hub_domain::template::{PayloadValue, TemplateKey};
use hub_domain::{Channel, Kind, Platform};

const EMAIL: (Channel, Option<&str>) = (Channel::Email, Some("alice@example.com"));
const SMS: (Channel, Option<&str>) = (Channel::Sms, Some("+821012345678"));

#[tokio::test]
async fn a_send_is_accepted_relayed_dispatched_and_sent() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL, SMS]).await;

    let result = hub.app.send(send("k1", "alice", Kind::Transactional, "Your order shipped")).await.unwrap();
    assert!(!result.replayed);
    let receipt = accepted(&result.outcome);
    assert_eq!(receipt.status, NotificationStatus::InProgress);
    assert_eq!(
        receipt.deliveries.iter().map(|d| d.channel).collect::<Vec<_>>(),
        vec![Channel::Email, Channel::Sms]
    );
    assert_eq!(receipt.deliveries[0].address, "al***om");
    assert_eq!(hub.store.unpublished().len(), 2, "one outbox row per due delivery, written with the accept");

    assert_eq!(hub.drain().await, 2);
    let view = hub.app.get_notification(receipt.notification_id).await.unwrap();
    assert_eq!(view.status, NotificationStatus::Completed);
    for d in &view.stored.deliveries {
        assert_eq!(d.state.status, DeliveryStatus::Sent);
        assert_eq!(d.tries.len(), 1);
        assert!(d.vendor_message_id.is_some());
        assert_eq!(d.body, "Your order shipped");
    }
    let sent = hub.sender.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].target.as_str(), "+821012345678");
}

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_outcome_without_a_second_notification() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    let first = hub.app.send(send("k1", "alice", Kind::Service, "hi")).await.unwrap();
    let again = hub.app.send(send("k1", "alice", Kind::Service, "hi")).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.outcome, first.outcome);
    assert_eq!(hub.store.all_notifications().len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_rejected_as_reused() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    hub.app.send(send("k1", "alice", Kind::Service, "hi")).await.unwrap();
    let err = hub.app.send(send("k1", "alice", Kind::Service, "something else")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::IdempotencyKeyReused);
    assert_eq!(err.code().http_status(), 422);
    assert_eq!(hub.store.all_notifications().len(), 1);
}

#[tokio::test]
async fn the_same_key_while_the_first_request_runs_answers_in_flight() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    let cmd = send("k1", "alice", Kind::Service, "hi");
    let now = at("2026-01-15T03:00:00Z");
    hub.idempotency
        .reserve("default", &cmd.idempotency_key, &cmd.fingerprint, now, Duration::from_secs(60))
        .await
        .unwrap();
    let err = hub.app.send(cmd.clone()).await.unwrap_err();
    assert!(matches!(err, SendError::InFlight));
    assert_eq!(err.code().http_status(), 409);
    // Another body under the held key is a reuse, not a wait.
    let other = send("k1", "alice", Kind::Service, "other");
    assert_eq!(hub.app.send(other).await.unwrap_err().code(), ErrorCode::IdempotencyKeyReused);
    assert!(hub.store.all_notifications().is_empty());
}

#[tokio::test]
async fn an_abandoned_reservation_expires_and_the_key_runs_again() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    let cmd = send("k1", "alice", Kind::Service, "hi");
    let now = at("2026-01-15T03:00:00Z");
    hub.idempotency
        .reserve("default", &cmd.idempotency_key, &cmd.fingerprint, now, Duration::from_secs(60))
        .await
        .unwrap();
    hub.clock.advance(Duration::from_secs(61));
    assert!(!hub.app.send(cmd).await.unwrap().replayed);
}

#[tokio::test]
async fn a_failure_before_commit_releases_the_key_so_the_caller_can_retry() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    hub.store.set_unavailable(true);
    let err = hub.app.send(send("k1", "alice", Kind::Service, "hi")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DependencyUnavailable);
    assert_eq!(err.code().http_status(), 503);
    assert!(hub.idempotency.is_empty(), "the reservation was released");
    hub.store.set_unavailable(false);
    let retry = hub.app.send(send("k1", "alice", Kind::Service, "hi")).await.unwrap();
    assert!(!retry.replayed);
    accepted(&retry.outcome);
}

#[tokio::test]
async fn idempotency_or_limiter_outages_fail_the_send_instead_of_skipping_checks() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    hub.idempotency.set_unavailable(true);
    let err = hub.app.send(send("k1", "alice", Kind::Service, "hi")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DependencyUnavailable);
    hub.idempotency.set_unavailable(false);
    hub.limiter.set_unavailable(true);
    let err = hub.app.send(send("k2", "alice", Kind::Service, "hi")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DependencyUnavailable);
    assert!(hub.store.all_notifications().is_empty());
    assert!(hub.idempotency.is_empty());
}

#[tokio::test]
async fn an_unknown_recipient_is_a_stored_rejection_that_replays() {
    let hub = FakeHub::new();
    let first = hub.app.send(send("k1", "nobody", Kind::Service, "hi")).await.unwrap();
    match &first.outcome {
        SendOutcome::Rejected(r) => {
            assert_eq!(r.code, ErrorCode::RecipientNotFound);
            assert_eq!(r.code.http_status(), 404);
        }
        other => panic!("{other:?}"),
    }
    let again = hub.app.send(send("k1", "nobody", Kind::Service, "hi")).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.outcome, first.outcome);
}

#[tokio::test]
async fn invalid_content_is_rejected_before_anything_is_reserved() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    let mut cmd = send("k1", "alice", Kind::Service, "hi");
    cmd.content = Content::Direct { title: Some("t".repeat(201)), body: "b".into() };
    let err = hub.app.send(cmd).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    assert!(err.to_string().contains("title"));
    let mut cmd = send("k2", "alice", Kind::Service, &"b".repeat(4001));
    assert_eq!(hub.app.send(cmd.clone()).await.unwrap_err().code(), ErrorCode::ValidationFailed);
    cmd.content = Content::Direct { title: None, body: "ok".into() };
    cmd.metadata = Some(serde_json::from_value(serde_json::json!({ "blob": "x".repeat(5000) })).unwrap());
    assert_eq!(hub.app.send(cmd).await.unwrap_err().code(), ErrorCode::ValidationFailed);
    // NUL characters: no store keeps them in text, so every backend refuses them alike.
    for (title, body) in [(None, "a\0b"), (Some("t\0"), "ok")] {
        let mut cmd = send("k3", "alice", Kind::Service, "hi");
        cmd.content = Content::Direct { title: title.map(str::to_owned), body: body.into() };
        let err = hub.app.send(cmd).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationFailed);
        assert!(err.to_string().contains("NUL"), "{err}");
    }
    assert!(hub.idempotency.is_empty());
    assert!(hub.store.all_notifications().is_empty());
}

#[tokio::test]
async fn an_sms_body_over_the_channel_limit_is_rejected_for_that_channel() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[SMS]).await;
    let result = hub.app.send(send("k1", "alice", Kind::Service, &"x".repeat(2001))).await.unwrap();
    match result.outcome {
        SendOutcome::Rejected(r) => {
            assert_eq!(r.code, ErrorCode::ValidationFailed);
            assert!(r.detail.contains("SMS"), "{}", r.detail);
        }
        other => panic!("{other:?}"),
    }
    assert!(hub.store.all_notifications().is_empty());
}

#[tokio::test]
async fn a_denied_request_consumes_nothing_from_any_bucket_and_releases_its_key() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL, SMS]).await;
    // SMS allows 5 per 60 s by default.
    for i in 0..5 {
        hub.app
            .send(only(send(&format!("s{i}"), "alice", Kind::Service, "hi"), &[Channel::Sms]))
            .await
            .unwrap();
    }
    let err = hub.app.send(send("both", "alice", Kind::Service, "hi")).await.unwrap_err();
    match &err {
        SendError::RateLimited { channel, retry_after, policy } => {
            assert_eq!(*channel, Channel::Sms);
            assert_eq!(*retry_after, Duration::from_secs(12), "one SMS token every 60s/5");
            assert_eq!(policy.capacity(), 5);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code().http_status(), 429);
    assert_eq!(hub.idempotency.len(), 5, "the denied key was released; the five completed ones stay");
    // EMAIL lost no token to the denied request: 30 e-mails still pass.
    for i in 0..30 {
        hub.app
            .send(only(send(&format!("e{i}"), "alice", Kind::Service, "hi"), &[Channel::Email]))
            .await
            .unwrap();
    }
    let err =
        hub.app.send(only(send("e30", "alice", Kind::Service, "hi"), &[Channel::Email])).await.unwrap_err();
    assert!(matches!(err, SendError::RateLimited { channel: Channel::Email, .. }));
    // After the refill interval the same key runs.
    hub.clock.advance(Duration::from_secs(12));
    accepted(&hub.app.send(send("both", "alice", Kind::Service, "hi")).await.unwrap().outcome);
}

#[tokio::test]
async fn an_opted_out_kind_is_suppressed_and_consumes_no_tokens() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[SMS]).await;
    let mut kinds = std::collections::BTreeMap::new();
    kinds.insert(Kind::Marketing, KindPreferenceInput { allowed: Some(false), channels: Vec::new() });
    hub.app.put_preferences(&rid("alice"), PutPreferences { kinds, quiet_hours: None }).await.unwrap();
    for i in 0..7 {
        let result = hub.app.send(send(&format!("m{i}"), "alice", Kind::Marketing, "sale")).await.unwrap();
        match result.outcome {
            SendOutcome::Suppressed(r) => {
                assert_eq!(r.status, NotificationStatus::Suppressed);
                assert_eq!(r.suppression_reason, Some(Reason::OptedOut));
                assert_eq!(r.skipped.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }
    // Seven suppressed sends later the SMS bucket (5/60s) is still full.
    for i in 0..5 {
        accepted(
            &hub.app.send(send(&format!("t{i}"), "alice", Kind::Transactional, "otp")).await.unwrap().outcome,
        );
    }
}

#[tokio::test]
async fn quiet_hours_defer_until_the_window_ends_and_the_scheduler_sends_then() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    // 23:00 in Seoul, inside the default quiet hours 22:00-08:00.
    hub.clock.set(at("2026-01-15T14:00:00Z"));
    let result = hub.app.send(send("k1", "alice", Kind::Marketing, "sale")).await.unwrap();
    let receipt = accepted(&result.outcome);
    assert_eq!(receipt.status, NotificationStatus::Scheduled);
    assert_eq!(receipt.deliveries[0].not_before, at("2026-01-15T23:00:00Z"));
    assert_eq!(receipt.deliveries[0].reason, Some(Reason::QuietHours));
    assert!(hub.store.unpublished().is_empty(), "nothing is queued before it is due");
    assert_eq!(hub.drain().await, 0);
    hub.clock.set(at("2026-01-15T23:00:00Z"));
    assert_eq!(hub.drain().await, 1);
    let view = hub.app.get_notification(receipt.notification_id).await.unwrap();
    assert_eq!(view.status, NotificationStatus::Completed);
}

#[tokio::test]
async fn security_notifications_ignore_quiet_hours() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    hub.clock.set(at("2026-01-15T14:00:00Z"));
    let receipt = hub.app.send(send("k1", "alice", Kind::Security, "new login")).await.unwrap();
    assert_eq!(accepted(&receipt.outcome).deliveries[0].reason, None);
    assert_eq!(hub.drain().await, 1);
}

#[tokio::test]
async fn a_cache_flush_never_lets_a_duplicate_through() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    let first = hub.app.send(send("k1", "alice", Kind::Service, "hi")).await.unwrap();
    hub.idempotency.flush();
    let again = hub.app.send(send("k1", "alice", Kind::Service, "hi")).await.unwrap();
    assert_eq!(accepted(&again.outcome).notification_id, accepted(&first.outcome).notification_id);
    assert_eq!(hub.store.all_notifications().len(), 1);
    hub.idempotency.flush();
    let err = hub.app.send(send("k1", "alice", Kind::Service, "changed")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::IdempotencyKeyReused);
}

#[tokio::test]
async fn keys_are_scoped_per_caller() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    let mut other_caller = send("k1", "alice", Kind::Service, "hi");
    other_caller.scope = "billing".into();
    hub.app.send(send("k1", "alice", Kind::Service, "hi")).await.unwrap();
    assert!(!hub.app.send(other_caller).await.unwrap().replayed);
    assert_eq!(hub.store.all_notifications().len(), 2);
}

async fn template(hub: &FakeHub, key: &str, locale: &str, channel: Channel, body: &str) {
    hub.app
        .create_template(CreateTemplate {
            key: key.into(),
            locale: locale.into(),
            channel,
            title: Some("Order {{orderId}}".into()),
            body: body.into(),
        })
        .await
        .expect("template");
}

fn with_template(
    mut cmd: hub_application::use_cases::send::SendCommand,
    key: &str,
    vars: &[(&str, &str)],
) -> hub_application::use_cases::send::SendCommand {
    cmd.content = Content::Template {
        key: TemplateKey::parse(key).unwrap(),
        payload: vars.iter().map(|(k, v)| ((*k).to_owned(), PayloadValue::String((*v).to_owned()))).collect(),
    };
    cmd.fingerprint = Fingerprint::of_json(&serde_json::json!({ "t": key, "vars": format!("{vars:?}") }));
    cmd
}

#[tokio::test]
async fn templates_render_per_channel_through_the_locale_fallback() {
    let hub = FakeHub::new();
    hub.app
        .put_recipient(hub_application::use_cases::recipients::PutRecipient {
            id: rid("alice"),
            channels: vec![
                (Channel::Email, Some("alice@example.com".into())),
                (Channel::Sms, Some("+821012345678".into())),
            ],
            locale: Some("en-US".into()),
            timezone: Some("Europe/Berlin".into()),
        })
        .await
        .unwrap();
    template(&hub, "order.shipped", "en", Channel::Email, "Order {{orderId}} is on its way, {name}!").await;
    template(&hub, "order.shipped", "en", Channel::Sms, "{{orderId}} shipped").await;
    let cmd = with_template(
        send("k1", "alice", Kind::Transactional, ""),
        "order.shipped",
        &[("orderId", "A-1"), ("name", "Alice & Bob")],
    );
    let receipt = hub.app.send(cmd).await.unwrap();
    let id = accepted(&receipt.outcome).notification_id;
    let view = hub.app.get_notification(id).await.unwrap();
    let email = &view.stored.deliveries[0];
    assert_eq!(email.body, "Order A-1 is on its way, Alice & Bob!");
    assert_eq!(email.title.as_deref(), Some("Order A-1"));
    assert_eq!(view.stored.deliveries[1].body, "A-1 shipped");
}

#[tokio::test]
async fn a_missing_template_or_variable_is_a_stored_rejection_naming_it() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    let result = hub
        .app
        .send(with_template(send("k1", "alice", Kind::Service, ""), "order.shipped", &[]))
        .await
        .unwrap();
    match result.outcome {
        SendOutcome::Rejected(r) => assert_eq!(r.code, ErrorCode::TemplateNotFound),
        other => panic!("{other:?}"),
    }
    template(&hub, "order.shipped", "en", Channel::Email, "Order {{orderId}}").await;
    let result = hub
        .app
        .send(with_template(send("k2", "alice", Kind::Service, ""), "order.shipped", &[]))
        .await
        .unwrap();
    match result.outcome {
        SendOutcome::Rejected(r) => {
            assert_eq!(r.code, ErrorCode::TemplateVariableMissing);
            assert_eq!(r.variable.as_deref(), Some("orderId"));
        }
        other => panic!("{other:?}"),
    }
    assert!(hub.store.all_notifications().is_empty());
}

#[tokio::test]
async fn push_fans_out_over_active_devices_only() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[(Channel::Push, None)]).await;
    let a = hub.app.register_device(&rid("alice"), Platform::Android, &"a".repeat(40)).await.unwrap();
    hub.app.register_device(&rid("alice"), Platform::Ios, &"b".repeat(40)).await.unwrap();
    let c = hub.app.register_device(&rid("alice"), Platform::Web, &"c".repeat(40)).await.unwrap();
    hub.app.disable_device(&rid("alice"), c.device().id).await.unwrap();
    let receipt = hub.app.send(send("k1", "alice", Kind::Service, "ping")).await.unwrap();
    let deliveries = &accepted(&receipt.outcome).deliveries;
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d.channel == Channel::Push));
    hub.drain().await;
    let targets: Vec<String> = hub.sender.requests().iter().map(|r| r.target.as_str().to_owned()).collect();
    assert_eq!(targets, vec!["a".repeat(40), "b".repeat(40)]);
    let _ = a;
}

#[tokio::test]
async fn cancel_stops_pending_deliveries_but_not_sent_ones() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    hub.clock.set(at("2026-01-15T14:00:00Z"));
    let deferred =
        accepted(&hub.app.send(send("k1", "alice", Kind::Marketing, "later")).await.unwrap().outcome)
            .notification_id;
    let now_sent = accepted(&hub.app.send(send("k2", "alice", Kind::Security, "now")).await.unwrap().outcome)
        .notification_id;
    hub.drain().await;
    let c = hub.app.cancel_notification(deferred).await.unwrap();
    assert_eq!(c.cancelled, 1);
    assert_eq!(c.view.status, NotificationStatus::Cancelled);
    let c = hub.app.cancel_notification(now_sent).await.unwrap();
    assert_eq!(c.cancelled, 0);
    assert_eq!(c.view.status, NotificationStatus::Completed);
    hub.clock.set(at("2026-01-16T00:00:00Z"));
    assert_eq!(hub.drain().await, 0, "a cancelled delivery is never dispatched");
    let unknown = hub_domain::NotificationId::from_parts(1, 1);
    assert_eq!(
        hub.app.cancel_notification(unknown).await.unwrap_err().code(),
        ErrorCode::NotificationNotFound
    );
}

#[tokio::test]
async fn listing_pages_newest_first_without_skipping_equal_timestamps() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    recipient(&hub, "bob", &[EMAIL]).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = hub.app.send(send(&format!("k{i}"), "alice", Kind::Service, "hi")).await.unwrap();
        ids.push(accepted(&r.outcome).notification_id);
    }
    hub.app.send(send("bob", "bob", Kind::Service, "hi")).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = hub
            .app
            .list_notifications(ListNotifications {
                filter: NotificationFilter { recipient_id: Some(rid("alice")), ..Default::default() },
                cursor: cursor.clone(),
                limit: Some(2),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|v| v.stored.notification.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "all five, newest first, each once");

    let bad = hub
        .app
        .list_notifications(ListNotifications { cursor: Some("garbage".into()), ..Default::default() })
        .await;
    assert_eq!(bad.unwrap_err().code(), ErrorCode::ValidationFailed);
    let bad = hub.app.list_notifications(ListNotifications { limit: Some(101), ..Default::default() }).await;
    assert_eq!(bad.unwrap_err().code(), ErrorCode::ValidationFailed);

    hub.drain().await;
    let completed = hub
        .app
        .list_notifications(ListNotifications {
            status: Some(NotificationStatus::Completed),
            limit: Some(3),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(completed.items.len(), 3);
    assert!(completed.next_cursor.is_some());
}

#[test]
fn keys_parse_in_both_forms() {
    assert_eq!(IdempotencyKey::parse("\"abc\"").unwrap(), IdempotencyKey::parse("abc").unwrap());
}

#[tokio::test]
async fn kakao_at_night_falls_back_to_sms_rendered_from_the_kakao_template() {
    let hub = FakeHub::new();
    recipient(&hub, "minsu", &[(Channel::KakaoAlimtalk, Some("+821099998888"))]).await;
    template(&hub, "otp.code", "en", Channel::KakaoAlimtalk, "Your code is {code}").await;
    // 22:00 in Seoul: inside the Kakao night window (20:50-08:00). SECURITY ignores quiet hours.
    hub.clock.set(at("2026-01-15T13:00:00Z"));
    let cmd = with_template(
        send("k1", "minsu", Kind::Security, ""),
        "otp.code",
        &[("code", "123456"), ("orderId", "-")],
    );
    let receipt = hub.app.send(cmd).await.unwrap();
    let receipt = accepted(&receipt.outcome);
    assert_eq!(receipt.deliveries.len(), 1);
    assert_eq!(receipt.deliveries[0].channel, Channel::Sms);
    assert_eq!(receipt.skipped.len(), 1);
    assert_eq!(
        (receipt.skipped[0].channel, receipt.skipped[0].reason),
        (Channel::KakaoAlimtalk, Reason::KakaoNight)
    );
    hub.drain().await;
    let sent = hub.sender.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].channel, Channel::Sms);
    assert_eq!(
        sent[0].target.as_str(),
        "+821099998888",
        "the Kakao number, as the recipient has no SMS number"
    );
    assert_eq!(sent[0].body, "Your code is 123456");
    let view = hub.app.get_notification(receipt.notification_id).await.unwrap();
    assert_eq!(view.stored.deliveries[0].fallback_for, Some(Channel::KakaoAlimtalk));
}

#[tokio::test]
async fn marketing_kakao_at_night_waits_for_the_window_to_end() {
    let hub = FakeHub::new();
    recipient(&hub, "minsu", &[(Channel::KakaoAlimtalk, Some("+821099998888"))]).await;
    let mut kinds = std::collections::BTreeMap::new();
    kinds.insert(Kind::Marketing, KindPreferenceInput { allowed: Some(true), channels: Vec::new() });
    hub.app.put_preferences(&rid("minsu"), PutPreferences { kinds, quiet_hours: Some(None) }).await.unwrap();
    hub.clock.set(at("2026-01-15T12:00:00Z")); // 21:00 in Seoul
    let receipt = hub.app.send(send("k1", "minsu", Kind::Marketing, "sale")).await.unwrap();
    let d = &accepted(&receipt.outcome).deliveries[0];
    assert_eq!((d.channel, d.reason), (Channel::KakaoAlimtalk, Some(Reason::KakaoNight)));
    assert_eq!(d.not_before, at("2026-01-15T23:00:00Z"), "08:00 the next morning in Seoul");
}

#[tokio::test]
async fn a_scheduled_send_waits_for_send_at_and_an_expired_one_is_suppressed() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    let mut cmd = send("k1", "alice", Kind::Transactional, "later");
    cmd.send_at = Some(at("2026-01-15T05:00:00Z"));
    let receipt = hub.app.send(cmd).await.unwrap();
    let d = &accepted(&receipt.outcome).deliveries[0];
    assert_eq!((d.not_before, d.reason), (at("2026-01-15T05:00:00Z"), Some(Reason::Scheduled)));
    assert_eq!(hub.drain().await, 0);
    hub.clock.set(at("2026-01-15T05:00:00Z"));
    assert_eq!(hub.drain().await, 1);

    let mut cmd = send("k2", "alice", Kind::Marketing, "too late");
    hub.clock.set(at("2026-01-15T14:00:00Z")); // quiet hours until 23:00Z
    cmd.expires_at = Some(at("2026-01-15T20:00:00Z"));
    match hub.app.send(cmd).await.unwrap().outcome {
        SendOutcome::Suppressed(r) => assert_eq!(r.suppression_reason, Some(Reason::Expired)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_recipient_without_any_channel_is_suppressed_for_lack_of_an_address() {
    let hub = FakeHub::new();
    recipient(&hub, "empty", &[]).await;
    match hub.app.send(send("k1", "empty", Kind::Security, "hi")).await.unwrap().outcome {
        SendOutcome::Suppressed(r) => {
            assert_eq!(r.suppression_reason, Some(Reason::NoAddress));
            assert!(r.skipped.is_empty());
            let view = hub.app.get_notification(r.notification_id).await.unwrap();
            assert_eq!(view.status, NotificationStatus::Suppressed);
        }
        other => panic!("{other:?}"),
    }
}
