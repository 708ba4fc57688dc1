//! The room actor, the driver of [`RoomCore`]: owns the I/O (the session with its signaling
//! link and peer connections, our publications' bindings, remote-track readers, reconnection
//! attempts); takes commands from [`super::Room`] over a bounded channel, feeds what happens
//! to the core, carries out the core's actions and emits [`RoomEvent`]s in order.

use std::collections::{BTreeMap, HashMap};
use std::future::pending;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

use super::core::{Action, DataTicket, RoomCore};
use super::data::{DataKind, DataSendOptions, MAX_DATA_PAYLOAD, encode_user_packet};
use super::error::RoomError;
use super::events::{ConnectionState, DisconnectReason, ReconnectKind, RoomEvent};
use super::participant::{LocalParticipant, RemoteParticipant};
use super::publishing::{PendingPublish, Publication, bind, check_codec, new_cid};
use super::reconnect::{AttemptFailure, LossCause, Reconnector};
use super::session::{Departure, Session, read_data_channel};
use super::track::{LocalTrack, LocalTrackOptions, RemoteTrack};
use crate::ids::{Identity, ParticipantSid, TrackSid};
use crate::signal::event::{
    Leave, LeaveAction, ParticipantSnapshot, PublishedTrack, SignalEvent, SignalRequest,
    SpeakerUpdate,
};
use crate::signal::proto;
use crate::signal::{
    self, ConnectError, JoinInfo, ResumeAnswer, ResumeRequest, SignalInbound, SignalOptions,
    SignalSocket,
};
use crate::webrtc_kit::PcTarget;
use crate::webrtc_kit::transport::TransportEvent;
use crate::{ServerUrl, Token};

/// How long `disconnect` may take in all (the app's shutdown bound is 2 s).
pub(crate) const DISCONNECT_BOUND: Duration = Duration::from_millis(1_500);

/// What the [`super::Room`] handle asks of the engine.
pub(crate) enum Command {
    Publish {
        options: LocalTrackOptions,
        reply: oneshot::Sender<Result<LocalTrack, RoomError>>,
    },
    Unpublish {
        track: LocalTrack,
        reply: oneshot::Sender<Result<(), RoomError>>,
    },
    SetMuted {
        track: LocalTrack,
        muted: bool,
        reply: oneshot::Sender<Result<(), RoomError>>,
    },
    SetSubscribed {
        track_sid: String,
        subscribed: bool,
        reply: oneshot::Sender<Result<(), RoomError>>,
    },
    SendData {
        payload: Vec<u8>,
        options: DataSendOptions,
        reply: oneshot::Sender<Result<(), RoomError>>,
    },
    NetworkChanged,
    /// The publisher and subscriber peer connections (for stats), `None` while not
    /// connected.
    PeerConnections {
        reply: oneshot::Sender<Option<PeerConnections>>,
    },
    Disconnect {
        reply: oneshot::Sender<()>,
    },
}

/// The current session's peer connections and TURN tunnels, for stats.
pub(crate) struct PeerConnections {
    pub(crate) publisher: Arc<dyn PeerConnection>,
    pub(crate) subscriber: Arc<dyn PeerConnection>,
    pub(crate) turn_tunnels: Option<Arc<crate::webrtc_kit::turn_tunnel::TurnTunnels>>,
}

/// What the handle can read without asking the actor.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) room_name: String,
    pub(crate) room_sid: String,
    pub(crate) local: LocalParticipant,
    pub(crate) remotes: Vec<RemoteParticipant>,
    pub(crate) state: ConnectionState,
}

pub(crate) type SharedSnapshot = Arc<RwLock<Snapshot>>;

/// Everything needed to (re)connect.
pub(crate) struct Endpoint {
    pub(crate) server: ServerUrl,
    pub(crate) token: Token,
    pub(crate) signal: SignalOptions,
    pub(crate) candidates: super::options::CandidateOptions,
}

/// Result of a reconnection attempt's signaling phase.
enum AttemptOutcome {
    Resumed(SignalSocket),
    ResumeRefused(Leave),
    Joined(SignalSocket, Box<JoinInfo>),
    Failed(ConnectError),
}

/// Why the actor stops.
enum Flow {
    Continue,
    Stop,
}

pub(crate) struct Engine {
    endpoint: Endpoint,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<RoomEvent>,
    snapshot: SharedSnapshot,
    session: Option<Session>,
    /// Roster, subscriptions and deadlines (sans-IO); this actor carries out its actions.
    core: RoomCore,
    local_tracks: Vec<LocalTrack>,
    pending: HashMap<String, PendingPublish>,
    published: Vec<Publication>,
    /// The reader behind each subscription (the core knows which tracks are subscribed).
    readers: HashMap<TrackSid, SubscriptionReader>,
    /// Data messages waiting for their channel to open (the core keeps their deadline).
    waiting_data: HashMap<DataTicket, WaitingData>,
    speakers: BTreeMap<String, f32>,
    data_sequence: u32,
    attempt: Option<JoinHandle<AttemptOutcome>>,
    /// `Some` until the first connection is up: reports it to `Room::connect` (the core
    /// keeps its deadline).
    joining: Option<oneshot::Sender<Result<(), RoomError>>>,
    media_timeout: Duration,
    last_error: String,
}

/// A remote track being read for the application.
struct SubscriptionReader {
    /// The webrtc track, to recognise a repeated `on_track`.
    track: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>,
    /// Dropping it ends the [`RemoteTrack`] for the application.
    _stop: oneshot::Sender<()>,
}

/// A `Room::send_data` call waiting for its data channel to open.
struct WaitingData {
    payload: Vec<u8>,
    options: DataSendOptions,
    reply: oneshot::Sender<Result<(), RoomError>>,
}

/// The next thing the session delivers.
enum SessionInput {
    Signal(Option<SignalInbound>),
    Transport(Option<TransportEvent>),
    DataChannelOpened(Option<DataKind>),
}

async fn session_input(session: Option<&mut Session>) -> SessionInput {
    let Some(session) = session else {
        return pending().await;
    };
    if !session.signal_open && !session.transport_open && !session.data_opened_live {
        return pending().await;
    }
    tokio::select! {
        inbound = session.signal_rx.recv(), if session.signal_open => {
            if matches!(inbound, None | Some(SignalInbound::Closed(_))) {
                session.signal_open = false;
            }
            SessionInput::Signal(inbound)
        }
        event = session.transport_rx.recv(), if session.transport_open => {
            if event.is_none() {
                session.transport_open = false;
            }
            SessionInput::Transport(event)
        }
        kind = session.data_opened_rx.recv(), if session.data_opened_live => {
            if kind.is_none() {
                session.data_opened_live = false;
            }
            SessionInput::DataChannelOpened(kind)
        }
    }
}

async fn sleep_until_or_pending(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => pending().await,
    }
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        endpoint: Endpoint,
        session: Session,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<RoomEvent>,
        snapshot: SharedSnapshot,
        reconnector: Reconnector,
        media_timeout: Duration,
        joined: oneshot::Sender<Result<(), RoomError>>,
    ) -> Self {
        let core = RoomCore::new(
            Instant::now(),
            session.join.local_sid.as_str().into(),
            &other_participants(&session.join),
            media_timeout,
            session.join.ping_timeout,
            reconnector,
        );
        Self {
            endpoint,
            commands,
            events,
            snapshot,
            session: Some(session),
            core,
            local_tracks: Vec::new(),
            pending: HashMap::new(),
            published: Vec::new(),
            readers: HashMap::new(),
            waiting_data: HashMap::new(),
            speakers: BTreeMap::new(),
            data_sequence: 0,
            attempt: None,
            joining: Some(joined),
            media_timeout,
            last_error: String::new(),
        }
    }

    /// Runs until disconnected.
    pub(crate) async fn run(mut self) {
        self.refresh_snapshot();
        let mut ping = tokio::time::interval(self.ping_interval());
        loop {
            let deadline = self.core.poll_timeout();
            let flow = tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.handle_command(command).await,
                    None => {
                        self.leave(DisconnectReason::ClientInitiated).await;
                        Flow::Stop
                    }
                },
                input = session_input(self.session.as_mut()) => match input {
                    SessionInput::Signal(inbound) => self.handle_inbound(inbound).await,
                    SessionInput::Transport(Some(event)) => self.handle_transport(event).await,
                    SessionInput::Transport(None) => Flow::Continue,
                    SessionInput::DataChannelOpened(Some(kind)) => {
                        self.core.handle_data_channel_open(kind);
                        self.run_core_actions().await
                    }
                    SessionInput::DataChannelOpened(None) => Flow::Continue,
                },
                outcome = async {
                    match self.attempt.as_mut() {
                        Some(handle) => handle.await,
                        None => pending().await,
                    }
                } => {
                    self.attempt = None;
                    match outcome {
                        Ok(outcome) => self.handle_attempt(outcome).await,
                        Err(_) => self.on_failure(AttemptFailure::Unreachable("attempt aborted".into())).await,
                    }
                }
                () = sleep_until_or_pending(deadline) => {
                    self.core.handle_timeout(Instant::now());
                    self.run_core_actions().await
                }
                _ = ping.tick() => self.ping(),
            };
            if matches!(flow, Flow::Stop) {
                break;
            }
            let interval = self.ping_interval();
            if ping.period() != interval {
                ping = tokio::time::interval(interval);
            }
        }
    }

    fn ping_interval(&self) -> Duration {
        self.session
            .as_ref()
            .map(|s| s.join.ping_interval)
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(5))
    }

    async fn emit(&self, event: RoomEvent) {
        if self.events.send(event).await.is_err() {
            tracing::trace!("room event dropped: nobody listens");
        }
    }

    /// Copies what the `Room` handle reads without asking into the shared snapshot.
    fn refresh_snapshot(&self) {
        let mut snapshot = self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(session) = &self.session {
            snapshot.room_name = session.join.room_name.clone();
            snapshot.room_sid = session.join.room_sid.clone();
            snapshot.local.sid = session.join.local_sid.clone();
        }
        snapshot.local.tracks = self
            .published
            .iter()
            .filter_map(|p| p.track.info())
            .collect();
        snapshot.remotes = self.core.participants();
        snapshot.state = self.core.state();
    }

    fn local_identity(&self) -> String {
        self.snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .local
            .identity
            .clone()
    }

    // ---- commands -------------------------------------------------------------------

    async fn handle_command(&mut self, command: Command) -> Flow {
        match command {
            Command::Publish { options, reply } => {
                if let Err(error) = self.check_publish(&options) {
                    let _ = reply.send(Err(error));
                    return Flow::Continue;
                }
                let track = LocalTrack::new(options);
                self.local_tracks.push(track.clone());
                self.request_publication(track, Some(reply));
            }
            Command::Unpublish { track, reply } => {
                let result = self.unpublish(&track).await;
                let _ = reply.send(result);
            }
            Command::SetMuted {
                track,
                muted,
                reply,
            } => {
                let result = self.set_muted(&track, muted).await;
                let _ = reply.send(result);
            }
            Command::SetSubscribed {
                track_sid,
                subscribed,
                reply,
            } => {
                let result = self.send_signal(SignalRequest::Subscription {
                    track_sid: track_sid.into(),
                    subscribe: subscribed,
                });
                let _ = reply.send(result);
            }
            Command::SendData {
                payload,
                options,
                reply,
            } => {
                self.send_or_wait(payload, options, reply).await;
            }
            Command::NetworkChanged => {
                return self.lost(LossCause::NetworkChanged).await;
            }
            Command::PeerConnections { reply } => {
                let pcs = self.session.as_ref().map(|session| PeerConnections {
                    publisher: Arc::clone(&session.publisher.pc),
                    subscriber: Arc::clone(&session.subscriber.pc),
                    turn_tunnels: session.turn_tunnels.clone(),
                });
                let _ = reply.send(pcs);
            }
            Command::Disconnect { reply } => {
                self.leave(DisconnectReason::ClientInitiated).await;
                let _ = reply.send(());
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    fn check_publish(&self, options: &LocalTrackOptions) -> Result<(), RoomError> {
        check_codec(options)?;
        let Some(session) = &self.session else {
            return Err(RoomError::NotConnected);
        };
        let allowed = session.permission().is_none_or(|p| p.can_publish);
        if allowed {
            Ok(())
        } else {
            Err(RoomError::NotAllowed("the token does not allow publishing"))
        }
    }

    fn send_signal(&self, request: SignalRequest) -> Result<(), RoomError> {
        match &self.session {
            Some(session) if !self.core.is_recovering() => session
                .request(request)
                .map_err(|_| RoomError::NotConnected),
            _ => Err(RoomError::NotConnected),
        }
    }

    /// Sends the AddTrackRequest (now, or after the reconnection if recovering).
    fn request_publication(
        &mut self,
        track: LocalTrack,
        reply: Option<oneshot::Sender<Result<LocalTrack, RoomError>>>,
    ) {
        let cid = new_cid();
        if let Some(session) = &self.session
            && !self.core.is_recovering()
        {
            let _ = session.request(SignalRequest::AddTrack {
                cid: cid.clone(),
                options: track.options().clone(),
                muted: track.is_muted(),
            });
            self.core
                .handle_publish_requested(Instant::now(), cid.clone());
            self.pending.insert(cid, PendingPublish { track, reply });
        } else if let Some(reply) = reply {
            // Published when the connection is back (see `republish`).
            let _ = reply.send(Ok(track));
        }
    }

    async fn on_track_published(&mut self, cid: String, track: Option<PublishedTrack>) {
        let Some(pending) = self.pending.remove(&cid) else {
            tracing::debug!(%cid, "track_published for an unknown cid");
            return;
        };
        self.core.handle_publish_settled(&cid);
        let Some(confirmed) = track else {
            if let Some(reply) = pending.reply {
                let _ = reply.send(Err(RoomError::PublishFailed(
                    "no track in the answer".into(),
                )));
            }
            return;
        };
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let stream_id = format!("{}|{}", session.local_sid(), cid);
        let info = confirmed.info.clone();
        let bound = bind(
            &session.publisher.pc,
            pending.track.clone(),
            cid,
            confirmed,
            &stream_id,
        )
        .await;
        let publication = match bound {
            Ok(publication) => publication,
            Err(error) => {
                tracing::warn!(%error, "could not add the track to the publisher PC");
                if let Some(reply) = pending.reply {
                    let _ = reply.send(Err(error));
                }
                return;
            }
        };
        if let Err(error) = session.negotiate_publisher().await {
            tracing::warn!(%error, "publisher renegotiation failed");
        }
        pending.track.set_info(info.clone());
        self.published.push(publication);
        self.refresh_snapshot();
        if let Some(info) = info {
            self.emit(RoomEvent::LocalTrackPublished(info)).await;
        }
        if let Some(reply) = pending.reply {
            let _ = reply.send(Ok(pending.track));
        }
    }

    async fn unpublish(&mut self, track: &LocalTrack) -> Result<(), RoomError> {
        let before = self.local_tracks.len();
        self.local_tracks.retain(|t| !t.same_as(track));
        let withdrawn: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.track.same_as(track))
            .map(|(cid, _)| cid.clone())
            .collect();
        for cid in withdrawn {
            self.pending.remove(&cid);
            self.core.handle_publish_settled(&cid);
        }
        let Some(index) = self.published.iter().position(|p| p.track.same_as(track)) else {
            return if before == self.local_tracks.len() {
                Err(RoomError::UnknownTrack)
            } else {
                Ok(())
            };
        };
        let publication = self.published.remove(index);
        let info = publication.track.info();
        let sender = publication.unbind().await;
        if let Some(session) = self.session.as_mut() {
            session.publisher.pc.remove_track(&sender).await?;
            session.negotiate_publisher().await?;
        }
        self.refresh_snapshot();
        if let Some(info) = info {
            self.emit(RoomEvent::LocalTrackUnpublished(info)).await;
        }
        Ok(())
    }

    async fn set_muted(&mut self, track: &LocalTrack, muted: bool) -> Result<(), RoomError> {
        if !self.local_tracks.iter().any(|t| t.same_as(track)) {
            return Err(RoomError::UnknownTrack);
        }
        track
            .inner
            .muted
            .store(muted, std::sync::atomic::Ordering::Release);
        let Some(sid) = track.sid() else {
            return Ok(());
        };
        if let Some(mut info) = track.info() {
            info.muted = muted;
            track.set_info(Some(info));
        }
        let _ = self.send_signal(SignalRequest::Mute {
            track_sid: sid.as_str().into(),
            muted,
        });
        self.emit(RoomEvent::mute_change(self.local_identity(), sid, muted))
            .await;
        Ok(())
    }

    /// Sends a data message now, or, while its channel is still opening, keeps it until the
    /// core says the channel is open or the wait is over.
    async fn send_or_wait(
        &mut self,
        payload: Vec<u8>,
        options: DataSendOptions,
        reply: oneshot::Sender<Result<(), RoomError>>,
    ) {
        if let Err(error) = self.check_data(&payload) {
            let _ = reply.send(Err(error));
            return;
        }
        // Checked before sending: an opening that happens later is reported to the core.
        let opening = match &self.session {
            Some(session) => !session.channel_is_open(options.kind).await,
            None => false,
        };
        let ticket = if opening {
            self.core.handle_data_blocked(Instant::now(), options.kind)
        } else {
            None
        };
        match ticket {
            Some(ticket) => {
                self.waiting_data.insert(
                    ticket,
                    WaitingData {
                        payload,
                        options,
                        reply,
                    },
                );
            }
            None => {
                let result = self.send_data(&payload, &options).await;
                let _ = reply.send(result);
            }
        }
    }

    /// What may fail a data message whether or not its channel is open.
    fn check_data(&self, payload: &[u8]) -> Result<(), RoomError> {
        if payload.len() > MAX_DATA_PAYLOAD {
            return Err(RoomError::DataTooLarge(payload.len()));
        }
        let Some(session) = &self.session else {
            return Err(RoomError::NotConnected);
        };
        let allowed = session.permission().is_none_or(|p| p.can_publish_data);
        if !allowed {
            return Err(RoomError::NotAllowed(
                "the token does not allow sending data",
            ));
        }
        Ok(())
    }

    async fn send_data(
        &mut self,
        payload: &[u8],
        options: &DataSendOptions,
    ) -> Result<(), RoomError> {
        self.check_data(payload)?;
        let Some(session) = &self.session else {
            return Err(RoomError::NotConnected);
        };
        let channel = session
            .channel(options.kind)
            .ok_or(RoomError::DataChannelClosed(options.kind.label()))?;
        if options.kind == DataKind::Reliable {
            self.data_sequence = self.data_sequence.wrapping_add(1).max(1);
        }
        let bytes = encode_user_packet(
            &session.join.local_identity,
            &session.join.local_sid,
            self.data_sequence,
            payload,
            options,
        );
        channel
            .send(bytes::BytesMut::from(bytes.as_slice()))
            .await
            .map_err(|_| RoomError::DataChannelClosed(options.kind.label()))
    }

    // ---- signaling ----------------------------------------------------------------------

    async fn handle_inbound(&mut self, inbound: Option<SignalInbound>) -> Flow {
        let event = match inbound {
            Some(SignalInbound::Message(message)) => proto::signal_event(*message),
            Some(SignalInbound::Closed(reason)) => {
                self.last_error = reason;
                return self.signal_lost(LossCause::SignalClosed).await;
            }
            None => {
                self.last_error = "the signaling connection ended".into();
                return self.signal_lost(LossCause::SignalClosed).await;
            }
        };
        self.core.handle_signal_activity(Instant::now());
        match event {
            SignalEvent::SubscriberOffer(offer) => {
                if let Flow::Stop = self.end_unsent_subscriptions(&offer.sdp).await {
                    return Flow::Stop;
                }
                let result = match self.session.as_mut() {
                    Some(session) => session.answer_subscriber_offer(offer).await,
                    None => Ok(()),
                };
                self.after_negotiation(PcTarget::Subscriber, result).await
            }
            SignalEvent::PublisherAnswer(answer) => {
                let result = match self.session.as_mut() {
                    Some(session) => session.apply_publisher_answer(answer).await,
                    None => Ok(()),
                };
                self.after_negotiation(PcTarget::Publisher, result).await
            }
            SignalEvent::RemoteCandidate {
                target,
                candidate_init,
            } => {
                if let Some(session) = &self.session {
                    session.add_remote_candidate(target, &candidate_init).await;
                }
                Flow::Continue
            }
            SignalEvent::ParticipantsChanged(participants) => {
                self.core.handle_participants(Instant::now(), &participants);
                self.run_core_actions().await
            }
            SignalEvent::TrackPublished { cid, track } => {
                self.on_track_published(cid, track).await;
                Flow::Continue
            }
            SignalEvent::TrackUnpublished(track_sid) => {
                self.on_server_unpublished(&track_sid).await;
                Flow::Continue
            }
            SignalEvent::Leave(leave) => self.on_leave(leave).await,
            SignalEvent::TrackMuteRequested { track_sid, muted } => {
                self.on_server_mute(track_sid, muted).await;
                Flow::Continue
            }
            SignalEvent::SpeakersChanged(speakers) => {
                self.on_speakers(speakers).await;
                Flow::Continue
            }
            SignalEvent::ConnectionQualityChanged(updates) => {
                for update in updates {
                    let identity = self.identity_of(&update.participant_sid);
                    self.emit(RoomEvent::ConnectionQualityChanged {
                        participant_identity: identity.into(),
                        quality: update.quality,
                    })
                    .await;
                }
                Flow::Continue
            }
            SignalEvent::RoomSidAssigned(room_sid) => {
                if let Some(session) = self.session.as_mut() {
                    session.join.room_sid = room_sid;
                    self.refresh_snapshot();
                }
                Flow::Continue
            }
            SignalEvent::TokenRefreshed(token) => {
                // Later reconnects use the newest token the server handed out.
                self.endpoint.token = Token::new(token);
                Flow::Continue
            }
            SignalEvent::Ignored(name) => {
                tracing::trace!(message = name, "signal message ignored");
                Flow::Continue
            }
        }
    }

    /// After an offer/answer step: a failure leaves that PC unusable (reconnect), success
    /// may complete the join or a reconnection.
    async fn after_negotiation(
        &mut self,
        target: PcTarget,
        result: Result<(), webrtc::error::Error>,
    ) -> Flow {
        if let Err(error) = result {
            tracing::warn!(?target, %error, "negotiation failed");
            self.last_error = format!("{target:?} negotiation failed: {error}");
            return self.lost(LossCause::TransportFailed).await;
        }
        self.check_media().await
    }

    /// Ends the subscriptions a new subscriber offer no longer sends (webrtc-rs does not
    /// end remote tracks by itself).
    async fn end_unsent_subscriptions(&mut self, offer_sdp: &str) -> Flow {
        let sending = crate::webrtc_kit::sdp::sending_track_ids(offer_sdp);
        self.core.handle_subscriber_offer(&sending);
        self.run_core_actions().await
    }

    /// Carries out what the core decided, in order.
    async fn run_core_actions(&mut self) -> Flow {
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::Emit(event) => self.emit(event).await,
                Action::RefreshSnapshot => self.refresh_snapshot(),
                Action::EndSubscription(track_sid) => {
                    tracing::debug!(%track_sid, "subscription ended");
                    self.readers.remove(&track_sid);
                }
                Action::SendData(ticket) => {
                    if let Some(waiting) = self.waiting_data.remove(&ticket) {
                        let result = self.send_data(&waiting.payload, &waiting.options).await;
                        let _ = waiting.reply.send(result);
                    }
                }
                Action::FailData(ticket) => {
                    if let Some(waiting) = self.waiting_data.remove(&ticket) {
                        let label = waiting.options.kind.label();
                        let _ = waiting.reply.send(Err(RoomError::DataChannelClosed(label)));
                    }
                }
                Action::TearDownSession => self.tear_down_session().await,
                Action::StartAttempt { kind, attempt } => self.start_attempt(kind, attempt),
                Action::RestartDone => {
                    if let Some(session) = self.session.as_mut() {
                        session.restart = None;
                    }
                }
                Action::GiveUp(reason) => {
                    Box::pin(self.finish(reason, Departure::Silent)).await;
                    return Flow::Stop;
                }
                Action::Republish => {
                    for track in self.local_tracks.clone() {
                        self.request_publication(track, None);
                    }
                }
                Action::JoinTimedOut => {
                    if let Some(reply) = self.joining.take() {
                        let _ = reply.send(Err(RoomError::MediaTimeout(self.media_timeout)));
                        self.close_session(Departure::Silent).await;
                        return Flow::Stop;
                    }
                }
                Action::PublishTimedOut { cid } => {
                    if let Some(pending) = self.pending.remove(&cid)
                        && let Some(reply) = pending.reply
                    {
                        let _ = reply.send(Err(RoomError::PublishFailed(
                            "the server did not confirm the track in time".into(),
                        )));
                    }
                }
                Action::SignalSilent { timeout } => {
                    if !self.core.is_recovering() && self.session.is_some() {
                        self.last_error = format!("no answer from the server for {timeout:?}");
                        // Boxed: the recovery it starts carries out core actions too.
                        let lost = Box::pin(self.signal_lost(LossCause::PingTimeout));
                        if let Flow::Stop = lost.await {
                            return Flow::Stop;
                        }
                    }
                }
            }
        }
        Flow::Continue
    }

    /// Takes the pending `Room::connect` reply, ending the join for the core too.
    fn take_joining(&mut self) -> Option<oneshot::Sender<Result<(), RoomError>>> {
        self.core.handle_join_abandoned();
        self.joining.take()
    }

    /// Whose sid this is; unknown sids are taken to be ours (the server reports us too).
    fn identity_of(&self, sid: &ParticipantSid) -> Identity {
        match self.core.participant(sid) {
            Some(p) => p.identity.as_str().into(),
            None => self.local_identity().into(),
        }
    }

    async fn on_server_unpublished(&mut self, track_sid: &TrackSid) {
        let Some(index) = self
            .published
            .iter()
            .position(|p| p.confirmed.sid == *track_sid)
        else {
            return;
        };
        let publication = self.published.remove(index);
        let track = publication.track.clone();
        let info = track.info();
        let sender = publication.unbind().await;
        self.local_tracks.retain(|t| !t.same_as(&track));
        if let Some(session) = self.session.as_mut() {
            let _ = session.publisher.pc.remove_track(&sender).await;
            let _ = session.negotiate_publisher().await;
        }
        self.refresh_snapshot();
        if let Some(info) = info {
            self.emit(RoomEvent::LocalTrackUnpublished(info)).await;
        }
    }

    async fn on_server_mute(&mut self, track_sid: TrackSid, muted: bool) {
        let Some(publication) = self.published.iter().find(|p| p.confirmed.sid == track_sid) else {
            return;
        };
        let track = publication.track.clone();
        track
            .inner
            .muted
            .store(muted, std::sync::atomic::Ordering::Release);
        self.emit(RoomEvent::mute_change(
            self.local_identity(),
            track_sid.into(),
            muted,
        ))
        .await;
    }

    async fn on_speakers(&mut self, speakers: Vec<SpeakerUpdate>) {
        for speaker in speakers {
            let identity: String = self.identity_of(&speaker.participant_sid).into();
            if speaker.active {
                self.speakers.insert(identity, speaker.level);
            } else {
                self.speakers.remove(&identity);
            }
        }
        let mut active: Vec<(String, f32)> = self
            .speakers
            .iter()
            .map(|(identity, level)| (identity.clone(), *level))
            .collect();
        active.sort_by(|a, b| b.1.total_cmp(&a.1));
        self.emit(RoomEvent::ActiveSpeakersChanged(
            active.into_iter().map(|(identity, _)| identity).collect(),
        ))
        .await;
    }

    async fn on_leave(&mut self, leave: Leave) -> Flow {
        match leave.action {
            LeaveAction::Resume => {
                self.last_error = "the server asked to resume".into();
                self.lost(LossCause::ServerRequestedResume).await
            }
            LeaveAction::Reconnect => {
                self.last_error = "the server asked to reconnect".into();
                self.lost(LossCause::ServerRequestedReconnect).await
            }
            LeaveAction::Disconnect => {
                self.finish(leave.reason, Departure::Silent).await;
                Flow::Stop
            }
        }
    }

    // ---- transports -----------------------------------------------------------------

    async fn handle_transport(&mut self, event: TransportEvent) -> Flow {
        match event {
            TransportEvent::LocalCandidate {
                target,
                candidate_init_json,
            } => {
                if let Some(session) = &self.session {
                    let _ = session.request(SignalRequest::Trickle {
                        target,
                        candidate_init: candidate_init_json,
                    });
                }
                Flow::Continue
            }
            TransportEvent::ConnectionState { target, state } => {
                if state == RTCPeerConnectionState::Failed {
                    self.last_error = format!("the {target:?} connection failed");
                    return self.lost(LossCause::TransportFailed).await;
                }
                self.check_media().await
            }
            TransportEvent::DataChannel { target, channel } => {
                if target == PcTarget::Subscriber {
                    tokio::spawn(read_data_channel(channel, None, self.events.clone(), None));
                }
                Flow::Continue
            }
            TransportEvent::Track { target, track } => {
                if target == PcTarget::Subscriber {
                    self.on_remote_track(track).await;
                }
                Flow::Continue
            }
        }
    }

    async fn on_remote_track(
        &mut self,
        track: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>,
    ) {
        let stream_id = track.stream_id().await;
        let track_id = track.track_id().await;
        // LiveKit packs "<participant sid>|<track sid>" into the stream id.
        let (participant_sid, stream_part) = stream_id
            .split_once('|')
            .unwrap_or((stream_id.as_str(), ""));
        let track_sid = if stream_part.starts_with("TR") {
            stream_part.to_owned()
        } else {
            track_id
        };
        let Some(participant) = self.core.participant(&participant_sid.into()).cloned() else {
            tracing::warn!(%participant_sid, %track_sid, "track from an unknown participant");
            return;
        };
        let Some(info) = participant
            .tracks
            .iter()
            .find(|t| t.sid == track_sid)
            .cloned()
        else {
            tracing::warn!(%track_sid, "track without a publication");
            return;
        };
        let track_sid = TrackSid::from(track_sid);
        if let Some(current) = self.readers.get(&track_sid)
            && std::ptr::addr_eq(Arc::as_ptr(&current.track), Arc::as_ptr(&track))
        {
            // webrtc-rs reports a receiving track again after some renegotiations; the
            // reader started the first time is still reading it.
            tracing::debug!(%track_sid, "track reported again; already reading it");
            return;
        }
        let (remote, stop) = RemoteTrack::start(info, participant.identity, Arc::clone(&track));
        self.core.handle_subscribed(track_sid.clone());
        self.readers
            .insert(track_sid, SubscriptionReader { track, _stop: stop });
        self.core
            .handle_track_event(RoomEvent::TrackSubscribed(remote));
        let _ = self.run_core_actions().await;
    }

    // ---- keep-alive -----------------------------------------------------------------

    fn ping(&mut self) -> Flow {
        if self.core.is_recovering() {
            return Flow::Continue;
        }
        let Some(session) = &self.session else {
            return Flow::Continue;
        };
        let now_ms = crate::clock::unix_now_millis();
        let _ = session.request(SignalRequest::Ping(now_ms));
        let _ = session.request(SignalRequest::PingRequest(now_ms));
        Flow::Continue
    }

    // ---- connection and recovery ----------------------------------------------------

    /// Called whenever a PC's state or negotiation moved: finishes the first join or a
    /// reconnection once media is up.
    async fn check_media(&mut self) -> Flow {
        let connected = self.session.as_ref().is_some_and(Session::media_connected);
        if !connected {
            return Flow::Continue;
        }
        if let Some(reply) = self.joining.take() {
            self.core.handle_joined();
            let _ = reply.send(Ok(()));
            return Flow::Continue;
        }
        if self.core.is_recovering() {
            self.core.handle_media_restored(Instant::now());
            return self.run_core_actions().await;
        }
        Flow::Continue
    }

    async fn signal_lost(&mut self, cause: LossCause) -> Flow {
        if self.joining.is_some() {
            if let Some(reply) = self.take_joining() {
                let _ = reply.send(Err(RoomError::Connect(ConnectError::Unreachable(
                    self.last_error.clone(),
                ))));
            }
            self.close_session(Departure::Silent).await;
            return Flow::Stop;
        }
        if self.core.is_recovering() {
            // The link of a resumed attempt died before media came back.
            return self
                .on_failure(AttemptFailure::Unreachable(self.last_error.clone()))
                .await;
        }
        self.lost(cause).await
    }

    async fn lost(&mut self, cause: LossCause) -> Flow {
        if self.joining.is_some() {
            if let Some(reply) = self.take_joining() {
                let _ = reply.send(Err(RoomError::Connect(ConnectError::Unreachable(
                    self.last_error.clone(),
                ))));
            }
            self.close_session(Departure::Silent).await;
            return Flow::Stop;
        }
        tracing::info!(?cause, "connection lost; reconnecting");
        self.core.handle_lost(Instant::now(), cause);
        self.run_core_actions().await
    }

    async fn on_failure(&mut self, failure: AttemptFailure) -> Flow {
        tracing::info!(?failure, "reconnection attempt failed");
        self.core.handle_attempt_failed(Instant::now(), failure);
        self.run_core_actions().await
    }

    /// Full reconnect, part one: drop the session; the core then tells the application, in
    /// the documented order.
    async fn tear_down_session(&mut self) {
        self.close_session(Departure::Silent).await;
        self.readers.clear();
        self.speakers.clear();
        self.pending.clear();
        let mut own_tracks = Vec::new();
        for publication in std::mem::take(&mut self.published) {
            own_tracks.extend(publication.track.info());
            publication.unbind().await;
        }
        self.core.handle_session_torn_down(own_tracks);
    }

    fn start_attempt(&mut self, kind: ReconnectKind, attempt: u32) {
        tracing::info!(?kind, attempt, "reconnection attempt");
        if let Some(handle) = self.attempt.take() {
            handle.abort();
        }
        let server = self.endpoint.server.clone();
        let token = self.endpoint.token.clone();
        let options = self.endpoint.signal.clone();
        let handle = match (kind, &self.session) {
            (ReconnectKind::Resume, Some(session)) => {
                let request = ResumeRequest {
                    participant_sid: session.join.local_sid.clone(),
                    reason: proto::RESUME_AFTER_SIGNAL_LOSS,
                };
                tokio::spawn(async move {
                    match signal::resume(&server, &token, &options, &request).await {
                        Ok((socket, ResumeAnswer::Resumed(_))) => AttemptOutcome::Resumed(socket),
                        Ok((_, ResumeAnswer::Refused(leave))) => {
                            AttemptOutcome::ResumeRefused(proto::leave(&leave))
                        }
                        Err(error) => AttemptOutcome::Failed(error),
                    }
                })
            }
            _ => tokio::spawn(async move {
                match signal::connect(&server, &token, &options).await {
                    Ok((socket, join)) => AttemptOutcome::Joined(socket, Box::new(join)),
                    Err(error) => AttemptOutcome::Failed(error),
                }
            }),
        };
        self.attempt = Some(handle);
    }

    async fn handle_attempt(&mut self, outcome: AttemptOutcome) -> Flow {
        match outcome {
            AttemptOutcome::Resumed(socket) => {
                let subscribed = self.core.subscriptions();
                let published = self
                    .published
                    .iter()
                    .map(|p| proto::track_published_response(&p.cid, &p.confirmed))
                    .collect();
                let Some(session) = self.session.as_mut() else {
                    return self
                        .on_failure(AttemptFailure::ResumeRejected("no session".into()))
                        .await;
                };
                let sync = session.sync_state(subscribed, published);
                if let Err(error) = session.resume_on(socket, sync).await {
                    return self
                        .on_failure(AttemptFailure::ResumeRejected(error.to_string()))
                        .await;
                }
                let ping_timeout = session.join.ping_timeout;
                self.core
                    .handle_signal_connected(Instant::now(), ping_timeout);
                self.check_media().await
            }
            AttemptOutcome::ResumeRefused(leave) => {
                let reason = leave.reason;
                let fatal = leave.action == LeaveAction::Disconnect
                    && matches!(
                        reason,
                        DisconnectReason::DuplicateIdentity
                            | DisconnectReason::ParticipantRemoved
                            | DisconnectReason::RoomDeleted
                            | DisconnectReason::RoomClosed
                    );
                if fatal {
                    self.finish(reason, Departure::Silent).await;
                    return Flow::Stop;
                }
                self.on_failure(AttemptFailure::ResumeRejected(
                    "the server would not resume the session".into(),
                ))
                .await
            }
            AttemptOutcome::Joined(socket, join) => {
                let join = *join;
                // A session from an earlier full attempt (restarted by a network change).
                if let Some(stale) = self.session.take() {
                    stale.close(Departure::Silent, DISCONNECT_BOUND).await;
                }
                let ping_timeout = join.ping_timeout;
                self.core
                    .handle_rejoined(join.local_sid.as_str().into(), &other_participants(&join));
                let established =
                    Session::establish(socket, join, &self.endpoint.candidates, &self.events).await;
                match established {
                    Ok(session) => {
                        self.session = Some(session);
                        self.core
                            .handle_signal_connected(Instant::now(), ping_timeout);
                        self.refresh_snapshot();
                        self.check_media().await
                    }
                    Err(error) => {
                        self.core.handle_rejoin_failed();
                        self.on_failure(AttemptFailure::Unreachable(error.to_string()))
                            .await
                    }
                }
            }
            AttemptOutcome::Failed(error) => {
                self.last_error = error.to_string();
                let failure = if error.is_permanent() {
                    AttemptFailure::Permanent(error.to_string())
                } else {
                    AttemptFailure::Unreachable(error.to_string())
                };
                self.on_failure(failure).await
            }
        }
    }

    async fn close_session(&mut self, departure: Departure) {
        if let Some(handle) = self.attempt.take() {
            handle.abort();
        }
        if let Some(session) = self.session.take() {
            session.close(departure, DISCONNECT_BOUND).await;
        }
    }

    /// Leaves on our own initiative: `leave` to the server, everything closed, bounded.
    async fn leave(&mut self, reason: DisconnectReason) {
        self.finish(reason, Departure::Announced).await;
    }

    async fn finish(&mut self, reason: DisconnectReason, departure: Departure) {
        if let Some(reply) = self.take_joining() {
            let _ = reply.send(Err(RoomError::NotConnected));
        }
        for publication in std::mem::take(&mut self.published) {
            publication.unbind().await;
        }
        self.close_session(departure).await;
        self.core.handle_left(reason);
        let _ = self.run_core_actions().await;
    }
}

/// The others in the room when we joined, as the roster takes them.
fn other_participants(join: &JoinInfo) -> Vec<ParticipantSnapshot> {
    join.response
        .other_participants
        .iter()
        .map(proto::participant)
        .collect()
}
