//! convene-devserver: a LiveKit-compatible local server (signaling + SFU), in the spirit of
//! `livekit-server --dev`, for the app's "Start a local room", every test, and as a binary.
//!
//! It speaks v0 signaling (`/rtc`, dual peer connection) faithfully enough that the official
//! clients join it; `/rtc/v1` answers 404 so they fall back. It is not a production SFU: one
//! process, rooms in memory, one simulcast layer forwarded. See docs/PROTOCOL.md.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use convene_devserver::{DevServer, DevServerConfig};
//! let server = DevServer::start(DevServerConfig { bind: "127.0.0.1:0".parse().unwrap(), ..Default::default() }).await?;
//! let token = server.token("standup", "alice", 600).unwrap();
//! println!("{} {}", server.url(), token.expose());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod config;
pub mod http;
pub mod ids;
pub mod media;
pub mod quality;
pub mod room_state;
pub mod rooms;
pub mod server;
pub mod session;
pub mod speakers;
pub mod wire;

pub use config::{DevServerConfig, IceServerConfig};
pub use server::DevServer;
