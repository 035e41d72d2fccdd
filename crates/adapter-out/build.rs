//! Rebuilds the crate when a migration is added, changed or removed: `sqlx::migrate!` embeds
//! the files at compile time, and Cargo only tracks the files it already knows.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
