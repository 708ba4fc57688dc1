//! Our client resumes its session when the signaling connection drops while media keeps
//! flowing: a TCP proxy in front of the devserver cuts the WebSocket, the client resumes
//! (same participant sid, ICE restart on both PCs), and the other participant never sees it
//! leave; our published media keeps reaching the other side.

use std::time::Duration;

use convene_room::room::{ReconnectKind, RoomEvent};
use convene_room::{Room, RoomEvents};
use convene_testkit::{
    BrowserPeers, SignalProxy, loopback_options, relay_media_of, start_server, wait_event,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

async fn reconnected(events: &mut RoomEvents, seen: &mut Vec<String>) {
    wait_event(events, seen, WAIT, |e| match e {
        RoomEvent::Reconnected => Some(()),
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn a_dropped_signal_connection_is_resumed_without_anyone_noticing() {
    let server = start_server(Duration::from_secs(15)).await;
    let proxy = SignalProxy::start(server.local_addr()).await;
    let web = server.token("resume", "web", 600).expect("token");
    let ours = server.token("resume", "convene", 600).expect("token");
    let mut peers = BrowserPeers::start().await;
    peers.join("w", &server.url(), web.expose()).await;
    let (room, mut events) = Room::connect(&proxy.url(), ours.expose(), loopback_options())
        .await
        .expect("join");
    let mut seen = Vec::new();
    let sid = room.local_participant().sid;

    // Relay the browser's media back on tracks of ours, so media flows both ways.
    let relays = relay_media_of(&room, &mut events, &mut seen, "web").await;
    peers
        .call(json!({"cmd": "wait_media", "id": "w", "from": "convene", "timeout_ms": 30000}))
        .await
        .expect("the browser decodes our media before the drop");

    proxy.cut();
    let kind = wait_event(&mut events, &mut seen, WAIT, |e| match e {
        RoomEvent::Reconnecting(kind) => Some(kind),
        _ => None,
    })
    .await;
    assert_eq!(kind, ReconnectKind::Resume);
    reconnected(&mut events, &mut seen).await;
    assert!(
        !seen.iter().any(|e| e.starts_with("ParticipantDisconnected")
            || e.starts_with("LocalTrackUnpublished")
            || e.starts_with("Reconnecting(Full)")),
        "a resume is invisible: {seen:#?}"
    );
    assert_eq!(room.local_participant().sid, sid, "same session");

    // The browser still has us, same sid, and our video keeps arriving after the resume.
    let remotes = peers
        .call(json!({"cmd": "remotes", "id": "w"}))
        .await
        .expect("the browser lists participants");
    assert!(remotes.to_string().contains(&sid), "{remotes}");
    let baseline = peers
        .call(json!({"cmd": "wait_media", "id": "w", "from": "convene", "timeout_ms": 30000}))
        .await
        .expect("counts after the resume");
    peers
        .call(json!({"cmd": "wait_media", "id": "w", "from": "convene", "timeout_ms": 30000, "baseline": baseline}))
        .await
        .expect("our video keeps flowing after the resume");
    let events_seen = peers
        .call(json!({"cmd": "events", "id": "w"}))
        .await
        .expect("the browser's events");
    assert!(
        !events_seen.to_string().contains("participantDisconnected"),
        "the browser never saw us leave: {events_seen}"
    );

    room.disconnect().await;
    for relay in relays {
        relay.abort();
    }
    peers.quit().await;
    server.shutdown().await;
}
