//! Data sent the moment `Room::connect` returns arrives: the data channels may still be
//! opening then (the peer connections are up, SCTP may not be), and a send waits for its
//! channel instead of failing.

use std::time::Duration;

use convene_room::Room;
use convene_room::room::{DataKind, DataSendOptions, RoomEvent};
use convene_testkit::{loopback_options, start_server, wait_event};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_right_after_joining_arrive_in_order() {
    let server = start_server(Duration::from_secs(15)).await;
    let receiver_token = server.token("data", "receiver", 600).expect("token");
    let sender_token = server.token("data", "sender", 600).expect("token");
    let (receiver, mut receiver_events) =
        Room::connect(&server.url(), receiver_token.expose(), loopback_options())
            .await
            .expect("receiver joins");
    let (sender, _sender_events) =
        Room::connect(&server.url(), sender_token.expose(), loopback_options())
            .await
            .expect("sender joins");
    // No pause: both channels may still be opening.
    let (first, lossy, second) = tokio::join!(
        sender.send_data(b"first", DataSendOptions::default()),
        sender.send_data(
            b"lossy",
            DataSendOptions {
                kind: DataKind::Lossy,
                ..DataSendOptions::default()
            },
        ),
        sender.send_data(b"second", DataSendOptions::default()),
    );
    first.expect("first message sent");
    lossy.expect("lossy message sent");
    second.expect("second message sent");

    let mut seen = Vec::new();
    let mut reliable = Vec::new();
    while reliable.len() < 2 {
        let message = wait_event(&mut receiver_events, &mut seen, WAIT, |event| match event {
            RoomEvent::DataReceived(message) if message.kind == DataKind::Reliable => Some(message),
            _ => None,
        })
        .await;
        assert_eq!(message.from_identity.as_deref(), Some("sender"));
        reliable.push(message.payload);
    }
    assert_eq!(reliable, [b"first".to_vec(), b"second".to_vec()]);

    sender.disconnect().await;
    receiver.disconnect().await;
    server.shutdown().await;
}
