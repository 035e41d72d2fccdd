//! An HTTP client over the router without a socket, wired to the application fakes.
#![allow(dead_code, unreachable_pub)]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use hub_adapter_in::{HttpState, router};
use hub_application::fakes::FakeHub;
use serde_json::Value;
use tower::ServiceExt;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The router over a `FakeHub`, started.
pub struct Api {
    pub hub: FakeHub,
    pub state: HttpState,
    router: Router,
}

impl Api {
    /// Fakes with default settings, startup done.
    pub fn new() -> Self {
        let hub = FakeHub::new();
        let state = HttpState::new(hub.app.clone());
        state.mark_started();
        Api::with_state(hub, state)
    }

    /// A router over the given state.
    pub fn with_state(hub: FakeHub, state: HttpState) -> Self {
        let router = router(state.clone());
        Api { hub, state, router }
    }

    /// Sends one request.
    pub async fn call(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        Reply { status, headers, bytes }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(Request::get(path).body(Body::empty()).unwrap()).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Request::delete(path).body(Body::empty()).unwrap()).await
    }

    /// A JSON request.
    pub async fn json(&self, method: Method, path: &str, body: &Value) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap();
        self.call(request).await
    }

    /// A request with raw body bytes and content type.
    pub async fn raw(&self, method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        self.call(builder.body(Body::from(body)).unwrap()).await
    }

    /// `POST /api/v1/notifications` with an Idempotency-Key and raw JSON text.
    pub async fn send_text(&self, key: &str, body: &str) -> Reply {
        let request = Request::post("/api/v1/notifications")
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.call(request).await
    }

    /// `POST /api/v1/notifications` with an Idempotency-Key.
    pub async fn send(&self, key: &str, body: &Value) -> Reply {
        self.send_text(key, &body.to_string()).await
    }

    /// Creates a recipient through the API.
    pub async fn recipient(&self, id: &str, channels: Value) -> Reply {
        let reply = self
            .json(
                Method::PUT,
                &format!("/api/v1/recipients/{id}"),
                &serde_json::json!({ "channels": channels }),
            )
            .await;
        assert!(reply.status.is_success(), "recipient: {}", reply.text());
        reply
    }
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }

    /// Asserts a problem+json answer with this status and code; returns the body.
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "status of {}", self.text());
        assert_eq!(self.header("content-type"), Some(PROBLEM_JSON), "content type of {}", self.text());
        let body = self.json();
        assert_eq!(body["code"], code, "code of {body}");
        assert_eq!(body["status"], status, "status member of {body}");
        assert!(
            body["type"].as_str().is_some_and(|t| t.starts_with("https://notification-hub.dev/problems/"))
        );
        assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
        assert!(body["instance"].as_str().is_some_and(|i| i.starts_with('/')), "{body}");
        body
    }

    /// Asserts a 400 VALIDATION_FAILED naming `field`.
    pub fn invalid(&self, field: &str) -> Value {
        let body = self.problem(400, "VALIDATION_FAILED");
        assert_eq!(body["field"], field, "field of {body}");
        body
    }

    /// Asserts a status and returns the JSON body.
    pub fn ok(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "status of {}", self.text());
        if self.bytes.is_empty() { Value::Null } else { self.json() }
    }
}
