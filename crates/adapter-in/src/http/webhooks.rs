//! Standard Webhooks signature checks of vendor callbacks (SPEC §5.5), over the raw body bytes.
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the HMAC-SHA256 key is the
//! base64-decoded part of the vendor's `whsec_…` secret; `webhook-signature` is a space-separated
//! list of `v1,<base64 MAC>` (other version tags are ignored) and one match is enough. Every
//! check fails closed, and the caller learns only that the signature is invalid: the reason is
//! for the debug log.

use std::collections::BTreeMap;
use std::fmt;

use axum::http::HeaderMap;
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The prefix of a vendor secret; the rest is the base64 HMAC key.
pub(crate) const SECRET_PREFIX: &str = "whsec_";

/// The header names.
pub(crate) const WEBHOOK_ID: &str = "webhook-id";
/// Unix seconds.
pub(crate) const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// `v1,<base64>` entries separated by spaces.
pub(crate) const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Longest accepted `webhook-id` (Standard Webhooks ids are short; this bounds the stored key).
const MAX_ID_LEN: usize = 256;

/// Standard base64 read without its padding: secrets and signatures are accepted with, without
/// and with superfluous `=` (as the Standard Webhooks libraries do: their own example secret
/// carries one `=` too many).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Decodes standard base64 after dropping trailing `=`.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text.trim_end_matches('=')).ok()
}

/// A callback whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The `webhook-id` (the replay key).
    pub(crate) webhook_id: String,
}

/// Why a callback was refused. Shown in the debug log only, never to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No secret is configured for the vendor.
    UnknownVendor,
    /// The secret is empty, lacks `whsec_`, is not base64 or decodes to nothing.
    BadSecret,
    /// The header is absent.
    MissingHeader(&'static str),
    /// The header is given more than once.
    RepeatedHeader(&'static str),
    /// The header's value is not well-formed.
    GarbledHeader(&'static str),
    /// The timestamp is further from the clock than the tolerance (seconds off, negative = past).
    OutsideTolerance(i64),
    /// No `v1` signature matches.
    NoMatch,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownVendor => write!(f, "no secret is configured for the vendor"),
            Refusal::BadSecret => write!(f, "the vendor's secret is not whsec_ followed by base64"),
            Refusal::MissingHeader(h) => write!(f, "{h} is missing"),
            Refusal::RepeatedHeader(h) => write!(f, "{h} is given more than once"),
            Refusal::GarbledHeader(h) => write!(f, "{h} is not well-formed"),
            Refusal::OutsideTolerance(off) => write!(f, "webhook-timestamp is {off} s off the clock"),
            Refusal::NoMatch => write!(f, "no v1 signature matches"),
        }
    }
}

/// The per-vendor secrets, as configured (`NH_CALLBACK_SECRETS`).
#[derive(Debug, Clone, Default)]
pub(crate) struct CallbackSecrets(BTreeMap<String, SecretString>);

impl CallbackSecrets {
    /// Wraps the configured secrets; logs (once, without the secret) those that cannot work.
    pub(crate) fn new(secrets: BTreeMap<String, SecretString>) -> Self {
        for (vendor, secret) in &secrets {
            if hmac_key(secret).is_none() {
                tracing::warn!(
                    vendor = %vendor,
                    "callback secret is not whsec_ + base64: every callback of this vendor is refused"
                );
            }
        }
        CallbackSecrets(secrets)
    }

    /// Checks a callback of `vendor`: headers, the timestamp within `tolerance` of `now` either
    /// way, and a `v1` HMAC-SHA256 over `id.timestamp.body` compared in constant time.
    pub(crate) fn verify(
        &self,
        vendor: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
        tolerance: std::time::Duration,
    ) -> Result<Verified, Refusal> {
        let secret = self.0.get(vendor).ok_or(Refusal::UnknownVendor)?;
        let key = hmac_key(secret).ok_or(Refusal::BadSecret)?;
        let id = single(headers, WEBHOOK_ID)?;
        if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Refusal::GarbledHeader(WEBHOOK_ID));
        }
        let timestamp = single(headers, WEBHOOK_TIMESTAMP)?;
        let seconds = unix_seconds(timestamp).ok_or(Refusal::GarbledHeader(WEBHOOK_TIMESTAMP))?;
        let off = seconds.saturating_sub(now.timestamp());
        let limit = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
        if off.unsigned_abs() > limit.unsigned_abs() {
            return Err(Refusal::OutsideTolerance(off));
        }
        let signatures = single(headers, WEBHOOK_SIGNATURE)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| Refusal::BadSecret)?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        let matched = signatures
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, signature)| decode_base64(signature))
            // `verify_slice` compares in constant time.
            .any(|signature| mac.clone().verify_slice(&signature).is_ok());
        if !matched {
            return Err(Refusal::NoMatch);
        }
        Ok(Verified { webhook_id: id.to_owned() })
    }
}

/// The HMAC key of a `whsec_<base64>` secret; `None` when unset or not decodable.
fn hmac_key(secret: &SecretString) -> Option<Vec<u8>> {
    let encoded = secret.expose_secret().strip_prefix(SECRET_PREFIX)?;
    decode_base64(encoded).filter(|key| !key.is_empty())
}

/// The one value of a header, as visible ASCII text.
fn single<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, Refusal> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(Refusal::MissingHeader(name))?;
    if values.next().is_some() {
        return Err(Refusal::RepeatedHeader(name));
    }
    value.to_str().map_err(|_| Refusal::GarbledHeader(name))
}

/// Unix seconds written as 1–12 ASCII digits (no sign, no spaces).
fn unix_seconds(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests;
