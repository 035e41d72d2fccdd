//! Admin request shapes (SPEC §5.6): query parameters, bulk and discard bodies, the admin wire
//! enums, and the ISO-8601 duration of the stats `bucket`.

use chrono::{DateTime, TimeDelta, Utc};
use hub_application::ports::{self as app, AuditFilter, DlqFilter};
use hub_domain::{Channel, ErrorClass};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::dto::enums::{self as wire, wire_enum};
use crate::http::error::ApiError;
use crate::http::extract::param;

wire_enum!(
    /// What an admin action was (audit trail).
    AuditAction = app::AuditAction {
        DlqReplay,
        DlqDiscard,
        DlqBulkReplayDryRun,
        DlqBulkDiscardDryRun,
        DlqBulkReplay,
        DlqBulkDiscard,
        CallbackApplied,
    }
);

wire_enum!(
    /// What a bulk job does to each DLQ item.
    BulkAction = app::BulkAction {
        Replay,
        Discard,
    }
);

wire_enum!(
    /// Where a bulk job stands.
    JobState = app::JobState {
        Running,
        Succeeded,
        PartialFailure,
        Failed,
    }
);

/// `GET /api/v1/admin/dlq` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DlqListQuery {
    /// Only this channel.
    #[param(value_type = Option<wire::Channel>)]
    channel: Option<String>,
    /// Exhausted at or after (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Exhausted before (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// Only this error class (of the last failure).
    #[param(value_type = Option<wire::ErrorClass>)]
    error_class: Option<String>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

impl DlqListQuery {
    /// The filter, cursor and limit.
    pub(crate) fn try_into_parts(self) -> Result<(DlqFilter, Option<String>, Option<usize>), ApiError> {
        let filter = DlqFilter {
            channel: param::<Channel>("channel", self.channel)?,
            from: timestamp("from", self.from)?,
            to: timestamp("to", self.to)?,
            error_class: param::<ErrorClass>("errorClass", self.error_class)?,
        };
        Ok((filter, self.cursor, param::<usize>("limit", self.limit)?))
    }
}

/// `GET /api/v1/admin/dlq/stats` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DlqStatsQuery {
    /// Start of the window, inclusive (RFC 3339); default 24 hours before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// End of the window, exclusive (RFC 3339); default now.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// Bucket length as an ISO-8601 duration of days, hours, minutes and seconds (`PT1H`,
    /// `PT15M`, `P1D`); at least one minute, at most 10,000 buckets; default `PT1H`.
    #[param(value_type = Option<String>, example = "PT1H")]
    bucket: Option<String>,
}

/// The stats window: `from`, `to` and the bucket in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatsWindow {
    pub(crate) from: DateTime<Utc>,
    pub(crate) to: DateTime<Utc>,
    pub(crate) bucket_seconds: u64,
}

impl DlqStatsQuery {
    /// The window, with defaults relative to `now`.
    pub(crate) fn try_into_window(self, now: DateTime<Utc>) -> Result<StatsWindow, ApiError> {
        let to = timestamp("to", self.to)?.unwrap_or(now);
        let from = timestamp("from", self.from)?.unwrap_or(to - TimeDelta::hours(24));
        let bucket_seconds = match self.bucket {
            None => 3_600,
            Some(text) => parse_iso_duration(&text).map_err(|e| ApiError::validation("bucket", e))?,
        };
        Ok(StatsWindow { from, to, bucket_seconds })
    }
}

/// `GET /api/v1/admin/audit` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Only this action.
    #[param(value_type = Option<AuditAction>)]
    action: Option<String>,
    /// At or after (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Before (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

impl AuditQuery {
    /// The filter, cursor and limit.
    pub(crate) fn try_into_parts(self) -> Result<(AuditFilter, Option<String>, Option<usize>), ApiError> {
        let filter = AuditFilter {
            action: param::<app::AuditAction>("action", self.action)?,
            from: timestamp("from", self.from)?,
            to: timestamp("to", self.to)?,
        };
        Ok((filter, self.cursor, param::<usize>("limit", self.limit)?))
    }
}

/// `POST /api/v1/admin/dlq/{deliveryId}/discard`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = DiscardRequest)]
pub(crate) struct DiscardRequest {
    /// Why the delivery is given up (non-blank; kept on the delivery and in the audit trail).
    // The pattern asks for one character that is not Unicode White_Space (what `str::trim` cuts).
    #[schema(
        min_length = 1,
        pattern = r"[^\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
        example = "address no longer exists"
    )]
    pub(crate) reason: String,
}

/// `POST /api/v1/admin/dlq/bulk-replay` and `/bulk-discard`: which EXHAUSTED deliveries, and
/// whether to act (`confirm: true`) or only count them (a dry run).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = BulkRequest)]
pub(crate) struct BulkRequest {
    /// Only this channel.
    channel: Option<wire::Channel>,
    /// Exhausted at or after.
    from: Option<DateTime<Utc>>,
    /// Exhausted before (capped at the time of the request).
    to: Option<DateTime<Utc>>,
    /// Only this error class.
    error_class: Option<wire::ErrorClass>,
    /// `true` stores a job that acts on every match; anything else is a dry run.
    confirm: Option<bool>,
    /// Why (required, non-blank, for bulk-discard).
    reason: Option<String>,
}

impl BulkRequest {
    /// The filter, the confirm flag and the reason.
    pub(crate) fn into_parts(self) -> (DlqFilter, bool, Option<String>) {
        let filter = DlqFilter {
            channel: self.channel.map(Into::into),
            from: self.from,
            to: self.to,
            error_class: self.error_class.map(Into::into),
        };
        (filter, self.confirm == Some(true), self.reason)
    }
}

/// `DRY_RUN` or `EXECUTING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum BulkMode {
    /// Nothing changed.
    DryRun,
    /// A job was stored.
    Executing,
}

pub(crate) fn timestamp(name: &str, raw: Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|text| {
        DateTime::parse_from_rfc3339(&text).map(|t| t.to_utc()).map_err(|_| {
            ApiError::validation(name, "must be an RFC 3339 timestamp such as 2026-01-15T03:00:00Z")
        })
    })
    .transpose()
}

/// Parses an ISO-8601 duration of fixed-length units — `PnW`, or `PnD` and/or `T` with `nH`,
/// `nM`, `nS` in that order — into whole seconds. Years and months have no fixed length and
/// are refused, as are fractions and zero.
pub(crate) fn parse_iso_duration(text: &str) -> Result<u64, String> {
    const HINT: &str = "must be an ISO-8601 duration such as PT1H, PT15M or P1D";
    let rest = text.strip_prefix('P').ok_or_else(|| HINT.to_owned())?;
    if rest.is_empty() || rest.ends_with('T') {
        return Err(HINT.to_owned());
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total: u64 = 0;
    let mut add = |part: &str, units: &[(char, u64)]| -> Result<(), String> {
        let mut digits = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let position = units[next_unit..].iter().position(|(u, _)| *u == c);
            let (Some(offset), false) = (position, digits.is_empty()) else {
                return Err(if matches!(c, 'Y' | 'M') && units[0].0 != 'H' {
                    "years and months have no fixed length; use weeks, days, hours, minutes or seconds"
                        .to_owned()
                } else {
                    HINT.to_owned()
                });
            };
            let amount: u64 = digits.parse().map_err(|_| HINT.to_owned())?;
            let seconds = units[next_unit + offset].1;
            total = amount
                .checked_mul(seconds)
                .and_then(|s| total.checked_add(s))
                .ok_or_else(|| HINT.to_owned())?;
            digits.clear();
            next_unit += offset + 1;
        }
        if digits.is_empty() { Ok(()) } else { Err(HINT.to_owned()) }
    };
    add(date, &[('W', 604_800), ('D', 86_400)])?;
    if let Some(time) = time {
        add(time, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    if total == 0 {
        return Err("must be longer than zero".to_owned());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_of_fixed_units_parse_to_seconds() {
        for (text, seconds) in [
            ("PT1H", 3_600),
            ("PT15M", 900),
            ("PT90S", 90),
            ("P1D", 86_400),
            ("P1W", 604_800),
            ("P1DT12H", 129_600),
            ("PT1H30M", 5_400),
            ("PT1H0M30S", 3_630),
        ] {
            assert_eq!(parse_iso_duration(text), Ok(seconds), "{text}");
        }
    }

    #[test]
    fn malformed_or_variable_iso_durations_are_refused() {
        for text in [
            "",
            "P",
            "PT",
            "1H",
            "PT1",
            "PTH",
            "PT1.5H",
            "PT1M1H",
            "P1H",
            "pt1h",
            "PT1H ",
            "P0D",
            "PT0S",
            "P1Y",
            "P1M",
            "P1DT",
            "PT99999999999999999999H",
        ] {
            assert!(parse_iso_duration(text).is_err(), "{text:?} should be refused");
        }
        assert!(parse_iso_duration("P1Y").unwrap_err().contains("fixed length"));
    }
}
