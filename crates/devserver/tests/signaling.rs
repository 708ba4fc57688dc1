//! The devserver's signaling contract, checked with raw protobuf frames: validate and v1
//! fallback statuses, token refusals, the JoinResponse, ping/pong, duplicate identity,
//! departure of a vanished participant, and robustness against malformed frames.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use convene_rtc::token::{AccessToken, VideoGrant};
use livekit_protocol as lk;
use lk::signal_request::Message as Req;
use lk::signal_response::Message as Resp;
use support::{RawClient, http_get, start_server, start_server_with, test_config};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn join(client: &mut RawClient) -> lk::JoinResponse {
    client
        .wait_for(WAIT, |m| match m {
            Resp::Join(j) => Some(j),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn http_paths_answer_like_livekit_server() {
    let server = start_server(Duration::from_secs(15)).await;
    let good = server.token("r", "alice", 600).expect("token");

    let (status, body, _) = http_get(&server, "/").await;
    assert_eq!((status, body.as_str()), (200, "OK"));

    let (status, body, head) = http_get(
        &server,
        &format!("/rtc/validate?access_token={}", good.expose()),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "success"));
    assert!(
        head.to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{head}"
    );

    // v1 must 404 without "requested room does not exist" so clients fall back to v0.
    for path in ["/rtc/v1", "/rtc/v1/validate?access_token=x"] {
        let (status, body, head) = http_get(&server, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("requested room does not exist"));
        assert!(
            head.to_ascii_lowercase()
                .contains("access-control-allow-origin: *"),
            "{head}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn bad_expired_and_ungranted_tokens_are_refused_with_livekit_statuses() {
    let server = start_server(Duration::from_secs(15)).await;
    let expired = AccessToken::new("devkey", "secret")
        .identity("a")
        .room_join("r")
        .ttl_secs(10)
        .sign(now() - 3_600)
        .expect("token");
    let wrong_secret = AccessToken::new("devkey", "nope")
        .identity("a")
        .room_join("r")
        .sign(now())
        .expect("token");
    let no_join = AccessToken::new("devkey", "secret")
        .identity("a")
        .grant(VideoGrant {
            room: "r".into(),
            ..VideoGrant::default()
        })
        .sign(now())
        .expect("token");
    let cases = [
        ("garbage", "not-a-token", 401, "invalid authorization token"),
        ("expired", expired.expose(), 401, "expired"),
        ("signature", wrong_secret.expose(), 401, "signature"),
        (
            "no roomJoin",
            no_join.expose(),
            401,
            "no permissions to access the room",
        ),
    ];
    for (what, token, status, text) in cases {
        let (got, body) = RawClient::connect(&server, token)
            .await
            .err()
            .unwrap_or_else(|| panic!("{what} was accepted"));
        assert_eq!(got, status, "{what}: {body}");
        assert!(body.contains(text), "{what}: {body}");
        let (got, body, _) =
            http_get(&server, &format!("/rtc/validate?access_token={token}")).await;
        assert_eq!(got, status, "validate {what}: {body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn join_response_carries_what_official_clients_require() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("standup", "alice", 600).expect("token");
    let mut alice = RawClient::connect(&server, token.expose())
        .await
        .expect("connect");
    let join = join(&mut alice).await;
    let room = join.room.expect("room");
    assert!(room.sid.starts_with("RM_") && room.name == "standup");
    let me = join.participant.expect("participant");
    assert!(me.sid.starts_with("PA_"));
    assert_eq!(me.identity, "alice");
    let permission = me.permission.expect("permission");
    assert!(permission.can_publish && permission.can_subscribe && permission.can_publish_data);
    let info = join.server_info.expect("server info");
    assert!(!info.version.is_empty() && info.protocol <= 17);
    assert_eq!((join.ping_interval, join.ping_timeout), (5, 15));
    assert!(join.subscriber_primary);
    // The subscriber offer follows the join.
    let offer = alice
        .wait_for(WAIT, |m| match m {
            Resp::Offer(o) => Some(o),
            _ => None,
        })
        .await;
    assert!(offer.sdp.contains("webrtc-datachannel"), "{}", offer.sdp);

    alice
        .send(Req::PingReq(lk::Ping {
            timestamp: 1234,
            rtt: 0,
        }))
        .await;
    let pong = alice
        .wait_for(WAIT, |m| match m {
            Resp::PongResp(p) => Some(p),
            _ => None,
        })
        .await;
    assert_eq!(pong.last_ping_timestamp, 1234);
    alice.send(Req::Ping(99)).await;
    alice
        .wait_for(WAIT, |m| matches!(m, Resp::Pong(_)).then_some(()))
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_frames_are_ignored_and_the_session_survives() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("r", "fuzzy", 600).expect("token");
    let mut client = RawClient::connect(&server, token.expose())
        .await
        .expect("connect");
    join(&mut client).await;
    client
        .send_raw(Message::Binary(vec![0xff; 64].into()))
        .await;
    client
        .send_raw(Message::Text("{\"offer\": 1}".into()))
        .await;
    client
        .send_raw(Message::Binary(vec![0x0a, 0x80].into()))
        .await;
    client
        .send(Req::Trickle(lk::TrickleRequest {
            candidate_init: "not json".into(),
            ..Default::default()
        }))
        .await;
    client
        .send(Req::Offer(lk::SessionDescription {
            r#type: "offer".into(),
            sdp: "v=garbage".into(),
            id: 1,
            ..Default::default()
        }))
        .await;
    client
        .send(Req::PingReq(lk::Ping {
            timestamp: 7,
            rtt: 0,
        }))
        .await;
    let pong = client
        .wait_for(WAIT, |m| match m {
            Resp::PongResp(p) => Some(p),
            _ => None,
        })
        .await;
    assert_eq!(pong.last_ping_timestamp, 7);
    // Another room is unaffected.
    let other = server.token("other", "bob", 600).expect("token");
    let mut bob = RawClient::connect(&server, other.expose())
        .await
        .expect("connect");
    join(&mut bob).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_join_with_the_same_identity_evicts_the_first() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("r", "alice", 600).expect("token");
    let mut first = RawClient::connect(&server, token.expose())
        .await
        .expect("connect");
    join(&mut first).await;
    let mut second = RawClient::connect(&server, token.expose())
        .await
        .expect("connect");
    join(&mut second).await;
    let leave = first
        .wait_for(WAIT, |m| match m {
            Resp::Leave(l) => Some(l),
            _ => None,
        })
        .await;
    assert_eq!(leave.reason, lk::DisconnectReason::DuplicateIdentity as i32);
    assert_eq!(leave.action, lk::leave_request::Action::Disconnect as i32);
    assert_eq!(
        server.rooms(),
        vec![("r".to_owned(), vec!["alice".to_owned()])]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn others_see_a_leave_at_once_and_a_vanished_participant_after_the_timeout() {
    let departure = Duration::from_secs(3);
    let server = start_server(departure).await;
    let mut alice = RawClient::connect(
        &server,
        server.token("r", "alice", 600).expect("t").expose(),
    )
    .await
    .expect("connect");
    join(&mut alice).await;

    let gone = |identity: &'static str| {
        move |m| match m {
            Resp::Update(u) => u.participants.into_iter().find(|p| {
                p.identity == identity
                    && p.state == lk::participant_info::State::Disconnected as i32
            }),
            _ => None,
        }
    };

    let mut bob = RawClient::connect(&server, server.token("r", "bob", 600).expect("t").expose())
        .await
        .expect("connect");
    join(&mut bob).await;
    bob.send(Req::Leave(lk::LeaveRequest {
        reason: lk::DisconnectReason::ClientInitiated as i32,
        ..Default::default()
    }))
    .await;
    let started = tokio::time::Instant::now();
    alice.wait_for(WAIT, gone("bob")).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "leave took {:?}",
        started.elapsed()
    );

    let carol = RawClient::connect(
        &server,
        server.token("r", "carol", 600).expect("t").expose(),
    )
    .await;
    let mut carol = carol.expect("connect");
    join(&mut carol).await;
    carol.vanish();
    let started = tokio::time::Instant::now();
    alice.wait_for(departure + WAIT, gone("carol")).await;
    let took = started.elapsed();
    assert!(
        took >= departure - Duration::from_millis(200),
        "removed after {took:?}, before the timeout"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_room_is_created_on_first_join_and_closed_after_the_empty_timeout() {
    let empty_timeout = Duration::from_secs(1);
    let server = start_server_with(convene_devserver::DevServerConfig {
        empty_timeout,
        ..test_config()
    })
    .await;
    assert!(server.rooms().is_empty());
    let token = server.token("pop-up", "alice", 600).expect("token");
    let mut alice = RawClient::connect(&server, token.expose())
        .await
        .expect("connect");
    let first_sid = join(&mut alice).await.room.expect("room").sid;
    assert_eq!(
        server.rooms(),
        vec![("pop-up".to_owned(), vec!["alice".to_owned()])]
    );
    alice.send(Req::Leave(lk::LeaveRequest::default())).await;

    // Empty but kept for the timeout: a quick rejoin finds the same room.
    let mut again = RawClient::connect(&server, token.expose())
        .await
        .expect("connect");
    assert_eq!(join(&mut again).await.room.expect("room").sid, first_sid);
    again.send(Req::Leave(lk::LeaveRequest::default())).await;
    let left_at = tokio::time::Instant::now();
    let deadline = left_at + empty_timeout + WAIT;
    while !server.rooms().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "room never closed: {:?}",
            server.rooms()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        left_at.elapsed() >= empty_timeout - Duration::from_millis(100),
        "closed after {:?}",
        left_at.elapsed()
    );
    server.shutdown().await;
}

/// A GET of `path` with an `Origin` header (none when `origin` is `None`): the status code.
async fn status_from(
    server: &convene_devserver::DevServer,
    path: &str,
    origin: Option<&str>,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let origin = origin.map_or(String::new(), |origin| format!("Origin: {origin}\r\n"));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{origin}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    raw.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line")
}

/// The app's local room: a key and secret of its own at every start (never `devkey` /
/// `secret`, which any web page can sign with), and no request from a web page, even with a
/// valid token (a page must not join, list or evict). `convene-cli server` stays open to
/// web origins, as livekit-server is.
#[tokio::test]
async fn a_private_room_has_its_own_secret_and_refuses_web_pages() {
    let first = convene_devserver::DevServerConfig::private().expect("OS random");
    let second = convene_devserver::DevServerConfig::private().expect("OS random");
    assert_ne!(first.api_secret, second.api_secret);
    assert_ne!(first.api_key, "devkey");
    assert_eq!(first.api_secret.len(), 64, "32 bytes, hex");
    let server = start_server_with(convene_devserver::DevServerConfig {
        bind: "127.0.0.1:0".parse().expect("loopback"),
        ..first
    })
    .await;
    let token = server.token("private", "me", 600).expect("token");
    let validate = format!("/rtc/validate?access_token={}", token.expose());
    assert_eq!(status_from(&server, &validate, None).await, 200);
    assert_eq!(
        status_from(&server, &validate, Some("tauri://localhost")).await,
        200
    );
    assert_eq!(
        status_from(&server, &validate, Some("https://evil.example")).await,
        403
    );
    assert_eq!(
        status_from(&server, &validate, Some("http://127.0.0.1:8000")).await,
        403
    );
    let rtc = format!("/rtc?access_token={}", token.expose());
    assert_eq!(
        status_from(&server, &rtc, Some("https://evil.example")).await,
        403
    );
    // A token signed with the public development secret is refused.
    let public = AccessToken::new("devkey", "secret")
        .identity("page")
        .room_join("private")
        .sign(now())
        .expect("sign");
    let forged = format!("/rtc/validate?access_token={}", public.expose());
    assert_eq!(status_from(&server, &forged, None).await, 401);
    server.shutdown().await;

    let open = start_server(Duration::from_secs(15)).await;
    let token = open.token("open", "me", 600).expect("token");
    let validate = format!("/rtc/validate?access_token={}", token.expose());
    assert_eq!(
        status_from(&open, &validate, Some("https://meet.example")).await,
        200
    );
    open.shutdown().await;
}
