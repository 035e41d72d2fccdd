//! The application's use cases over the SQLite store: the full accept → claim → update → DLQ →
//! replay flow, and the same scenario on the in-memory fake (the oracle) giving the same results.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hub_adapter_out::sqlite::SqliteStore;
use hub_application::ports::{
    AuditFilter, BulkAction, DlqFilter, JobState, NotificationFilter, NotificationStore,
    NotificationWithDeliveries,
};
use hub_application::use_cases::bulk::{BulkCommand, BulkOutcome};
use hub_application::use_cases::callbacks::{DeliveryRef, VendorCallback};
use hub_application::use_cases::notifications::ListNotifications;
use hub_application::use_cases::recipients::{KindPreferenceInput, PutPreferences, PutRecipient};
use hub_application::use_cases::send::{Content, SendCommand, SendOutcome};
use hub_application::use_cases::templates::CreateTemplate;
use hub_domain::delivery::{DeliveryStatus, ReceiptStatus};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::status::NotificationStatus;
use hub_domain::template::TemplateKey;
use hub_domain::{Channel, Kind, NotificationId, Platform, Priority};

fn send(key: &str, recipient: &str, kind: Kind, content: Content) -> SendCommand {
    SendCommand {
        scope: "default".into(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
        fingerprint: Fingerprint::of_json(&serde_json::json!({ "key": key, "recipient": recipient })),
        recipient_id: rid(recipient),
        kind,
        content,
        channels: None,
        send_at: None,
        expires_at: None,
        priority: Priority::Normal,
        metadata: None,
    }
}

fn direct(body: &str) -> Content {
    Content::Direct { title: Some("Hello".into()), body: body.into() }
}

async fn person(h: &Harness, id: &str, channels: &[(Channel, Option<&str>)]) {
    h.app
        .put_recipient(PutRecipient {
            id: rid(id),
            channels: channels.iter().map(|(c, a)| (*c, a.map(str::to_owned))).collect(),
            locale: Some("en-us".into()),
            timezone: Some("Asia/Seoul".into()),
        })
        .await
        .unwrap();
}

async fn accepted(h: &Harness, cmd: SendCommand) -> NotificationId {
    match h.app.send(cmd).await.unwrap().outcome {
        SendOutcome::Accepted(r) => r.notification_id,
        other => panic!("expected Accepted, got {other:?}"),
    }
}

/// Walks the clock through the default retry schedule, draining at every step.
async fn run_schedule(h: &Harness) {
    h.drain().await;
    for step in [1, 5, 30, 120, 600] {
        h.clock.advance(Duration::from_secs(step));
        h.drain().await;
    }
}

/// Everything a user could observe after the scenario.
#[derive(Debug, PartialEq)]
struct Observed {
    notifications: Vec<(NotificationWithDeliveries, NotificationStatus)>,
    listed: Vec<NotificationId>,
    other: Vec<String>,
}

/// The whole product flow through the use cases: recipients, devices, preferences, templates,
/// sends (direct, template, scheduled, duplicate), dispatch with retries into the DLQ, a vendor
/// callback, replay, discard, a bulk job, a cancel, and an erasure.
async fn scenario(h: &Harness) -> Observed {
    person(
        h,
        "alice",
        &[(Channel::Email, Some("alice@example.com")), (Channel::Push, None), (Channel::InApp, None)],
    )
    .await;
    person(h, "bob", &[(Channel::Email, Some("fail-transient@example.com"))]).await;
    person(
        h,
        "carol",
        &[(Channel::Email, Some("fail-permanent@example.com")), (Channel::Sms, Some("+821012345678"))],
    )
    .await;
    for token in ["a", "b"] {
        h.app.register_device(&rid("alice"), Platform::Android, &token.repeat(40)).await.unwrap();
    }
    let mut kinds = BTreeMap::new();
    kinds
        .insert(Kind::Marketing, KindPreferenceInput { allowed: Some(true), channels: vec![Channel::Email] });
    h.app.put_preferences(&rid("carol"), PutPreferences { kinds, quiet_hours: Some(None) }).await.unwrap();
    h.app
        .create_template(CreateTemplate {
            key: "order.shipped".into(),
            locale: "en".into(),
            channel: Channel::Email,
            title: Some("Order {{order}}".into()),
            body: "Your order {{order}} shipped".into(),
        })
        .await
        .unwrap();

    let a1 = accepted(h, send("a1", "alice", Kind::Transactional, direct("first"))).await;
    let mut payload = hub_domain::Payload::new();
    payload.insert("order".into(), hub_domain::PayloadValue::Number(serde_json::Number::from(42)));
    let mut templated = send(
        "a2",
        "alice",
        Kind::Service,
        Content::Template { key: TemplateKey::parse("order.shipped").unwrap(), payload },
    );
    templated.channels = Some([Channel::Email].into_iter().collect());
    accepted(h, templated).await;
    let mut later = send("a3", "alice", Kind::Transactional, direct("later"));
    later.send_at = Some(at("2026-01-16T03:00:00Z"));
    let scheduled = accepted(h, later).await;
    let replay = h.app.send(send("a1", "alice", Kind::Transactional, direct("first"))).await.unwrap();
    assert!(replay.replayed);
    let b1 = accepted(h, send("b1", "bob", Kind::Transactional, direct("retry me"))).await;
    let c1 = accepted(h, send("c1", "carol", Kind::Marketing, direct("promo"))).await;
    for i in 0..3 {
        accepted(h, send(&format!("c-bulk-{i}"), "carol", Kind::Transactional, direct("bulk"))).await;
    }

    run_schedule(h).await;

    // A vendor receipt for alice's e-mail, by the vendor's message id.
    let first = h.app.get_notification(a1).await.unwrap();
    let email = first.stored.deliveries.iter().find(|d| d.channel == Channel::Email).unwrap();
    let vendor_id = email.vendor_message_id.clone().expect("sent with a vendor id");
    h.app
        .apply_callback(VendorCallback {
            vendor: "ses".into(),
            channel: Some(Channel::Email),
            delivery: DeliveryRef::VendorMessage(vendor_id),
            status: ReceiptStatus::Delivered,
            reason: None,
        })
        .await
        .unwrap();

    // Operators: replay bob (it fails again), discard carol's marketing e-mail, bulk-replay the rest.
    let bob = h.app.get_notification(b1).await.unwrap().stored.deliveries[0].id;
    h.app.replay_dlq(bob, "ops").await.unwrap();
    let carol = h.app.get_notification(c1).await.unwrap().stored.deliveries[0].id;
    h.app.discard_dlq(carol, "promo is over", "ops").await.unwrap();
    let dry = BulkCommand {
        action: BulkAction::Replay,
        filter: DlqFilter { channel: Some(Channel::Email), ..Default::default() },
        confirm: false,
        reason: None,
        actor: "ops".into(),
    };
    assert!(matches!(h.app.bulk(dry.clone()).await.unwrap(), BulkOutcome::DryRun { estimated_count: 3, .. }));
    let BulkOutcome::Executing { job_id } = h.app.bulk(BulkCommand { confirm: true, ..dry }).await.unwrap()
    else {
        panic!("expected a job")
    };
    for _ in 0..20 {
        if h.app.run_bulk_step(2).await.unwrap().finished {
            break;
        }
    }
    let job = h.app.bulk_job(job_id).await.unwrap();
    assert_eq!((job.state, job.processed_count), (JobState::Succeeded, 3));
    run_schedule(h).await;

    h.app.cancel_notification(scheduled).await.unwrap();
    h.app.delete_recipient(&rid("alice")).await.unwrap();

    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = h
            .app
            .list_notifications(ListNotifications {
                filter: NotificationFilter::default(),
                status: None,
                cursor: cursor.clone(),
                limit: Some(3),
            })
            .await
            .unwrap();
        listed.extend(page.items.iter().map(|v| v.stored.notification.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut notifications = Vec::new();
    for id in &listed {
        let view = h.app.get_notification(*id).await.unwrap();
        notifications.push((view.stored, view.status));
    }
    let dlq = h.app.list_dlq(DlqFilter::default(), None, Some(200)).await.unwrap();
    let audit = h.app.list_audit(AuditFilter::default(), None, Some(200)).await.unwrap();
    let other = vec![
        format!("{:?}", dlq.items),
        format!("{:?}", audit.items),
        format!("{:?}", h.app.bulk_job(job_id).await.unwrap()),
        format!("{:?}", h.app.get_recipient(&rid("carol")).await.unwrap()),
        format!("{:?}", h.app.get_recipient(&rid("alice")).await.map_err(|e| e.code())),
        format!("{:?}", h.app.search_templates(None, None, None).await.unwrap()),
        format!(
            "{:?}",
            h.app.dlq_stats(at("2026-01-15T00:00:00Z"), at("2026-01-16T00:00:00Z"), 3600).await.unwrap()
        ),
        format!("{:?}", h.sender.requests().len()),
    ];
    Observed { notifications, listed, other }
}

#[tokio::test]
async fn the_full_flow_on_sqlite_matches_the_in_memory_oracle() {
    let (_dir, sqlite) = temp_store().await;
    let sqlite = Arc::new(sqlite);
    let on_sqlite = scenario(&Harness::new(sqlite.clone())).await;
    let (fake, _) = Harness::in_memory();
    let on_fake = scenario(&fake).await;
    assert_eq!(on_sqlite.listed, on_fake.listed);
    for (s, f) in on_sqlite.notifications.iter().zip(&on_fake.notifications) {
        assert_eq!(s, f);
    }
    assert_eq!(on_sqlite, on_fake);

    // And what the flow should have produced, checked on its own terms.
    assert_eq!(on_sqlite.listed.len(), 8);
    let statuses: Vec<NotificationStatus> = on_sqlite.notifications.iter().map(|(_, s)| *s).collect();
    assert!(statuses.contains(&NotificationStatus::Cancelled), "{statuses:?}");
    assert!(statuses.contains(&NotificationStatus::Failed), "{statuses:?}");
    let deliveries: Vec<_> = on_sqlite.notifications.iter().flat_map(|(n, _)| &n.deliveries).collect();
    assert!(deliveries.iter().any(|d| d.state.status == DeliveryStatus::Delivered));
    assert!(deliveries.iter().any(|d| d.state.status == DeliveryStatus::Discarded));
    let alices: Vec<_> = deliveries.iter().filter(|d| d.recipient_id.as_str() == "alice").collect();
    assert!(alices.iter().all(|d| matches!(d.target, hub_domain::Target::Erased { .. })), "erased");
    let bob = deliveries.iter().find(|d| d.recipient_id.as_str() == "bob").unwrap();
    assert_eq!(bob.state.status, DeliveryStatus::Exhausted);
    assert_eq!(bob.tries.len(), 12, "six tries, replayed, six more");

    // It all survives a restart.
    sqlite.close().await;
    let reopened = SqliteStore::open(sqlite.path()).await.unwrap();
    for (stored, _) in &on_sqlite.notifications {
        assert_eq!(
            NotificationStore::get(&reopened, stored.notification.id).await.unwrap().as_ref(),
            Some(stored)
        );
    }
}
