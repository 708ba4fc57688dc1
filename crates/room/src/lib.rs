//! convene-room: Convene's LiveKit client.
//!
//! [`Room::connect`] joins a LiveKit room (a JWT naming the room and identity, checked
//! with [`token`]; addresses as users type them, [`server_url`]); the [`room`] module holds
//! the room model (participants, publications, subscriptions, data), the two peer
//! connections, keep-alive and reconnection (resume with an ICE restart, full reconnect),
//! and reports everything as one [`RoomEvent`](room::RoomEvent) stream; [`signal`] is the
//! WebSocket with typed connect errors; [`webrtc_kit`] the peer-connection toolkit. Media
//! goes in and out encoded (`LocalTrack::write_frame`, `RemoteTrack::recv`). Coverage of the
//! protocol: docs/PROTOCOL.md.
//!
//! No Tauri and no devices here: the app and the CLI compose this crate with
//! `convene-media`.

pub(crate) mod ids;
pub mod room;
pub mod server_url;
pub mod signal;

// Shared with the local server (convene-rtc); re-exported under their old paths.
pub use convene_rtc::{clock, token, webrtc_kit};

pub use room::{Room, RoomError, RoomEvent, RoomEvents, RoomOptions};
pub use server_url::{ServerUrl, ServerUrlError};
pub use token::{AccessToken, Token, TokenError, TokenInfo, VideoGrant};
