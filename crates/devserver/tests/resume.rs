//! Session resume (`/rtc?reconnect=1`, livekit-protocol.md 6.2), checked with raw protobuf
//! frames: a participant whose signal connection dropped gets its session back (same sid,
//! `reconnect` first, then everybody, then the room, then an ICE-restart offer) without the
//! others noticing; a resume that finds nothing is told to reconnect in full.

mod support;

use std::time::Duration;

use convene_devserver::DevServer;
use livekit_protocol as lk;
use lk::signal_request::Message as Req;
use lk::signal_response::Message as Resp;
use support::{RawClient, start_server};

const WAIT: Duration = Duration::from_secs(10);

async fn connect(server: &DevServer, identity: &str) -> (RawClient, lk::ParticipantInfo) {
    let token = server.token("r", identity, 600).expect("token");
    let mut client = RawClient::connect(server, token.expose())
        .await
        .expect("connect");
    let join = client
        .wait_for(WAIT, |m| match m {
            Resp::Join(j) => Some(j),
            _ => None,
        })
        .await;
    (client, join.participant.expect("participant"))
}

async fn resume(server: &DevServer, identity: &str, sid: &str) -> RawClient {
    let token = server.token("r", identity, 600).expect("token");
    RawClient::resume(server, token.expose(), sid)
        .await
        .expect("resume connects")
}

async fn offer(client: &mut RawClient) -> lk::SessionDescription {
    client
        .wait_for(WAIT, |m| match m {
            Resp::Offer(o) => Some(o),
            _ => None,
        })
        .await
}

fn ice_ufrag(sdp: &str) -> String {
    sdp.lines()
        .find_map(|line| line.strip_prefix("a=ice-ufrag:"))
        .unwrap_or_else(|| panic!("no ice-ufrag in {sdp}"))
        .trim()
        .to_owned()
}

fn is_disconnected(info: &lk::ParticipantInfo) -> bool {
    info.state == lk::participant_info::State::Disconnected as i32
}

/// Checks the messages a resumed client gets first, in order: `reconnect`, [an `update` with
/// the `gone` participants, DISCONNECTED], an `update` with everybody (`present`), and
/// `room_update`. Returns the participants of the full update.
async fn expect_resume_sequence(
    client: &mut RawClient,
    gone: &[&str],
    present: &[&str],
) -> Vec<lk::ParticipantInfo> {
    match client.next(WAIT).await {
        Resp::Reconnect(reconnect) => {
            let info = reconnect.server_info.expect("server info");
            assert!(info.protocol > 0 && !info.version.is_empty(), "{info:?}");
        }
        other => panic!("expected reconnect first, got {other:?}"),
    }
    if !gone.is_empty() {
        match client.next(WAIT).await {
            Resp::Update(update) => {
                let mut left: Vec<&str> = update
                    .participants
                    .iter()
                    .map(|p| {
                        assert!(is_disconnected(p), "{p:?}");
                        p.identity.as_str()
                    })
                    .collect();
                left.sort_unstable();
                assert_eq!(left, gone);
            }
            other => panic!("expected the update with departures, got {other:?}"),
        }
    }
    let everybody = match client.next(WAIT).await {
        Resp::Update(update) => update.participants,
        other => panic!("expected the update with everybody, got {other:?}"),
    };
    let mut identities: Vec<&str> = everybody.iter().map(|p| p.identity.as_str()).collect();
    identities.sort_unstable();
    assert_eq!(identities, present);
    assert!(
        everybody.iter().all(|p| !is_disconnected(p)),
        "{everybody:?}"
    );
    match client.next(WAIT).await {
        Resp::RoomUpdate(update) => {
            let room = update.room.expect("room");
            assert_eq!(room.name, "r");
            assert!(room.sid.starts_with("RM_"), "{room:?}");
        }
        other => panic!("expected room_update, got {other:?}"),
    }
    everybody
}

#[tokio::test]
async fn a_dropped_participant_resumes_its_session_and_others_notice_nothing() {
    let departure = Duration::from_secs(3);
    let server = start_server(departure).await;
    let (mut bob, _) = connect(&server, "bob").await;
    let (mut alice, me) = connect(&server, "alice").await;
    let first_offer = offer(&mut alice).await;
    alice.vanish();

    let mut alice = resume(&server, "alice", &me.sid).await;
    let everybody = expect_resume_sequence(&mut alice, &[], &["alice", "bob"]).await;
    let resumed = everybody
        .iter()
        .find(|p| p.identity == "alice")
        .expect("alice listed");
    assert_eq!(resumed.sid, me.sid, "a resume keeps the participant sid");

    // The subscriber PC restarts ICE: a new offer with fresh credentials.
    let restart = offer(&mut alice).await;
    assert!(
        restart.id > first_offer.id,
        "{} then {}",
        first_offer.id,
        restart.id
    );
    assert_ne!(ice_ufrag(&restart.sdp), ice_ufrag(&first_offer.sdp));

    // The resumed connection is served like the first one.
    alice
        .send(Req::PingReq(lk::Ping {
            timestamp: 42,
            rtt: 0,
        }))
        .await;
    let pong = alice
        .wait_for(WAIT, |m| match m {
            Resp::PongResp(p) => Some(p),
            _ => None,
        })
        .await;
    assert_eq!(pong.last_ping_timestamp, 42);

    // Carol vanishes after alice's resume, so her departure comes after the one alice would
    // have had without the resume; bob's messages arrive in order, so when carol is reported
    // gone, a departure of alice would have been reported before.
    let (carol, _) = connect(&server, "carol").await;
    carol.vanish();
    bob.wait_for(departure + WAIT, |m| match m {
        Resp::Update(update) => {
            for p in update.participants.iter().filter(|p| is_disconnected(p)) {
                assert_ne!(p.identity, "alice", "bob saw alice disconnect");
            }
            update
                .participants
                .iter()
                .any(|p| p.identity == "carol" && is_disconnected(p))
                .then_some(())
        }
        _ => None,
    })
    .await;
    let mut rooms = server.rooms();
    rooms.iter_mut().for_each(|(_, members)| members.sort());
    assert_eq!(
        rooms,
        vec![("r".to_owned(), vec!["alice".to_owned(), "bob".to_owned()])]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_resume_replaces_a_connection_that_is_still_open() {
    let server = start_server(Duration::from_secs(15)).await;
    let (mut bob, _) = connect(&server, "bob").await;
    let (mut old, me) = connect(&server, "alice").await;

    let mut new = resume(&server, "alice", &me.sid).await;
    expect_resume_sequence(&mut new, &[], &["alice", "bob"]).await;
    let after_resume = old.wait_closed(WAIT).await;
    assert!(
        !after_resume.iter().any(|m| matches!(m, Resp::Leave(_))),
        "the replaced connection is closed, not told to leave: {after_resume:?}"
    );

    // Alice leaves from the new connection: bob's first word about her is that departure.
    new.send(Req::Leave(lk::LeaveRequest {
        reason: lk::DisconnectReason::ClientInitiated as i32,
        ..Default::default()
    }))
    .await;
    let gone = bob
        .wait_for(WAIT, |m| match m {
            Resp::Update(update) => update
                .participants
                .into_iter()
                .find(|p| p.identity == "alice" && is_disconnected(p)),
            _ => None,
        })
        .await;
    assert_eq!(gone.sid, me.sid);
    server.shutdown().await;
}

#[tokio::test]
async fn participants_that_left_meanwhile_are_reported_on_resume() {
    let server = start_server(Duration::from_secs(15)).await;
    let (mut alice, me) = connect(&server, "alice").await;
    let (mut bob, _) = connect(&server, "bob").await;
    alice
        .wait_for(WAIT, |m| match m {
            Resp::Update(u) => u
                .participants
                .iter()
                .any(|p| p.identity == "bob")
                .then_some(()),
            _ => None,
        })
        .await;
    alice.vanish();
    bob.send(Req::Leave(lk::LeaveRequest::default())).await;
    // Bob's leave is handled before anything he sends next would be; the registry shows it.
    bob.wait_closed(WAIT).await;

    let mut alice = resume(&server, "alice", &me.sid).await;
    expect_resume_sequence(&mut alice, &["bob"], &["alice"]).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_resume_that_finds_no_session_is_told_to_reconnect_and_bad_tokens_are_refused() {
    let server = start_server(Duration::from_secs(15)).await;
    let (_alice, _) = connect(&server, "alice").await;

    let mut stranger = resume(&server, "stranger", "PA_unknown").await;
    match stranger.next(WAIT).await {
        Resp::Leave(leave) => {
            assert_eq!(leave.action, lk::leave_request::Action::Reconnect as i32);
            assert_eq!(leave.reason, lk::DisconnectReason::StateMismatch as i32);
        }
        other => panic!("expected leave first, got {other:?}"),
    }

    let (status, body) = RawClient::resume(&server, "not-a-token", "PA_x")
        .await
        .err()
        .expect("a bad token is refused");
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        server.rooms(),
        vec![("r".to_owned(), vec!["alice".to_owned()])]
    );
    server.shutdown().await;
}
