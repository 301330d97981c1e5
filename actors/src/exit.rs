//! Ending the `ferry` process without running C exit handlers.
//!
//! `ferry run` and `ferry demo` end with their Kafka clients still alive (see
//! [`crate::runtime::leave_without_teardown`]): every flow has drained and stored its progress by then,
//! and destroying clients could block on an unreachable broker past the shutdown deadline. Their
//! librdkafka threads keep running until the process ends. A normal `exit()` first runs the C libraries'
//! exit handlers — OpenSSL's `OPENSSL_cleanup`, mimalloc's teardown, the main thread's thread-local
//! destructors — while those threads still use what the handlers free; with TLS clusters that showed
//! as an occasional SIGSEGV after "flow stopped, progress stored". [`exit_now`] flushes Rust's standard
//! streams and ends the process with `_exit`, which runs no handler: the kernel releases everything.

// One call to `_exit`, which std does not offer.
#![allow(unsafe_code)]

use std::io::Write;

/// Flushes stdout and stderr, then ends the process with `code` at once (`_exit`): no exit handler,
/// no destructor runs.
pub fn exit_now(code: u8) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` takes no pointer and does not return; skipping the exit handlers is the point.
    unsafe { libc::_exit(i32::from(code)) }
}
