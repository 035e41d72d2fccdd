//! Fixtures shared by the use-case tests.
#![allow(dead_code, unreachable_pub)]

use chrono::{DateTime, Utc};
use hub_application::fakes::FakeHub;
use hub_application::use_cases::recipients::PutRecipient;
use hub_application::use_cases::send::{Content, SendCommand, SendOutcome, SendReceipt};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::{Channel, ChannelSet, Kind, Priority, RecipientId};

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("rfc3339").to_utc()
}

pub fn rid(s: &str) -> RecipientId {
    RecipientId::parse(s).expect("recipient id")
}

/// Creates a recipient with the given `(channel, address)` contacts.
pub async fn recipient(hub: &FakeHub, id: &str, contacts: &[(Channel, Option<&str>)]) {
    hub.app
        .put_recipient(PutRecipient {
            id: rid(id),
            channels: contacts.iter().map(|(c, a)| (*c, a.map(str::to_owned))).collect(),
            locale: None,
            timezone: None,
        })
        .await
        .expect("put recipient");
}

/// A direct-content send command; the fingerprint covers every field that varies in tests.
pub fn send(key: &str, recipient: &str, kind: Kind, body: &str) -> SendCommand {
    let json = serde_json::json!({ "recipientId": recipient, "kind": kind.as_str(), "body": body });
    SendCommand {
        scope: "default".into(),
        idempotency_key: IdempotencyKey::parse(key).expect("key"),
        fingerprint: Fingerprint::of_json(&json),
        recipient_id: rid(recipient),
        kind,
        content: Content::Direct { title: Some("Hello".into()), body: body.into() },
        channels: None,
        send_at: None,
        expires_at: None,
        priority: Priority::Normal,
        metadata: None,
    }
}

/// The same command restricted to channels (fingerprint updated).
pub fn only(mut cmd: SendCommand, channels: &[Channel]) -> SendCommand {
    cmd.channels = Some(channels.iter().copied().collect::<ChannelSet>());
    let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
    cmd.fingerprint =
        Fingerprint::of_json(&serde_json::json!({ "base": cmd.fingerprint.to_hex(), "channels": names }));
    cmd
}

pub fn accepted(outcome: &SendOutcome) -> &SendReceipt {
    match outcome {
        SendOutcome::Accepted(r) => r,
        other => panic!("expected Accepted, got {other:?}"),
    }
}
