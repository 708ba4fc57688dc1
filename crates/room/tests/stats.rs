//! Connection statistics from real peer connections on loopback: the path in use is a host
//! UDP pair, audio sent by one participant is counted on both sides, and a room that is not
//! connected any more reports nothing.

use std::time::Duration;

use convene_room::Room;
use convene_room::room::stats::Direction;
use convene_room::room::{LocalTrackOptions, RoomEvent};
use convene_testkit::{loopback_options, publish_tone, start_server, wait_event};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_show_the_path_and_the_audio_both_ways() {
    let server = start_server(Duration::from_secs(15)).await;
    let sender_token = server.token("stats", "sender", 600).expect("token");
    let receiver_token = server.token("stats", "receiver", 600).expect("token");
    let (sender, _sender_events) =
        Room::connect(&server.url(), sender_token.expose(), loopback_options())
            .await
            .expect("sender joins");
    let (receiver, mut receiver_events) =
        Room::connect(&server.url(), receiver_token.expose(), loopback_options())
            .await
            .expect("receiver joins");
    let track = sender
        .publish_track(LocalTrackOptions::microphone())
        .await
        .expect("publish");
    let writer = publish_tone(track, 440.0);
    let mut seen = Vec::new();
    let mut remote = wait_event(&mut receiver_events, &mut seen, WAIT, |event| match event {
        RoomEvent::TrackSubscribed(track) => Some(track),
        _ => None,
    })
    .await;
    // A second of audio through the server.
    for _ in 0..50 {
        tokio::time::timeout(WAIT, remote.recv())
            .await
            .expect("audio in time")
            .expect("track alive");
    }

    let sent = sender.stats().await;
    let publisher = sent.publisher.expect("the sender's publisher connection");
    let path = publisher.path.clone().expect("a selected candidate pair");
    assert_eq!(
        (path.local.kind.as_str(), path.local.protocol.as_str()),
        ("host", "udp"),
        "{path:?}"
    );
    assert_eq!(path.local.address, "127.0.0.1");
    assert_eq!(path.local.relay_protocol, None, "not relayed");
    assert!(publisher.round_trip_ms.is_some_and(|rtt| rtt < 100.0));
    assert!(publisher.bytes_sent > 0);
    let outbound = publisher
        .streams
        .iter()
        .find(|s| s.direction == Direction::Outbound && s.kind == "audio")
        .expect("the audio stream sent");
    assert!(outbound.packets >= 50, "{outbound:?}");

    let received = receiver.stats().await;
    let subscriber = received
        .subscriber
        .clone()
        .expect("the receiver's subscriber connection");
    let inbound = subscriber
        .streams
        .iter()
        .find(|s| s.direction == Direction::Inbound && s.kind == "audio")
        .expect("the audio stream received");
    assert!(inbound.packets >= 50, "{inbound:?}");
    assert_eq!(inbound.packets_lost, Some(0), "loopback loses nothing");
    let jitter = inbound.jitter_ms.expect("jitter");
    assert!(
        (0.0..50.0).contains(&jitter),
        "jitter in ms, not clock units: {jitter}"
    );
    let json = serde_json::to_value(&received).expect("serialises");
    assert!(
        json["subscriber"]["path"]["local"]["kind"].is_string(),
        "{json}"
    );

    // After a resume with an ICE restart the new pair is named too.
    receiver.network_changed();
    wait_event(&mut receiver_events, &mut seen, WAIT, |event| match event {
        RoomEvent::Reconnected => Some(()),
        _ => None,
    })
    .await;
    let resumed = receiver.stats().await;
    let subscriber = resumed.subscriber.expect("connected again");
    assert!(subscriber.path.is_some(), "{subscriber:?}");

    writer.abort();
    receiver.disconnect().await;
    let after = receiver.stats().await;
    assert!(after.publisher.is_none() && after.subscriber.is_none());
    sender.disconnect().await;
    server.shutdown().await;
}
