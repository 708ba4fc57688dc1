//! Log set-up. Logs go to stderr, filtered by `RUST_LOG` (default `info`). Tokens and API
//! secrets must never reach a log line: they travel as `convene_room::Token`, whose
//! `Debug`/`Display` print `[redacted]`, and commands never log their arguments.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once, at start-up, before any window exists.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (only possible in tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
