//! Known vectors, computed independently of this code with Python's standard library:
//!
//! ```text
//! python3 -c 'import hmac,hashlib,base64; k=base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw="); \
//!   print(base64.b64encode(hmac.new(k, b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}", \
//!   hashlib.sha256).digest()).decode())'
//! ```
//!
//! (`VALID` is also the example of the Standard Webhooks specification.) `OTHER_KEY_SIGNATURE`
//! is the same with the key `b"the-other-vendors-key"`, `TAMPERED_SIGNATURE` the original key
//! over the body `{"test": 2432232315}`.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};

use super::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=";
/// base64 of `the-other-vendors-key`.
const OTHER_SECRET: &str = "whsec_dGhlLW90aGVyLXZlbmRvcnMta2V5";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const VALID: &str = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const OTHER_KEY_SIGNATURE: &str = "LgzluIxpFEj3tdpDyClwk52vkR3Xc9FrQ+mw9kQmj1M=";
const TAMPERED_SIGNATURE: &str = "TW/pFPJ2/LwRQdgfM7WklE9yJiRyMs0cTpVPK8leNAU=";
const TOLERANCE: Duration = Duration::from_secs(300);

fn secrets() -> CallbackSecrets {
    let mut map = BTreeMap::new();
    for (vendor, secret) in [
        ("acme", SECRET),
        ("acme-unpadded", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("other", OTHER_SECRET),
        ("empty", ""),
        ("bare", "whsec_"),
        ("unprefixed", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw="),
        ("garbled", "whsec_not base64!"),
    ] {
        map.insert(vendor.to_owned(), SecretString::from(secret.to_owned()));
    }
    CallbackSecrets::new(map)
}

fn headers(id: Option<&str>, timestamp: Option<&str>, signature: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, timestamp), (WEBHOOK_SIGNATURE, signature)] {
        if let Some(v) = value {
            h.append(name, HeaderValue::from_str(v).unwrap());
        }
    }
    h
}

fn signed(signature: &str) -> HeaderMap {
    headers(Some(ID), Some(&TIMESTAMP.to_string()), Some(signature))
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn verify(vendor: &str, h: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, Refusal> {
    secrets().verify(vendor, h, body, at(now), TOLERANCE)
}

fn ok() -> Result<Verified, Refusal> {
    Ok(Verified { webhook_id: ID.to_owned() })
}

#[test]
fn the_known_vector_verifies() {
    assert_eq!(verify("acme", &signed(&format!("v1,{VALID}")), BODY, TIMESTAMP), ok());
    // The example secret has one `=` too many (32 base64 characters are 24 whole bytes); like
    // Python and the Standard Webhooks libraries, the padding is not insisted on.
    assert_eq!(verify("acme-unpadded", &signed(&format!("v1,{VALID}")), BODY, TIMESTAMP), ok());
    let unpadded = VALID.trim_end_matches('=');
    assert_eq!(verify("acme", &signed(&format!("v1,{unpadded}")), BODY, TIMESTAMP), ok());
}

#[test]
fn a_tampered_body_does_not_verify() {
    let tampered = br#"{"test": 2432232315}"#;
    assert_eq!(verify("acme", &signed(&format!("v1,{VALID}")), tampered, TIMESTAMP), Err(Refusal::NoMatch));
    assert_eq!(verify("acme", &signed(&format!("v1,{TAMPERED_SIGNATURE}")), tampered, TIMESTAMP), ok());
    let reformatted = br#"{"test":2432232314}"#;
    assert_eq!(
        verify("acme", &signed(&format!("v1,{VALID}")), reformatted, TIMESTAMP),
        Err(Refusal::NoMatch),
        "the raw bytes are signed, not the JSON value"
    );
}

#[test]
fn a_signature_made_with_another_secret_does_not_verify() {
    let h = signed(&format!("v1,{OTHER_KEY_SIGNATURE}"));
    assert_eq!(verify("acme", &h, BODY, TIMESTAMP), Err(Refusal::NoMatch));
    assert_eq!(verify("other", &h, BODY, TIMESTAMP), ok(), "the other vendor's key");
    assert_eq!(verify("other", &signed(&format!("v1,{VALID}")), BODY, TIMESTAMP), Err(Refusal::NoMatch));
}

#[test]
fn one_matching_v1_signature_in_the_list_is_enough_and_other_versions_are_ignored() {
    let h = signed(&format!("v1,{OTHER_KEY_SIGNATURE} v1,{VALID}"));
    assert_eq!(verify("acme", &h, BODY, TIMESTAMP), ok(), "the second of two");
    let h = signed(&format!("v1a,{VALID} v2,{VALID} v1,not-base64 {VALID}"));
    assert_eq!(verify("acme", &h, BODY, TIMESTAMP), Err(Refusal::NoMatch), "only v1 entries count");
    let truncated = &VALID[..VALID.len() - 8];
    assert_eq!(
        verify("acme", &signed(&format!("v1,{truncated}")), BODY, TIMESTAMP),
        Err(Refusal::NoMatch),
        "a prefix of the MAC is not the MAC"
    );
}

#[test]
fn the_timestamp_may_be_five_minutes_off_either_way_and_no_more() {
    let h = signed(&format!("v1,{VALID}"));
    assert_eq!(verify("acme", &h, BODY, TIMESTAMP + 300), ok(), "5 min old");
    assert_eq!(verify("acme", &h, BODY, TIMESTAMP + 301), Err(Refusal::OutsideTolerance(-301)), "stale");
    assert_eq!(verify("acme", &h, BODY, TIMESTAMP - 300), ok(), "5 min ahead");
    assert_eq!(verify("acme", &h, BODY, TIMESTAMP - 301), Err(Refusal::OutsideTolerance(301)), "future");
}

#[test]
fn each_missing_header_is_refused() {
    let ts = TIMESTAMP.to_string();
    let sig = format!("v1,{VALID}");
    assert_eq!(
        verify("acme", &headers(None, Some(&ts), Some(&sig)), BODY, TIMESTAMP),
        Err(Refusal::MissingHeader(WEBHOOK_ID))
    );
    assert_eq!(
        verify("acme", &headers(Some(ID), None, Some(&sig)), BODY, TIMESTAMP),
        Err(Refusal::MissingHeader(WEBHOOK_TIMESTAMP))
    );
    assert_eq!(
        verify("acme", &headers(Some(ID), Some(&ts), None), BODY, TIMESTAMP),
        Err(Refusal::MissingHeader(WEBHOOK_SIGNATURE))
    );
}

#[test]
fn repeated_and_garbled_headers_are_refused() {
    let mut h = signed(&format!("v1,{VALID}"));
    h.append(WEBHOOK_SIGNATURE, HeaderValue::from_static("v1,AAAA"));
    assert_eq!(verify("acme", &h, BODY, TIMESTAMP), Err(Refusal::RepeatedHeader(WEBHOOK_SIGNATURE)));
    let sig = format!("v1,{VALID}");
    for ts in ["", "+1614265330", "1614265330.0", " 1614265330", "-1", "99999999999999999999"] {
        let h = headers(Some(ID), Some(ts), Some(&sig));
        assert_eq!(
            verify("acme", &h, BODY, TIMESTAMP),
            Err(Refusal::GarbledHeader(WEBHOOK_TIMESTAMP)),
            "timestamp {ts:?}"
        );
    }
    let long = "x".repeat(300);
    for id in ["", "msg 1", long.as_str()] {
        let h = headers(Some(id), Some(&TIMESTAMP.to_string()), Some(&sig));
        assert_eq!(verify("acme", &h, BODY, TIMESTAMP), Err(Refusal::GarbledHeader(WEBHOOK_ID)), "id {id:?}");
    }
}

#[test]
fn an_unknown_vendor_or_an_unusable_secret_is_refused() {
    let h = signed(&format!("v1,{VALID}"));
    assert_eq!(verify("nobody", &h, BODY, TIMESTAMP), Err(Refusal::UnknownVendor));
    assert_eq!(verify("ACME", &h, BODY, TIMESTAMP), Err(Refusal::UnknownVendor), "vendor names are exact");
    for vendor in ["empty", "bare", "unprefixed", "garbled"] {
        assert_eq!(verify(vendor, &h, BODY, TIMESTAMP), Err(Refusal::BadSecret), "{vendor}");
    }
    let none = CallbackSecrets::default();
    assert_eq!(none.verify("acme", &h, BODY, at(TIMESTAMP), TOLERANCE), Err(Refusal::UnknownVendor));
}
