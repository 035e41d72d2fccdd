//! Recipients, preferences, devices and templates with fakes.

mod common;

use common::*;
use hub_application::ErrorCode;
use hub_application::fakes::FakeHub;
use hub_application::ports::{DeviceRegistration, PutOutcome};
use hub_application::use_cases::recipients::{
    KindPreferenceInput, PutPreferences, PutRecipient, RecipientUseCaseError,
};
use hub_application::use_cases::templates::CreateTemplate;
use hub_application::{App, Settings};
use hub_domain::delivery::DeliveryStatus;
use hub_domain::{Channel, Kind, MAX_ACTIVE_DEVICES, Platform, Target};

fn put(id: &str, channels: Vec<(Channel, Option<&str>)>, tz: Option<&str>) -> PutRecipient {
    PutRecipient {
        id: rid(id),
        channels: channels.into_iter().map(|(c, a)| (c, a.map(str::to_owned))).collect(),
        locale: Some("ko-KR".into()),
        timezone: tz.map(str::to_owned),
    }
}

#[tokio::test]
async fn put_creates_then_replaces_a_recipient_and_keeps_its_devices() {
    let hub = FakeHub::new();
    let (outcome, record) =
        hub.app.put_recipient(put("alice", vec![(Channel::Push, None)], None)).await.unwrap();
    assert_eq!(outcome, PutOutcome::Created);
    assert_eq!(record.recipient.locale.as_str(), "ko-kr");
    assert_eq!(record.recipient.timezone.name(), "Asia/Seoul", "default timezone from settings");
    hub.app.register_device(&rid("alice"), Platform::Ios, &"d".repeat(64)).await.unwrap();
    let (outcome, record) = hub
        .app
        .put_recipient(put(
            "alice",
            vec![(Channel::Email, Some("a@example.com")), (Channel::Push, None)],
            Some("Europe/Berlin"),
        ))
        .await
        .unwrap();
    assert_eq!(outcome, PutOutcome::Replaced);
    assert_eq!(record.recipient.contacts.len(), 2);
    assert_eq!(record.recipient.devices.len(), 1);
    assert_eq!(record.recipient.timezone.name(), "Europe/Berlin");
}

#[tokio::test]
async fn invalid_fields_are_rejected_naming_the_field() {
    let hub = FakeHub::new();
    let cases = [
        (put("a", vec![], Some("Mars/Base")), "timezone"),
        (put("a", vec![(Channel::Email, Some("not-an-email"))], None), "channels[0].address"),
        (
            put("a", vec![(Channel::InApp, None), (Channel::Sms, Some("010-1234"))], None),
            "channels[1].address",
        ),
        (put("a", vec![(Channel::Sms, None)], None), "channels[0].address"),
        (put("a", vec![(Channel::Slack, Some("ops"))], None), "channels[0].address"),
        (put("a", vec![(Channel::InApp, None), (Channel::InApp, None)], None), "channels[1].type"),
    ];
    for (cmd, field) in cases {
        match hub.app.put_recipient(cmd).await.unwrap_err() {
            RecipientUseCaseError::Validation { field: f, .. } => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let mut bad_locale = put("a", vec![], None);
    bad_locale.locale = Some("english".into());
    assert_eq!(hub.app.put_recipient(bad_locale).await.unwrap_err().code(), ErrorCode::ValidationFailed);
    assert!(hub.app.get_recipient(&rid("a")).await.is_err(), "nothing was stored");
}

#[tokio::test]
async fn configured_slack_aliases_are_accepted() {
    let settings = Settings { slack_aliases: vec!["ops".into()], ..Settings::default() };
    let hub = FakeHub::with_settings(settings);
    hub.app.put_recipient(put("team", vec![(Channel::Slack, Some("ops"))], None)).await.unwrap();
    let _: &App = &hub.app;
}

#[tokio::test]
async fn unknown_recipients_answer_not_found_everywhere() {
    let hub = FakeHub::new();
    let id = rid("ghost");
    assert_eq!(hub.app.get_recipient(&id).await.unwrap_err().code(), ErrorCode::RecipientNotFound);
    assert_eq!(hub.app.delete_recipient(&id).await.unwrap_err().code(), ErrorCode::RecipientNotFound);
    assert_eq!(hub.app.get_preferences(&id).await.unwrap_err().code(), ErrorCode::RecipientNotFound);
    assert_eq!(
        hub.app.put_preferences(&id, PutPreferences::default()).await.unwrap_err().code(),
        ErrorCode::RecipientNotFound
    );
    assert_eq!(
        hub.app.register_device(&id, Platform::Web, &"t".repeat(32)).await.unwrap_err().code(),
        ErrorCode::RecipientNotFound
    );
}

fn prefs(kinds: &[(Kind, Option<bool>, &[Channel])], quiet: Option<Option<(&str, &str)>>) -> PutPreferences {
    PutPreferences {
        kinds: kinds
            .iter()
            .map(|(k, allowed, channels)| {
                (*k, KindPreferenceInput { allowed: *allowed, channels: channels.to_vec() })
            })
            .collect(),
        quiet_hours: quiet.map(|q| q.map(|(a, b)| (a.to_owned(), b.to_owned()))),
    }
}

#[tokio::test]
async fn preferences_default_round_trip_and_reject_mandatory_opt_outs_and_empty_windows() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[(Channel::Email, Some("a@example.com"))]).await;
    let defaults = hub.app.get_preferences(&rid("alice")).await.unwrap();
    assert_eq!(defaults.quiet_hours().map(|w| w.to_string()), Some("22:00-08:00".into()));
    assert!(defaults.allows_kind(Kind::Marketing));

    let stored = hub
        .app
        .put_preferences(
            &rid("alice"),
            prefs(
                &[(Kind::Marketing, Some(false), &[]), (Kind::Service, None, &[Channel::Email])],
                Some(Some(("23:30", "07:00"))),
            ),
        )
        .await
        .unwrap();
    assert!(!stored.allows_kind(Kind::Marketing));
    assert_eq!(stored.allowed_channels(Kind::Service).to_vec(), vec![Channel::Email]);
    assert_eq!(stored.quiet_hours().map(|w| w.to_string()), Some("23:30-07:00".into()));
    assert_eq!(hub.app.get_preferences(&rid("alice")).await.unwrap(), stored);

    let none = hub.app.put_preferences(&rid("alice"), prefs(&[], Some(None))).await.unwrap();
    assert_eq!(none.quiet_hours(), None, "null turns quiet hours off");
    let absent = hub.app.put_preferences(&rid("alice"), prefs(&[], None)).await.unwrap();
    assert_eq!(
        absent.quiet_hours().map(|w| w.to_string()),
        Some("22:00-08:00".into()),
        "absent means the default"
    );

    for kind in [Kind::Security, Kind::Transactional] {
        let err = hub
            .app
            .put_preferences(&rid("alice"), prefs(&[(kind, Some(false), &[])], None))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::MandatoryKind);
        assert_eq!(err.code().http_status(), 400);
    }
    for (quiet, field) in [
        (("22:00", "22:00"), "quietHours"),
        (("25:00", "08:00"), "quietHours.start"),
        (("22:00", "8am"), "quietHours.end"),
    ] {
        match hub.app.put_preferences(&rid("alice"), prefs(&[], Some(Some(quiet)))).await.unwrap_err() {
            RecipientUseCaseError::Validation { field: f, .. } => assert_eq!(f, field),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        hub.app.get_preferences(&rid("alice")).await.unwrap(),
        absent,
        "rejected documents change nothing"
    );
}

#[tokio::test]
async fn devices_register_move_reactivate_and_stay_within_the_limit() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[(Channel::Push, None)]).await;
    recipient(&hub, "bob", &[(Channel::Push, None)]).await;
    let token = "x".repeat(40);
    let first = hub.app.register_device(&rid("alice"), Platform::Android, &token).await.unwrap();
    assert!(matches!(first, DeviceRegistration::Created(_)));
    let again = hub.app.register_device(&rid("alice"), Platform::Android, &token).await.unwrap();
    assert!(matches!(again, DeviceRegistration::Existing(_)));
    assert_eq!(again.device().id, first.device().id);
    hub.app.disable_device(&rid("alice"), first.device().id).await.unwrap();
    let back = hub.app.register_device(&rid("alice"), Platform::Android, &token).await.unwrap();
    assert!(back.device().active, "a disabled token is re-activated");
    let moved = hub.app.register_device(&rid("bob"), Platform::Android, &token).await.unwrap();
    assert!(matches!(moved, DeviceRegistration::Moved(_)));
    assert!(hub.app.list_devices(&rid("alice")).await.unwrap().is_empty());

    for i in 0..(MAX_ACTIVE_DEVICES + 2) {
        hub.clock.advance(std::time::Duration::from_secs(1));
        hub.app.register_device(&rid("alice"), Platform::Ios, &format!("{i:0>40}")).await.unwrap();
    }
    let devices = hub.app.list_devices(&rid("alice")).await.unwrap();
    assert_eq!(devices.len(), MAX_ACTIVE_DEVICES + 2);
    assert_eq!(devices.iter().filter(|d| d.active).count(), MAX_ACTIVE_DEVICES);
    assert!(!devices[0].active && !devices[1].active, "the oldest were disabled");

    assert_eq!(
        hub.app.register_device(&rid("alice"), Platform::Ios, "short").await.unwrap_err().code(),
        ErrorCode::ValidationFailed
    );
    let unknown = hub_domain::DeviceId::from_parts(1, 1);
    assert_eq!(hub.app.disable_device(&rid("alice"), unknown).await.unwrap_err().code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn deleting_a_recipient_erases_it_and_masks_its_history() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[(Channel::Email, Some("alice@example.com"))]).await;
    hub.clock.set(at("2026-01-15T14:00:00Z"));
    let r = hub.app.send(send("k1", "alice", Kind::Marketing, "later")).await.unwrap();
    let id = accepted(&r.outcome).notification_id;
    hub.app.delete_recipient(&rid("alice")).await.unwrap();
    assert_eq!(hub.app.get_recipient(&rid("alice")).await.unwrap_err().code(), ErrorCode::RecipientNotFound);
    let view = hub.app.get_notification(id).await.unwrap();
    let d = &view.stored.deliveries[0];
    assert_eq!(d.target, Target::Erased { masked: "al***om".into() });
    assert_eq!(d.state.status, DeliveryStatus::Cancelled, "nothing is sent to an erased recipient");
}

fn template(key: &str, locale: &str, channel: Channel, body: &str) -> CreateTemplate {
    CreateTemplate {
        key: key.into(),
        locale: locale.into(),
        channel,
        title: Some("T".into()),
        body: body.into(),
    }
}

#[tokio::test]
async fn templates_are_unique_versioned_searchable_and_deletable() {
    let hub = FakeHub::new();
    let t =
        hub.app.create_template(template("order.shipped", "en", Channel::Email, "v1 {{id}}")).await.unwrap();
    assert_eq!(t.version, 1);
    assert!(t.id.to_string().starts_with("tpl_"));
    let dup =
        hub.app.create_template(template("order.shipped", "en", Channel::Email, "other")).await.unwrap_err();
    assert_eq!(dup.code(), ErrorCode::TemplateExists);
    assert_eq!(dup.code().http_status(), 409);
    hub.app.create_template(template("order.shipped", "ko", Channel::Email, "ko")).await.unwrap();
    hub.app.create_template(template("order.shipped", "en", Channel::Sms, "sms")).await.unwrap();

    let v2 = hub.app.update_template(t.id, Some("T2".into()), "v2 {{id}}".into()).await.unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(hub.app.get_template(t.id).await.unwrap().body, "v2 {{id}}");
    let versions = hub.app.template_versions(t.id).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(versions[0].body, "v1 {{id}}");

    assert_eq!(hub.app.search_templates(Some("order.shipped"), None, None).await.unwrap().len(), 3);
    assert_eq!(hub.app.search_templates(None, Some(Channel::Sms), None).await.unwrap().len(), 1);
    assert_eq!(hub.app.search_templates(None, None, Some("ko")).await.unwrap().len(), 1);
    assert_eq!(
        hub.app.search_templates(Some("Bad Key"), None, None).await.unwrap_err().code(),
        ErrorCode::ValidationFailed
    );

    hub.app.delete_template(t.id).await.unwrap();
    assert_eq!(hub.app.get_template(t.id).await.unwrap_err().code(), ErrorCode::TemplateNotFound);
    assert_eq!(hub.app.delete_template(t.id).await.unwrap_err().code(), ErrorCode::TemplateNotFound);
}

#[tokio::test]
async fn invalid_templates_are_rejected_at_registration() {
    let hub = FakeHub::new();
    for (cmd, field) in [
        (template("shipped", "en", Channel::Email, "x"), "key"),
        (template("order.Shipped", "en", Channel::Email, "x"), "key"),
        (template("order.shipped", "english", Channel::Email, "x"), "locale"),
        (template("order.shipped", "en", Channel::Sms, &"x".repeat(2001)), "body"),
        (template("order.shipped", "en", Channel::KakaoAlimtalk, &"x".repeat(1001)), "body"),
        (template("order.shipped", "en", Channel::Email, "{{#open}} unclosed"), "body"),
    ] {
        let err = hub.app.create_template(cmd).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationFailed, "{field}");
        match err {
            hub_application::use_cases::templates::TemplateUseCaseError::Validation { field: f, .. } => {
                assert_eq!(f, field)
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(hub.app.search_templates(None, None, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn readiness_reports_each_dependency() {
    let hub = FakeHub::new();
    let ready = hub.app.readiness().await;
    assert_eq!(ready.len(), 1);
    assert_eq!((ready[0].name, ready[0].up), ("store", true));
    hub.store.set_unavailable(true);
    let ready = hub.app.readiness().await;
    assert!(!ready[0].up);
    assert!(ready[0].error.as_deref().unwrap_or("").contains("unavailable"));
}
