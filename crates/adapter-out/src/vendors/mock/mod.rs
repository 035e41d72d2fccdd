//! Mock vendors (SPEC §9), the embedded default: deterministic by the target so tests and
//! demos can force every outcome without a real vendor.
//!
//! | the address or token contains | answer |
//! | --- | --- |
//! | `fail-transient` | transient failure, every time |
//! | `fail-once` | transient failure on try 1 (`DispatchRequest::attempt == 1`); later tries go on down this table, so alone it succeeds |
//! | `fail-permanent` | permanent failure |
//! | `unregistered` | unregistered device (permanent; the device gets disabled) |
//! | anything else | success, with a vendor message id `mock-<channel>-<ulid>` |
//!
//! The markers are checked in that order when a target contains several. The rule is a pure
//! function of the target and the try number ([`MockOutcome::decide`]): no state, so every
//! replica and every restart answers the same, and an operator replay (which resets the try
//! count) makes a `fail-once` target fail once more.

mod outcome;
mod sender;

pub use outcome::MockOutcome;
pub use sender::{MockSendStats, MockSender};
