//! Signed vendor callbacks: one application per `webhook-id`, replays are no-ops, a failed
//! application forgets the id so the vendor's retry is taken, and a crash between claiming the
//! id and applying it loses nothing.

mod common;

use std::time::Duration;

use common::*;
use hub_application::ErrorCode;
use hub_application::fakes::FakeHub;
use hub_application::ports::{AuditAction, CallbackLog, Clock, DeliveryStore, Remembered};
use hub_application::use_cases::callbacks::{
    CallbackError, CallbackOutcome, DeliveryRef, VendorCallback, WEBHOOK_CLAIM, WEBHOOK_ID_RETENTION,
};
use hub_domain::delivery::{DeliveryStatus, ReceiptStatus};
use hub_domain::{Channel, DeliveryId, Kind};

async fn one_delivery(hub: &FakeHub) -> DeliveryId {
    recipient(hub, "bob", &[(Channel::Email, Some("bob@example.com"))]).await;
    let r = hub.app.send(send("k1", "bob", Kind::Transactional, "hello")).await.unwrap();
    accepted(&r.outcome).deliveries[0].delivery_id
}

async fn status(hub: &FakeHub, id: DeliveryId) -> DeliveryStatus {
    DeliveryStore::get(hub.store.as_ref(), id).await.unwrap().unwrap().state.status
}

fn callback(id: DeliveryId, status: ReceiptStatus) -> VendorCallback {
    VendorCallback {
        vendor: "ses".into(),
        channel: None,
        delivery: DeliveryRef::Delivery(id),
        status,
        reason: None,
    }
}

fn callbacks_audited(hub: &FakeHub) -> usize {
    hub.store.audit_entries().iter().filter(|e| e.action == AuditAction::CallbackApplied).count()
}

#[tokio::test]
async fn a_replayed_webhook_id_changes_nothing_and_is_not_audited_twice() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub).await;
    hub.drain().await;
    let out = hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Failed)).await.unwrap();
    assert_eq!(out, CallbackOutcome::Applied(DeliveryStatus::Pending), "FAILED is a retry");
    hub.clock.advance(Duration::from_secs(1));
    hub.drain().await;
    assert_eq!(status(&hub, id).await, DeliveryStatus::Sent, "sent again");

    // The same FAILED report again would send a third time if it were applied.
    let again = hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Failed)).await.unwrap();
    assert_eq!(again, CallbackOutcome::Replayed);
    assert_eq!(status(&hub, id).await, DeliveryStatus::Sent, "unchanged");
    assert_eq!(callbacks_audited(&hub), 1, "audited once");

    // Another vendor's id is another callback.
    let other = VendorCallback { vendor: "twilio".into(), ..callback(id, ReceiptStatus::Delivered) };
    assert_eq!(
        hub.app.apply_signed_callback("msg_1", other).await.unwrap(),
        CallbackOutcome::Applied(DeliveryStatus::Delivered)
    );
    assert_eq!(callbacks_audited(&hub), 2);
}

#[tokio::test]
async fn an_id_is_remembered_for_the_retention_then_purged() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub).await;
    hub.drain().await;
    hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap();
    hub.clock.advance(WEBHOOK_ID_RETENTION - Duration::from_secs(1));
    assert_eq!(hub.app.purge_callback_log(100).await.unwrap(), 0, "still live");
    assert_eq!(
        hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap(),
        CallbackOutcome::Replayed
    );
    hub.clock.advance(Duration::from_secs(1));
    assert_eq!(hub.app.purge_callback_log(100).await.unwrap(), 1, "expired");
    assert_eq!(
        hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap(),
        CallbackOutcome::Unchanged(DeliveryStatus::Delivered),
        "taken again (the signature check refuses such old timestamps anyway)"
    );
}

#[tokio::test]
async fn a_callback_that_fails_to_apply_is_taken_when_the_vendor_retries() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub).await;
    // Not dispatched yet: the worker holds it.
    let now = hub.clock.now();
    hub.store.claim(id, now, now + chrono::TimeDelta::seconds(60)).await.unwrap().unwrap();
    let err =
        hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DependencyUnavailable);

    // The store is down: nothing is recorded, the vendor retries.
    hub.store.set_unavailable(true);
    let err =
        hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DependencyUnavailable);
    hub.store.set_unavailable(false);

    hub.clock.advance(Duration::from_secs(61));
    hub.app.reap_expired_leases(100).await.unwrap();
    hub.drain().await;
    assert_eq!(status(&hub, id).await, DeliveryStatus::Sent);
    let out = hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap();
    assert_eq!(out, CallbackOutcome::Applied(DeliveryStatus::Delivered), "the retry is applied");
    assert_eq!(callbacks_audited(&hub), 1);

    let unknown = DeliveryId::from_parts(1, 1);
    let err = hub.app.apply_signed_callback("msg_2", callback(unknown, ReceiptStatus::Delivered)).await;
    assert_eq!(err.unwrap_err().code(), ErrorCode::DeliveryNotFound);
    let err = hub.app.apply_signed_callback("msg_2", callback(unknown, ReceiptStatus::Delivered)).await;
    assert_eq!(err.unwrap_err().code(), ErrorCode::DeliveryNotFound, "404 again, not a replay");
}

#[tokio::test]
async fn a_crash_between_claim_and_apply_delays_the_report_but_does_not_lose_it() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub).await;
    hub.drain().await;
    // A replica claimed msg_1 and was killed before applying it: the claim is all that is left.
    let now = hub.clock.now();
    let claim_until = now + chrono::TimeDelta::from_std(WEBHOOK_CLAIM).unwrap();
    assert_eq!(
        CallbackLog::remember(hub.store.as_ref(), "ses", "msg_1", now, claim_until).await.unwrap(),
        Remembered::New
    );

    // The vendor got no 2xx and retries while the claim lives: told to come back, nothing applied.
    hub.clock.advance(WEBHOOK_CLAIM - Duration::from_secs(1));
    let err =
        hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap_err();
    assert!(matches!(err, CallbackError::InFlight), "{err:?}");
    assert_eq!(err.code(), ErrorCode::DependencyUnavailable, "503, so the vendor retries");
    assert_eq!(status(&hub, id).await, DeliveryStatus::Sent, "not applied");
    assert_eq!(callbacks_audited(&hub), 0);

    // Once the claim has expired, the next retry is applied, and later ones are replays.
    hub.clock.advance(Duration::from_secs(1));
    let out = hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap();
    assert_eq!(out, CallbackOutcome::Applied(DeliveryStatus::Delivered), "the report is not lost");
    assert_eq!(callbacks_audited(&hub), 1);
    hub.clock.advance(WEBHOOK_CLAIM + Duration::from_secs(1));
    assert_eq!(
        hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap(),
        CallbackOutcome::Replayed,
        "settled for the retention, not just the claim"
    );
}

#[tokio::test]
async fn a_settled_id_is_a_replay_and_a_failed_apply_leaves_no_claim_behind() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub).await;
    hub.drain().await;
    hub.app.apply_signed_callback("msg_1", callback(id, ReceiptStatus::Delivered)).await.unwrap();
    let now = hub.clock.now();
    assert_eq!(
        CallbackLog::remember(hub.store.as_ref(), "ses", "msg_1", now, now).await.unwrap(),
        Remembered::AlreadySeen,
        "an applied callback's id is settled"
    );

    let unknown = DeliveryId::from_parts(1, 1);
    let err = hub.app.apply_signed_callback("msg_2", callback(unknown, ReceiptStatus::Delivered)).await;
    assert_eq!(err.unwrap_err().code(), ErrorCode::DeliveryNotFound);
    let claim_until = now + chrono::TimeDelta::from_std(WEBHOOK_CLAIM).unwrap();
    assert_eq!(
        CallbackLog::remember(hub.store.as_ref(), "ses", "msg_2", now, claim_until).await.unwrap(),
        Remembered::New,
        "a failed apply forgot its claim: neither in flight nor settled"
    );
}
