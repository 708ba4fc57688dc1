//! convene-devserver: a LiveKit-compatible local server (signaling + SFU), in the spirit of
//! `livekit-server --dev`, for the app's "Start a local room", every test, and as a binary.
//!
//! Today it holds the defaults every caller shares; the server itself is the devserver
//! issue's work (see docs/PROTOCOL.md for the coverage plan).

use std::net::{Ipv4Addr, SocketAddr};

/// Where and with which credentials a local server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevServerConfig {
    /// Address to bind; tests use port 0.
    pub bind: SocketAddr,
    /// API key accepted in tokens' `iss`.
    pub api_key: String,
    /// Secret the tokens are signed with.
    pub api_secret: String,
}

impl Default for DevServerConfig {
    /// `livekit-server --dev`'s defaults: 127.0.0.1:7880, key `devkey`, secret `secret`.
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 7880)),
            api_key: "devkey".to_owned(),
            api_secret: "secret".to_owned(),
        }
    }
}
