//! The TURN path: a participant that may only use relay candidates (like a client whose
//! direct UDP is blocked) reaches the local server through a real TURN server (coturn, from
//! Debian) on loopback, with the credentials the server hands out in its JoinResponse, and
//! its audio arrives. Skipped without `turnserver` unless CONVENE_REQUIRE_E2E=1.

use std::net::UdpSocket;
use std::process::Stdio;
use std::time::{Duration, Instant};

use convene_devserver::{DevServer, DevServerConfig, IceServerConfig};
use convene_room::Room;
use convene_room::room::{LocalTrackOptions, RoomEvent, RoomOptions};
use convene_testkit::{init_logging, loopback_options, publish_tone, wait_event};
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(30);
const TURN_USER: &str = "convene";
const TURN_PASSWORD: &str = "turn-test-password";

/// coturn on 127.0.0.1 (UDP and TCP on one port), long-term credentials, relaying to
/// loopback peers (the local server); stopped on drop.
struct Coturn {
    _child: Child,
    port: u16,
    _dir: TempDir,
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

/// Starts coturn, or `None` when it is not installed (and not required).
async fn start_coturn() -> Option<Coturn> {
    let installed = std::process::Command::new("turnserver")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !installed {
        assert!(
            std::env::var("CONVENE_REQUIRE_E2E").as_deref() != Ok("1"),
            "coturn (turnserver) is required: scripts/system-packages.sh installs it"
        );
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "convene-coturn-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("coturn's folder");
    let port = free_port();
    let child = Command::new("turnserver")
        .args([
            "-c",
            "/dev/null",
            "-n",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
        ])
        .arg(format!("--listening-port={port}"))
        .args([
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--fingerprint",
            "--lt-cred-mech",
        ])
        .arg(format!("--user={TURN_USER}:{TURN_PASSWORD}"))
        .args([
            "--realm=convene.test",
            "--allow-loopback-peers",
            "--simple-log",
        ])
        .args(["--log-file=stdout", "--no-stdout-log"])
        .arg(format!("--pidfile={}", dir.join("pid").display()))
        .arg(format!("--userdb={}", dir.join("turndb").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start turnserver");
    // Ready once it answers a STUN Binding request on its UDP port.
    let probe = UdpSocket::bind("127.0.0.1:0").expect("probe socket");
    probe
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answer = [0u8; 512];
    loop {
        let _ = probe.send_to(&binding_request(), ("127.0.0.1", port));
        if probe.recv(&mut answer).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "coturn did not answer on port {port}"
        );
    }
    Some(Coturn {
        _child: child,
        port,
        _dir: TempDir(dir),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_participant_reaches_the_server_through_turn_over_udp() {
    init_logging();
    let Some(coturn) = start_coturn().await else {
        eprintln!("skipped: coturn (turnserver) is not installed");
        return;
    };
    let server = DevServer::start(DevServerConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        ice_servers: vec![IceServerConfig {
            urls: vec![format!("turn:127.0.0.1:{}?transport=udp", coturn.port)],
            username: TURN_USER.to_owned(),
            credential: TURN_PASSWORD.to_owned(),
        }],
        ..DevServerConfig::default()
    })
    .await
    .expect("start the server");
    let relayed_token = server.token("turn", "relayed", 600).expect("token");
    let listener_token = server.token("turn", "listener", 600).expect("token");
    let relayed_options = RoomOptions {
        relay_only: true,
        ..loopback_options()
    };
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
    assert_eq!(path.local.kind, "relay", "{path:?}");
    assert_eq!(path.local.protocol, "udp", "{path:?}");

    writer.abort();
    relayed.disconnect().await;
    listener.disconnect().await;
    server.shutdown().await;
}
