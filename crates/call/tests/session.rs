//! A call session as the app runs it: joining reports who is here, the synthetic devices
//! are published, others coming and going reach the UI sink, and leaving makes the others
//! see us go within a second (not after the server's 15 s timeout).

use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_call::{CHAT_TOPIC, CallEvent, CallOptions, CallSession, ChatMessage};
use convene_room::Room;
use convene_room::room::RoomEvent;
use convene_room::webrtc_kit::MediaKind;
use convene_testkit::{loopback_options, start_server, wait_event};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

async fn next_ui_event(events: &mut mpsc::UnboundedReceiver<CallEvent>) -> CallEvent {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("a UI event in time")
        .expect("sink alive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reports_the_room_publishes_and_leaves_at_once() {
    let server = start_server(Duration::from_secs(15)).await;
    let watcher_token = server.token("session", "watcher", 600).expect("token");
    let app_token = server.token("session", "app", 600).expect("token");
    let late_token = server.token("session", "late", 600).expect("token");
    let (watcher, mut watcher_events) =
        Room::connect(&server.url(), watcher_token.expose(), loopback_options())
            .await
            .expect("watcher joins");

    let (ui_tx, mut ui) = mpsc::unbounded_channel();
    let options = CallOptions {
        speaker: false,
        ..CallOptions::synthetic()
    };
    let mut session = CallSession::join(
        &server.url(),
        app_token.expose(),
        options,
        loopback_options(),
        Arc::new(move |event| {
            let _ = ui_tx.send(event);
        }),
    )
    .await
    .expect("the app joins");
    match next_ui_event(&mut ui).await {
        CallEvent::Joined {
            room,
            identity,
            participants,
        } => {
            assert_eq!((room.as_str(), identity.as_str()), ("session", "app"));
            let names: Vec<_> = participants.iter().map(|p| p.identity.as_str()).collect();
            assert_eq!(names, ["watcher"]);
        }
        other => panic!("expected Joined first, got {other:?}"),
    }

    // The watcher sees the app arrive with a camera and a microphone.
    let mut seen = Vec::new();
    let mut published = 0;
    while published < 2 {
        wait_event(&mut watcher_events, &mut seen, WAIT, |event| match event {
            RoomEvent::TrackPublished {
                participant_identity,
                ..
            } if participant_identity == "app" => Some(()),
            _ => None,
        })
        .await;
        published += 1;
    }

    // Muting the camera reaches the others.
    session
        .set_enabled(MediaKind::Video, false)
        .await
        .expect("mute");
    wait_for_mute(&mut watcher_events, &mut seen, "app", true).await;

    // Chat both ways, in LiveKit's chat format.
    let sent = session
        .send_chat("hello watcher", 1_000)
        .await
        .expect("send chat");
    let data = wait_event(&mut watcher_events, &mut seen, WAIT, |event| match event {
        RoomEvent::DataReceived(data) if data.topic.as_deref() == Some(CHAT_TOPIC) => Some(data),
        _ => None,
    })
    .await;
    assert_eq!(ChatMessage::decode(&data.payload), Some(sent));
    let reply = ChatMessage::new("hello app", 2_000);
    watcher
        .send_data(&reply.encode(), ChatMessage::send_options())
        .await
        .expect("reply");
    loop {
        if let CallEvent::Chat { from, message } = next_ui_event(&mut ui).await {
            assert_eq!(from.as_deref(), Some("watcher"));
            assert_eq!(message, reply);
            break;
        }
    }

    // Someone joining and leaving reaches the UI.
    let (late, _late_events) =
        Room::connect(&server.url(), late_token.expose(), loopback_options())
            .await
            .expect("late joins");
    loop {
        if let CallEvent::ParticipantJoined { participant } = next_ui_event(&mut ui).await {
            assert_eq!(participant.identity, "late");
            break;
        }
    }
    late.disconnect().await;
    loop {
        if let CallEvent::ParticipantLeft { identity } = next_ui_event(&mut ui).await {
            assert_eq!(identity, "late");
            break;
        }
    }

    // Leaving: the watcher sees it within a second.
    let left_at = Instant::now();
    session.leave().await;
    wait_event(&mut watcher_events, &mut seen, WAIT, |event| match event {
        RoomEvent::ParticipantDisconnected(p) if p.identity == "app" => Some(()),
        _ => None,
    })
    .await;
    let took = left_at.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the others saw us leave after {took:?}"
    );
    loop {
        if let CallEvent::Disconnected { message, .. } = next_ui_event(&mut ui).await {
            assert_eq!(message, "you left the room");
            break;
        }
    }

    watcher.disconnect().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_camera_is_reported_and_the_call_goes_on() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("devices", "app", 600).expect("token");
    let (ui_tx, mut ui) = mpsc::unbounded_channel();
    let options = CallOptions {
        microphone: false,
        speaker: false,
        ..CallOptions::default()
    };
    let mut session = CallSession::join(
        &server.url(),
        token.expose(),
        options,
        loopback_options(),
        Arc::new(move |event| {
            let _ = ui_tx.send(event);
        }),
    )
    .await
    .expect("joining does not depend on devices");
    assert!(matches!(
        next_ui_event(&mut ui).await,
        CallEvent::Joined { .. }
    ));
    match next_ui_event(&mut ui).await {
        CallEvent::DeviceProblem { device, message } => {
            assert_eq!(device, "camera");
            assert!(message.contains("no camera"), "{message}");
        }
        other => panic!("expected the camera problem, got {other:?}"),
    }
    session
        .set_enabled(MediaKind::Video, false)
        .await
        .expect("nothing to turn off");
    assert!(
        !session.is_enabled(MediaKind::Video),
        "no camera track is published"
    );
    session.leave().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_joined_off_are_published_when_turned_on_and_a_camera_off_is_released() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("toggles", "app", 600).expect("token");
    let watcher_token = server.token("toggles", "watcher", 600).expect("token");
    let (watcher, mut watcher_events) =
        Room::connect(&server.url(), watcher_token.expose(), loopback_options())
            .await
            .expect("watcher joins");
    let options = CallOptions {
        microphone: false,
        camera: false,
        speaker: false,
        ..CallOptions::synthetic()
    };
    let mut session = CallSession::join(
        &server.url(),
        token.expose(),
        options,
        loopback_options(),
        Arc::new(|_| {}),
    )
    .await
    .expect("joins");
    assert!(session.room().local_participant().tracks.is_empty());
    assert!(!session.is_enabled(MediaKind::Audio));

    let mut seen = Vec::new();
    for kind in [MediaKind::Audio, MediaKind::Video] {
        session.set_enabled(kind, true).await.expect("turn on");
        let track = wait_event(&mut watcher_events, &mut seen, WAIT, |event| match event {
            RoomEvent::TrackPublished {
                participant_identity,
                track,
            } if participant_identity == "app" => Some(track),
            _ => None,
        })
        .await;
        assert_eq!(track.kind, kind);
        assert!(session.is_enabled(kind));
    }
    let mut self_view = session.self_view();
    wait_for_picture(&mut self_view).await;

    // Off: muted for the others, and our own picture goes away (the camera is released).
    session
        .set_enabled(MediaKind::Video, false)
        .await
        .expect("camera off");
    wait_for_mute(&mut watcher_events, &mut seen, "app", true).await;
    assert!(self_view.borrow().is_none());
    assert!(!session.is_enabled(MediaKind::Video));

    // On again: the same track, unmuted, with pictures.
    session
        .set_enabled(MediaKind::Video, true)
        .await
        .expect("camera on");
    wait_for_mute(&mut watcher_events, &mut seen, "app", false).await;
    wait_for_picture(&mut self_view).await;
    assert_eq!(session.room().local_participant().tracks.len(), 2);

    session.leave().await;
    watcher.disconnect().await;
    server.shutdown().await;
}

/// Waits until the others see `identity` mute (`muted`) or unmute a track.
async fn wait_for_mute(
    events: &mut convene_room::RoomEvents,
    seen: &mut Vec<String>,
    identity: &str,
    muted: bool,
) {
    wait_event(events, seen, WAIT, |event| match event {
        RoomEvent::TrackMuted {
            participant_identity,
            ..
        } if muted && participant_identity == identity => Some(()),
        RoomEvent::TrackUnmuted {
            participant_identity,
            ..
        } if !muted && participant_identity == identity => Some(()),
        _ => None,
    })
    .await;
}

async fn wait_for_picture(pictures: &mut convene_call::LocalPicture) {
    tokio::time::timeout(WAIT, async {
        loop {
            if pictures.borrow_and_update().is_some() {
                return;
            }
            pictures.changed().await.expect("pictures");
        }
    })
    .await
    .expect("our own picture");
}
