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

/// One of our subscriber-PC channels and whether the client has opened it.
pub(crate) struct OwnChannel {
    pub(crate) channel: Arc<dyn DataChannel>,
    pub(crate) open: Arc<AtomicBool>,
    pub(crate) label: &'static str,
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
        Ok(Self {
            channel,
            open,
            label,
        })
    }

    /// Sends one message. A channel the client has not opened yet (data sent right after
    /// it joined) is waited for, up to [`OPEN_WAIT`], so the message is not lost; after that
    /// it fails with [`MediaError::DataChannelNotOpen`].
    pub(crate) async fn send(&self, payload: &[u8]) -> Result<(), MediaError> {
        let deadline = tokio::time::Instant::now() + OPEN_WAIT;
        while !self.is_open().await {
            if tokio::time::Instant::now() >= deadline {
                return Err(MediaError::DataChannelNotOpen(self.label));
            }
            tokio::time::sleep(OPEN_POLL).await;
        }
        self.channel.send(bytes::BytesMut::from(payload)).await?;
        Ok(())
    }

    /// Whether the client has opened the channel. The reader's OnOpen can be missed (the
    /// channel may open before its poll loop runs), so the channel's own state decides too.
    async fn is_open(&self) -> bool {
        if self.open.load(Ordering::Acquire) {
            return true;
        }
        let open = matches!(
            self.channel.ready_state().await,
            Ok(RTCDataChannelState::Open)
        );
        if open {
            self.open.store(true, Ordering::Release);
        }
        open
    }
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
