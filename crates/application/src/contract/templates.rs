//! [`TemplateStore`](crate::ports::TemplateStore): unique `(key, locale, channel)`, versions,
//! search and delete.

use hub_domain::{Channel, TemplateId};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::{TemplateFilter, TemplateRecord, TemplateVersion};

async fn create(s: &StoreParts, template: &TemplateRecord) {
    assert!(s.templates.create(template).await.expect("create template"), "create {}", template.id);
}

async fn find(s: &StoreParts, key: &str, locale_tag: &str, channel: Channel) -> Option<TemplateRecord> {
    s.templates.find(&template_key(key), &locale(locale_tag), channel).await.expect("find template")
}

fn version_of(t: &TemplateRecord) -> TemplateVersion {
    TemplateVersion {
        version: t.version,
        title: t.title.clone(),
        body: t.body.clone(),
        created_at: t.updated_at,
    }
}

async fn search(s: &StoreParts, filter: &TemplateFilter, limit: usize) -> Vec<TemplateId> {
    s.templates.search(filter, limit).await.expect("search").iter().map(|t| t.id).collect()
}

/// A created template reads back by id and by exact `(key, locale, channel)`, with one
/// version; lookups of anything else are `None`.
pub async fn template_create_then_get_find_and_versions(s: &StoreParts) {
    let t = template(1, "order.shipped", "ko-KR", Channel::Email, at(0));
    create(s, &t).await;
    assert_eq!(s.templates.get(t.id).await.expect("get"), Some(t.clone()), "get by id");
    assert_eq!(find(s, "order.shipped", "ko-kr", Channel::Email).await, Some(t.clone()), "find exact");
    assert_eq!(find(s, "order.shipped", "en", Channel::Email).await, None, "another locale");
    assert_eq!(find(s, "order.shipped", "ko-kr", Channel::Sms).await, None, "another channel");
    assert_eq!(find(s, "order.delivered", "ko-kr", Channel::Email).await, None, "another key");
    assert_eq!(s.templates.versions(t.id).await.expect("versions"), Some(vec![version_of(&t)]), "version 1");
    assert_eq!(s.templates.get(template_id(9)).await.expect("get"), None, "an unknown id");
    assert_eq!(
        s.templates.versions(template_id(9)).await.expect("versions"),
        None,
        "versions of an unknown id"
    );
}

/// A second template with the same `(key, locale, channel)` is refused (`false`) and nothing
/// is written; another locale or channel is fine.
pub async fn template_create_refuses_a_duplicate_key_locale_and_channel(s: &StoreParts) {
    let first = template(1, "order.shipped", "ko-KR", Channel::Email, at(0));
    create(s, &first).await;
    let clash = TemplateRecord {
        body: "Another body".to_owned(),
        ..template(2, "order.shipped", "ko-KR", Channel::Email, at(5))
    };
    assert!(!s.templates.create(&clash).await.expect("create"), "(key, locale, channel) is unique");
    assert_eq!(s.templates.get(clash.id).await.expect("get"), None, "the duplicate is not stored");
    assert_eq!(
        find(s, "order.shipped", "ko-kr", Channel::Email).await,
        Some(first),
        "the first is untouched"
    );

    create(s, &template(3, "order.shipped", "en", Channel::Email, at(6))).await;
    create(s, &template(4, "order.shipped", "ko-KR", Channel::Sms, at(7))).await;
    assert_eq!(search(s, &TemplateFilter::default(), 10).await.len(), 3, "three templates stored");
}

/// Update makes version + 1 with the new title and body (`updated_at = now`, `created_at`
/// kept), which get and find return from then on; every version stays in the history.
pub async fn template_update_makes_a_new_version_and_keeps_history(s: &StoreParts) {
    let t = template(1, "order.shipped", "ko-KR", Channel::Push, at(0));
    create(s, &t).await;
    let v2 = s.templates.update(t.id, Some("New {{name}}"), "Body v2", at(10)).await.expect("update");
    let expected = TemplateRecord {
        title: Some("New {{name}}".to_owned()),
        body: "Body v2".to_owned(),
        version: 2,
        updated_at: at(10),
        ..t.clone()
    };
    assert_eq!(v2, Some(expected.clone()), "the new version is returned");
    assert_eq!(s.templates.get(t.id).await.expect("get"), Some(expected.clone()), "get returns the newest");
    assert_eq!(
        find(s, "order.shipped", "ko-kr", Channel::Push).await,
        Some(expected.clone()),
        "so does find"
    );

    let v3 = s.templates.update(t.id, None, "Body v3", at(20)).await.expect("update").expect("known");
    assert_eq!((v3.version, v3.title.as_deref(), v3.created_at), (3, None, at(0)), "a title can be removed");
    let history = s.templates.versions(t.id).await.expect("versions").expect("known");
    assert_eq!(history, vec![version_of(&t), version_of(&expected), version_of(&v3)], "oldest first");
    let unknown = s.templates.update(template_id(9), None, "x", at(30)).await.expect("update");
    assert_eq!(unknown, None, "update of an unknown template");
}

/// Search applies each filter exactly, orders by key, locale and channel (canonical channel
/// order) and returns at most `limit`.
pub async fn template_search_filters_and_orders_by_key_locale_channel(s: &StoreParts) {
    let specs = [
        (1, "billing.due", "ko", Channel::Email),
        (2, "order.shipped", "en", Channel::Push),
        (3, "order.shipped", "en", Channel::Email),
        (4, "order.shipped", "ko", Channel::Sms),
        (5, "alert.login", "en", Channel::InApp),
    ];
    for (n, key, tag, channel) in specs {
        create(s, &template(n, key, tag, channel, at(0))).await;
    }
    let ids = |v: &[u128]| v.iter().map(|n| template_id(*n)).collect::<Vec<_>>();
    let all = TemplateFilter::default();
    assert_eq!(search(s, &all, 10).await, ids(&[5, 1, 2, 3, 4]), "key, then locale, then channel");
    assert_eq!(search(s, &all, 2).await, ids(&[5, 1]), "limit 2");

    let shipped = TemplateFilter { key: Some(template_key("order.shipped")), ..Default::default() };
    assert_eq!(search(s, &shipped, 10).await, ids(&[2, 3, 4]), "key filter");
    let email = TemplateFilter { channel: Some(Channel::Email), ..Default::default() };
    assert_eq!(search(s, &email, 10).await, ids(&[1, 3]), "channel filter");
    let english = TemplateFilter { locale: Some(locale("en")), ..Default::default() };
    assert_eq!(search(s, &english, 10).await, ids(&[5, 2, 3]), "locale filter");
    let both = TemplateFilter { locale: Some(locale("en")), ..shipped };
    assert_eq!(search(s, &both, 10).await, ids(&[2, 3]), "key and locale");
    let none = TemplateFilter { channel: Some(Channel::Slack), ..Default::default() };
    assert_eq!(search(s, &none, 10).await, ids(&[]), "no match");
}

/// Delete removes the template and its versions (`false` when unknown); its
/// `(key, locale, channel)` is free again and a new template there starts a fresh history.
pub async fn template_delete_removes_it_and_its_versions(s: &StoreParts) {
    let t = template(1, "order.shipped", "ko-KR", Channel::Email, at(0));
    let other = template(2, "order.delivered", "ko-KR", Channel::Email, at(0));
    create(s, &t).await;
    create(s, &other).await;
    s.templates.update(t.id, None, "Body v2", at(10)).await.expect("update");

    assert!(s.templates.delete(t.id).await.expect("delete"), "a known template");
    assert_eq!(s.templates.get(t.id).await.expect("get"), None, "get after delete");
    assert_eq!(s.templates.versions(t.id).await.expect("versions"), None, "versions after delete");
    assert_eq!(find(s, "order.shipped", "ko-kr", Channel::Email).await, None, "find after delete");
    assert_eq!(search(s, &TemplateFilter::default(), 10).await, vec![other.id], "search after delete");
    assert!(!s.templates.delete(t.id).await.expect("delete"), "deleting twice");

    let again = template(3, "order.shipped", "ko-KR", Channel::Email, at(20));
    create(s, &again).await;
    assert_eq!(s.templates.versions(again.id).await.expect("versions"), Some(vec![version_of(&again)]));
}
