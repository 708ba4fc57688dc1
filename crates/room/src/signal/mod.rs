//! The signaling connection to a LiveKit server: open `/rtc` (v0, dual peer connection),
//! receive the JoinResponse, and classify every way that can fail.
//!
//! Failures are typed ([`ConnectError`]) so the UI can tell a wrong URL from a bad token from
//! a server that is down. When the WebSocket fails without an HTTP answer, the reason is asked
//! from `/rtc/validate`, as the official clients do. The token travels only in the request;
//! no error or log line contains it.

mod connect;
mod error;
pub(crate) mod event;
mod link;
pub(crate) mod proto;

pub use connect::{
    JoinInfo, RemoteParticipantInfo, ResumeAnswer, ResumeRequest, SignalOptions, SignalSocket,
    connect, resume,
};
pub use error::ConnectError;
pub use link::{SignalInbound, SignalLink, SignalSendError};

/// The signaling protocol version we speak (v0 features only; see docs/PROTOCOL.md).
pub const PROTOCOL_VERSION: i32 = 16;
