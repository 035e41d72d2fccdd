use hub_application::ErrorCode;
use hub_domain::delivery::{DeliveryStatus, ErrorClass};

use super::*;

/// The exposition after recording `events` on a fresh registry.
fn exposition(events: impl IntoIterator<Item = MetricEvent>) -> String {
    let metrics = PrometheusMetrics::new();
    for event in events {
        metrics.record(event);
    }
    metrics.expose().body
}

/// Asserts that the exposition has exactly this line.
#[track_caller]
fn assert_line(body: &str, line: &str) {
    assert!(body.lines().any(|l| l == line), "no line `{line}` in:\n{body}");
}

#[test]
fn an_http_request_is_observed_in_the_buckets_of_its_route_method_and_status() {
    let body = exposition([MetricEvent::HttpRequest {
        route: "/api/v1/notifications/{id}".into(),
        method: "GET",
        status: 404,
        elapsed: Duration::from_millis(7),
    }]);
    let labels = r#"route="/api/v1/notifications/{id}",method="GET",status="404""#;
    assert_line(&body, "# TYPE nh_http_request_duration_seconds histogram");
    assert_line(&body, &format!(r#"nh_http_request_duration_seconds_bucket{{{labels},le="0.005"}} 0"#));
    assert_line(&body, &format!(r#"nh_http_request_duration_seconds_bucket{{{labels},le="0.01"}} 1"#));
    assert_line(&body, &format!(r#"nh_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} 1"#));
    assert_line(&body, &format!("nh_http_request_duration_seconds_sum{{{labels}}} 0.007"));
    assert_line(&body, &format!("nh_http_request_duration_seconds_count{{{labels}}} 1"));
}

#[test]
fn a_send_is_counted_by_kind_outcome_and_error_code() {
    let send = |verdict| MetricEvent::NotificationSend { kind: Kind::Service, verdict };
    let body = exposition([
        send(SendVerdict::Accepted),
        send(SendVerdict::Accepted),
        send(SendVerdict::Rejected(ErrorCode::RecipientNotFound)),
        send(SendVerdict::Failed(ErrorCode::DependencyUnavailable)),
    ]);
    assert_line(&body, "# TYPE nh_notifications_total counter");
    assert_line(&body, r#"nh_notifications_total{kind="SERVICE",outcome="accepted",code=""} 2"#);
    assert_line(
        &body,
        r#"nh_notifications_total{kind="SERVICE",outcome="rejected",code="RECIPIENT_NOT_FOUND"} 1"#,
    );
    assert_line(
        &body,
        r#"nh_notifications_total{kind="SERVICE",outcome="failed",code="DEPENDENCY_UNAVAILABLE"} 1"#,
    );
    assert_line(&body, r#"nh_notifications_total{kind="SERVICE",outcome="suppressed",code=""} 0"#);
}

#[test]
fn replays_and_rate_limit_denials_are_counted_by_source_and_channel() {
    let body = exposition([
        MetricEvent::IdempotentReplay { source: ReplaySource::Store },
        MetricEvent::RateLimitDenied { channel: Channel::Sms },
    ]);
    assert_line(&body, r#"nh_idempotent_replays_total{source="store"} 1"#);
    assert_line(&body, r#"nh_idempotent_replays_total{source="cache"} 0"#);
    assert_line(&body, r#"nh_rate_limit_denials_total{channel="SMS"} 1"#);
    assert_line(&body, r#"nh_rate_limit_denials_total{channel="EMAIL"} 0"#);
}

#[test]
fn deliveries_are_counted_by_channel_and_the_state_they_entered() {
    let body = exposition([
        MetricEvent::DeliveryFinal { channel: Channel::Email, status: DeliveryStatus::Sent },
        MetricEvent::DeliveryFinal { channel: Channel::Email, status: DeliveryStatus::Delivered },
        MetricEvent::DeliveryFinal { channel: Channel::KakaoAlimtalk, status: DeliveryStatus::Exhausted },
    ]);
    assert_line(&body, r#"nh_deliveries_total{channel="EMAIL",state="SENT"} 1"#);
    assert_line(&body, r#"nh_deliveries_total{channel="EMAIL",state="DELIVERED"} 1"#);
    assert_line(&body, r#"nh_deliveries_total{channel="KAKAO_ALIMTALK",state="EXHAUSTED"} 1"#);
    assert_line(&body, r#"nh_deliveries_total{channel="PUSH",state="CANCELLED"} 0"#);
}

#[test]
fn a_vendor_call_is_observed_by_channel_and_outcome() {
    let body = exposition([
        MetricEvent::Dispatch { channel: Channel::Sms, failure: None, elapsed: Duration::from_millis(30) },
        MetricEvent::Dispatch {
            channel: Channel::Sms,
            failure: Some(ErrorClass::RateLimited),
            elapsed: Duration::from_secs(2),
        },
    ]);
    assert_line(&body, "# TYPE nh_dispatch_duration_seconds histogram");
    assert_line(&body, r#"nh_dispatch_duration_seconds_bucket{channel="SMS",outcome="sent",le="0.05"} 1"#);
    assert_line(
        &body,
        r#"nh_dispatch_duration_seconds_bucket{channel="SMS",outcome="rate_limited",le="1"} 0"#,
    );
    assert_line(
        &body,
        r#"nh_dispatch_duration_seconds_bucket{channel="SMS",outcome="rate_limited",le="2.5"} 1"#,
    );
    assert_line(
        &body,
        r#"nh_dispatch_duration_seconds_bucket{channel="SMS",outcome="rate_limited",le="30"} 1"#,
    );
    assert_line(&body, r#"nh_dispatch_duration_seconds_sum{channel="SMS",outcome="rate_limited"} 2.0"#);
}

#[test]
fn retries_possible_duplicates_and_mock_sends_are_counted_by_channel() {
    let body = exposition([
        MetricEvent::RetryScheduled { channel: Channel::Push },
        MetricEvent::PossibleDuplicateSend { channel: Channel::Push, cause: DuplicateCause::LeaseReaped },
        MetricEvent::MockVendorSend { channel: Channel::Slack, failure: Some(ErrorClass::Unregistered) },
        MetricEvent::MockVendorSend { channel: Channel::Slack, failure: None },
    ]);
    assert_line(&body, r#"nh_retries_scheduled_total{channel="PUSH"} 1"#);
    assert_line(&body, r#"nh_possible_duplicate_sends_total{channel="PUSH",cause="lease_reaped"} 1"#);
    assert_line(&body, r#"nh_possible_duplicate_sends_total{channel="PUSH",cause="lease_lost"} 0"#);
    assert_line(&body, r#"nh_mock_vendor_sends_total{channel="SLACK",outcome="unregistered"} 1"#);
    assert_line(&body, r#"nh_mock_vendor_sends_total{channel="SLACK",outcome="sent"} 1"#);
}

#[test]
fn gauges_keep_the_last_value_read() {
    let body = exposition([
        MetricEvent::OutboxBacklog { rows: 9, oldest_age: Duration::from_secs(99) },
        MetricEvent::OutboxBacklog { rows: 3, oldest_age: Duration::from_millis(1500) },
        MetricEvent::DlqSize { channel: Channel::Email, size: 4 },
        MetricEvent::QueueDepth { channel: Channel::InApp, depth: 12 },
        MetricEvent::QueueDepth { channel: Channel::InApp, depth: 0 },
        MetricEvent::GaugeRefreshFailed { source: GaugeSource::Dlq },
    ]);
    assert_line(&body, "# TYPE nh_outbox_backlog gauge");
    assert_line(&body, "nh_outbox_backlog 3");
    assert_line(&body, "nh_outbox_lag_seconds 1.5");
    assert_line(&body, r#"nh_dlq_size{channel="EMAIL"} 4"#);
    assert_line(&body, r#"nh_queue_depth{channel="IN_APP"} 0"#);
    assert_line(&body, r#"nh_gauge_refresh_failures_total{gauge="dlq"} 1"#);
    assert_line(&body, r#"nh_gauge_refresh_failures_total{gauge="queue"} 0"#);
}

#[test]
fn the_exposition_is_prometheus_text_0_0_4_with_help_for_every_series() {
    let exposition = PrometheusMetrics::new().expose();
    assert_eq!(exposition.content_type, prometheus_text::CONTENT_TYPE);
    assert_eq!(exposition.content_type, "text/plain; version=0.0.4; charset=utf-8");
    let body = exposition.body;
    assert!(!body.contains("# EOF"), "no OpenMetrics terminator in the 0.0.4 format");
    for name in [
        "nh_notifications_total",
        "nh_idempotent_replays_total",
        "nh_rate_limit_denials_total",
        "nh_deliveries_total",
        "nh_retries_scheduled_total",
        "nh_possible_duplicate_sends_total",
        "nh_outbox_backlog",
        "nh_outbox_lag_seconds",
        "nh_gauge_refresh_failures_total",
    ] {
        assert!(body.contains(&format!("# HELP {name} ")), "{name} has no HELP in:\n{body}");
    }
    // Closed label sets start at zero: 4 kinds × 3 outcomes, 6 channels × 5 states.
    assert_eq!(body.lines().filter(|l| l.starts_with("nh_notifications_total{")).count(), 12);
    assert_eq!(body.lines().filter(|l| l.starts_with("nh_deliveries_total{")).count(), 30);
}
