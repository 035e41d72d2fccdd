//! Admin rate limits (SPEC §5.6): one `tower_governor` limiter keyed by client IP × scope.
//!
//! The scope follows from the call: reads (`GET`, `HEAD`) are `dlq.read`, the bulk endpoints
//! are `dlq.bulk`, every other call (replay, discard, the refused DELETE) is `dlq.write`. The
//! client IP is the TCP peer, unless the peer is inside a trusted proxy network: then
//! `X-Forwarded-For` is read from the right, skipping trusted hops, and the first untrusted
//! address is the client (the left part of the header is whatever the client wrote, so it is
//! never believed on its own).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use hub_application::ErrorCode;
use hub_domain::rate_limit::BucketPolicy;
use ipnet::IpNet;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::http::error::ApiError;

/// The configured limiter of the admin API.
pub(crate) type AdminGovernor = GovernorConfig<ClientScopeKey, NoOpMiddleware>;

/// What an admin call does, for its rate limit (`dlq.read`, `dlq.write`, `dlq.bulk` in the docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// Listing, detail, stats, jobs, audit.
    Read,
    /// Replay and discard of one delivery.
    Write,
    /// Bulk replay and bulk discard.
    Bulk,
}

impl Scope {
    /// The scope of a call by its method and path.
    pub(crate) fn of(method: &Method, path: &str) -> Scope {
        if method == Method::GET || method == Method::HEAD {
            Scope::Read
        } else if path.ends_with("/bulk-replay") || path.ends_with("/bulk-discard") {
            Scope::Bulk
        } else {
            Scope::Write
        }
    }
}

/// Keys requests by (client IP, scope).
#[derive(Debug, Clone)]
pub(crate) struct ClientScopeKey {
    trusted: Arc<[IpNet]>,
}

impl ClientScopeKey {
    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request from `peer` with these headers.
    pub(crate) fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.is_trusted(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            if !self.is_trusted(client) {
                break;
            }
            match parse_hop(hop) {
                Some(ip) => client = ip.to_canonical(),
                // Unreadable: keep the last address a trusted hop vouched for.
                None => break,
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an IP, or an IP with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

impl KeyExtractor for ClientScopeKey {
    type Key = (IpAddr, Scope);

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, GovernorError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or(GovernorError::UnableToExtractKey)?;
        Ok((self.client_ip(peer, req.headers()), Scope::of(req.method(), req.uri().path())))
    }
}

/// The limiter for `policy` (a burst of `capacity`, one more every `period / capacity`).
pub(crate) fn governor(policy: BucketPolicy, trusted_proxies: Vec<IpNet>) -> AdminGovernor {
    let every = (policy.period() / policy.capacity()).max(Duration::from_nanos(1));
    GovernorConfigBuilder::default()
        .key_extractor(ClientScopeKey { trusted: trusted_proxies.into() })
        .period(every)
        .burst_size(policy.capacity())
        .finish()
        .expect("a BucketPolicy has a non-zero capacity and period")
}

/// The layer over the admin routes; refusals are problem+json.
pub(crate) fn layer(config: Arc<AdminGovernor>) -> GovernorLayer<ClientScopeKey, NoOpMiddleware, Body> {
    GovernorLayer::new(config).error_handler(refusal)
}

fn refusal(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            // `wait_time` is truncated to whole seconds: one more never asks for a retry too early.
            let wait = wait_time + 1;
            ApiError::new(
                ErrorCode::RateLimited,
                format!("too many admin requests from this client for this scope; retry in {wait} s"),
            )
            .with_header(RETRY_AFTER, HeaderValue::from(wait))
            .into_response()
        }
        GovernorError::UnableToExtractKey => {
            ApiError::internal("admin rate limit: no peer address (serve with connect info)").into_response()
        }
        GovernorError::Other { code, msg, .. } => {
            ApiError::internal(format!("admin rate limit: {code} {}", msg.unwrap_or_default()))
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(trusted: &[&str]) -> ClientScopeKey {
        ClientScopeKey { trusted: trusted.iter().map(|n| n.parse().unwrap()).collect::<Vec<IpNet>>().into() }
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn scopes_follow_the_method_and_the_bulk_paths() {
        let s = |m: Method, p: &str| Scope::of(&m, p);
        assert_eq!(s(Method::GET, "/api/v1/admin/dlq"), Scope::Read);
        assert_eq!(s(Method::GET, "/api/v1/admin/dlq/bulk-jobs/job_1"), Scope::Read);
        assert_eq!(s(Method::GET, "/api/v1/admin/audit"), Scope::Read);
        assert_eq!(s(Method::POST, "/api/v1/admin/dlq/dlv_1/replay"), Scope::Write);
        assert_eq!(s(Method::DELETE, "/api/v1/admin/dlq/dlv_1"), Scope::Write);
        assert_eq!(s(Method::POST, "/api/v1/admin/dlq/bulk-replay"), Scope::Bulk);
        assert_eq!(s(Method::POST, "/api/v1/admin/dlq/bulk-discard"), Scope::Bulk);
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let k = key(&["10.0.0.0/8"]);
        assert_eq!(k.client_ip(ip("203.0.113.9"), &xff("198.51.100.1")), ip("203.0.113.9"));
        assert_eq!(key(&[]).client_ip(ip("10.1.1.1"), &xff("198.51.100.1")), ip("10.1.1.1"));
    }

    #[test]
    fn forwarded_for_names_the_first_untrusted_hop_from_the_right() {
        let k = key(&["10.0.0.0/8", "192.168.1.1/32"]);
        assert_eq!(k.client_ip(ip("10.0.0.2"), &xff("198.51.100.1")), ip("198.51.100.1"));
        // A client-written spoof on the left does not win over what the proxies saw.
        assert_eq!(
            k.client_ip(ip("10.0.0.2"), &xff("1.1.1.1, 198.51.100.1, 192.168.1.1")),
            ip("198.51.100.1")
        );
        assert_eq!(k.client_ip(ip("10.0.0.2"), &xff("198.51.100.1:4711")), ip("198.51.100.1"));
        assert_eq!(k.client_ip(ip("10.0.0.2"), &xff("not-an-ip")), ip("10.0.0.2"));
        assert_eq!(k.client_ip(ip("10.0.0.2"), &HeaderMap::new()), ip("10.0.0.2"));
        assert_eq!(k.client_ip(ip("::ffff:10.0.0.2"), &xff("2001:db8::1")), ip("2001:db8::1"));
    }

    #[test]
    fn the_quota_is_a_burst_of_the_capacity() {
        let config = governor(BucketPolicy::parse("3/60s").unwrap(), Vec::new());
        let k = (ip("127.0.0.1"), Scope::Read);
        for _ in 0..3 {
            assert!(config.limiter().check_key(&k).is_ok());
        }
        assert!(config.limiter().check_key(&k).is_err());
        assert!(config.limiter().check_key(&(ip("127.0.0.1"), Scope::Write)).is_ok());
    }
}
