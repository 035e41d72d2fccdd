//! Channel senders: one folder per vendor. Only the mock vendors (SPEC §9) exist so far.

pub mod mock;
