//! Where and with which credentials a local server runs, and its timing constants.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Configuration of one devserver instance. Its `Debug` hides the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct DevServerConfig {
    /// Address of the HTTP/WebSocket listener; tests use port 0.
    pub bind: SocketAddr,
    /// Address the peer connections bind their ICE UDP and TCP candidates to.
    pub media_ip: IpAddr,
    /// API key accepted in tokens' `iss`.
    pub api_key: String,
    /// Secret the tokens are signed with.
    pub api_secret: String,
    /// How long a participant whose connection vanished (no `leave`) stays in the room.
    pub departure_timeout: Duration,
    /// How long an empty room is kept (same `RM_` sid if somebody rejoins) before closing.
    pub empty_timeout: Duration,
    /// STUN/TURN servers handed to every participant in its JoinResponse (as LiveKit does
    /// with its built-in TURN): how clients behind firewalls reach the media.
    pub ice_servers: Vec<IceServerConfig>,
    /// Refuse `/rtc` and `/rtc/validate` requests that carry a web page's `Origin`: for a
    /// server only the app itself talks to (the app's local room), so that a page in the
    /// user's browser cannot join, list or evict. livekit-server has no such check (its
    /// clients are web pages); `convene-cli server` leaves it off for the same reason.
    pub refuse_web_origins: bool,
}

/// Origins of Convene's own window (Tauri's custom protocol on each OS): the only ones a
/// server with [`DevServerConfig::refuse_web_origins`] accepts, besides none at all.
pub const APP_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// One STUN or TURN server for the clients (`turn:host:3478?transport=udp`,
/// `turns:host:443?transport=tcp`, `stun:host:3478`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceServerConfig {
    /// Its URLs.
    pub urls: Vec<String>,
    /// TURN user name (empty for STUN).
    pub username: String,
    /// TURN password (empty for STUN).
    pub credential: String,
}

impl Default for DevServerConfig {
    /// `livekit-server --dev`'s defaults: 127.0.0.1:7880, key `devkey`, secret `secret`; a
    /// vanished participant is dropped after 15 s, an empty room after 20 s.
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 7880)),
            media_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            api_key: "devkey".to_owned(),
            api_secret: "secret".to_owned(),
            departure_timeout: Duration::from_secs(15),
            empty_timeout: Duration::from_secs(20),
            ice_servers: Vec::new(),
            refuse_web_origins: false,
        }
    }
}

impl std::fmt::Debug for DevServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevServerConfig")
            .field("bind", &self.bind)
            .field("media_ip", &self.media_ip)
            .field("api_key", &self.api_key)
            .field("api_secret", &"[redacted]")
            .field("departure_timeout", &self.departure_timeout)
            .field("empty_timeout", &self.empty_timeout)
            .field("ice_servers", &self.ice_servers.len())
            .field("refuse_web_origins", &self.refuse_web_origins)
            .finish()
    }
}

impl DevServerConfig {
    /// The defaults with a key and a 32-byte secret from the OS random source, new for
    /// every call, refusing web origins: a room only its creator can hand out tokens for
    /// (the app's local room). Fails only when the OS has no random source.
    pub fn private() -> Result<Self, getrandom::Error> {
        let mut key = [0_u8; 8];
        let mut secret = [0_u8; 32];
        getrandom::fill(&mut key)?;
        getrandom::fill(&mut secret)?;
        let hex =
            |bytes: &[u8]| -> String { bytes.iter().map(|byte| format!("{byte:02x}")).collect() };
        Ok(Self {
            api_key: format!("APP{}", hex(&key)),
            api_secret: hex(&secret),
            refuse_web_origins: true,
            ..Self::default()
        })
    }

    /// Whether a request with `origin` (its `Origin` header, if any) may use this server.
    pub fn accepts_origin(&self, origin: Option<&str>) -> bool {
        match origin {
            _ if !self.refuse_web_origins => true,
            None => true,
            Some(origin) => APP_ORIGINS.contains(&origin),
        }
    }
}

/// Seconds between client pings announced in the JoinResponse (LiveKit: 5).
pub const PING_INTERVAL_SECS: i32 = 5;
/// Seconds of client silence after which the signal connection counts as dead (LiveKit: 15).
pub const PING_TIMEOUT_SECS: i32 = 15;
/// Largest signaling message accepted from a client.
pub const MAX_SIGNAL_MESSAGE_BYTES: usize = 1 << 20;
/// The signaling protocol version announced in `ServerInfo` (v0 dual-PC features only).
pub const SERVER_PROTOCOL: i32 = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_never_prints() {
        let config = DevServerConfig::private().expect("OS random");
        let printed = format!("{config:?}");
        assert!(!printed.contains(&config.api_secret), "{printed}");
        assert!(printed.contains(&config.api_key));
    }
}
