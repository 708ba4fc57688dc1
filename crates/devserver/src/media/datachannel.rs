//! LiveKit's data channels: `_reliable` (ordered) and `_lossy` (unordered, no retransmits).
//!
//! Client -> server data arrives on the channels the client creates on its publisher PC;
//! server -> client data goes on the channels we create on the subscriber PC before the first
//! offer (`livekit-protocol.md` 3.4). Every channel is polled until it closes: webrtc-rs never
//! drops data-channel events, so an unread channel would eventually stall its connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::peer_connection::PeerConnection;

use super::error::MediaError;
use super::events::MediaEvent;

/// Label of the reliable channel.
pub(crate) const RELIABLE_LABEL: &str = "_reliable";
/// Label of the lossy channel.
pub(crate) const LOSSY_LABEL: &str = "_lossy";

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

    /// Sends one message; fails with [`MediaError::DataChannelNotOpen`] before the client has
    /// opened the channel.
    pub(crate) async fn send(&self, payload: &[u8]) -> Result<(), MediaError> {
        if !self.open.load(Ordering::Acquire) {
            return Err(MediaError::DataChannelNotOpen(self.label));
        }
        self.channel.send(bytes::BytesMut::from(payload)).await?;
        Ok(())
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
