//! The TURN path: a participant that may only use relay candidates (like a client whose
//! direct UDP is blocked) reaches the local server through a real TURN server (coturn, from
//! Debian) on loopback, with the credentials the server hands out in its JoinResponse, and
//! its audio arrives; over UDP, and with coturn taking only TCP and TLS, over TURN/TCP and
//! TURN/TLS (our tunnels: webrtc-rs only speaks TURN over UDP). Skipped without `turnserver`
//! unless CONVENE_REQUIRE_E2E=1.

use std::net::UdpSocket;
use std::process::Stdio;
use std::time::{Duration, Instant};

use convene_devserver::{DevServer, DevServerConfig, IceServerConfig};
use convene_room::Room;
use convene_room::room::stats::CandidatePath;
use convene_room::room::{LocalTrackOptions, RoomEvent, RoomOptions};
use convene_testkit::tools::{program_installed, self_signed_certificate};
use convene_testkit::{init_logging, loopback_options, publish_tone, wait_event};
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(30);
const TURN_USER: &str = "convene";
const TURN_PASSWORD: &str = "turn-test-password";

/// coturn on 127.0.0.1, long-term credentials, relaying (over UDP) to loopback peers (the
/// local server); stopped on drop. `port` takes UDP and TCP; `tls_port`, when listening,
/// TLS with a self-signed certificate for `localhost` (`certificate`, PEM).
struct Coturn {
    _child: Child,
    port: u16,
    tls_port: u16,
    certificate: String,
    _dir: TempDir,
}

/// Which listeners coturn opens for clients.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listeners {
    /// UDP and TCP on one port.
    UdpAndTcp,
    /// TCP and TLS only (`--no-udp`): a network where only TCP gets through.
    TcpAndTls,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .expect("a free port")
        .port()
}

/// A STUN Binding request (RFC 5389 header, no attributes).
fn binding_request() -> [u8; 20] {
    let mut request = [0u8; 20];
    request[1] = 0x01;
    request[4..8].copy_from_slice(&0x2112_A442_u32.to_be_bytes());
    request[8..20].copy_from_slice(b"convene-test");
    request
}

/// Waits until coturn answers: a STUN Binding on UDP, or an accepted TCP connection.
fn wait_until_listening(listeners: Listeners, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let probe = UdpSocket::bind("127.0.0.1:0").expect("probe socket");
    probe
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut answer = [0u8; 512];
    loop {
        let ready = match listeners {
            Listeners::UdpAndTcp => {
                let _ = probe.send_to(&binding_request(), ("127.0.0.1", port));
                probe.recv(&mut answer).is_ok()
            }
            Listeners::TcpAndTls => std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        };
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "coturn did not answer on port {port}"
        );
        if listeners == Listeners::TcpAndTls {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts coturn, or `None` when it is not installed (and not required).
async fn start_coturn(listeners: Listeners) -> Option<Coturn> {
    if !program_installed("turnserver", "--help") {
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "convene-coturn-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("coturn's folder");
    let port = free_port();
    let tls_port = free_port();
    let mut command = Command::new("turnserver");
    command
        .args([
            "-c",
            "/dev/null",
            "-n",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
        ])
        .arg(format!("--listening-port={port}"))
        .args(["--no-dtls", "--no-cli", "--fingerprint", "--lt-cred-mech"])
        .arg(format!("--user={TURN_USER}:{TURN_PASSWORD}"))
        .args([
            "--realm=convene.test",
            "--allow-loopback-peers",
            "--simple-log",
        ])
        .args(["--log-file=stdout", "--no-stdout-log"])
        .arg(format!("--pidfile={}", dir.join("pid").display()))
        .arg(format!("--userdb={}", dir.join("turndb").display()));
    let certificate = match listeners {
        Listeners::UdpAndTcp => {
            command.arg("--no-tls");
            String::new()
        }
        Listeners::TcpAndTls => {
            assert!(
                program_installed("openssl", "version"),
                "openssl is missing"
            );
            let certificate = self_signed_certificate(&dir, "DNS:localhost");
            command
                .arg("--no-udp")
                .arg(format!("--tls-listening-port={tls_port}"))
                .arg(format!("--cert={}", dir.join("cert.pem").display()))
                .arg(format!("--pkey={}", dir.join("key.pem").display()));
            certificate
        }
    };
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start turnserver");
    wait_until_listening(listeners, port);
    if listeners == Listeners::TcpAndTls {
        wait_until_listening(listeners, tls_port);
    }
    Some(Coturn {
        _child: child,
        port,
        tls_port,
        certificate,
        _dir: TempDir(dir),
    })
}

/// A relay-only participant joins a local server that hands out `turn_url` (coturn's
/// credentials) and publishes a tone; a second participant must receive 1 s of it. Returns
/// the relay-only participant's pair in use.
async fn relayed_call(turn_url: String, relayed_options: RoomOptions) -> CandidatePath {
    let server = DevServer::start(DevServerConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        ice_servers: vec![IceServerConfig {
            urls: vec![turn_url],
            username: TURN_USER.to_owned(),
            credential: TURN_PASSWORD.to_owned(),
        }],
        ..DevServerConfig::default()
    })
    .await
    .expect("start the server");
    let relayed_token = server.token("turn", "relayed", 600).expect("token");
    let listener_token = server.token("turn", "listener", 600).expect("token");
    let (relayed, _relayed_events) =
        Room::connect(&server.url(), relayed_token.expose(), relayed_options)
            .await
            .expect("the relay-only participant joins");
    let (listener, mut listener_events) =
        Room::connect(&server.url(), listener_token.expose(), loopback_options())
            .await
            .expect("the listener joins");
    let track = relayed
        .publish_track(LocalTrackOptions::microphone())
        .await
        .expect("publish through the relay");
    let writer = publish_tone(track, 440.0);
    let mut seen = Vec::new();
    let mut remote = wait_event(&mut listener_events, &mut seen, WAIT, |event| match event {
        RoomEvent::TrackSubscribed(track) => Some(track),
        _ => None,
    })
    .await;
    for _ in 0..50 {
        tokio::time::timeout(WAIT, remote.recv())
            .await
            .expect("relayed audio in time")
            .expect("track alive");
    }

    let stats = relayed.stats().await;
    let path = stats
        .publisher
        .and_then(|publisher| publisher.path)
        .expect("the publisher's pair in use");
    writer.abort();
    relayed.disconnect().await;
    listener.disconnect().await;
    server.shutdown().await;
    path
}

fn relay_only() -> RoomOptions {
    RoomOptions {
        relay_only: true,
        ..loopback_options()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_participant_reaches_the_server_through_turn_over_udp() {
    init_logging();
    let Some(coturn) = start_coturn(Listeners::UdpAndTcp).await else {
        eprintln!("skipped: coturn (turnserver) is not installed");
        return;
    };
    let url = format!("turn:127.0.0.1:{}?transport=udp", coturn.port);
    let path = relayed_call(url, relay_only()).await;
    assert_eq!(path.local.kind, "relay", "{path:?}");
    assert_eq!(path.local.protocol, "udp", "{path:?}");
}

/// TURN over TCP: the TURN server takes no UDP from clients at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_tcp_to_the_turn_server_the_call_goes_through_turn_over_tcp() {
    init_logging();
    let Some(coturn) = start_coturn(Listeners::TcpAndTls).await else {
        eprintln!("skipped: coturn (turnserver) is not installed");
        return;
    };
    let url = format!("turn:127.0.0.1:{}?transport=tcp", coturn.port);
    let path = relayed_call(url, relay_only()).await;
    assert_eq!(path.local.kind, "relay", "{path:?}");
    assert_eq!(
        path.local.relay_protocol.as_deref(),
        Some("tcp"),
        "{path:?}"
    );
}

/// TURN over TLS (LiveKit's `turns:…:443`), the certificate checked against a trusted root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_tls_to_the_turn_server_the_call_goes_through_turn_over_tls() {
    init_logging();
    let Some(coturn) = start_coturn(Listeners::TcpAndTls).await else {
        eprintln!("skipped: coturn (turnserver) is not installed");
        return;
    };
    let url = format!("turns:localhost:{}?transport=tcp", coturn.tls_port);
    let options = RoomOptions {
        turn_tls_roots: vec![coturn.certificate.clone()],
        ..relay_only()
    };
    let path = relayed_call(url, options).await;
    assert_eq!(path.local.kind, "relay", "{path:?}");
    assert_eq!(
        path.local.relay_protocol.as_deref(),
        Some("tls"),
        "{path:?}"
    );
}
