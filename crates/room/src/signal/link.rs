//! The open signaling connection during a session: a reader task that decodes
//! `SignalResponse`s into a bounded channel, and a writer task fed by another, so the room
//! engine never blocks on the network.

use futures_util::{SinkExt, StreamExt};
use livekit_protocol as lk;
use prost::Message as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::SignalSocket;

/// How many decoded server messages may wait for the engine.
const INBOUND_CAPACITY: usize = 256;
/// How many requests may wait for the socket; more means the connection is stuck.
const OUTBOUND_CAPACITY: usize = 128;

/// What the reader task delivers.
#[derive(Debug)]
pub enum SignalInbound {
    /// A server message.
    Message(Box<lk::signal_response::Message>),
    /// The connection ended (closed by the server, or failed); the last item.
    Closed(String),
}

/// Why a request could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignalSendError {
    /// The connection is gone.
    #[error("the signaling connection is closed")]
    Closed,
    /// The socket is not draining (network stalled).
    #[error("the signaling connection is not draining")]
    Stalled,
}

/// The engine's end of a signaling connection.
pub struct SignalLink {
    outbound: mpsc::Sender<lk::signal_request::Message>,
    reader: AbortOnDrop,
    writer: JoinHandle<()>,
}

/// Stops the reader task when the link goes away.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SignalLink {
    /// Starts the reader and writer tasks on `socket`.
    pub fn start(socket: SignalSocket) -> (Self, mpsc::Receiver<SignalInbound>) {
        let (sink, stream) = socket.split();
        let (inbound_tx, inbound) = mpsc::channel(INBOUND_CAPACITY);
        let (outbound, outbound_rx) = mpsc::channel(OUTBOUND_CAPACITY);
        let reader = AbortOnDrop(tokio::spawn(read_loop(stream, inbound_tx)));
        let writer = tokio::spawn(write_loop(sink, outbound_rx));
        (
            Self {
                outbound,
                reader,
                writer,
            },
            inbound,
        )
    }

    /// Queues a request; never waits.
    pub fn send(&self, message: lk::signal_request::Message) -> Result<(), SignalSendError> {
        self.outbound.try_send(message).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => SignalSendError::Stalled,
            mpsc::error::TrySendError::Closed(_) => SignalSendError::Closed,
        })
    }

    /// Sends what is queued (e.g. a `leave`), closes the socket, and waits at most `bound`
    /// for that to finish.
    pub async fn close(self, bound: std::time::Duration) {
        let Self {
            outbound,
            writer,
            reader,
        } = self;
        drop(reader);
        drop(outbound);
        if tokio::time::timeout(bound, writer).await.is_err() {
            tracing::debug!("signal writer did not finish in time");
        }
    }
}

async fn read_loop(
    mut stream: futures_util::stream::SplitStream<SignalSocket>,
    inbound: mpsc::Sender<SignalInbound>,
) {
    let mut malformed = 0u64;
    let reason = loop {
        let Some(frame) = stream.next().await else {
            break "the server closed the connection".to_owned();
        };
        let bytes = match frame {
            Ok(Message::Binary(bytes)) => bytes,
            Ok(Message::Close(frame)) => {
                break match frame {
                    Some(frame) => format!("closed by the server ({})", frame.code),
                    None => "closed by the server".to_owned(),
                };
            }
            Ok(_) => continue,
            Err(error) => break format!("signaling connection failed: {error}"),
        };
        match lk::SignalResponse::decode(bytes.as_ref()) {
            Ok(lk::SignalResponse {
                message: Some(message),
            }) => {
                if inbound
                    .send(SignalInbound::Message(Box::new(message)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            // An unknown message type (newer server): ignore, as the official clients do.
            Ok(lk::SignalResponse { message: None }) => {}
            Err(error) => {
                malformed += 1;
                tracing::warn!(%error, malformed, "ignoring a malformed signaling message");
            }
        }
    };
    tracing::debug!(%reason, "signaling connection ended");
    let _ = inbound.send(SignalInbound::Closed(reason)).await;
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<SignalSocket, Message>,
    mut outbound: mpsc::Receiver<lk::signal_request::Message>,
) {
    while let Some(message) = outbound.recv().await {
        let bytes = lk::SignalRequest {
            message: Some(message),
        }
        .encode_to_vec();
        if let Err(error) = sink.send(Message::Binary(bytes.into())).await {
            tracing::debug!(%error, "signal write failed");
            return;
        }
    }
    let _ = sink.close().await;
}
