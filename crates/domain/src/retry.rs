//! Retry schedule and backoff with jitter (SPEC §2 `NH_RETRY_SCHEDULE`, §3).
//!
//! A delivery gets `schedule.len() + 1` tries. After try `n` fails transiently the next one
//! waits `schedule[n - 1]` ± 20 % jitter, or the vendor's `Retry-After` clamped to
//! `[schedule[n - 1], 2 × schedule[n - 1]]`. Randomness is injected through [`RandomSource`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A source of uniform random numbers in [0, 1), injected so jitter is testable.
pub trait RandomSource {
    /// The next number in [0, 1).
    fn next_unit(&mut self) -> f64;
}

/// Fixed value source for tests: returns the same value on every call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedRandom(pub f64);

impl RandomSource for FixedRandom {
    fn next_unit(&mut self) -> f64 {
        self.0
    }
}

/// Why a duration such as `5s` could not be parsed; each variant carries the rejected text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationParseError {
    /// The text is empty.
    #[error("empty duration (expected e.g. `250ms`, `5s`, `2m`, `1h`, `1d`)")]
    Empty,
    /// The text does not start with a digit.
    #[error("`{0}` does not start with a whole number (expected e.g. `250ms`, `5s`, `2m`)")]
    MissingNumber(String),
    /// The number has no unit after it.
    #[error("`{0}` has no unit (use ms, s, m, h or d)")]
    MissingUnit(String),
    /// The unit is not one of `ms`, `s`, `m`, `h`, `d`.
    #[error("`{input}` has unknown unit `{unit}` (use ms, s, m, h or d)")]
    UnknownUnit {
        /// The whole rejected text.
        input: String,
        /// The part after the number.
        unit: String,
    },
    /// The number does not fit a duration.
    #[error("`{0}` is too large")]
    Overflow(String),
}

const MS: u64 = 1;
const SECOND: u64 = 1_000 * MS;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Units from the largest down, in milliseconds; `format_duration` picks the first exact one.
const UNITS: [(&str, u64); 5] = [("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND), ("ms", MS)];

/// Parses "250ms", "1s", "5s", "2m", "1h", "1d" (integer + unit, no spaces; "0ms" allowed).
pub fn parse_duration(s: &str) -> Result<Duration, DurationParseError> {
    if s.is_empty() {
        return Err(DurationParseError::Empty);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() {
        return Err(DurationParseError::MissingNumber(s.to_owned()));
    }
    if unit.is_empty() {
        return Err(DurationParseError::MissingUnit(s.to_owned()));
    }
    let unit_ms = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, ms)| *ms)
        .ok_or_else(|| DurationParseError::UnknownUnit { input: s.to_owned(), unit: unit.to_owned() })?;
    // Only digits remain, so the only way `parse` fails is a number too large for u64.
    let millis = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .ok_or_else(|| DurationParseError::Overflow(s.to_owned()))?;
    Ok(Duration::from_millis(millis))
}

/// Formats a duration in the largest unit that holds it exactly (`120s` → `2m`, zero → `0ms`);
/// the inverse of [`parse_duration`]. Durations that are not whole milliseconds (which
/// `parse_duration` never produces) are written in nanoseconds (`1500ns`), which it rejects.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() % 1_000_000 != 0 {
        return format!("{}ns", d.as_nanos());
    }
    let millis = d.as_millis();
    if millis == 0 {
        return "0ms".to_owned();
    }
    let (name, size) =
        UNITS.iter().find(|(_, size)| millis % u128::from(*size) == 0).copied().unwrap_or(("ms", MS));
    format!("{}{name}", millis / u128::from(size))
}

/// Why a retry schedule was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryPolicyError {
    /// The schedule has no delay at all.
    #[error("retry schedule is empty (expected e.g. `1s,5s,30s,2m,10m`)")]
    Empty,
    /// A delay is zero, which would retry in a tight loop.
    #[error("retry schedule entry {index} is zero; every delay must be positive")]
    ZeroDelay {
        /// 0-based position of the entry.
        index: usize,
    },
    /// An entry is not a duration; `source` names the text.
    #[error("retry schedule entry {index}: {source}")]
    Invalid {
        /// 0-based position of the entry.
        index: usize,
        /// What was wrong with it.
        source: DurationParseError,
    },
}

/// The delays between tries of one delivery; `schedule.len() + 1` tries in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    schedule: Vec<Duration>,
}

impl Default for RetryPolicy {
    /// `1s,5s,30s,2m,10m`: six tries over about 13 minutes (SPEC §3).
    fn default() -> Self {
        let secs = [1, 5, 30, 120, 600];
        Self { schedule: secs.into_iter().map(Duration::from_secs).collect() }
    }
}

impl RetryPolicy {
    /// The default schedule as written in configuration.
    pub const DEFAULT_SCHEDULE: &'static str = "1s,5s,30s,2m,10m";

    /// Builds a policy from at least one positive delay.
    pub fn new(schedule: Vec<Duration>) -> Result<Self, RetryPolicyError> {
        if schedule.is_empty() {
            return Err(RetryPolicyError::Empty);
        }
        if let Some(index) = schedule.iter().position(Duration::is_zero) {
            return Err(RetryPolicyError::ZeroDelay { index });
        }
        Ok(Self { schedule })
    }

    /// Parses a comma list such as `1s,5s,30s,2m,10m` (spaces around commas are ignored).
    pub fn parse(s: &str) -> Result<Self, RetryPolicyError> {
        if s.trim().is_empty() {
            return Err(RetryPolicyError::Empty);
        }
        let schedule = s
            .split(',')
            .enumerate()
            .map(|(index, part)| {
                parse_duration(part.trim()).map_err(|source| RetryPolicyError::Invalid { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(schedule)
    }

    /// The delays, in order.
    pub fn schedule(&self) -> &[Duration] {
        &self.schedule
    }

    /// Tries a delivery gets in all: the first one plus one per scheduled delay (6 by default).
    pub fn max_tries(&self) -> u32 {
        u32::try_from(self.schedule.len()).map_or(u32::MAX, |n| n.saturating_add(1))
    }

    /// Delay before the next try after `tries_done` tries have failed transiently; `None` when
    /// the schedule is used up (the delivery is EXHAUSTED).
    ///
    /// With `d = schedule[tries_done - 1]`: without `retry_after` the delay is
    /// `d × (0.8 + 0.4 × u)` with `u` drawn once from `random`, to whole nanoseconds, so it lies
    /// in `[0.8d, 1.2d)`; `u` outside [0, 1) (or NaN) is clamped into it. With a vendor
    /// `Retry-After` the delay is `retry_after` clamped to `[d, 2d]` and `random` is not used.
    /// `tries_done == 0` is treated as 1: being asked means a try failed.
    pub fn next_delay(
        &self,
        tries_done: u32,
        retry_after: Option<Duration>,
        random: &mut dyn RandomSource,
    ) -> Option<Duration> {
        let index = usize::try_from(tries_done.saturating_sub(1)).ok()?;
        let base = *self.schedule.get(index)?;
        Some(match retry_after {
            Some(asked) => asked.clamp(base, base.saturating_mul(2)),
            None => jittered(base, random.next_unit()),
        })
    }
}

/// `base × (0.8 + 0.4 × u)` in integer nanoseconds, kept inside `[⌈0.8 base⌉, ⌊1.2 base⌋)`.
fn jittered(base: Duration, u: f64) -> Duration {
    let u = if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) };
    let nanos = base.as_nanos();
    let low = (nanos * 4).div_ceil(5);
    let high = nanos * 6 / 5;
    let width = high.saturating_sub(low);
    // Float rounding can make `width × u` reach `width` for u just below 1; stay under it.
    let offset = ((width as f64 * u) as u128).min(width.saturating_sub(1));
    duration_from_nanos(low + offset)
}

fn duration_from_nanos(nanos: u128) -> Duration {
    const PER_SECOND: u128 = 1_000_000_000;
    let sub = (nanos % PER_SECOND) as u32;
    u64::try_from(nanos / PER_SECOND).map_or(Duration::MAX, |secs| Duration::new(secs, sub))
}

impl fmt::Display for RetryPolicy {
    /// The schedule as a comma list, e.g. `1s,5s,30s,2m,10m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.schedule.iter().map(|d| format_duration(*d)).collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for RetryPolicy {
    type Err = RetryPolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// The largest f64 below 1, i.e. `u → 1`.
    const ALMOST_ONE: f64 = 1.0 - f64::EPSILON / 2.0;

    #[test]
    fn default_schedule_is_1s_5s_30s_2m_10m_with_six_tries() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.schedule(), &[secs(1), secs(5), secs(30), secs(120), secs(600)]);
        assert_eq!(policy.max_tries(), 6);
        assert_eq!(RetryPolicy::parse(RetryPolicy::DEFAULT_SCHEDULE), Ok(policy.clone()));
        assert_eq!(policy.to_string(), RetryPolicy::DEFAULT_SCHEDULE);
    }

    #[test]
    fn schedule_is_used_up_after_the_sixth_try() {
        let policy = RetryPolicy::default();
        let mut random = FixedRandom(0.5);
        for tries_done in 1..=5 {
            assert_eq!(
                policy.next_delay(tries_done, None, &mut random),
                Some(policy.schedule()[tries_done as usize - 1]),
                "after {tries_done} tries"
            );
        }
        assert_eq!(policy.next_delay(6, None, &mut random), None);
        assert_eq!(policy.next_delay(7, None, &mut random), None);
        assert_eq!(policy.next_delay(6, Some(secs(1)), &mut random), None);
    }

    #[test]
    fn zero_tries_done_is_treated_as_one_failed_try() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.next_delay(0, None, &mut FixedRandom(0.5)), Some(secs(1)));
    }

    #[test]
    fn jitter_at_zero_is_exactly_eighty_percent() {
        let policy = RetryPolicy::default();
        let mut random = FixedRandom(0.0);
        let expected = [800, 4_000, 24_000, 96_000, 480_000].map(Duration::from_millis);
        for (i, want) in expected.into_iter().enumerate() {
            assert_eq!(policy.next_delay(i as u32 + 1, None, &mut random), Some(want));
        }
    }

    #[test]
    fn jitter_just_below_one_stays_under_one_hundred_twenty_percent() {
        let policy = RetryPolicy::default();
        let mut random = FixedRandom(ALMOST_ONE);
        for (i, base) in policy.schedule().iter().enumerate() {
            let delay = policy.next_delay(i as u32 + 1, None, &mut random).unwrap();
            assert!(delay < base.mul_f64(1.2), "{delay:?} for {base:?}");
            assert!(delay > base.mul_f64(1.199), "{delay:?} for {base:?}");
        }
    }

    #[test]
    fn random_values_outside_the_unit_interval_are_clamped() {
        let policy = RetryPolicy::new(vec![secs(10)]).unwrap();
        assert_eq!(policy.next_delay(1, None, &mut FixedRandom(-3.0)), Some(secs(8)));
        assert_eq!(policy.next_delay(1, None, &mut FixedRandom(f64::NAN)), Some(secs(8)));
        let high = policy.next_delay(1, None, &mut FixedRandom(7.0)).unwrap();
        assert!(high < secs(12) && high > Duration::from_millis(11_999));
    }

    #[test]
    fn retry_after_is_clamped_between_the_delay_and_twice_the_delay() {
        let policy = RetryPolicy::default();
        let mut random = FixedRandom(0.0);
        // After the third try the scheduled delay is 30s.
        let cases = [(secs(1), secs(30)), (secs(30), secs(30)), (secs(45), secs(45)), (secs(60), secs(60))];
        for (asked, want) in cases.into_iter().chain([(secs(3600), secs(60)), (Duration::ZERO, secs(30))]) {
            assert_eq!(policy.next_delay(3, Some(asked), &mut random), Some(want), "asked {asked:?}");
        }
    }

    #[test]
    fn retry_after_uses_no_randomness() {
        struct Panicking;
        impl RandomSource for Panicking {
            fn next_unit(&mut self) -> f64 {
                panic!("random drawn although the vendor gave Retry-After")
            }
        }
        let policy = RetryPolicy::default();
        assert_eq!(policy.next_delay(1, Some(secs(2)), &mut Panicking), Some(secs(2)));
    }

    #[test]
    fn durations_parse_in_every_unit() {
        let cases = [
            ("0ms", Duration::ZERO),
            ("250ms", Duration::from_millis(250)),
            ("1s", secs(1)),
            ("5s", secs(5)),
            ("2m", secs(120)),
            ("1h", secs(3600)),
            ("1d", secs(86_400)),
            ("007s", secs(7)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn malformed_durations_are_rejected_with_the_offending_text() {
        use DurationParseError as E;
        let cases = [
            ("", E::Empty),
            ("s", E::MissingNumber("s".into())),
            ("-1s", E::MissingNumber("-1s".into())),
            (" 1s", E::MissingNumber(" 1s".into())),
            ("15", E::MissingUnit("15".into())),
            ("1.5s", E::UnknownUnit { input: "1.5s".into(), unit: ".5s".into() }),
            ("1 s", E::UnknownUnit { input: "1 s".into(), unit: " s".into() }),
            ("1S", E::UnknownUnit { input: "1S".into(), unit: "S".into() }),
            ("1w", E::UnknownUnit { input: "1w".into(), unit: "w".into() }),
            ("1s ", E::UnknownUnit { input: "1s ".into(), unit: "s ".into() }),
            ("99999999999999999999ms", E::Overflow("99999999999999999999ms".into())),
            ("999999999999999999d", E::Overflow("999999999999999999d".into())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Err(want), "{text:?}");
        }
        assert!(parse_duration("1w").unwrap_err().to_string().contains("`1w`"));
    }

    #[test]
    fn durations_format_in_the_largest_exact_unit() {
        let cases = [
            (Duration::ZERO, "0ms"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1_500), "1500ms"),
            (secs(90), "90s"),
            (secs(120), "2m"),
            (secs(7_200), "2h"),
            (secs(172_800), "2d"),
            (Duration::from_nanos(1_500), "1500ns"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(d), want);
        }
    }

    #[test]
    fn schedules_parse_with_spaces_around_commas() {
        let policy = RetryPolicy::parse(" 250ms , 1s,2m ").unwrap();
        assert_eq!(policy.schedule(), &[Duration::from_millis(250), secs(1), secs(120)]);
        assert_eq!(policy.max_tries(), 4);
        assert_eq!("5s".parse::<RetryPolicy>().unwrap().schedule(), &[secs(5)]);
    }

    #[test]
    fn bad_schedules_are_rejected_naming_the_entry() {
        assert_eq!(RetryPolicy::parse(""), Err(RetryPolicyError::Empty));
        assert_eq!(RetryPolicy::parse("  "), Err(RetryPolicyError::Empty));
        assert_eq!(RetryPolicy::new(vec![]), Err(RetryPolicyError::Empty));
        assert_eq!(RetryPolicy::parse("1s,0ms,5s"), Err(RetryPolicyError::ZeroDelay { index: 1 }));
        assert_eq!(
            RetryPolicy::parse("1s,,5s"),
            Err(RetryPolicyError::Invalid { index: 1, source: DurationParseError::Empty })
        );
        assert_eq!(
            RetryPolicy::parse("1s,5s,"),
            Err(RetryPolicyError::Invalid { index: 2, source: DurationParseError::Empty })
        );
        let err = RetryPolicy::parse("1s,5x").unwrap_err();
        assert_eq!(
            err,
            RetryPolicyError::Invalid {
                index: 1,
                source: DurationParseError::UnknownUnit { input: "5x".into(), unit: "x".into() }
            }
        );
        assert!(err.to_string().contains("entry 1") && err.to_string().contains("`5x`"), "{err}");
    }

    proptest! {
        #[test]
        fn every_jittered_delay_lies_within_twenty_percent(
            base_ms in 1u64..=7 * DAY,
            tries_done in 1u32..=3,
            u in 0.0f64..1.0,
        ) {
            let base = Duration::from_millis(base_ms);
            let policy = RetryPolicy::new(vec![base; 3]).unwrap();
            let delay = policy.next_delay(tries_done, None, &mut FixedRandom(u)).unwrap();
            let nanos = base.as_nanos();
            prop_assert!(delay.as_nanos() * 5 >= nanos * 4, "{:?} < 0.8 × {:?}", delay, base);
            prop_assert!(delay.as_nanos() * 5 <= nanos * 6, "{:?} > 1.2 × {:?}", delay, base);
        }

        #[test]
        fn every_retry_after_delay_lies_between_the_delay_and_twice_it(
            base_ms in 1u64..=DAY,
            asked_ms in 0u64..=3 * DAY,
        ) {
            let base = Duration::from_millis(base_ms);
            let policy = RetryPolicy::new(vec![base]).unwrap();
            let delay = policy
                .next_delay(1, Some(Duration::from_millis(asked_ms)), &mut FixedRandom(0.0))
                .unwrap();
            prop_assert!(delay >= base && delay <= base * 2);
        }

        #[test]
        fn formatted_durations_parse_back(ms in 0u64..=u64::MAX / DAY) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn duration_parsing_never_panics(s in "\\PC{0,12}") {
            let _ = parse_duration(&s);
        }
    }
}
