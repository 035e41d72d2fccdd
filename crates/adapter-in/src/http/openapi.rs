//! The OpenAPI 3.1 document (utoipa), served at `/api/v1/openapi.json` and committed as
//! `docs/openapi.json`.

use std::sync::OnceLock;

use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

use super::dto::formats;
use super::error::Problem;
use super::{callbacks, health, metrics, notifications, recipients, templates};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "notification-hub",
        description = "Multi-channel notification hub. Every error is RFC 9457 application/problem+json \
            with a stable `code`; unknown routes answer 404 NOT_FOUND and wrong methods 405 \
            METHOD_NOT_ALLOWED with an `Allow` header."
    ),
    paths(
        notifications::send,
        notifications::list,
        notifications::get,
        notifications::cancel,
        recipients::put,
        recipients::get,
        recipients::delete,
        recipients::get_preferences,
        recipients::put_preferences,
        recipients::register_device,
        recipients::list_devices,
        recipients::disable_device,
        templates::create,
        templates::search,
        templates::get,
        templates::update,
        templates::delete,
        templates::versions,
        callbacks::receive,
        health::live,
        health::ready,
        health::startup,
        metrics::scrape,
        serve,
    ),
    components(
        // The text formats are named in parameters, which utoipa does not collect schemas from.
        schemas(
            Problem, formats::NotificationId, formats::DeliveryId, formats::TemplateId, formats::DeviceId,
            formats::JobId, formats::RecipientId, formats::DeviceToken, formats::TemplateKey, formats::Locale,
            formats::IdempotencyKey,
        ),
        responses(
            responses::BadRequest,
            responses::SendBadRequest,
            responses::PreferencesBadRequest,
            responses::NotificationNotFound,
            responses::RecipientNotFound,
            responses::TemplateNotFound,
            responses::DeviceNotFound,
            responses::InFlight,
            responses::TemplateExists,
            responses::PayloadTooLarge,
            responses::UnsupportedMediaType,
            responses::SendUnprocessable,
            responses::RateLimited,
            responses::Internal,
            responses::Unavailable,
            responses::InvalidSignature,
            responses::DeliveryNotFound,
            responses::CallbackPayloadTooLarge,
            responses::CallbackUnavailable,
        )
    ),
    tags(
        (name = "notifications", description = "Send, read and cancel notifications (SPEC §5.1)"),
        (name = "recipients", description = "Recipients, preferences and devices (SPEC §5.2, §5.4)"),
        (name = "templates", description = "Templates and their versions (SPEC §5.3)"),
        (name = "callbacks", description = "Signed delivery reports from vendors (SPEC §5.5)"),
        (name = "health", description = "Probes (SPEC §5.7)"),
        (name = "metrics", description = "Prometheus metrics (SPEC §5.7)"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// The OpenAPI 3.1 document of the HTTP API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::admin::openapi::doc());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.license = None;
    doc
}

fn document() -> &'static [u8] {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    DOCUMENT.get_or_init(|| openapi().to_pretty_json().map(String::into_bytes).unwrap_or_default())
}

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json",
        body = Object))
)]
pub(crate) async fn serve() -> Response {
    let mut response = document().into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Reusable problem+json responses, one per situation, each naming the codes it carries.
pub(crate) mod responses {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

    use crate::http::error::PROBLEM_JSON;

    pub(crate) fn problem(description: &str, headers: &[(&str, &str)]) -> RefOr<Response> {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
        let mut builder = ResponseBuilder::new().description(description).content(PROBLEM_JSON, content);
        for (name, text) in headers {
            let header = HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(*text))
                .build();
            builder = builder.header(*name, header);
        }
        builder.build().into()
    }

    macro_rules! problem_responses {
        ($($name:ident => $description:literal $([$($header:literal => $text:literal),+])?;)+) => {$(
            #[doc = $description]
            #[derive(Debug)]
            pub(crate) struct $name;

            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), problem($description, &[$($(($header, $text)),+)?]))
                }
            }
        )+};
    }

    problem_responses! {
        BadRequest => "VALIDATION_FAILED (with `field`: unknown field, wrong type, bad enum value, bad \
            parameter or id) or MALFORMED_JSON.";
        SendBadRequest => "IDEMPOTENCY_KEY_REQUIRED (no `Idempotency-Key`), VALIDATION_FAILED (with \
            `field`, also for a malformed `Idempotency-Key`) or MALFORMED_JSON.";
        PreferencesBadRequest => "VALIDATION_FAILED (with `field`, e.g. `quietHours` when start == end), \
            MALFORMED_JSON or MANDATORY_KIND (opting out of SECURITY or TRANSACTIONAL).";
        NotificationNotFound => "NOTIFICATION_NOT_FOUND.";
        RecipientNotFound => "RECIPIENT_NOT_FOUND.";
        TemplateNotFound => "TEMPLATE_NOT_FOUND.";
        DeviceNotFound => "RECIPIENT_NOT_FOUND, or NOT_FOUND when the device is not the recipient's.";
        InFlight => "IDEMPOTENCY_IN_FLIGHT: a request with this key is still running; retry after `Retry-After`."
            ["Retry-After" => "Always `1` (seconds)"];
        TemplateExists => "TEMPLATE_EXISTS: a template with this key, locale and channel exists.";
        PayloadTooLarge => "VALIDATION_FAILED: the body is over the limit (256 KiB by default).";
        UnsupportedMediaType => "VALIDATION_FAILED: the body must be `application/json`.";
        SendUnprocessable => "IDEMPOTENCY_KEY_REUSED (the key was used with another body), TEMPLATE_NOT_FOUND \
            (no template for a channel that would send, after locale fallback) or TEMPLATE_VARIABLE_MISSING \
            (with `variable`). Stored rejections replay with `Idempotent-Replayed: true`."
            ["Idempotent-Replayed" => "`true` when this repeats a stored outcome"];
        RateLimited => "RATE_LIMITED: the recipient's bucket for `channel` is empty; nothing was consumed."
            [
                "Retry-After" => "Whole seconds (at least 1) until the binding channel has a token",
                "RateLimit-Policy" => "draft-ietf-httpapi-ratelimit-headers, e.g. `\"sms\";q=5;w=60`",
                "RateLimit" => "draft-ietf-httpapi-ratelimit-headers, e.g. `\"sms\";r=0;t=12`"
            ];
        Internal => "INTERNAL: an unexpected error; the body says nothing about the cause.";
        Unavailable => "DEPENDENCY_UNAVAILABLE: the store, Redis or another dependency is down; retry later.";
        InvalidSignature => "INVALID_SIGNATURE: unknown vendor, no usable secret, a missing, repeated or garbled \
            webhook header, a timestamp more than 5 minutes off, or no matching signature. The body is the same \
            for every cause.";
        DeliveryNotFound => "DELIVERY_NOT_FOUND: no delivery has this `deliveryId` or `vendorMessageId`.";
        CallbackPayloadTooLarge => "VALIDATION_FAILED: the callback body is over 64 KiB.";
        CallbackUnavailable => "DEPENDENCY_UNAVAILABLE: the store is down, the delivery's dispatch result is not \
            stored yet, or this `webhook-id` is being applied (by a concurrent delivery of it, or by one that \
            crashed: its claim expires after 30 s); send the callback again after `Retry-After`."
            ["Retry-After" => "Seconds to wait (`5`), when the dispatch result is not stored yet or the \
                `webhook-id` is being applied"];
    }
}
