//! Publishing and subscribing between our clients and official ones: mute/unmute and
//! unpublish are seen by the other side, manual subscription (auto_subscribe off) delivers
//! media only when asked, and the subscriber answer handles offers with several video
//! m-lines (two browsers publishing camera and microphone at once).

use std::collections::HashSet;
use std::time::Duration;

use convene_room::Room;
use convene_room::room::{LocalTrackOptions, RoomEvent, RoomOptions};
use convene_room::webrtc_kit::MediaKind;
use convene_testkit::{BrowserPeers, loopback_options, publish_silence, start_server, wait_event};

const WAIT: Duration = Duration::from_secs(30);

fn options(auto_subscribe: bool) -> RoomOptions {
    RoomOptions {
        auto_subscribe,
        ..loopback_options()
    }
}

#[tokio::test]
async fn mute_unpublish_and_manual_subscription_reach_the_other_side() {
    let server = start_server(Duration::from_secs(15)).await;
    let alice_token = server.token("pub", "alice", 600).expect("token");
    let bob_token = server.token("pub", "bob", 600).expect("token");
    let (alice, mut alice_events) =
        Room::connect(&server.url(), alice_token.expose(), options(true))
            .await
            .expect("alice joins");
    let (bob, mut bob_events) = Room::connect(&server.url(), bob_token.expose(), options(false))
        .await
        .expect("bob joins without auto-subscribe");
    let mut seen = Vec::new();

    let track = alice
        .publish_track(LocalTrackOptions::microphone())
        .await
        .expect("alice publishes");
    let sid = track.sid().expect("sid");
    let writer = publish_silence(track.clone());
    let published = wait_event(&mut bob_events, &mut seen, WAIT, |e| match e {
        RoomEvent::TrackPublished { track, .. } => Some(track),
        _ => None,
    })
    .await;
    assert_eq!(published.sid, sid);
    assert_eq!(published.kind, MediaKind::Audio);
    assert!(
        !seen.iter().any(|e| e.starts_with("TrackSubscribed")),
        "no subscription before bob asks: {seen:#?}"
    );

    bob.set_subscribed(&sid, true).await.expect("subscribe");
    let mut remote = wait_event(&mut bob_events, &mut seen, WAIT, |e| match e {
        RoomEvent::TrackSubscribed(t) => Some(t),
        _ => None,
    })
    .await;
    assert_eq!(remote.participant_identity, "alice");
    for _ in 0..25 {
        tokio::time::timeout(WAIT, remote.recv())
            .await
            .expect("audio arrives")
            .expect("track alive");
    }

    alice.set_muted(&track, true).await.expect("mute");
    let muted = wait_event(&mut bob_events, &mut seen, WAIT, |e| match e {
        RoomEvent::TrackMuted { track_sid, .. } => Some(track_sid),
        _ => None,
    })
    .await;
    assert_eq!(muted, sid);
    assert!(track.is_muted());
    alice.set_muted(&track, false).await.expect("unmute");
    wait_event(&mut bob_events, &mut seen, WAIT, |e| match e {
        RoomEvent::TrackUnmuted { track_sid, .. } if track_sid == sid => Some(()),
        _ => None,
    })
    .await;

    bob.set_subscribed(&sid, false).await.expect("unsubscribe");
    let ended = tokio::time::timeout(WAIT, async { while remote.recv().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the track ends after unsubscribing");

    alice.unpublish_track(&track).await.expect("unpublish");
    wait_event(&mut alice_events, &mut seen, WAIT, |e| match e {
        RoomEvent::LocalTrackUnpublished(t) if t.sid == sid => Some(()),
        _ => None,
    })
    .await;
    wait_event(&mut bob_events, &mut seen, WAIT, |e| match e {
        RoomEvent::TrackUnpublished { track, .. } if track.sid == sid => Some(()),
        _ => None,
    })
    .await;
    assert!(track.sid().is_none());
    assert!(alice.local_participant().tracks.is_empty());
    writer.abort();
    alice.disconnect().await;
    bob.disconnect().await;
    server.shutdown().await;
}

#[tokio::test]
async fn two_browsers_tracks_arrive_through_one_multi_m_line_answer() {
    let server = start_server(Duration::from_secs(15)).await;
    let mut peers = BrowserPeers::start().await;
    for id in ["one", "two"] {
        let token = server.token("multi", id, 600).expect("token");
        peers.join(id, &server.url(), token.expose()).await;
    }
    let ours = server.token("multi", "convene", 600).expect("token");
    let (room, mut events) = Room::connect(&server.url(), ours.expose(), options(true))
        .await
        .expect("join");
    let mut seen = Vec::new();
    let mut tracks = Vec::new();
    while tracks.len() < 4 {
        tracks.push(
            wait_event(&mut events, &mut seen, WAIT, |e| match e {
                RoomEvent::TrackSubscribed(t) => Some(t),
                _ => None,
            })
            .await,
        );
    }
    let kinds: HashSet<(String, MediaKind)> = tracks
        .iter()
        .map(|t| (t.participant_identity.clone(), t.info.kind))
        .collect();
    assert_eq!(kinds.len(), 4, "audio and video of both: {kinds:?}");
    for mut track in tracks {
        for _ in 0..10 {
            tokio::time::timeout(WAIT, track.recv())
                .await
                .unwrap_or_else(|_| panic!("packets of {:?}", track.info))
                .expect("track alive");
        }
    }
    room.disconnect().await;
    peers.quit().await;
    server.shutdown().await;
}
