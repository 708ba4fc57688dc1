//! LiveKit's data channels: `_reliable` (ordered) and `_lossy` (unordered, no retransmits).
//!
//! Client -> server data arrives on the channels the client creates on its publisher PC;
//! server -> client data goes on the channels we create on the subscriber PC before the first
//! offer (`livekit-protocol.md` 3.4). Every channel is polled until it closes: webrtc-rs never
//! drops data-channel events, so an unread channel would eventually stall its connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use webrtc::data_channel::{
    DataChannel, DataChannelEvent, RTCDataChannelInit, RTCDataChannelState,
};
use webrtc::peer_connection::PeerConnection;

use super::error::MediaError;
use super::events::MediaEvent;

/// Label of the reliable channel.
pub(crate) const RELIABLE_LABEL: &str = "_reliable";
/// Label of the lossy channel.
pub(crate) const LOSSY_LABEL: &str = "_lossy";
/// How long data for a client waits for its channel to open (it joined a moment ago).
const OPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
/// How often that wait checks.
const OPEN_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Messages for one client channel not yet sent (they wait while the client opens it).
const OUTBOX_CAPACITY: usize = 256;

/// One of our subscriber-PC channels and whether the client has opened it. Messages go
/// through an outbox drained by a task of their own, in order, so waiting for the channel to
/// open never holds up the participant's session (its signaling and ICE candidates go on).
pub(crate) struct OwnChannel {
    label: &'static str,
    outbox: mpsc::Sender<bytes::Bytes>,
}

impl OwnChannel {
    /// Creates `label` on `pc` (in-band/DCEP) and starts its reader, which also reports any
    /// message the client sends back on it.
    pub(crate) async fn create(
        pc: &Arc<dyn PeerConnection>,
        label: &'static str,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<Self, MediaError> {
        let init = if label == LOSSY_LABEL {
            RTCDataChannelInit {
                ordered: false,
                max_retransmits: Some(0),
                ..Default::default()
            }
        } else {
            RTCDataChannelInit::default()
        };
        let channel = pc.create_data_channel(label, Some(init)).await?;
        let open = Arc::new(AtomicBool::new(false));
        tokio::spawn(read_client_channel(
            Arc::clone(&channel),
            events,
            Some(Arc::clone(&open)),
        ));
        let (outbox, pending) = mpsc::channel(OUTBOX_CAPACITY);
        tokio::spawn(deliver(
            Arc::clone(&channel),
            Arc::clone(&open),
            label,
            pending,
        ));
        Ok(Self { label, outbox })
    }

    /// Queues one message for the client. A channel the client has not opened yet (data
    /// sent right after it joined) is waited for, up to [`OPEN_WAIT`], so the message is not
    /// lost. Fails with [`MediaError::DataChannelNotOpen`] when the outbox is full (the client
    /// never opened the channel) or its task has ended.
    pub(crate) fn send(&self, payload: &[u8]) -> Result<(), MediaError> {
        self.outbox
            .try_send(bytes::Bytes::copy_from_slice(payload))
            .map_err(|_| MediaError::DataChannelNotOpen(self.label))
    }
}

/// Sends `pending` messages on `channel` in order, each once the client has opened it (a
/// message that waited [`OPEN_WAIT`] in vain is dropped); ends with the [`OwnChannel`].
async fn deliver(
    channel: Arc<dyn DataChannel>,
    open: Arc<AtomicBool>,
    label: &'static str,
    mut pending: mpsc::Receiver<bytes::Bytes>,
) {
    while let Some(payload) = pending.recv().await {
        let deadline = tokio::time::Instant::now() + OPEN_WAIT;
        let mut ready = is_open(channel.as_ref(), &open).await;
        while !ready && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(OPEN_POLL).await;
            ready = is_open(channel.as_ref(), &open).await;
        }
        if !ready {
            tracing::debug!(label, "data for a channel the client never opened dropped");
            continue;
        }
        if let Err(error) = channel.send(bytes::BytesMut::from(&payload[..])).await {
            tracing::debug!(label, %error, "data not delivered");
        }
    }
}

/// Whether the client has opened the channel. The reader's OnOpen can be missed (the channel
/// may open before its poll loop runs), so the channel's own state decides too.
async fn is_open(channel: &dyn DataChannel, open: &AtomicBool) -> bool {
    if open.load(Ordering::Acquire) {
        return true;
    }
    let now_open = matches!(channel.ready_state().await, Ok(RTCDataChannelState::Open));
    if now_open {
        open.store(true, Ordering::Release);
    }
    now_open
}

/// Reads a data channel until it closes. Messages on `_reliable`/`_lossy` become
/// [`MediaEvent::DataReceived`] (waiting for room in the session's channel); other labels
/// (e.g. `_data_track`) are drained and ignored. `open` tracks the channel's open state.
pub(crate) async fn read_client_channel(
    channel: Arc<dyn DataChannel>,
    events: mpsc::Sender<MediaEvent>,
    open: Option<Arc<AtomicBool>>,
) {
    let label = channel.label().await.unwrap_or_default();
    let reliable = match label.as_str() {
        RELIABLE_LABEL => Some(true),
        LOSSY_LABEL => Some(false),
        _ => None,
    };
    tracing::debug!(%label, "data channel reader started");
    while let Some(event) = channel.poll().await {
        match event {
            DataChannelEvent::OnOpen => {
                if let Some(open) = &open {
                    open.store(true, Ordering::Release);
                }
            }
            DataChannelEvent::OnMessage(message) => {
                let Some(reliable) = reliable else {
                    continue;
                };
                let payload = message.data.freeze();
                // A closed receiver means the session is gone; keep draining regardless.
                let _ = events
                    .send(MediaEvent::DataReceived { reliable, payload })
                    .await;
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
    if let Some(open) = &open {
        open.store(false, Ordering::Release);
    }
    tracing::debug!(%label, "data channel reader ended");
}
