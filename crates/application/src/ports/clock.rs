use chrono::{DateTime, SubsecRound, Utc};
use rand::Rng;

/// The source of "now". Injected everywhere so time-dependent rules are testable.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, truncated to whole microseconds: the precision the stores keep, so an
/// answer built from memory and one read back from a store show the same instants.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// The source of randomness for ids and retry jitter.
pub trait Entropy: Send + Sync + std::fmt::Debug {
    /// 80 random bits for a ULID (higher bits are ignored).
    fn ulid_bits(&self) -> u128;
    /// A uniform number in [0, 1) for jitter.
    fn unit(&self) -> f64;
}

/// The thread-local cryptographic RNG of the `rand` crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn ulid_bits(&self) -> u128 {
        rand::rng().random::<u128>() >> 48
    }

    fn unit(&self) -> f64 {
        rand::rng().random::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[test]
    fn the_system_clock_keeps_whole_microseconds() {
        assert_eq!(SystemClock.now().nanosecond() % 1_000, 0);
    }
}
