//! The notification-hub application core: use cases over ports (SPEC §4–§5).
//!
//! Use cases are methods of [`App`], grouped by area in [`use_cases`]; each takes a command
//! struct and returns a result with a use-case error enum whose variants map to the stable
//! error codes of SPEC §5.8 ([`ErrorCode`]). The outside world is reached only through the
//! traits in [`ports`]; in-memory fakes of every port live in `fakes` behind the `test-util`
//! feature, next to `contract`, the shared contract test suite every adapter of a port runs.

mod app;
pub mod cursor;
pub mod error;
pub mod ports;
pub mod use_cases;

#[cfg(any(test, feature = "test-util"))]
pub mod contract;
#[cfg(any(test, feature = "test-util"))]
pub mod fakes;

pub use app::{App, Deps, Settings};
pub use error::{ErrorCode, PortError};
