//! Templates over HTTP.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

fn shipped(channel: &str) -> Value {
    json!({ "key": "order.shipped", "locale": "en", "channel": channel, "title": "Shipped", "body": "Order {{orderId}} shipped" })
}

async fn create(api: &Api) -> String {
    let reply = api.json(Method::POST, "/api/v1/templates", &shipped("EMAIL")).await;
    let body = reply.ok(201);
    let id = body["templateId"].as_str().unwrap().to_owned();
    assert_eq!(reply.header("location"), Some(format!("/api/v1/templates/{id}").as_str()));
    id
}

#[tokio::test]
async fn a_template_is_created_read_versioned_and_deleted() {
    let api = Api::new();
    let id = create(&api).await;
    let read = api.get(&format!("/api/v1/templates/{id}")).await.ok(200);
    assert_eq!(read["key"], "order.shipped");
    assert_eq!(read["channel"], "EMAIL");
    assert_eq!(read["version"], 1);
    let path = format!("/api/v1/templates/{id}");
    let updated =
        api.json(Method::PUT, &path, &json!({ "body": "Order {{orderId}} is on its way" })).await.ok(200);
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["title"], Value::Null);
    let versions = api.get(&format!("{path}/versions")).await.ok(200);
    assert_eq!(versions["templateId"], id.as_str());
    let numbers: Vec<u64> =
        versions["items"].as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect();
    assert_eq!(numbers, vec![1, 2]);
    api.delete(&path).await.ok(204);
    api.get(&path).await.problem(404, "TEMPLATE_NOT_FOUND");
    api.delete(&path).await.problem(404, "TEMPLATE_NOT_FOUND");
    api.get(&format!("{path}/versions")).await.problem(404, "TEMPLATE_NOT_FOUND");
    api.json(Method::PUT, &path, &json!({ "body": "x" })).await.problem(404, "TEMPLATE_NOT_FOUND");
}

#[tokio::test]
async fn a_duplicate_key_locale_and_channel_is_409() {
    let api = Api::new();
    create(&api).await;
    api.json(Method::POST, "/api/v1/templates", &shipped("EMAIL")).await.problem(409, "TEMPLATE_EXISTS");
    api.json(Method::POST, "/api/v1/templates", &shipped("SMS")).await.ok(201);
}

#[tokio::test]
async fn invalid_templates_are_400_naming_the_field() {
    let api = Api::new();
    let mut bad_key = shipped("EMAIL");
    bad_key["key"] = json!("Order");
    api.json(Method::POST, "/api/v1/templates", &bad_key).await.invalid("key");
    let mut bad_locale = shipped("EMAIL");
    bad_locale["locale"] = json!("english please");
    api.json(Method::POST, "/api/v1/templates", &bad_locale).await.invalid("locale");
    let mut bad_syntax = shipped("EMAIL");
    bad_syntax["body"] = json!("{{#open}} never closed");
    api.json(Method::POST, "/api/v1/templates", &bad_syntax).await.invalid("body");
    let mut too_long = shipped("KAKAO_ALIMTALK");
    too_long["body"] = json!("x".repeat(1001));
    api.json(Method::POST, "/api/v1/templates", &too_long).await.invalid("body");
    let mut missing = shipped("EMAIL");
    missing.as_object_mut().unwrap().remove("body");
    api.json(Method::POST, "/api/v1/templates", &missing).await.invalid("body");
    api.get("/api/v1/templates/ntf_01ARZ3NDEKTSV4RRFFQ69G5FAV").await.invalid("id");
}

#[tokio::test]
async fn search_matches_exactly_and_rejects_bad_parameters() {
    let api = Api::new();
    create(&api).await;
    api.json(Method::POST, "/api/v1/templates", &shipped("SMS")).await.ok(201);
    let all = api.get("/api/v1/templates?key=order.shipped").await.ok(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let sms = api.get("/api/v1/templates?channel=SMS&locale=en").await.ok(200);
    assert_eq!(sms["items"].as_array().unwrap().len(), 1);
    assert_eq!(sms["items"][0]["channel"], "SMS");
    assert_eq!(api.get("/api/v1/templates?locale=ko").await.ok(200)["items"], json!([]));
    api.get("/api/v1/templates?channel=FAX").await.invalid("channel");
    api.get("/api/v1/templates?key=Bad").await.invalid("key");
    api.get("/api/v1/templates?page=2").await.invalid("page");
}
