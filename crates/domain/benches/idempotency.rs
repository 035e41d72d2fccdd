//! Idempotency fingerprint benchmarks (SPEC §5.1).
//!
//! `POST /api/v1/notifications` parses the body into a `serde_json::Value` once (the extractor
//! needs it anyway) and fingerprints that value with [`Fingerprint::of_json`]: SHA-256 of the
//! canonical JSON (members sorted by key bytes, no whitespace). Measured: the whole fingerprint,
//! its canonical-JSON half alone, and parse + fingerprint from the raw bytes.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hub_domain::Fingerprint;
use hub_domain::idempotency::canonical_json;
use serde_json::Value;

/// A typical templated send, as a caller would format it (about 500 bytes).
const SEND_BODY: &str = r#"{
  "recipientId": "user-8f3a2c91-4b7e-4d2a-9c1f-0e6b5a7d3f21",
  "kind": "TRANSACTIONAL",
  "templateKey": "order.shipped",
  "payload": {
    "name": "Ada Lovelace",
    "orderId": "A-20260610-1042",
    "shipDate": "2026-06-12",
    "carrier": "Parcel & Co",
    "trackingNumber": "1Z999AA10123456784",
    "itemCount": 3,
    "total": 129.95,
    "gift": false
  },
  "channels": ["EMAIL", "SMS", "PUSH"],
  "expiresAt": "2026-06-11T00:00:00Z",
  "priority": "NORMAL",
  "metadata": {"source": "order-service", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "tenant": "kr-main"}
}"#;

fn bench_fingerprint(c: &mut Criterion) {
    assert!((450..=650).contains(&SEND_BODY.len()), "body is {} bytes", SEND_BODY.len());
    let value: Value = serde_json::from_str(SEND_BODY).expect("valid JSON");
    let canonical = canonical_json(&value);
    assert!((400..=550).contains(&canonical.len()), "canonical JSON is {} bytes", canonical.len());

    let mut group = c.benchmark_group("idempotency");
    group.throughput(Throughput::Bytes(canonical.len() as u64));
    group.bench_function("fingerprint_of_json_500b", |b| b.iter(|| Fingerprint::of_json(black_box(&value))));
    group.bench_function("canonical_json_500b", |b| b.iter(|| canonical_json(black_box(&value))));
    group.throughput(Throughput::Bytes(SEND_BODY.len() as u64));
    group.bench_function("parse_and_fingerprint_500b", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_slice(black_box(SEND_BODY.as_bytes())).expect("valid JSON");
            Fingerprint::of_json(&value)
        });
    });
    group.finish();
}

criterion_group!(benches, bench_fingerprint);
criterion_main!(benches);
