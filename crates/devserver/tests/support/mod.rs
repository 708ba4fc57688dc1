//! Test helpers for the devserver: servers with test configs, HTTP probes, and a raw
//! signaling client (our own frames, for protocol edge cases). Official clients as peers
//! come from `convene-testkit`.

#![allow(dead_code)]

use std::time::Duration;

use convene_devserver::{DevServer, DevServerConfig};
use futures_util::{SinkExt, StreamExt};
use livekit_protocol as lk;
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};

/// A server on a free loopback port with a short departure timeout for tests. Server logs
/// go to the test output, filtered by `RUST_LOG` (default: warnings).
pub async fn start_server(departure: Duration) -> DevServer {
    start_server_with(DevServerConfig {
        departure_timeout: departure,
        ..test_config()
    })
    .await
}

/// The defaults tests start from: loopback, free port.
pub fn test_config() -> DevServerConfig {
    DevServerConfig {
        bind: "127.0.0.1:0".parse().expect("loopback address"),
        ..DevServerConfig::default()
    }
}

/// A server with exactly `config`.
pub async fn start_server_with(config: DevServerConfig) -> DevServer {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rtc=error,webrtc=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
    DevServer::start(config).await.expect("start the devserver")
}

/// A plain HTTP GET on loopback: (status, body, raw headers).
pub async fn http_get(server: &DevServer, path_and_query: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let request =
        format!("GET {path_and_query} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .await
        .expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned(), head.to_owned())
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Our own minimal signaling client: sends and receives raw LiveKit protobuf frames.
pub struct RawClient {
    socket: Socket,
}

impl RawClient {
    /// Opens `/rtc`; on refusal returns the HTTP status and body.
    pub async fn connect(server: &DevServer, token: &str) -> Result<Self, (u16, String)> {
        Self::connect_with(server, token, "").await
    }

    /// Opens `/rtc` to resume the session of participant `sid` (`reconnect=1`), as the
    /// official clients do after their signal connection dropped.
    pub async fn resume(server: &DevServer, token: &str, sid: &str) -> Result<Self, (u16, String)> {
        Self::connect_with(
            server,
            token,
            &format!("&reconnect=1&sid={sid}&reconnect_reason=1"),
        )
        .await
    }

    /// Opens `/rtc` with `extra` appended to the query string.
    pub async fn connect_with(
        server: &DevServer,
        token: &str,
        extra: &str,
    ) -> Result<Self, (u16, String)> {
        let url = format!(
            "{}/rtc?access_token={token}&protocol=16&sdk=rust{extra}",
            server.url()
        );
        match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => Ok(Self { socket }),
            Err(tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err((status, body))
            }
            Err(other) => panic!("unexpected connect error: {other}"),
        }
    }

    /// Sends one request.
    pub async fn send(&mut self, message: lk::signal_request::Message) {
        let bytes = lk::SignalRequest {
            message: Some(message),
        }
        .encode_to_vec();
        self.socket
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send");
    }

    /// Sends arbitrary bytes as one binary frame.
    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("send raw");
    }

    /// Waits for the first response matching `pick`, skipping others.
    pub async fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(lk::signal_response::Message) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("timed out waiting for a signal response");
            match frame {
                Some(Ok(Message::Binary(bytes))) => {
                    let response =
                        lk::SignalResponse::decode(bytes.as_ref()).expect("decodable response");
                    if let Some(found) = response.message.and_then(&mut pick) {
                        return found;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("signal connection ended: {other:?}"),
            }
        }
    }

    /// The next response, whatever it is (for checking the order of messages).
    pub async fn next(&mut self, timeout: Duration) -> lk::signal_response::Message {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("timed out waiting for a signal response");
            match frame {
                Some(Ok(Message::Binary(bytes))) => {
                    let response =
                        lk::SignalResponse::decode(bytes.as_ref()).expect("decodable response");
                    return response.message.expect("a response with a message");
                }
                Some(Ok(_)) => {}
                other => panic!("signal connection ended: {other:?}"),
            }
        }
    }

    /// Waits until the server closes the connection; returns the responses received before.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Vec<lk::signal_response::Message> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut received = Vec::new();
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("timed out waiting for the server to close the connection");
            match frame {
                Some(Ok(Message::Binary(bytes))) => {
                    let response =
                        lk::SignalResponse::decode(bytes.as_ref()).expect("decodable response");
                    received.extend(response.message);
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return received,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Drops the TCP connection without a `leave` (a crashed or vanished client).
    pub fn vanish(self) {
        drop(self.socket);
    }
}
