//! ferry bench (placeholder).
fn main() {}
