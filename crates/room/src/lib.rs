//! convene-room: Convene's LiveKit client.
//!
//! Today it holds what every other part needs before a connection exists: access tokens
//! ([`token`]: create for development, inspect without the secret, verify with it) and
//! server addresses ([`server_url`]: what a user may type, and the signaling URLs derived
//! from it). The signal client, peer connections and the room model join it as the
//! connection work lands (see docs/PROTOCOL.md).
//!
//! No Tauri and no devices here: the app and the CLI compose this crate with
//! `convene-media`.

pub mod server_url;
pub mod token;

pub use server_url::{ServerUrl, ServerUrlError};
pub use token::{AccessToken, Token, TokenError, TokenInfo, VideoGrant};
