//! TURN over TCP and TLS for webrtc-rs 0.21.1, whose TURN relayer only speaks UDP (it skips
//! `turn:…?transport=tcp` and `turns:` URLs).
//!
//! The relayer sends its TURN datagrams through the peer connection's UDP sockets, which it
//! gets from the connection's runtime. So [`TurnTunnels::rewrite`] gives each TCP/TLS TURN
//! server a stand-in UDP address in 192.0.2.0/24 (TEST-NET-1, never routed), and the
//! [`runtime::TunnelingRuntime`] wraps every UDP socket so that datagrams to a stand-in go
//! over a TCP or TLS connection to the real server (one per socket, like the 5-tuple of an
//! allocation), and what the server sends back arrives as if from the stand-in. The relay
//! itself stays UDP (RFC 8656: client to server over TCP/TLS, relayed over UDP), which is
//! what LiveKit's TURN/TLS on 443 offers.
//!
//! A tunnel that closes is not reopened (its allocation went with it): ICE fails over to
//! another path or our ICE restart makes fresh sockets and tunnels.

mod framing;
pub mod runtime;
mod socket;
mod stream;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};

use webrtc::peer_connection::RTCIceServer;

/// First stand-in address (192.0.2.1); one per distinct TCP/TLS server.
const STAND_IN_NETWORK: [u8; 3] = [192, 0, 2];
/// Most TCP/TLS TURN servers one connection tunnels to (a LiveKit server hands out a few).
const MAX_TUNNELED_SERVERS: usize = 254;

/// How a TURN server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnTransport {
    /// `turn:…?transport=udp` (webrtc-rs handles it directly).
    Udp,
    /// `turn:…?transport=tcp`.
    Tcp,
    /// `turns:…` (TLS over TCP).
    Tls,
}

impl TurnTransport {
    /// `udp`, `tcp` or `tls`, as in the W3C stats' `relayProtocol`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }
}

/// A TURN URL's parts (`turn[s]:host[:port][?transport=udp|tcp]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnUrl {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (3478 for `turn:`, 5349 for `turns:` when not given).
    pub port: u16,
    /// How the server is reached.
    pub transport: TurnTransport,
}

impl TurnUrl {
    /// Parses a TURN URL; `None` for STUN URLs and anything malformed (left to webrtc-rs).
    pub fn parse(url: &str) -> Option<Self> {
        let (secure, rest) = if let Some(rest) = url.strip_prefix("turns:") {
            (true, rest)
        } else {
            (false, url.strip_prefix("turn:")?)
        };
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let transport = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("transport="))
            .map(str::to_ascii_lowercase);
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return None;
        }
        let port = match port {
            Some(port) => port.parse().ok()?,
            None if secure => 5349,
            None => 3478,
        };
        let transport = match (secure, transport.as_deref()) {
            (true, None | Some("tcp")) => TurnTransport::Tls,
            (false, None | Some("udp")) => TurnTransport::Udp,
            (false, Some("tcp")) => TurnTransport::Tcp,
            _ => return None,
        };
        Some(Self {
            host: host.to_owned(),
            port,
            transport,
        })
    }
}

/// The TCP/TLS TURN servers of one session, by stand-in address, and how to reach them.
pub struct TurnTunnels {
    servers: Mutex<Vec<TurnUrl>>,
    tls: tokio_native_tls::TlsConnector,
}

impl std::fmt::Debug for TurnTunnels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnTunnels")
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

/// Why the TLS setup for TURN/TLS failed.
#[derive(Debug, thiserror::Error)]
pub enum TunnelSetupError {
    /// A certificate to trust is not PEM.
    #[error("a trusted certificate is not valid PEM: {0}")]
    Certificate(native_tls::Error),
    /// The TLS library could not be set up.
    #[error("TLS setup failed: {0}")]
    Tls(native_tls::Error),
}

impl TurnTunnels {
    /// Tunnels that trust the system's certificate authorities and `extra_roots` (PEM; a
    /// self-hosted TURN server with a private CA).
    pub fn new(extra_roots: &[String]) -> Result<Self, TunnelSetupError> {
        let mut builder = native_tls::TlsConnector::builder();
        for pem in extra_roots {
            let certificate = native_tls::Certificate::from_pem(pem.as_bytes())
                .map_err(TunnelSetupError::Certificate)?;
            builder.add_root_certificate(certificate);
        }
        let connector = builder.build().map_err(TunnelSetupError::Tls)?;
        Ok(Self {
            servers: Mutex::new(Vec::new()),
            tls: tokio_native_tls::TlsConnector::from(connector),
        })
    }

    /// `servers` with every TCP/TLS TURN URL replaced by its stand-in UDP URL (same
    /// credentials); other URLs are left as they are.
    pub fn rewrite(&self, servers: Vec<RTCIceServer>) -> Vec<RTCIceServer> {
        servers
            .into_iter()
            .map(|server| RTCIceServer {
                urls: server
                    .urls
                    .iter()
                    .map(|url| self.stand_in_url(url).unwrap_or_else(|| url.clone()))
                    .collect(),
                ..server
            })
            .collect()
    }

    fn stand_in_url(&self, url: &str) -> Option<String> {
        let parsed = TurnUrl::parse(url).filter(|parsed| parsed.transport != TurnTransport::Udp)?;
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match servers.iter().position(|known| *known == parsed) {
            Some(index) => index,
            None if servers.len() < MAX_TUNNELED_SERVERS => {
                servers.push(parsed.clone());
                servers.len() - 1
            }
            None => {
                tracing::warn!("too many TCP/TLS TURN servers; skipping one");
                return None;
            }
        };
        Some(format!(
            "turn:{}?transport=udp",
            stand_in(index, parsed.port)
        ))
    }

    /// Whether [`Self::rewrite`] gave any server a stand-in (else no tunnels are needed).
    pub fn has_servers(&self) -> bool {
        !self
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// The real server behind a stand-in address.
    pub fn server_for(&self, stand_in_addr: SocketAddr) -> Option<TurnUrl> {
        let SocketAddr::V4(v4) = stand_in_addr else {
            return None;
        };
        let [a, b, c, last] = v4.ip().octets();
        if [a, b, c] != STAND_IN_NETWORK || last == 0 {
            return None;
        }
        let servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        servers
            .get(usize::from(last) - 1)
            .filter(|server| server.port == v4.port())
            .cloned()
    }

    /// How a relay candidate gathered through `url` (as the stats name it) reaches its TURN
    /// server, if `url` is one of our stand-ins.
    pub fn transport_of_url(&self, url: &str) -> Option<TurnTransport> {
        let parsed = TurnUrl::parse(url)?;
        let addr = SocketAddr::new(parsed.host.parse().ok()?, parsed.port);
        self.server_for(addr).map(|server| server.transport)
    }

    pub(crate) fn tls(&self) -> &tokio_native_tls::TlsConnector {
        &self.tls
    }
}

fn stand_in(index: usize, port: u16) -> SocketAddr {
    let [a, b, c] = STAND_IN_NETWORK;
    let last = u8::try_from(index + 1).unwrap_or(u8::MAX);
    SocketAddr::from((Ipv4Addr::new(a, b, c, last), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_urls_parse_with_livekit_defaults() {
        let parse = |url| TurnUrl::parse(url).map(|u| (u.host, u.port, u.transport));
        assert_eq!(
            parse("turns:turn.example.com:443?transport=tcp"),
            Some(("turn.example.com".into(), 443, TurnTransport::Tls))
        );
        assert_eq!(
            parse("turn:10.0.0.1?transport=tcp"),
            Some(("10.0.0.1".into(), 3478, TurnTransport::Tcp))
        );
        assert_eq!(
            parse("turn:[::1]:3478"),
            Some(("::1".into(), 3478, TurnTransport::Udp))
        );
        assert_eq!(
            parse("turns:example.com"),
            Some(("example.com".into(), 5349, TurnTransport::Tls))
        );
        assert_eq!(parse("stun:example.com:3478"), None);
        assert_eq!(parse("turn:example.com:x"), None);
        assert_eq!(parse("turns:example.com?transport=udp"), None);
    }

    #[test]
    fn tcp_and_tls_servers_get_stand_ins_and_udp_ones_stay() {
        let tunnels = TurnTunnels::new(&[]).expect("TLS");
        let servers = tunnels.rewrite(vec![RTCIceServer {
            urls: vec![
                "turn:t.example:3478?transport=udp".into(),
                "turn:t.example:3478?transport=tcp".into(),
                "turns:t.example:443?transport=tcp".into(),
                "stun:t.example:3478".into(),
            ],
            username: "user".into(),
            credential: "secret".into(),
        }]);
        let urls = &servers[0].urls;
        assert_eq!(urls[0], "turn:t.example:3478?transport=udp");
        assert_eq!(urls[1], "turn:192.0.2.1:3478?transport=udp");
        assert_eq!(urls[2], "turn:192.0.2.2:443?transport=udp");
        assert_eq!(urls[3], "stun:t.example:3478");
        assert_eq!(servers[0].credential, "secret");

        let tls = tunnels
            .server_for("192.0.2.2:443".parse().expect("addr"))
            .expect("the TLS server");
        assert_eq!(
            (tls.host.as_str(), tls.transport),
            ("t.example", TurnTransport::Tls)
        );
        assert!(
            tunnels
                .server_for("192.0.2.2:444".parse().expect("addr"))
                .is_none()
        );
        assert!(
            tunnels
                .server_for("192.0.2.9:443".parse().expect("addr"))
                .is_none()
        );
        assert!(
            tunnels
                .server_for("10.0.0.1:443".parse().expect("addr"))
                .is_none()
        );
        assert_eq!(tunnels.transport_of_url(&urls[1]), Some(TurnTransport::Tcp));
        // The same server named twice keeps its stand-in.
        let again = tunnels.rewrite(vec![RTCIceServer {
            urls: vec!["turns:t.example:443".into()],
            ..Default::default()
        }]);
        assert_eq!(again[0].urls[0], "turn:192.0.2.2:443?transport=udp");
    }

    #[test]
    fn a_certificate_that_is_not_pem_is_a_clear_error() {
        let error = TurnTunnels::new(&["not a certificate".into()]).expect_err("refused");
        assert!(error.to_string().contains("not valid PEM"), "{error}");
    }
}
