//! The admin part of the OpenAPI document: its paths, shapes, problem responses and the
//! `X-Admin-Token` security scheme, merged into the main document by `http::openapi`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::dto::{AuditAction, BulkAction, BulkMode, BulkRequest, DiscardRequest, JobState};
use super::views::{
    AuditEntryDto, AuditPageDto, BulkDryRunDto, BulkExecutingDto, BulkJobDto, DlqFilterDto, DlqItemDto,
    DlqPageDto, DlqStatRowDto, DlqStatsDto,
};
use super::{audit, bulk, dlq};

/// The admin API description.
#[derive(OpenApi)]
#[openapi(
    paths(
        dlq::list,
        dlq::detail,
        dlq::replay,
        dlq::discard,
        dlq::stats,
        bulk::bulk_replay,
        bulk::bulk_discard,
        bulk::job,
        audit::list,
    ),
    components(
        schemas(
            DlqItemDto, DlqPageDto, DlqStatRowDto, DlqStatsDto, DiscardRequest, BulkRequest, BulkMode,
            BulkDryRunDto, BulkExecutingDto, BulkJobDto, DlqFilterDto, BulkAction, JobState, AuditAction,
            AuditEntryDto, AuditPageDto,
        ),
        responses(
            responses::Unauthorized,
            responses::AdminRateLimited,
            responses::DeliveryNotFound,
            responses::IllegalDlqOperation,
            responses::JobNotFound,
            responses::BulkDiscardBadRequest,
        )
    ),
    modifiers(&AdminTokenScheme),
    tags((name = "admin", description = "Operators: the DLQ, bulk replay/discard jobs and the audit trail \
        (SPEC §5.6). Every call needs `X-Admin-Token` and is rate limited per client IP and scope \
        (`dlq.read`: GETs, `dlq.write`: replay/discard, `dlq.bulk`: bulk endpoints)."))
)]
struct AdminDoc;

/// Declares the `adminToken` security scheme the admin paths name.
struct AdminTokenScheme;

impl Modify for AdminTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "adminToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Admin-Token",
                "The admin token (NH_ADMIN_TOKEN), compared in constant time. Unset = every admin call 401.",
            ))),
        );
    }
}

/// The admin paths and components, to merge into the main document.
pub(crate) fn doc() -> utoipa::openapi::OpenApi {
    AdminDoc::openapi()
}

/// Problem+json responses of the admin API.
pub(crate) mod responses {
    use utoipa::openapi::{RefOr, Response};

    use crate::http::openapi::responses::problem;

    macro_rules! admin_responses {
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

    admin_responses! {
        Unauthorized => "UNAUTHORIZED: `X-Admin-Token` is missing or wrong, or no admin token is configured.";
        AdminRateLimited => "RATE_LIMITED: this client IP used up its requests for this scope (60 a minute by \
            default)."
            ["Retry-After" => "Whole seconds (at least 1) until the next request is allowed"];
        DeliveryNotFound => "DELIVERY_NOT_FOUND.";
        IllegalDlqOperation => "ILLEGAL_DLQ_OPERATION: only EXHAUSTED deliveries can be replayed or discarded.";
        JobNotFound => "JOB_NOT_FOUND.";
        BulkDiscardBadRequest => "VALIDATION_FAILED (with `field`; `reason` when it is missing or blank, \
            `from` when it is not before `to`) or MALFORMED_JSON.";
    }
}
