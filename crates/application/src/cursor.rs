//! Opaque pagination cursors: base64url of `{millis}.{id}`, so clients cannot depend on the format.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

/// A cursor that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not valid; use the nextCursor value of a previous page")]
pub struct InvalidCursor;

/// Encodes a `(timestamp, id)` position.
pub fn encode(at: DateTime<Utc>, id: &impl std::fmt::Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", at.timestamp_micros(), id))
}

/// Decodes a position, parsing the id with `parse_id`.
pub fn decode<T, E>(
    cursor: &str,
    parse_id: impl FnOnce(&str) -> Result<T, E>,
) -> Result<(DateTime<Utc>, T), InvalidCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| InvalidCursor)?;
    let (micros, id) = text.split_once('.').ok_or(InvalidCursor)?;
    let micros: i64 = micros.parse().map_err(|_| InvalidCursor)?;
    let at = DateTime::from_timestamp_micros(micros).ok_or(InvalidCursor)?;
    let id = parse_id(id).map_err(|_| InvalidCursor)?;
    Ok((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_domain::NotificationId;

    #[test]
    fn cursor_round_trips_and_hides_its_format() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = NotificationId::from_parts(1, 2);
        let c = encode(at, &id);
        assert!(!c.contains("ntf_"));
        assert_eq!(decode(&c, NotificationId::parse), Ok((at, id)));
    }

    #[test]
    fn tampered_cursors_are_rejected() {
        for bad in ["", "!!!", "bm90LWEtY3Vyc29y", &URL_SAFE_NO_PAD.encode("12.dlv_x")] {
            assert_eq!(decode(bad, NotificationId::parse), Err(InvalidCursor), "{bad}");
        }
    }
}
