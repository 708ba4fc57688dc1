//! Per-server media settings.

use std::net::{IpAddr, Ipv4Addr};

/// Settings shared by every participant's peer connections.
///
/// Built once by the server and passed to [`super::ParticipantMedia::new`] for each
/// participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaConfig {
    /// Address both peer connections bind their ICE sockets on: one UDP socket and one
    /// passive ICE-TCP listener, each on an ephemeral port. The host candidates advertised to
    /// clients carry this address, so it must be reachable by them: `127.0.0.1` (the default)
    /// for a local dev server and tests, a LAN address to let other machines join. A wildcard
    /// (`0.0.0.0`) makes webrtc-rs bind one socket per non-loopback interface instead.
    pub bind_ip: IpAddr,
}

impl Default for MediaConfig {
    /// Loopback only: `127.0.0.1`.
    fn default() -> Self {
        Self {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}
