//! ferry bench: not built yet (issue 4 builds it). Running it says so and exits non-zero, so nobody mistakes
//! it for a measurement.

fn main() -> std::process::ExitCode {
    eprintln!("ferry-bench is not implemented yet (see issue 4); nothing was measured");
    std::process::ExitCode::from(2)
}
