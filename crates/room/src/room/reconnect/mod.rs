//! Getting a lost connection back: the retry policy ([`ReconnectPolicy`]) and the
//! reconnection state machine ([`Reconnector`]), which decides *what* to do and *when*; the
//! room core turns its steps into actions and announcements, and the engine does them. The
//! machine is sans-IO (time is passed in), so its tests run on virtual time.

mod machine;
mod policy;

pub use machine::{AttemptFailure, LossCause, Reconnector, Step};
pub use policy::{DefaultReconnectPolicy, ReconnectPolicy};
