//! Reconnection when the server itself goes away: the devserver runs as a separate process
//! (`convene-cli server`) so it can be killed like a crashed server, without a `leave`.
//!
//! * Killed and restarted on the same port: the new server knows nothing of our session,
//!   so the resume is refused and the client does a full reconnect, with the events in
//!   LiveKit's documented order.
//! * Killed for longer than the reconnect policy: the client gives up with a reason.

use std::process::Stdio;
use std::time::Duration;

use convene_room::room::reconnect::DefaultReconnectPolicy;
use convene_room::room::{
    ConnectionState, LocalTrackOptions, ReconnectKind, RoomEvent, RoomOptions,
};
use convene_room::{AccessToken, Room, RoomEvents};
use convene_testkit::init_logging;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(30);

/// A devserver process and the address it listens on.
struct ServerProcess {
    child: Child,
    url: String,
}

async fn start_server(bind: &str) -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_convene-cli"))
        .args(["server", "--bind", bind])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start convene-cli server");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("the server prints its address")
            .expect("read the server")
            .expect("the server is running");
        if let Some(rest) = line.strip_prefix("convene devserver on ") {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    ServerProcess { child, url }
}

impl ServerProcess {
    /// SIGKILL: no leave, no goodbye, like a crash.
    async fn kill(mut self) {
        self.child.kill().await.expect("kill the server");
    }
}

fn token(room: &str, identity: &str) -> String {
    AccessToken::new("devkey", "secret")
        .identity(identity)
        .room_join(room)
        .ttl_secs(600)
        .sign(convene_room::clock::unix_now_secs())
        .expect("sign")
        .expose()
        .to_owned()
}

fn options(policy: DefaultReconnectPolicy) -> RoomOptions {
    RoomOptions {
        bind_addrs: vec!["127.0.0.1:0".parse().expect("address")],
        watch_network: false,
        reconnect_policy: Box::new(policy),
        ..RoomOptions::default()
    }
}

fn label(event: &RoomEvent) -> Option<String> {
    Some(match event {
        RoomEvent::ParticipantConnected(p) => format!("ParticipantConnected {}", p.identity),
        RoomEvent::ParticipantDisconnected(p) => format!("ParticipantDisconnected {}", p.identity),
        RoomEvent::LocalTrackPublished(_) => "LocalTrackPublished".into(),
        RoomEvent::LocalTrackUnpublished(_) => "LocalTrackUnpublished".into(),
        RoomEvent::Reconnecting(ReconnectKind::Resume) => "Reconnecting(Resume)".into(),
        RoomEvent::Reconnecting(ReconnectKind::Full) => "Reconnecting(Full)".into(),
        RoomEvent::Reconnected => "Reconnected".into(),
        RoomEvent::Disconnected(reason) => format!("Disconnected {reason:?}"),
        _ => return None,
    })
}

/// Collects the labelled events until `done` says stop.
async fn record_until(
    events: &mut RoomEvents,
    mut done: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let mut recorded = Vec::new();
    let mut all = Vec::new();
    while !done(&recorded) {
        let event = tokio::time::timeout(WAIT, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; so far {recorded:#?} (all: {all:#?})"))
            .unwrap_or_else(|| panic!("the room ended; so far {all:#?}"));
        all.push(format!("{event:?}"));
        recorded.extend(label(&event));
    }
    recorded
}

#[tokio::test]
async fn a_restarted_server_gets_a_full_reconnect_in_the_documented_order() {
    init_logging();
    let server = start_server("127.0.0.1:0").await;
    let bind = server.url.trim_start_matches("ws://").to_owned();
    let (alice, mut alice_events) = Room::connect(
        &server.url,
        &token("restart", "alice"),
        options(DefaultReconnectPolicy::without_jitter()),
    )
    .await
    .expect("alice joins");
    let (bob, mut bob_events) = Room::connect(
        &server.url,
        &token("restart", "bob"),
        options(DefaultReconnectPolicy::without_jitter()),
    )
    .await
    .expect("bob joins");
    let track = alice
        .publish_track(LocalTrackOptions::microphone())
        .await
        .expect("alice publishes");
    let old_track_sid = track.sid().expect("published");
    record_until(&mut alice_events, |r| {
        r.iter().any(|e| e == "LocalTrackPublished")
            && r.iter().any(|e| e == "ParticipantConnected bob")
    })
    .await;
    let old_alice_sid = alice.local_participant().sid;

    server.kill().await;
    let _restarted = start_server(&bind).await;

    let order = record_until(&mut alice_events, |r| {
        r.iter().any(|e| e == "LocalTrackPublished")
            && r.iter().any(|e| e == "ParticipantConnected bob")
    })
    .await;
    let position = |name: &str| {
        order
            .iter()
            .position(|e| e == name)
            .unwrap_or_else(|| panic!("{name} missing from {order:#?}"))
    };
    let sequence = [
        "Reconnecting(Resume)",
        "ParticipantDisconnected bob",
        "LocalTrackUnpublished",
        "Reconnecting(Full)",
        "Reconnected",
        "ParticipantConnected bob",
    ];
    for pair in sequence.windows(2) {
        assert!(
            position(pair[0]) < position(pair[1]),
            "{} must come before {}: {order:#?}",
            pair[0],
            pair[1]
        );
    }
    assert!(
        position("Reconnected") < position("LocalTrackPublished"),
        "{order:#?}"
    );
    assert_ne!(
        alice.local_participant().sid,
        old_alice_sid,
        "a new session"
    );
    let new_track_sid = track.sid().expect("republished");
    assert_ne!(new_track_sid, old_track_sid, "republished under a new sid");
    let _ = record_until(&mut bob_events, |r| r.iter().any(|e| e == "Reconnected")).await;
    alice.disconnect().await;
    bob.disconnect().await;
}

#[tokio::test]
async fn an_outage_longer_than_the_policy_disconnects_with_a_reason() {
    init_logging();
    let server = start_server("127.0.0.1:0").await;
    let policy = DefaultReconnectPolicy::with_delays(vec![
        Duration::ZERO,
        Duration::from_millis(200),
        Duration::from_millis(400),
    ]);
    let (room, mut events) = Room::connect(&server.url, &token("outage", "alice"), options(policy))
        .await
        .expect("join");
    server.kill().await;
    let order = record_until(&mut events, |r| {
        r.last().is_some_and(|e| e.starts_with("Disconnected"))
    })
    .await;
    assert_eq!(
        order.first().map(String::as_str),
        Some("Reconnecting(Resume)")
    );
    let reason = order.last().cloned().unwrap_or_default();
    assert!(
        reason.contains("ReconnectFailed") && reason.contains("attempts: 3"),
        "{order:#?}"
    );
    assert_eq!(room.connection_state(), ConnectionState::Disconnected);
}
