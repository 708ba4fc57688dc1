//! Opening the signaling WebSocket and waiting for the JoinResponse.

use std::time::Duration;

use futures_util::StreamExt;
use livekit_protocol as lk;
use prost::Message as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use super::{ConnectError, PROTOCOL_VERSION};
use crate::{ServerUrl, Token};

/// The open signaling WebSocket, handed to the signal actor after the join.
pub type SignalSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Tunables of a connection attempt.
#[derive(Debug, Clone)]
pub struct SignalOptions {
    /// Subscribe to every track automatically (LiveKit's default).
    pub auto_subscribe: bool,
    /// Longest wait for the TCP/TLS/WebSocket handshake.
    pub connect_timeout: Duration,
    /// Longest wait for the JoinResponse after the upgrade (the official clients use 5 s).
    pub join_timeout: Duration,
}

impl Default for SignalOptions {
    fn default() -> Self {
        Self {
            auto_subscribe: true,
            connect_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_secs(5),
        }
    }
}

/// Another participant present when we joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteParticipantInfo {
    /// Server id (`PA_…`).
    pub sid: String,
    /// Unique identity in the room.
    pub identity: String,
    /// Display name.
    pub name: String,
    /// How many tracks it publishes.
    pub track_count: usize,
}

/// What the server told us when we joined.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinInfo {
    /// The room's name.
    pub room_name: String,
    /// The room's server id (`RM_…`).
    pub room_sid: String,
    /// Our participant id (`PA_…`).
    pub local_sid: String,
    /// Our identity.
    pub local_identity: String,
    /// Everybody else in the room.
    pub remote_participants: Vec<RemoteParticipantInfo>,
    /// The server's version string.
    pub server_version: String,
    /// How often to ping.
    pub ping_interval: Duration,
    /// Silence after which the connection counts as dead.
    pub ping_timeout: Duration,
    /// True when the subscriber PC is the one that must connect (dual-PC mode).
    pub subscriber_primary: bool,
    /// The whole JoinResponse, for the room engine (participants' tracks, ICE servers).
    pub response: lk::JoinResponse,
}

impl JoinInfo {
    fn from_response(join: lk::JoinResponse) -> Result<Self, ConnectError> {
        let response = join.clone();
        let version = join
            .server_info
            .as_ref()
            .map(|info| info.version.clone())
            .filter(|v| !v.is_empty())
            .unwrap_or(join.server_version);
        if version.is_empty() {
            return Err(ConnectError::VersionMismatch(
                "no server version in the JoinResponse".into(),
            ));
        }
        let room = join
            .room
            .ok_or_else(|| ConnectError::Protocol("JoinResponse without a room".into()))?;
        let local = join
            .participant
            .ok_or_else(|| ConnectError::Protocol("JoinResponse without our participant".into()))?;
        let seconds = |value: i32| Duration::from_secs(u64::try_from(value).unwrap_or(0));
        Ok(Self {
            room_name: room.name,
            room_sid: room.sid,
            local_sid: local.sid,
            local_identity: local.identity,
            remote_participants: join
                .other_participants
                .into_iter()
                .map(|p| RemoteParticipantInfo {
                    track_count: p.tracks.len(),
                    sid: p.sid,
                    identity: p.identity,
                    name: p.name,
                })
                .collect(),
            server_version: version,
            ping_interval: seconds(join.ping_interval),
            ping_timeout: seconds(join.ping_timeout),
            subscriber_primary: join.subscriber_primary,
            response,
        })
    }
}

/// What the server answered a resume request with.
#[derive(Debug, Clone, PartialEq)]
pub enum ResumeAnswer {
    /// The session continues (`ReconnectResponse`).
    Resumed(lk::ReconnectResponse),
    /// The server will not resume it (its `leave`; `action` says whether a full reconnect
    /// may follow).
    Refused(lk::LeaveRequest),
}

/// Which session to resume, for [`resume`].
#[derive(Debug, Clone)]
pub struct ResumeRequest {
    /// Our participant sid (`PA_…`).
    pub participant_sid: String,
    /// LiveKit's `ReconnectReason` number (1 signal lost, 2/3 publisher/subscriber failed).
    pub reason: i32,
}

/// The `/rtc` URL with the query every LiveKit client sends (the token goes in a header).
fn rtc_request_url(server: &ServerUrl, options: &SignalOptions) -> Url {
    rtc_request_url_for(server, options, None)
}

fn rtc_request_url_for(
    server: &ServerUrl,
    options: &SignalOptions,
    resume: Option<&ResumeRequest>,
) -> Url {
    let mut url = server.rtc_url();
    url.query_pairs_mut()
        .append_pair(
            "auto_subscribe",
            if options.auto_subscribe { "1" } else { "0" },
        )
        .append_pair("adaptive_stream", "0")
        .append_pair("sdk", "rust")
        .append_pair("version", env!("CARGO_PKG_VERSION"))
        .append_pair("protocol", &PROTOCOL_VERSION.to_string());
    if let Some(resume) = resume {
        url.query_pairs_mut()
            .append_pair("reconnect", "1")
            .append_pair("sid", &resume.participant_sid)
            .append_pair("reconnect_reason", &resume.reason.to_string());
    }
    url
}

fn bearer(token: &Token) -> Result<HeaderValue, ConnectError> {
    HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
        ConnectError::Unauthorized("the token contains characters a header cannot carry".into())
    })
}

/// Connects to `server` with `token` and waits for the JoinResponse.
pub async fn connect(
    server: &ServerUrl,
    token: &Token,
    options: &SignalOptions,
) -> Result<(SignalSocket, JoinInfo), ConnectError> {
    let url = rtc_request_url(server, options);
    let mut socket = open_socket(server, &url, token, options).await?;
    let first = tokio::time::timeout(options.join_timeout, wait_for_join(&mut socket)).await;
    match first {
        Err(_) => Err(ConnectError::Timeout(options.join_timeout)),
        Ok(result) => result.map(|join| (socket, join)),
    }
}

/// Asks the server to resume our session (`reconnect=1`) and waits for its first answer:
/// a `ReconnectResponse` (resumed) or a `leave` (not resumable).
pub async fn resume(
    server: &ServerUrl,
    token: &Token,
    options: &SignalOptions,
    request: &ResumeRequest,
) -> Result<(SignalSocket, ResumeAnswer), ConnectError> {
    let url = rtc_request_url_for(server, options, Some(request));
    let mut socket = open_socket(server, &url, token, options).await?;
    let first = tokio::time::timeout(options.join_timeout, wait_for_resume(&mut socket)).await;
    match first {
        Err(_) => Err(ConnectError::Timeout(options.join_timeout)),
        Ok(result) => result.map(|answer| (socket, answer)),
    }
}

async fn open_socket(
    server: &ServerUrl,
    url: &Url,
    token: &Token,
    options: &SignalOptions,
) -> Result<SignalSocket, ConnectError> {
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::Protocol(e.to_string()))?;
    request
        .headers_mut()
        .insert("Authorization", bearer(token)?);

    let handshake = tokio::time::timeout(
        options.connect_timeout,
        tokio_tungstenite::connect_async(request),
    )
    .await;
    match handshake {
        Err(_) => Err(ConnectError::Timeout(options.connect_timeout)),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tungstenite::Error::Http(response))) => {
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned();
            Err(ConnectError::from_status(response.status().as_u16(), &body))
        }
        Ok(Err(error)) => {
            tracing::info!(%error, "signal connection failed; asking /rtc/validate why");
            Err(ask_validate(server, url, token, options, error.to_string()).await)
        }
    }
}

async fn wait_for_resume(socket: &mut SignalSocket) -> Result<ResumeAnswer, ConnectError> {
    // The Rust SDK drops anything before the ReconnectResponse.
    first_message(socket, |message| match message {
        lk::signal_response::Message::Reconnect(answer) => Some(Ok(ResumeAnswer::Resumed(answer))),
        lk::signal_response::Message::Leave(leave) => Some(Ok(ResumeAnswer::Refused(leave))),
        _ => None,
    })
    .await
}

async fn wait_for_join(socket: &mut SignalSocket) -> Result<JoinInfo, ConnectError> {
    // The Rust SDK also skips anything that precedes the JoinResponse.
    first_message(socket, |message| match message {
        lk::signal_response::Message::Join(join) => Some(JoinInfo::from_response(join)),
        lk::signal_response::Message::Leave(leave) => {
            Some(Err(ConnectError::Refused(leave.reason)))
        }
        _ => None,
    })
    .await
}

/// Reads server messages until `pick` returns an answer (messages it returns `None` for are
/// skipped); a closed or failed socket is an error.
async fn first_message<T>(
    socket: &mut SignalSocket,
    mut pick: impl FnMut(lk::signal_response::Message) -> Option<Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    while let Some(frame) = socket.next().await {
        let bytes = match frame {
            Ok(Message::Binary(bytes)) => bytes,
            Ok(Message::Close(_)) => break,
            Ok(_) => continue,
            Err(error) => return Err(ConnectError::Unreachable(error.to_string())),
        };
        let response = lk::SignalResponse::decode(bytes.as_ref())
            .map_err(|e| ConnectError::Protocol(format!("undecodable first message: {e}")))?;
        if let Some(answer) = response.message.and_then(&mut pick) {
            return answer;
        }
    }
    Err(ConnectError::Protocol(
        "the server closed the connection before its first message".into(),
    ))
}

/// After a WebSocket failure without an HTTP answer, asks `/rtc/validate` for the reason;
/// if that cannot be reached either, the server is unreachable.
async fn ask_validate(
    server: &ServerUrl,
    rtc_url: &Url,
    token: &Token,
    options: &SignalOptions,
    ws_error: String,
) -> ConnectError {
    let mut url = server.validate_url();
    url.set_query(rtc_url.query());
    match tokio::time::timeout(options.connect_timeout, http_get(&url, token)).await {
        Err(_) => ConnectError::Timeout(options.connect_timeout),
        Ok(Err(error)) => ConnectError::Unreachable(format!("{ws_error}; {error}")),
        Ok(Ok((200, _))) => ConnectError::Unreachable(ws_error),
        Ok(Ok((status, body))) => ConnectError::from_status(status, &body),
    }
}

/// A minimal HTTP/1.1 GET (plain or TLS) returning status and body.
async fn http_get(url: &Url, token: &Token) -> std::io::Result<(u16, String)> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port)).await?;
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        token.expose()
    );
    if url.scheme() == "https" {
        let connector = native_tls::TlsConnector::new().map_err(std::io::Error::other)?;
        let tls = tokio_native_tls::TlsConnector::from(connector)
            .connect(&host, stream)
            .await
            .map_err(std::io::Error::other)?;
        exchange(tls, &request).await
    } else {
        exchange(stream, &request).await
    }
}

async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    request: &str,
) -> std::io::Result<(u16, String)> {
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut raw).await?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))?;
    Ok((status, body.to_owned()))
}
