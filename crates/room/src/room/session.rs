//! One live session with the server: the signaling link and the two peer connections
//! (LiveKit v0 "dual PC": we offer on the publisher PC, the server offers on the subscriber
//! PC), with their offer/answer bookkeeping and our data channels.
//!
//! A resume keeps the session and swaps its link; a full reconnect builds a new one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use livekit_protocol as lk;
use rtc::peer_connection::configuration::RTCOfferOptions;
use tokio::sync::mpsc;
use webrtc::data_channel::{
    DataChannel, DataChannelEvent, RTCDataChannelInit, RTCDataChannelState,
};
use webrtc::peer_connection::{
    RTCConfigurationBuilder, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionState,
    RTCSessionDescription,
};

use super::data::{DataKind, decode_user_packet};
use super::events::RoomEvent;
use super::options::CandidateOptions;
use crate::signal::event::{SessionDescription, SignalRequest};
use crate::signal::proto;
use crate::signal::{JoinInfo, SignalInbound, SignalLink, SignalSendError, SignalSocket};
use crate::webrtc_kit::PcTarget;
use crate::webrtc_kit::codecs::{AudioLevels, ReceiverReports};
use crate::webrtc_kit::tcp_fallback::fallback_wait;
use crate::webrtc_kit::transport::{PcTransport, TransportConfig, TransportEvent};
use crate::webrtc_kit::turn_tunnel::{TurnTransport, TurnTunnels, TurnUrl};

/// How many PC events may wait for the engine (candidates, state changes, tracks).
const TRANSPORT_EVENT_CAPACITY: usize = 256;
/// How many openings of our data channels may wait for the engine (one per channel).
const DATA_OPENED_CAPACITY: usize = 2;

/// Publisher-side offer state (we are the only offerer there).
#[derive(Debug, Default)]
struct PublisherNegotiation {
    /// Id of the last offer sent (LiveKit's `SessionDescription.id`, from 1).
    last_id: u32,
    /// An offer is out and its answer not applied yet.
    awaiting_answer: bool,
    /// Something changed meanwhile: offer again after the answer.
    renegotiate: bool,
    /// The next offer must restart ICE.
    ice_restart: bool,
}

/// How a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Departure {
    /// We leave: the server hears `leave` first, so others see us go at once.
    Announced,
    /// The session is dropped without a word (it failed, or a full reconnect replaces it).
    Silent,
}

/// Progress of an ICE restart after a resume: both PCs must have renegotiated.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RestartProgress {
    pub(crate) publisher_answered: bool,
    pub(crate) subscriber_answered: bool,
}

/// The live session.
pub(crate) struct Session {
    pub(crate) link: SignalLink,
    pub(crate) signal_rx: mpsc::Receiver<SignalInbound>,
    /// False once the link reported its end: the receiver is not polled any more.
    pub(crate) signal_open: bool,
    pub(crate) publisher: PcTransport,
    pub(crate) subscriber: PcTransport,
    /// The TCP/TLS TURN servers behind stand-in addresses, if any (stats name them).
    pub(crate) turn_tunnels: Option<Arc<TurnTunnels>>,
    pub(crate) transport_rx: mpsc::Receiver<TransportEvent>,
    /// False once every PC dropped its event sender.
    pub(crate) transport_open: bool,
    /// Our data channels, as they open (for messages waiting for them).
    pub(crate) data_opened_rx: mpsc::Receiver<DataKind>,
    /// False once both readers of our data channels have ended.
    pub(crate) data_opened_live: bool,
    pub(crate) join: JoinInfo,
    pub(crate) restart: Option<RestartProgress>,
    negotiation: PublisherNegotiation,
    channels: HashMap<DataKind, Arc<dyn DataChannel>>,
    /// The last subscriber offer and our answer, for `sync_state` on resume.
    last_subscriber_offer: Option<SessionDescription>,
    last_subscriber_answer: Option<lk::SessionDescription>,
}

/// Why the session could not be set up.
pub(crate) type SessionResult<T> = Result<T, webrtc::error::Error>;

impl Session {
    /// Builds both PCs for a fresh join, creates our data channels and sends the first
    /// publisher offer (so data can flow at once; the official clients do the same when the
    /// server asks for `fast_publish`).
    pub(crate) async fn establish(
        socket: SignalSocket,
        join: JoinInfo,
        candidates: &CandidateOptions,
        events: &mpsc::Sender<RoomEvent>,
    ) -> SessionResult<Self> {
        let (link, signal_rx) = SignalLink::start(socket);
        let (transport_tx, transport_rx) = mpsc::channel(TRANSPORT_EVENT_CAPACITY);
        let (data_opened_tx, data_opened_rx) = mpsc::channel(DATA_OPENED_CAPACITY);
        let tunnels = TurnTunnels::new(&candidates.turn_tls_roots)
            .map_err(|error| webrtc::error::Error::Other(error.to_string()))?;
        let servers = ice_servers(&join.response.ice_servers);
        let turn_over_udp = servers.iter().flat_map(|server| &server.urls).any(|url| {
            TurnUrl::parse(url).is_some_and(|turn| turn.transport == TurnTransport::Udp)
        });
        let servers = tunnels.rewrite(servers);
        let turn_tunnels = tunnels.has_servers().then(|| Arc::new(tunnels));
        let mut configuration = RTCConfigurationBuilder::new().with_ice_servers(servers);
        if candidates.relay_only {
            configuration = configuration.with_ice_transport_policy(RTCIceTransportPolicy::Relay);
        }
        let configuration = configuration.build();
        let config = |target| TransportConfig {
            target,
            rtc_configuration: configuration.clone(),
            udp_addrs: candidates.bind_addrs.clone(),
            // ICE over TCP when UDP is blocked (held back until UDP had its chance).
            tcp_addrs: if candidates.relay_only {
                Vec::new()
            } else {
                candidates.bind_addrs.clone()
            },
            tcp_fallback_after: fallback_wait(turn_over_udp, target == PcTarget::Subscriber),
            audio_levels: AudioLevels::Negotiate,
            receiver_reports: ReceiverReports::Send,
            turn_tunnels: turn_tunnels.clone(),
            roaming: true,
        };
        let publisher =
            PcTransport::build(config(PcTarget::Publisher), transport_tx.clone()).await?;
        let subscriber = PcTransport::build(config(PcTarget::Subscriber), transport_tx).await?;
        let mut channels: HashMap<DataKind, Arc<dyn DataChannel>> = HashMap::new();
        for kind in [DataKind::Reliable, DataKind::Lossy] {
            let init = match kind {
                DataKind::Reliable => RTCDataChannelInit::default(),
                DataKind::Lossy => RTCDataChannelInit {
                    ordered: false,
                    max_retransmits: Some(0),
                    ..Default::default()
                },
            };
            let channel = publisher
                .pc
                .create_data_channel(kind.label(), Some(init))
                .await?;
            // Server -> client data comes on the subscriber PC; read ours too (the JS client
            // does, for older servers) so the channel never stalls.
            tokio::spawn(read_data_channel(
                Arc::clone(&channel),
                Some(kind),
                events.clone(),
                Some(data_opened_tx.clone()),
            ));
            channels.insert(kind, channel);
        }
        let mut session = Self {
            link,
            signal_rx,
            signal_open: true,
            publisher,
            subscriber,
            turn_tunnels,
            transport_rx,
            transport_open: true,
            data_opened_rx,
            data_opened_live: true,
            join,
            restart: None,
            negotiation: PublisherNegotiation::default(),
            channels,
            last_subscriber_offer: None,
            last_subscriber_answer: None,
        };
        session.negotiate_publisher().await?;
        Ok(session)
    }

    /// What the token allows us, as the server granted it (absent: everything).
    pub(crate) fn permission(&self) -> Option<&lk::ParticipantPermission> {
        self.join
            .response
            .participant
            .as_ref()
            .and_then(|p| p.permission.as_ref())
    }

    /// Our participant sid in this session.
    pub(crate) fn local_sid(&self) -> &str {
        &self.join.local_sid
    }

    /// Queues a signaling request.
    pub(crate) fn send(&self, message: lk::signal_request::Message) -> Result<(), SignalSendError> {
        self.link.send(message)
    }

    /// Queues a request of the room's.
    pub(crate) fn request(&self, request: SignalRequest) -> Result<(), SignalSendError> {
        self.send(proto::signal_request(request))
    }

    /// Sends a publisher offer now, or marks one as due if an answer is pending.
    pub(crate) async fn negotiate_publisher(&mut self) -> SessionResult<()> {
        if self.negotiation.awaiting_answer {
            self.negotiation.renegotiate = true;
            return Ok(());
        }
        let options = self
            .negotiation
            .ice_restart
            .then_some(RTCOfferOptions { ice_restart: true });
        let offer = self.publisher.pc.create_offer(options).await?;
        self.negotiation.ice_restart = false;
        self.negotiation.last_id = self.negotiation.last_id.wrapping_add(1).max(1);
        self.negotiation.awaiting_answer = true;
        self.negotiation.renegotiate = false;
        let sdp = offer.sdp.clone();
        // The offer goes out before `set_local_description` starts gathering, so the server
        // sees it before our first candidate.
        let _ = self.send(lk::signal_request::Message::Offer(lk::SessionDescription {
            r#type: "offer".into(),
            sdp,
            id: self.negotiation.last_id,
            ..Default::default()
        }));
        self.publisher.set_local(offer).await
    }

    /// Applies the server's answer to our publisher offer (answers to an older offer are
    /// ignored, as the JS client does).
    pub(crate) async fn apply_publisher_answer(
        &mut self,
        answer: SessionDescription,
    ) -> SessionResult<()> {
        if !self.negotiation.awaiting_answer
            || (answer.id != 0 && answer.id != self.negotiation.last_id)
        {
            tracing::debug!(id = answer.id, "ignoring a stale publisher answer");
            return Ok(());
        }
        self.negotiation.awaiting_answer = false;
        self.publisher
            .set_remote(RTCSessionDescription::answer(answer.sdp)?)
            .await?;
        if let Some(restart) = self.restart.as_mut() {
            restart.publisher_answered = true;
        }
        if self.negotiation.renegotiate {
            self.negotiate_publisher().await?;
        }
        Ok(())
    }

    /// Answers a subscriber offer from the server (echoing its id).
    pub(crate) async fn answer_subscriber_offer(
        &mut self,
        offer: SessionDescription,
    ) -> SessionResult<()> {
        let id = offer.id;
        self.subscriber
            .set_remote(RTCSessionDescription::offer(offer.sdp.clone())?)
            .await?;
        let answer = self.subscriber.pc.create_answer(None).await?;
        let description = lk::SessionDescription {
            r#type: "answer".into(),
            sdp: answer.sdp.clone(),
            id,
            ..Default::default()
        };
        self.subscriber.set_local(answer).await?;
        let _ = self.send(lk::signal_request::Message::Answer(description.clone()));
        self.last_subscriber_offer = Some(offer);
        self.last_subscriber_answer = Some(description);
        if let Some(restart) = self.restart.as_mut() {
            restart.subscriber_answered = true;
        }
        Ok(())
    }

    /// Adds a trickled candidate to the PC it names; malformed ones are logged and dropped.
    pub(crate) async fn add_remote_candidate(
        &self,
        target: Option<PcTarget>,
        candidate_init: &str,
    ) {
        let transport = match target {
            Some(PcTarget::Publisher) => &self.publisher,
            Some(PcTarget::Subscriber) => &self.subscriber,
            None => {
                tracing::warn!("trickle for an unknown PC");
                return;
            }
        };
        if let Err(error) = transport.add_candidate(candidate_init).await {
            tracing::warn!(%error, "ignoring a remote candidate");
        }
    }

    /// Swaps in the signaling connection of a successful resume and starts the ICE restart
    /// on both PCs: the server sends a restart offer for the subscriber PC, we send one for
    /// the publisher PC. `sync_state` tells the server what we had.
    pub(crate) async fn resume_on(
        &mut self,
        socket: SignalSocket,
        sync: lk::SyncState,
    ) -> SessionResult<()> {
        let (link, signal_rx) = SignalLink::start(socket);
        self.link = link;
        self.signal_rx = signal_rx;
        self.signal_open = true;
        self.restart = Some(RestartProgress::default());
        self.subscriber.queue_candidates_until_next_remote();
        let _ = self.send(lk::signal_request::Message::SyncState(sync));
        self.negotiation.ice_restart = true;
        // An offer that was out when the link dropped will never be answered.
        self.negotiation.awaiting_answer = false;
        self.negotiate_publisher().await
    }

    /// What `sync_state` needs from the session.
    pub(crate) fn sync_state(
        &self,
        subscribed: Vec<String>,
        published: Vec<lk::TrackPublishedResponse>,
    ) -> lk::SyncState {
        let data_channels = [DataKind::Reliable, DataKind::Lossy]
            .into_iter()
            .map(|kind| lk::DataChannelInfo {
                label: kind.label().into(),
                id: 0,
                target: lk::SignalTarget::Publisher as i32,
            })
            .collect();
        lk::SyncState {
            answer: self.last_subscriber_answer.clone(),
            offer: self
                .last_subscriber_offer
                .as_ref()
                .map(|offer| proto::to_session_description("offer", offer)),
            subscription: Some(lk::UpdateSubscription {
                track_sids: subscribed,
                subscribe: true,
                ..Default::default()
            }),
            publish_tracks: published,
            data_channels,
            ..Default::default()
        }
    }

    /// True when both PCs are connected (and, after a resume, both have renegotiated).
    pub(crate) fn media_connected(&self) -> bool {
        let connected = |t: &PcTransport| *t.state().borrow() == RTCPeerConnectionState::Connected;
        let restarted = self
            .restart
            .is_none_or(|r| r.publisher_answered && r.subscriber_answered);
        restarted && connected(&self.publisher) && connected(&self.subscriber)
    }

    /// The data channel for `kind`, if open.
    pub(crate) fn channel(&self, kind: DataKind) -> Option<&Arc<dyn DataChannel>> {
        self.channels.get(&kind)
    }

    /// True when our `kind` data channel is open (a send can only wait for one that is not).
    pub(crate) async fn channel_is_open(&self, kind: DataKind) -> bool {
        let Some(channel) = self.channels.get(&kind) else {
            return false;
        };
        matches!(channel.ready_state().await, Ok(RTCDataChannelState::Open))
    }

    /// Sends `leave` (when the departure is announced), closes the link within `bound`, and
    /// closes both PCs.
    pub(crate) async fn close(self, departure: Departure, bound: Duration) {
        if departure == Departure::Announced {
            let _ = self.request(SignalRequest::Leave);
        }
        let Self {
            link,
            publisher,
            subscriber,
            ..
        } = self;
        let pcs = async {
            publisher.close().await;
            subscriber.close().await;
        };
        let _ = tokio::time::timeout(bound, async { tokio::join!(link.close(bound), pcs) }).await;
    }
}

fn ice_servers(servers: &[lk::IceServer]) -> Vec<RTCIceServer> {
    servers
        .iter()
        .map(|server| RTCIceServer {
            urls: server.urls.clone(),
            username: server.username.clone(),
            credential: server.credential.clone(),
        })
        .collect()
}

/// Reads a data channel until it closes; user packets on `_reliable`/`_lossy` become
/// [`RoomEvent::DataReceived`]. Other labels are drained and ignored. With `opened`, the
/// channel's kind is reported there when it opens (our own channels).
pub(crate) async fn read_data_channel(
    channel: Arc<dyn DataChannel>,
    kind: Option<DataKind>,
    events: mpsc::Sender<RoomEvent>,
    opened: Option<mpsc::Sender<DataKind>>,
) {
    let kind = match kind {
        Some(kind) => Some(kind),
        None => DataKind::from_label(&channel.label().await.unwrap_or_default()),
    };
    while let Some(event) = channel.poll().await {
        match event {
            DataChannelEvent::OnMessage(message) => {
                let Some(kind) = kind else { continue };
                match decode_user_packet(&message.data, kind) {
                    Ok(Some(data)) => {
                        let _ = events.send(RoomEvent::DataReceived(data)).await;
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "ignoring a malformed data packet"),
                }
            }
            DataChannelEvent::OnOpen => {
                if let (Some(opened), Some(kind)) = (&opened, kind) {
                    let _ = opened.send(kind).await;
                }
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
}
