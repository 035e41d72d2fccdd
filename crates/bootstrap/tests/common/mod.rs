//! A stand-in OTLP/HTTP collector, a log capture and a look at the process's threads.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::post;

/// What the collector received: (path, body) per POST.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// An HTTP server on a free local port, on its own thread and runtime (so a test may block
/// its own thread on a flush), that records every POST and answers 200 with an empty
/// protobuf `ExportTraceServiceResponse`.
#[derive(Debug)]
pub struct Collector {
    url: String,
    received: Received,
}

impl Collector {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("the bound address"));
        let received = Received::default();
        let state = received.clone();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let app = Router::new().fallback(post(record)).with_state(state);
                axum::serve(listener, app).await.expect("the collector serves");
            });
        });
        Collector { url, received }
    }

    /// The base URL, for `NH_OTEL_ENDPOINT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The bodies posted to `path`.
    pub fn bodies(&self, path: &str) -> Vec<Vec<u8>> {
        let received = self.received.lock().unwrap();
        received.iter().filter(|(p, _)| p == path).map(|(_, body)| body.clone()).collect()
    }

    /// Every path posted to.
    pub fn paths(&self) -> Vec<String> {
        self.received.lock().unwrap().iter().map(|(p, _)| p.clone()).collect()
    }
}

async fn record(
    State(received): State<Received>,
    uri: Uri,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1]) {
    received.lock().unwrap().push((uri.path().to_owned(), body.to_vec()));
    (StatusCode::OK, [("content-type", "application/x-protobuf")])
}

/// Log lines written through the subscriber under test.
#[derive(Debug, Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Every line, parsed as JSON.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .expect("UTF-8 logs")
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether the OpenTelemetry SDK's batch thread runs in this process, waiting up to 2 s for
/// the answer to become `expected` (a new thread names itself once it runs). `None` without
/// `/proc`.
pub fn batch_thread_running(expected: bool) -> Option<bool> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let running = batch_thread_running_now()?;
        if running == expected || std::time::Instant::now() > deadline {
            return Some(running);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether a thread named `OpenTelemetry.Traces.BatchProcessor` (cut to Linux's 15 bytes)
/// runs in this process now.
fn batch_thread_running_now() -> Option<bool> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("comm")).is_ok_and(|name| name.trim() == "OpenTelemetry.T")
    }))
}

/// `bytes` contains `needle`.
pub fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|window| window == needle)
}
