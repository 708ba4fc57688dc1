//! Building one server-side peer connection and the state around it: the event handler
//! (which only forwards into channels and tasks), the local mid used to stamp trickled
//! candidates, and the queue of client candidates that arrive before the remote description.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, watch};
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription,
};

use super::codecs::media_engine_and_registry;
use super::config::MediaConfig;
use super::datachannel::read_client_channel;
use super::error::MediaError;
use super::events::{MediaEvent, PcTarget};
use convene_rtc::webrtc_kit::candidate::{
    EarlyCandidates, first_mid, local_candidate_json, parse_remote_candidate,
};
use convene_rtc::webrtc_kit::transport::setting_engine;

/// The ordered, never-blocking queue in front of the session's event channel (see
/// [`MediaEvent`] and the pump in `participant.rs`).
pub(crate) type Outbox = mpsc::UnboundedSender<MediaEvent>;

/// What to do with a remote track (`on_track`); only the publisher PC has one.
pub(crate) type TrackSink = Arc<dyn Fn(Arc<dyn TrackRemote>) + Send + Sync>;

/// Receives the driver's callbacks for one PC. Every method runs on the PC's driver task, so
/// each one only pushes into a channel or spawns a task and returns at once.
struct PcHandler {
    target: PcTarget,
    outbox: Outbox,
    events: mpsc::Sender<MediaEvent>,
    local_mid: Arc<Mutex<String>>,
    connected: watch::Sender<bool>,
    track_sink: Option<TrackSink>,
}

impl PcHandler {
    fn candidate(&self, event: RTCPeerConnectionIceEvent) {
        let mid = self
            .local_mid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match local_candidate_json(&event.candidate, &mid) {
            Some(json) => {
                let _ = self.outbox.send(MediaEvent::LocalCandidate {
                    target: self.target,
                    candidate_init_json: json,
                });
            }
            None => tracing::warn!(target = ?self.target, "could not serialize a local candidate"),
        }
    }

    fn connection_state(&self, state: RTCPeerConnectionState) {
        tracing::debug!(target = ?self.target, %state, "peer connection state");
        self.connected
            .send_replace(state == RTCPeerConnectionState::Connected);
        let _ = self.outbox.send(MediaEvent::ConnectionState {
            target: self.target,
            state: state.to_string(),
        });
    }

    fn data_channel(&self, channel: Arc<dyn DataChannel>) {
        tokio::spawn(read_client_channel(channel, self.events.clone(), None));
    }

    fn track(&self, track: Arc<dyn TrackRemote>) {
        match &self.track_sink {
            Some(sink) => sink(track),
            None => tracing::warn!(target = ?self.target, "ignoring a remote track"),
        }
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PcHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        self.candidate(event);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.connection_state(state);
    }

    async fn on_data_channel(&self, data_channel: Arc<dyn DataChannel>) {
        self.data_channel(data_channel);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        self.track(track);
    }
}

/// One peer connection plus its signaling bookkeeping.
pub(crate) struct PcSide {
    pub(crate) pc: Arc<dyn PeerConnection>,
    target: PcTarget,
    local_mid: Arc<Mutex<String>>,
    pending: EarlyCandidates,
    connected: watch::Receiver<bool>,
}

impl PcSide {
    /// Builds the PC: our codec table and interceptors, no ICE servers, one UDP socket and
    /// one passive ICE-TCP listener on `config.bind_ip` (ephemeral ports).
    pub(crate) async fn build(
        config: &MediaConfig,
        target: PcTarget,
        outbox: Outbox,
        events: mpsc::Sender<MediaEvent>,
        track_sink: Option<TrackSink>,
    ) -> Result<Self, MediaError> {
        let (engine, registry) = media_engine_and_registry(target)?;
        let local_mid = Arc::new(Mutex::new("0".to_owned()));
        let (connected_tx, connected) = watch::channel(false);
        let handler = Arc::new(PcHandler {
            target,
            outbox,
            events,
            local_mid: Arc::clone(&local_mid),
            connected: connected_tx,
            track_sink,
        });
        let addr = std::net::SocketAddr::new(config.bind_ip, 0);
        let pc = PeerConnectionBuilder::new()
            .with_setting_engine(setting_engine(false))
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(vec![addr])
            .with_tcp_addrs(vec![addr])
            .build()
            .await?;
        Ok(Self {
            pc: Arc::new(pc),
            target,
            local_mid,
            pending: EarlyCandidates::default(),
            connected,
        })
    }

    /// A receiver that is `true` while the PC's connection state is `connected`.
    pub(crate) fn connected(&self) -> watch::Receiver<bool> {
        self.connected.clone()
    }

    /// Applies a local description, first recording its first mid for candidate stamping
    /// (gathering starts inside `set_local_description`).
    pub(crate) async fn set_local(&self, desc: RTCSessionDescription) -> Result<(), MediaError> {
        *self
            .local_mid
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = first_mid(&desc.sdp);
        self.pc.set_local_description(desc).await?;
        Ok(())
    }

    /// Applies a remote description, then adds the candidates that were queued before it.
    pub(crate) async fn set_remote(&self, desc: RTCSessionDescription) -> Result<(), MediaError> {
        self.pc.set_remote_description(desc).await?;
        for candidate in self.pending.remote_set() {
            if let Err(err) = self.pc.add_ice_candidate(candidate).await {
                tracing::warn!(target = ?self.target, %err, "queued remote candidate rejected");
            }
        }
        Ok(())
    }

    /// Adds a client candidate, or queues it while no remote description is set.
    pub(crate) async fn add_candidate(&self, json: &str) -> Result<(), MediaError> {
        let Some(candidate) = parse_remote_candidate(json)? else {
            return Ok(());
        };
        if let Some(candidate) = self.pending.hold_or_pass(candidate) {
            self.pc.add_ice_candidate(candidate).await?;
        }
        Ok(())
    }

    /// Closes the PC (idempotent); errors are only logged.
    pub(crate) async fn close(&self) {
        if let Err(err) = self.pc.close().await {
            tracing::debug!(target = ?self.target, %err, "closing peer connection");
        }
    }
}
