//! convene-rtc: what Convene's client (`convene-room`) and its local server
//! (`convene-devserver`) share, so that neither depends on the other.
//!
//! - [`webrtc_kit`]: the webrtc-rs wrapper: the explicit codec table, trickle JSON, the
//!   keyframe interceptor, SDP "what is still sent" parsing, the ICE-over-TCP fallback and
//!   the TURN-over-TCP/TLS tunnel, the media kinds.
//! - [`token`]: LiveKit access tokens (create for development, inspect without the secret,
//!   verify with it).
//! - [`clock`]: the wall clock, read in one place.
//!
//! No LiveKit room logic here.

pub mod clock;
pub mod token;
pub mod webrtc_kit;
