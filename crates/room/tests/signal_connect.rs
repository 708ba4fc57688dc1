//! Connecting to a real (local) LiveKit-compatible server, and every way it can fail, each
//! with its own typed error; the token never appears in an error.

use std::time::Duration;

use convene_devserver::{DevServer, DevServerConfig};
use convene_room::signal::{ConnectError, SignalOptions, connect};
use convene_room::{AccessToken, ServerUrl, Token, VideoGrant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn server() -> DevServer {
    DevServer::start(DevServerConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        ..DevServerConfig::default()
    })
    .await
    .expect("start the devserver")
}

fn url_of(server: &DevServer) -> ServerUrl {
    ServerUrl::parse(&server.url()).expect("server url")
}

fn token(sign: impl FnOnce(AccessToken) -> AccessToken, at: u64) -> Token {
    sign(AccessToken::new("devkey", "secret").identity("alice"))
        .sign(at)
        .expect("sign")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn quick() -> SignalOptions {
    SignalOptions {
        connect_timeout: Duration::from_millis(800),
        join_timeout: Duration::from_millis(800),
        ..SignalOptions::default()
    }
}

#[tokio::test]
async fn joins_and_learns_the_room_and_the_others() {
    let server = server().await;
    let bob = Token::new(server.token("standup", "bob", 600).expect("token").expose());
    let (_bob_socket, _) = connect(&url_of(&server), &bob, &SignalOptions::default())
        .await
        .expect("bob joins");
    let alice = token(|t| t.room_join("standup"), now());
    let (_socket, join) = connect(&url_of(&server), &alice, &SignalOptions::default())
        .await
        .expect("alice joins");
    assert_eq!(join.room_name, "standup");
    assert!(join.room_sid.starts_with("RM_") && join.local_sid.starts_with("PA_"));
    assert_eq!(join.local_identity, "alice");
    assert_eq!(join.remote_participants.len(), 1);
    assert_eq!(join.remote_participants[0].identity, "bob");
    assert_eq!(
        (join.ping_interval, join.ping_timeout),
        (Duration::from_secs(5), Duration::from_secs(15))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn token_refusals_are_unauthorized_with_the_servers_reason() {
    let server = server().await;
    let url = url_of(&server);
    let expired = token(|t| t.room_join("r").ttl_secs(10), now() - 3_600);
    let no_grant = token(
        |t| {
            t.grant(VideoGrant {
                room: "r".into(),
                ..VideoGrant::default()
            })
        },
        now(),
    );
    let wrong_secret = AccessToken::new("devkey", "other")
        .identity("a")
        .room_join("r")
        .sign(now())
        .expect("sign");
    for (what, bad, reason) in [
        ("expired", expired, "expired"),
        ("no roomJoin", no_grant, "no permissions"),
        ("wrong secret", wrong_secret, "signature"),
    ] {
        let error = connect(&url, &bad, &quick())
            .await
            .err()
            .unwrap_or_else(|| panic!("{what} accepted"));
        assert!(
            matches!(&error, ConnectError::Unauthorized(m) if m.contains(reason)),
            "{what}: {error:?}"
        );
        assert!(error.is_permanent());
        let shown = format!("{error} {error:?}");
        assert!(
            !shown.contains(bad.expose()),
            "{what}: the token leaked into {shown}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = ServerUrl::parse(&format!("ws://127.0.0.1:{port}")).expect("url");
    let error = connect(&url, &token(|t| t.room_join("r"), now()), &quick())
        .await
        .expect_err("refused");
    assert!(matches!(error, ConnectError::Unreachable(_)), "{error:?}");
    assert!(!error.is_permanent());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let url = ServerUrl::parse(&format!("ws://127.0.0.1:{port}")).expect("url");
    let error = connect(&url, &token(|t| t.room_join("r"), now()), &quick())
        .await
        .expect_err("timeout");
    assert_eq!(error, ConnectError::Timeout(quick().connect_timeout));
    silent.abort();
}

#[tokio::test]
async fn a_web_server_that_is_not_livekit_is_a_version_mismatch() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let web = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0_u8; 4096];
            let _ = stream.read(&mut buffer).await;
            let _ = stream
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found")
                .await;
        }
    });
    let url = ServerUrl::parse(&format!("http://127.0.0.1:{port}")).expect("url");
    let error = connect(&url, &token(|t| t.room_join("r"), now()), &quick())
        .await
        .expect_err("refused");
    assert!(
        matches!(error, ConnectError::VersionMismatch(_)),
        "{error:?}"
    );
    web.abort();
}
