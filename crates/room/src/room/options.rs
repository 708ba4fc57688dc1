//! How a room connection behaves.

use std::net::SocketAddr;
use std::time::Duration;

use super::reconnect::{DefaultReconnectPolicy, ReconnectPolicy};

/// Options of [`super::Room::connect`].
pub struct RoomOptions {
    /// Subscribe to every track automatically (LiveKit's default). When off, call
    /// [`super::Room::set_subscribed`].
    pub auto_subscribe: bool,
    /// Longest wait for the signaling handshake (TCP, TLS, WebSocket).
    pub connect_timeout: Duration,
    /// Longest wait for the server's first message after the handshake.
    pub join_timeout: Duration,
    /// Longest wait for the peer connections after joining or resuming (the official
    /// clients use 15 s).
    pub media_timeout: Duration,
    /// When to retry after a connection loss, and when to give up.
    pub reconnect_policy: Box<dyn ReconnectPolicy>,
    /// Local addresses the peer connections gather candidates on. `0.0.0.0:0` (the default)
    /// means every interface except loopback; tests on one machine use `127.0.0.1:0`.
    pub bind_addrs: Vec<SocketAddr>,
    /// Watch the machine's network interfaces and reconnect as soon as they change, instead
    /// of waiting for the connection to time out.
    pub watch_network: bool,
    /// Use only TURN relay candidates (a browser's `iceTransportPolicy: "relay"`): to test
    /// the TURN path, or to keep one's address from the server.
    pub relay_only: bool,
    /// PEM certificates trusted for TURN over TLS besides the system's (a self-hosted TURN
    /// server with a private certificate authority).
    pub turn_tls_roots: Vec<String>,
}

/// Where the peer connections gather candidates (kept for reconnections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CandidateOptions {
    pub(crate) bind_addrs: Vec<SocketAddr>,
    pub(crate) relay_only: bool,
    pub(crate) turn_tls_roots: Vec<String>,
}

impl Default for RoomOptions {
    fn default() -> Self {
        Self {
            auto_subscribe: true,
            connect_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_secs(5),
            media_timeout: Duration::from_secs(15),
            reconnect_policy: Box::new(DefaultReconnectPolicy::default()),
            bind_addrs: vec![SocketAddr::from(([0, 0, 0, 0], 0))],
            watch_network: true,
            relay_only: false,
            turn_tls_roots: Vec::new(),
        }
    }
}

impl RoomOptions {
    /// The defaults for a server at `url`, except that a server on this computer (a local
    /// room) is reached over loopback only, which works even with no network at all.
    pub fn for_server(url: &str) -> Self {
        let loopback = crate::ServerUrl::parse(url).is_ok_and(|url| url.is_on_this_computer());
        if !loopback {
            return Self::default();
        }
        Self {
            bind_addrs: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            ..Self::default()
        }
    }
}

impl std::fmt::Debug for RoomOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomOptions")
            .field("auto_subscribe", &self.auto_subscribe)
            .field("connect_timeout", &self.connect_timeout)
            .field("join_timeout", &self.join_timeout)
            .field("media_timeout", &self.media_timeout)
            .field("bind_addrs", &self.bind_addrs)
            .field("watch_network", &self.watch_network)
            .field("relay_only", &self.relay_only)
            .field("turn_tls_roots", &self.turn_tls_roots.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_this_computer_is_reached_over_loopback() {
        let local = RoomOptions::for_server("ws://127.0.0.1:7880");
        assert!(local.bind_addrs.iter().all(|addr| addr.ip().is_loopback()));
        assert!(
            RoomOptions::for_server("ws://localhost:7880").bind_addrs[0]
                .ip()
                .is_loopback()
        );
        let cloud = RoomOptions::for_server("wss://demo.livekit.cloud");
        assert!(
            cloud
                .bind_addrs
                .iter()
                .all(|addr| addr.ip().is_unspecified())
        );
    }
}
