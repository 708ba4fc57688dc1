//! One peer connection plus its signaling bookkeeping: the event handler (which only
//! forwards into a bounded channel), the local mid used to stamp trickled candidates, and the
//! queue of remote candidates that arrive before the remote description.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, watch};
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfiguration,
    RTCIceCandidateInit, RTCIceConnectionState, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCSdpType, RTCSessionDescription, SettingEngine, SettingEngineBuilder,
};

use rtc::ice::mdns::MulticastDnsMode;

use super::PcTarget;
use super::candidate::{EarlyCandidates, first_mid, local_candidate_json, parse_remote_candidate};
use super::codecs::{AudioLevels, ReceiverReports, media_engine_and_registry};
use super::tcp_fallback::{Generation, TcpFallback, is_sent_to_the_server};
use super::turn_tunnel::TurnTunnels;
use super::turn_tunnel::runtime::TunnelingRuntime;

/// ICE timers for a roaming client: a silent path counts as disconnected after 3 s and as
/// failed after 10 s more, so a dead network triggers a reconnect long before the signaling
/// ping timeout (15 s), while a brief glitch does not.
const ICE_DISCONNECTED_AFTER: std::time::Duration = std::time::Duration::from_secs(3);
const ICE_FAILED_AFTER: std::time::Duration = std::time::Duration::from_secs(10);
const ICE_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(1);

/// The settings every Convene PC uses. mDNS is off: LiveKit servers (and our devserver)
/// send IP candidates, and the multicast socket mDNS needs fails with ENODEV on hosts or
/// namespaces without a multicast route. A `roaming` client (see [`TransportConfig`]) also
/// rebinds on ICE restart and uses shorter ICE timers.
pub fn setting_engine(roaming: bool) -> SettingEngine {
    let builder =
        SettingEngineBuilder::default().with_multicast_dns_mode(MulticastDnsMode::Disabled);
    if !roaming {
        return builder.build();
    }
    builder
        .with_discard_local_candidates_during_ice_restart(true)
        .with_ice_timeouts(
            Some(ICE_DISCONNECTED_AFTER),
            Some(ICE_FAILED_AFTER),
            Some(ICE_KEEPALIVE),
        )
        .build()
}

/// What a peer connection reports to its owner.
pub enum TransportEvent {
    /// A local candidate, as LiveKit trickle JSON, to send to the other side.
    LocalCandidate {
        /// Which PC gathered it.
        target: PcTarget,
        /// `RTCIceCandidateInit` JSON with the real mid.
        candidate_init_json: String,
    },
    /// The PC's connection state changed.
    ConnectionState {
        /// Which PC.
        target: PcTarget,
        /// The new state.
        state: RTCPeerConnectionState,
    },
    /// The other side opened a data channel.
    DataChannel {
        /// Which PC.
        target: PcTarget,
        /// The channel; it must be polled until it closes.
        channel: Arc<dyn DataChannel>,
    },
    /// A remote track arrived; it must be polled until it ends.
    Track {
        /// Which PC.
        target: PcTarget,
        /// The track.
        track: Arc<dyn TrackRemote>,
    },
}

/// How to build a [`PcTransport`].
#[derive(Clone)]
pub struct TransportConfig {
    /// Which PC this is.
    pub target: PcTarget,
    /// ICE servers and policy.
    pub rtc_configuration: RTCConfiguration,
    /// UDP addresses to gather on (`0.0.0.0:0` expands to every interface).
    pub udp_addrs: Vec<SocketAddr>,
    /// TCP addresses for ICE-TCP (passive listeners; `ip:0` also enables active). When set,
    /// the other side's TCP candidates (and the TURN tunnels) are only used if UDP has not
    /// connected within `tcp_fallback_after` (see [`super::tcp_fallback`]).
    pub tcp_addrs: Vec<SocketAddr>,
    /// How long UDP paths have before TCP ones are tried
    /// ([`super::tcp_fallback::fallback_wait`]).
    pub tcp_fallback_after: std::time::Duration,
    /// Whether to negotiate the audio-level header extension.
    pub audio_levels: AudioLevels,
    /// Whether to send receiver reports.
    pub receiver_reports: ReceiverReports,
    /// TURN servers reached over TCP or TLS (stand-ins in `rtc_configuration`); `None` when
    /// there are none.
    pub turn_tunnels: Option<Arc<TurnTunnels>>,
    /// A client that roams between networks: on an ICE restart, drop the previous
    /// generation's local candidates and rebind fresh sockets (an address that vanished with
    /// the old network cannot be reused), and notice a dead path within seconds.
    pub roaming: bool,
}

/// Receives the driver's callbacks for one PC. Every method runs on the PC's driver task, so
/// each one only pushes into a channel and returns at once: blocking here would stall the
/// driver while its owner may be awaiting the same PC.
struct Handler {
    target: PcTarget,
    events: mpsc::Sender<TransportEvent>,
    local_mid: Arc<Mutex<String>>,
    state: watch::Sender<RTCPeerConnectionState>,
    ice_state: Arc<watch::Sender<RTCIceConnectionState>>,
}

impl Handler {
    fn emit(&self, event: TransportEvent) {
        if self.events.try_send(event).is_err() {
            tracing::warn!(target = ?self.target, "transport event dropped (owner not keeping up or gone)");
        }
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let candidate = event.candidate.to_json().map(|init| init.candidate);
        if candidate.is_ok_and(|candidate| !is_sent_to_the_server(&candidate)) {
            tracing::trace!(target = ?self.target, "keeping a TCP candidate to ourselves");
            return;
        }
        let mid = self
            .local_mid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match local_candidate_json(&event.candidate, &mid) {
            Some(json) => self.emit(TransportEvent::LocalCandidate {
                target: self.target,
                candidate_init_json: json,
            }),
            None => tracing::warn!(target = ?self.target, "could not serialize a local candidate"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(target = ?self.target, %state, "peer connection state");
        self.state.send_replace(state);
        self.emit(TransportEvent::ConnectionState {
            target: self.target,
            state,
        });
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        self.ice_state.send_replace(state);
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        self.emit(TransportEvent::DataChannel {
            target: self.target,
            channel,
        });
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        self.emit(TransportEvent::Track {
            target: self.target,
            track,
        });
    }
}

/// One peer connection with its candidate queue.
pub struct PcTransport {
    /// The peer connection itself.
    pub pc: Arc<dyn PeerConnection>,
    target: PcTarget,
    local_mid: Arc<Mutex<String>>,
    pending: EarlyCandidates,
    state: watch::Receiver<RTCPeerConnectionState>,
    /// Set when this PC gathers TCP candidates.
    tcp_fallback: Option<Arc<TcpFallback>>,
    tcp_fallback_after: std::time::Duration,
    ice_state: Arc<watch::Sender<RTCIceConnectionState>>,
}

impl PcTransport {
    /// Builds the PC with the shared codec table; its events go to `events`.
    pub async fn build(
        config: TransportConfig,
        events: mpsc::Sender<TransportEvent>,
    ) -> Result<Self, webrtc::error::Error> {
        let (engine, registry) =
            media_engine_and_registry(config.audio_levels, config.receiver_reports)?;
        let local_mid = Arc::new(Mutex::new("0".to_owned()));
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let ice_state = Arc::new(watch::channel(RTCIceConnectionState::New).0);
        let handler = Arc::new(Handler {
            target: config.target,
            events,
            local_mid: Arc::clone(&local_mid),
            state: state_tx,
            ice_state: Arc::clone(&ice_state),
        });
        let tcp_fallback: Option<Arc<TcpFallback>> =
            (!config.tcp_addrs.is_empty()).then(Arc::default);
        let mut builder = PeerConnectionBuilder::new()
            .with_setting_engine(setting_engine(config.roaming))
            .with_configuration(config.rtc_configuration)
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(config.udp_addrs);
        if !config.tcp_addrs.is_empty() {
            builder = builder.with_tcp_addrs(config.tcp_addrs);
        }
        if let Some(tunnels) = config.turn_tunnels {
            let gate = tcp_fallback.as_ref().map(|fallback| fallback.gate());
            builder = builder.with_runtime(Arc::new(TunnelingRuntime::new(tunnels, gate)));
        }
        let pc = builder.build().await?;
        Ok(Self {
            pc: Arc::new(pc),
            target: config.target,
            local_mid,
            pending: EarlyCandidates::default(),
            state,
            tcp_fallback,
            tcp_fallback_after: config.tcp_fallback_after,
            ice_state,
        })
    }

    /// Which PC this is.
    pub fn target(&self) -> PcTarget {
        self.target
    }

    /// The PC's connection state, updated as it changes.
    pub fn state(&self) -> watch::Receiver<RTCPeerConnectionState> {
        self.state.clone()
    }

    /// Applies a local description, first recording its first mid for candidate stamping
    /// (gathering starts inside `set_local_description`).
    pub async fn set_local(&self, desc: RTCSessionDescription) -> Result<(), webrtc::error::Error> {
        *self
            .local_mid
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = first_mid(&desc.sdp);
        self.pc.set_local_description(desc).await
    }

    /// Applies a remote description, then adds the candidates that were queued before it.
    /// New ICE credentials start the wait before TCP candidates are used.
    pub async fn set_remote(
        &self,
        desc: RTCSessionDescription,
    ) -> Result<(), webrtc::error::Error> {
        let (desc, generation) = match &self.tcp_fallback {
            Some(fallback) => {
                let filtered = fallback.filter_description(&desc.sdp);
                if filtered.new_generation.is_some() {
                    // Connected from now on means connected with these credentials.
                    self.ice_state.send_replace(RTCIceConnectionState::Checking);
                }
                let desc = match desc.sdp_type {
                    RTCSdpType::Offer => RTCSessionDescription::offer(filtered.sdp)?,
                    RTCSdpType::Answer => RTCSessionDescription::answer(filtered.sdp)?,
                    RTCSdpType::Pranswer => RTCSessionDescription::pranswer(filtered.sdp)?,
                    _ => desc,
                };
                (desc, filtered.new_generation)
            }
            None => (desc, None),
        };
        self.pc.set_remote_description(desc).await?;
        for candidate in self.pending.remote_set() {
            if let Err(err) = self.add_or_hold_tcp(candidate).await {
                tracing::warn!(target = ?self.target, %err, "queued remote candidate rejected");
            }
        }
        if let (Some(fallback), Some(generation)) = (&self.tcp_fallback, generation) {
            self.fall_back_to_tcp_unless_connected(Arc::clone(fallback), generation);
        }
        Ok(())
    }

    /// Adds the held TCP candidates of `generation` (and opens the TURN tunnels' gate) if
    /// ICE has not connected within the fallback wait (a task that ends by then).
    fn fall_back_to_tcp_unless_connected(
        &self,
        fallback: Arc<TcpFallback>,
        generation: Generation,
    ) {
        let mut ice_state = self.ice_state.subscribe();
        let pc = Arc::clone(&self.pc);
        let target = self.target;
        let wait = self.tcp_fallback_after;
        tokio::spawn(async move {
            let connected = ice_state.wait_for(|state| {
                matches!(
                    state,
                    RTCIceConnectionState::Connected | RTCIceConnectionState::Completed
                )
            });
            if tokio::time::timeout(wait, connected).await.is_ok() {
                return; // connected (or the PC is gone)
            }
            let held = fallback.release(generation);
            tracing::info!(
                ?target,
                candidates = held.len(),
                "UDP did not connect: trying paths over TCP"
            );
            for candidate in held {
                if let Err(err) = pc.add_ice_candidate(candidate).await {
                    tracing::warn!(?target, %err, "TCP candidate rejected");
                }
            }
        });
    }

    async fn add_or_hold_tcp(
        &self,
        candidate: RTCIceCandidateInit,
    ) -> Result<(), webrtc::error::Error> {
        let candidate = match &self.tcp_fallback {
            Some(fallback) => fallback.hold_or_pass(candidate),
            None => Some(candidate),
        };
        match candidate {
            Some(candidate) => self.pc.add_ice_candidate(candidate).await,
            None => Ok(()),
        }
    }

    /// Forgets that a remote description was set, so candidates queue again until the next
    /// one (used around an ICE restart, when old-generation candidates must not be applied
    /// to the new session).
    pub fn queue_candidates_until_next_remote(&self) {
        self.pending.hold_until_next_remote();
    }

    /// Adds a remote candidate, or queues it while no remote description is set. Malformed
    /// JSON is an error for the caller to log; it never reaches the PC.
    pub async fn add_candidate(&self, json: &str) -> Result<(), CandidateError> {
        let Some(candidate) = parse_remote_candidate(json)? else {
            return Ok(());
        };
        if let Some(candidate) = self.pending.hold_or_pass(candidate) {
            self.add_or_hold_tcp(candidate).await?;
        }
        Ok(())
    }

    /// Closes the PC (idempotent); errors are only logged.
    pub async fn close(&self) {
        if let Err(err) = self.pc.close().await {
            tracing::debug!(target = ?self.target, %err, "closing peer connection");
        }
    }
}

/// Why a remote candidate was not added.
#[derive(Debug, thiserror::Error)]
pub enum CandidateError {
    /// Not `RTCIceCandidateInit` JSON.
    #[error("invalid ICE candidate JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The PC refused it.
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
}
