//! Our room client against the devserver with official LiveKit clients as peers:
//! `livekit-client` in headless Chromium and the Python SDK. Media is real (the peers'
//! encoders; our client reassembles their frames and publishes them on its own tracks, and
//! the peers decode what we send), data flows both ways, leaving is seen at once, and a
//! second connection with our identity disconnects the first with a typed reason.

use std::time::Duration;

use convene_room::Room;
use convene_room::room::{
    DataKind, DataSendOptions, DisconnectReason, LocalTrackOptions, RoomEvent,
};
use convene_testkit::{
    BrowserPeers, OUR_TONE_HZ, loopback_options, python_peer, python_report, relay_media_of,
    start_server, wait_event,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn our_client_and_a_browser_exchange_media_and_data() {
    let server = start_server(Duration::from_secs(15)).await;
    let web = server.token("interop", "web", 600).expect("token");
    let ours = server.token("interop", "convene", 600).expect("token");
    let mut peers = BrowserPeers::start().await;
    peers.join("w", &server.url(), web.expose()).await;

    let (room, mut events) = Room::connect(&server.url(), ours.expose(), loopback_options())
        .await
        .expect("join");
    let mut seen = Vec::new();
    assert_eq!(room.name(), "interop");
    assert_eq!(room.local_participant().identity, "convene");
    let remotes = room.remote_participants();
    assert_eq!(remotes.len(), 1, "{remotes:?}");
    assert_eq!(remotes[0].identity, "web");

    let _relays = relay_media_of(&room, &mut events, &mut seen, "web").await;
    let decoded = peers
        .call(json!({"cmd": "wait_media", "id": "w", "from": "convene", "timeout_ms": 30000}))
        .await
        .expect("the browser decodes our video and audio");
    assert!(decoded["videoFrames"].as_u64() >= Some(15), "{decoded}");
    assert!(
        decoded["audioSamples"].as_u64() >= Some(48_000),
        "{decoded}"
    );

    // Data, both ways, with topic and destination.
    room.send_data(
        b"hello web",
        DataSendOptions {
            kind: DataKind::Reliable,
            topic: Some("chat".into()),
            destination_identities: vec!["web".into()],
        },
    )
    .await
    .expect("send data");
    let got = peers
        .call(json!({"cmd": "wait_data", "id": "w", "text": "hello web"}))
        .await
        .expect("the browser receives our data");
    assert_eq!(got["from"], "convene");
    assert_eq!(got["topic"], "chat");
    peers
        .call(json!({"cmd": "send_data", "id": "w", "text": "hello convene", "topic": "chat"}))
        .await
        .expect("the browser sends");
    let message = wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::DataReceived(message) => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(message.payload, b"hello convene");
    assert_eq!(message.from_identity.as_deref(), Some("web"));
    assert_eq!(message.topic.as_deref(), Some("chat"));

    // The browser leaves: we see it at once.
    peers
        .call(json!({"cmd": "disconnect", "id": "w"}))
        .await
        .expect("the browser leaves");
    let gone = wait_event(
        &mut events,
        &mut seen,
        Duration::from_secs(5),
        |event| match event {
            RoomEvent::ParticipantDisconnected(p) => Some(p),
            _ => None,
        },
    )
    .await;
    assert_eq!(gone.identity, "web");
    assert!(room.remote_participants().is_empty());

    room.disconnect().await;
    let reason = wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::Disconnected(reason) => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, DisconnectReason::ClientInitiated);
    peers.quit().await;
    server.shutdown().await;
}

#[tokio::test]
async fn our_client_and_the_python_sdk_exchange_media() {
    let server = start_server(Duration::from_secs(15)).await;
    let python = server.token("py-room", "py", 600).expect("token");
    let ours = server.token("py-room", "convene", 600).expect("token");
    let (room, mut events) = Room::connect(&server.url(), ours.expose(), loopback_options())
        .await
        .expect("join");
    let mut seen = Vec::new();
    let peer = python_peer(&server.url(), python.expose(), "convene", 45, 3);
    let joined = wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::ParticipantConnected(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(joined.identity, "py");
    let relays = relay_media_of(&room, &mut events, &mut seen, "py").await;
    // The Python peer's 440 Hz tone makes it the active speaker.
    wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::ActiveSpeakersChanged(speakers)
            if speakers.first().is_some_and(|s| s == "py") =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    let report = python_report(peer).await;
    assert_eq!(report["ok"], true, "Python peer: {report}");
    // Tones both ways, measured after the real codecs: the SDK hears our 880 Hz, we hear
    // its 440 Hz.
    let heard_by_python = report["audio_hz"].as_f64().unwrap_or(0.0);
    assert!(
        (heard_by_python - f64::from(OUR_TONE_HZ)).abs() < 10.0,
        "the Python SDK measured {heard_by_python} Hz: {report}"
    );
    let mut heard_by_us = 0.0;
    for relay in relays {
        let stats = relay.await.expect("relay task");
        if stats.audio_hz > 0.0 {
            heard_by_us = stats.audio_hz;
        }
    }
    assert!(
        (heard_by_us - 440.0).abs() < 10.0,
        "we measured {heard_by_us} Hz"
    );
    assert!(report["video_frames"].as_u64() >= Some(15), "{report}");
    assert!(report["audio_samples"].as_u64() >= Some(48_000), "{report}");
    room.disconnect().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_connection_with_our_identity_disconnects_the_first() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("dup", "convene", 600).expect("token");
    let (_first, mut first_events) =
        Room::connect(&server.url(), token.expose(), loopback_options())
            .await
            .expect("first join");
    let (second, _second_events) = Room::connect(&server.url(), token.expose(), loopback_options())
        .await
        .expect("second join");
    let mut seen = Vec::new();
    let reason = wait_event(&mut first_events, &mut seen, WAIT, |event| match event {
        RoomEvent::Disconnected(reason) => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, DisconnectReason::DuplicateIdentity);
    assert!(
        !seen.iter().any(|e| e.starts_with("Reconnecting")),
        "a kicked client must not try to come back: {seen:#?}"
    );
    second.disconnect().await;
    server.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_typed_errors() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("errors", "convene", 600).expect("token");
    assert!(matches!(
        Room::connect("not a url", token.expose(), loopback_options()).await,
        Err(convene_room::RoomError::InvalidUrl(_))
    ));
    assert!(matches!(
        Room::connect(&server.url(), "garbage", loopback_options()).await,
        Err(convene_room::RoomError::InvalidToken(_))
    ));
    let (room, _events) = Room::connect(&server.url(), token.expose(), loopback_options())
        .await
        .expect("join");
    let too_big = vec![0u8; convene_room::room::MAX_DATA_PAYLOAD + 1];
    assert!(matches!(
        room.send_data(&too_big, DataSendOptions::default()).await,
        Err(convene_room::RoomError::DataTooLarge(_))
    ));
    let mut vp9 = LocalTrackOptions::camera(640, 480);
    vp9.mime_type = "video/VP9".into();
    assert!(matches!(
        room.publish_track(vp9).await,
        Err(convene_room::RoomError::UnsupportedCodec(_))
    ));
    room.disconnect().await;
    assert!(matches!(
        room.send_data(b"late", DataSendOptions::default()).await,
        Err(convene_room::RoomError::NotConnected)
    ));
    server.shutdown().await;
}
