//! convene-room: Convene's LiveKit client.
//!
//! Today it holds access tokens ([`token`]: create for development, inspect without the
//! secret, verify with it), server addresses ([`server_url`]: what a user may type, and the
//! signaling URLs derived from it), and the signaling connect with typed errors ([`signal`]).
//! The peer connections, the room model and reconnection join it as the connection work lands
//! (see docs/PROTOCOL.md).
//!
//! No Tauri and no devices here: the app and the CLI compose this crate with
//! `convene-media`.

pub mod clock;
pub mod room;
pub mod server_url;
pub mod signal;
pub mod token;
pub mod webrtc_kit;

pub use room::{Room, RoomError, RoomEvent, RoomEvents, RoomOptions};
pub use server_url::{ServerUrl, ServerUrlError};
pub use token::{AccessToken, Token, TokenError, TokenInfo, VideoGrant};
