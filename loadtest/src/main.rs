//! ferry loadtest (placeholder).
fn main() {}
