//! notification-hub binary.

fn main() {}
