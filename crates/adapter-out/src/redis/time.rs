//! Instants and durations as the integer milliseconds the Lua scripts take.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest server-side expiry set (about 100 years): far enough for any retention, well
/// inside what `PEXPIRE` accepts.
const MAX_PX_MS: u64 = 100 * 365 * 24 * 3_600_000;

/// Whole milliseconds of `d`, rounded up (so a positive duration is never 0 ms).
fn ceil_ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// `now + ttl` in ms since the epoch, saturating at the last instant chrono represents
/// (below 2^53, so Lua's doubles hold every deadline exactly).
pub(super) fn deadline_ms(now: DateTime<Utc>, ttl: Duration) -> i64 {
    let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
    let ttl = i64::try_from(ceil_ms(ttl)).unwrap_or(i64::MAX);
    now.timestamp_millis().saturating_add(ttl).min(max)
}

/// The server-side expiry for an entry kept `ttl`: at least 1 ms (never zero or negative),
/// at most about 100 years.
pub(super) fn px_ms(ttl: Duration) -> u64 {
    ceil_ms(ttl).clamp(1, MAX_PX_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_are_positive_and_bounded() {
        assert_eq!(px_ms(Duration::ZERO), 1);
        assert_eq!(px_ms(Duration::from_micros(1)), 1);
        assert_eq!(px_ms(Duration::from_secs(30)), 30_000);
        assert_eq!(px_ms(Duration::MAX), MAX_PX_MS);
    }

    #[test]
    fn deadlines_saturate_below_two_to_the_53() {
        let now = DateTime::from_timestamp(1_768_446_000, 0).expect("valid");
        assert_eq!(deadline_ms(now, Duration::from_secs(30)), 1_768_446_030_000);
        let far = deadline_ms(now, Duration::MAX);
        assert_eq!(far, DateTime::<Utc>::MAX_UTC.timestamp_millis());
        assert!(far < 1 << 53);
    }
}
