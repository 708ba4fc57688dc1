//! One participant's signaling session: the actor that owns its WebSocket and its peer
//! connections, turns client requests into room changes, and room changes into messages.
//!
//! The WebSocket can come and go: when it drops without `leave` the session stays
//! (detached) for the departure timeout, keeping its peer connections, published tracks and
//! subscriptions, and a resuming client (`/rtc?reconnect=1`, livekit-protocol.md 6.2) hands
//! it a new WebSocket through the room registry ([`SessionCommand::Resume`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use bytes::Bytes;
use convene_rtc::clock::unix_now_millis as now_ms;
use convene_rtc::token::TokenInfo;
use livekit_protocol as lk;
use prost::Message as _;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::{DevServerConfig, PING_INTERVAL_SECS, PING_TIMEOUT_SECS, SERVER_PROTOCOL};
use crate::ids;
use crate::media::{MediaConfig, MediaError, MediaEvent, MediaKind, ParticipantMedia, PcTarget};
use crate::rooms::{
    Forward, Interrupt, Joined, Member, ResumeSnapshot, Resync, Rooms, SessionCommand,
};
use crate::wire::{self, Request, Response};

/// Capacity of the media-event channel from the peer connections (candidates, tracks, data).
const MEDIA_EVENT_CAPACITY: usize = 256;

/// How long closing a connection replaced by a resume may take (it runs in its own task).
const OLD_SOCKET_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the client asked for in the `/rtc` query string.
#[derive(Debug, Clone, Default)]
pub struct JoinParams {
    /// `reconnect=1`: the client wants to resume a session.
    pub reconnect: bool,
    /// `auto_subscribe` (default true).
    pub auto_subscribe: bool,
    /// The client's signaling protocol version.
    pub protocol: i32,
    /// `sid`: on a resume, the participant sid the client had. Informational only: a resume
    /// finds its session by the token's identity, as livekit-server does.
    pub sid: Option<String>,
    /// `reconnect_reason`: on a resume, why the client reconnects (LiveKit's
    /// `ReconnectReason`), for the log.
    pub reconnect_reason: Option<i32>,
}

/// A resuming client's new signal connection on its way to the participant's session
/// (see [`crate::rooms::Rooms::resume`]).
#[derive(Debug)]
pub struct Resumption {
    socket: WebSocket,
    params: JoinParams,
}

/// Why a message could not be sent to the client.
#[derive(Debug, thiserror::Error)]
enum SendError {
    /// The session has no signal connection (it dropped; waiting for a resume).
    #[error("no signal connection")]
    Detached,
    /// Writing to the WebSocket failed; the session detaches from it.
    #[error("signal connection failed: {0}")]
    Socket(#[from] axum::Error),
}

/// How a session's main loop ended.
enum Ending {
    /// The client sent `leave`, or was evicted: remove it now.
    Left,
    /// Replaced by a newer session with the same identity: do not touch the room.
    Evicted,
    /// The connection vanished without `leave` and nobody resumed within the departure
    /// timeout: remove it now.
    Departed,
}

struct Session {
    /// The client's signal connection; `None` while detached (dropped, awaiting a resume).
    socket: Option<WebSocket>,
    /// When the connection was lost; the participant departs `departure_timeout` later.
    detached_at: Option<Instant>,
    /// When the client was last heard from (any frame), for the ping timeout.
    last_heard: Instant,
    departure_timeout: Duration,
    /// The other participants the client was told about (by identity, last info sent), so a
    /// resume can report those that left while the connection was down.
    known: HashMap<String, lk::ParticipantInfo>,
    /// This participant in the room registry.
    member: Member,
    /// The `resyncs` of the last [`Interrupt`] acted on.
    resyncs_seen: u64,
    media: ParticipantMedia,
    /// The tracks (`TR_` sids) forwarded to the client, so a resync can drop stale ones.
    subscribed: HashSet<String>,
    identity: String,
    sid: String,
    can_publish: bool,
    can_publish_data: bool,
    /// Client track id (msid) -> `TR_` sid of the tracks this participant publishes.
    published: HashMap<String, String>,
}

/// Runs one participant from the upgraded WebSocket to its departure.
pub async fn run(
    mut socket: WebSocket,
    grant: TokenInfo,
    params: JoinParams,
    rooms: Arc<Rooms>,
    config: Arc<DevServerConfig>,
) {
    if params.reconnect {
        resume(socket, &grant, params, &rooms).await;
        return;
    }
    let (media_events, mut media_rx) = mpsc::channel(MEDIA_EVENT_CAPACITY);
    let media_config = MediaConfig {
        bind_ip: config.media_ip,
    };
    let media = match ParticipantMedia::new(&media_config, media_events).await {
        Ok(media) => media,
        Err(error) => {
            tracing::error!(%error, "cannot create peer connections");
            refuse(
                &mut socket,
                lk::DisconnectReason::JoinFailure,
                lk::leave_request::Action::Disconnect,
            )
            .await;
            return;
        }
    };
    let info = participant_info(&grant, params.protocol);
    let Joined {
        member,
        snapshot,
        commands: mut command_rx,
        mut interrupts,
    } = rooms.join(&grant.room, info.clone(), params.auto_subscribe);
    let mut session = Session {
        socket: Some(socket),
        detached_at: None,
        last_heard: Instant::now(),
        departure_timeout: config.departure_timeout,
        known: HashMap::new(),
        member,
        resyncs_seen: 0,
        media,
        subscribed: HashSet::new(),
        identity: grant.identity.clone(),
        sid: info.sid.clone(),
        can_publish: grant.grant.may_publish(),
        can_publish_data: grant.grant.may_publish_data(),
        published: HashMap::new(),
    };
    tracing::info!(identity = %session.identity, room = %session.member.room(), sid = %session.sid, "participant joined");
    session.remember(&snapshot.others);
    let join = Response::Join(lk::JoinResponse {
        room: Some(snapshot.room),
        participant: Some(info),
        other_participants: snapshot.others,
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        server_info: Some(server_info()),
        subscriber_primary: true,
        // As livekit-server: publishers negotiate their PC (with its data channels) at once.
        // This also matters to us: webrtc-rs does not start SCTP when a data section first
        // appears in a renegotiation, so the channels must be in the first publisher offer.
        fast_publish: grant.grant.may_publish(),
        ping_interval: PING_INTERVAL_SECS,
        ping_timeout: PING_TIMEOUT_SECS,
        ice_servers: config
            .ice_servers
            .iter()
            .map(|server| lk::IceServer {
                urls: server.urls.clone(),
                username: server.username.clone(),
                credential: server.credential.clone(),
            })
            .collect(),
        ..Default::default()
    });
    if session.send(join).await.is_err() {
        session.member.leave();
        session.media.close().await;
        return;
    }
    if !snapshot.qualities.is_empty() {
        let qualities = Response::ConnectionQuality(lk::ConnectionQualityUpdate {
            updates: snapshot.qualities,
        });
        let _ = session.send(qualities).await;
    }
    if let Err(error) = session.media.start_subscriber().await {
        tracing::error!(%error, "cannot start the subscriber connection");
    }
    // The registry lists tracks only when the participant auto-subscribes and may subscribe.
    for forward in snapshot.tracks {
        session.subscribe(forward).await;
    }

    let ending = session
        .serve(&mut command_rx, &mut interrupts, &mut media_rx)
        .await;
    match ending {
        Ending::Left => session.member.leave(),
        Ending::Evicted => {}
        Ending::Departed => {
            tracing::info!(identity = %session.identity, "no resume within the departure timeout");
            session.member.leave();
        }
    }
    // The registry no longer lists this session, so no new resume can reach it; the ones
    // already queued get what an unknown identity gets.
    command_rx.close();
    while let Some(command) = command_rx.recv().await {
        if let SessionCommand::Resume(mut resumption) = command {
            refuse(
                &mut resumption.socket,
                lk::DisconnectReason::StateMismatch,
                lk::leave_request::Action::Reconnect,
            )
            .await;
        }
    }
    // Closes the signal connection, if any.
    session.socket = None;
    session.media.close().await;
}

/// A client asks to resume (`reconnect=1`): hand its new connection to the session of the
/// same identity, or, if there is none, answer with `leave{STATE_MISMATCH, RECONNECT}` so
/// the client does a full reconnect (livekit-protocol.md 6.2, 6.6).
async fn resume(socket: WebSocket, grant: &TokenInfo, params: JoinParams, rooms: &Rooms) {
    tracing::info!(identity = %grant.identity, room = %grant.room, sid = ?params.sid, reason = ?params.reconnect_reason, "resume requested");
    let resumption = Box::new(Resumption { socket, params });
    if let Err(error) = rooms.resume(&grant.room, &grant.identity, resumption) {
        tracing::info!(identity = %grant.identity, room = %grant.room, %error, "cannot resume; asking for a full reconnect");
        let mut resumption = error.into_resumption();
        refuse(
            &mut resumption.socket,
            lk::DisconnectReason::StateMismatch,
            lk::leave_request::Action::Reconnect,
        )
        .await;
    }
}

/// What the server says about itself in the JoinResponse and the ReconnectResponse.
fn server_info() -> lk::ServerInfo {
    lk::ServerInfo {
        edition: lk::server_info::Edition::Standard as i32,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol: SERVER_PROTOCOL,
        node_id: "convene-devserver".to_owned(),
        ..Default::default()
    }
}

/// The next frame of `socket`; never resolves while there is none (detached).
async fn next_frame(socket: &mut Option<WebSocket>) -> Option<Result<Message, axum::Error>> {
    match socket {
        Some(socket) => socket.recv().await,
        None => std::future::pending().await,
    }
}

/// Resolves at `deadline`; never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Answers a join with `leave` instead of a JoinResponse (the socket closes right after).
async fn refuse(
    socket: &mut WebSocket,
    reason: lk::DisconnectReason,
    action: lk::leave_request::Action,
) {
    let leave = wire::encode_response(wire::leave(reason, action));
    // The client may already be gone; there is nobody left to tell.
    let _ = socket.send(Message::Binary(leave.into())).await;
}

fn participant_info(grant: &TokenInfo, client_protocol: i32) -> lk::ParticipantInfo {
    let joined_at_ms = now_ms();
    lk::ParticipantInfo {
        sid: ids::participant_sid(),
        identity: grant.identity.clone(),
        name: grant.name.clone(),
        state: lk::participant_info::State::Joining as i32,
        joined_at: joined_at_ms / 1000,
        joined_at_ms,
        version: 1,
        permission: Some(lk::ParticipantPermission {
            can_subscribe: grant.grant.may_subscribe(),
            can_publish: grant.grant.may_publish(),
            can_publish_data: grant.grant.may_publish_data(),
            hidden: grant.grant.hidden,
            ..Default::default()
        }),
        client_protocol,
        ..Default::default()
    }
}

impl Session {
    /// Sends one message; fails while detached. A failed write detaches the session (the
    /// participant stays for the departure timeout, as when the socket closes).
    async fn send(&mut self, response: Response) -> Result<(), SendError> {
        if self.socket.is_none() {
            return Err(SendError::Detached);
        }
        if let Response::Update(update) = &response {
            self.remember(&update.participants);
        }
        let frame = Message::Binary(wire::encode_response(response).into());
        let Some(socket) = self.socket.as_mut() else {
            return Err(SendError::Detached);
        };
        match socket.send(frame).await {
            Ok(()) => Ok(()),
            Err(error) => {
                self.detach("writing to the signal connection failed");
                Err(SendError::Socket(error))
            }
        }
    }

    /// Records what the client was told about other participants.
    fn remember(&mut self, participants: &[lk::ParticipantInfo]) {
        for info in participants.iter().filter(|p| p.identity != self.identity) {
            self.known.insert(info.identity.clone(), info.clone());
        }
    }

    /// Drops the signal connection (if any) and starts the departure timeout. Peer
    /// connections, tracks and subscriptions stay for a resume.
    fn detach(&mut self, why: &str) {
        if self.socket.take().is_some() {
            tracing::info!(identity = %self.identity, why, timeout = ?self.departure_timeout, "signal connection lost; waiting for a resume until the departure timeout");
            self.detached_at = Some(Instant::now());
        }
    }

    async fn serve(
        &mut self,
        commands: &mut mpsc::Receiver<SessionCommand>,
        interrupts: &mut watch::Receiver<Interrupt>,
        media_events: &mut mpsc::Receiver<MediaEvent>,
    ) -> Ending {
        let silence_limit = Duration::from_secs(PING_TIMEOUT_SECS as u64);
        // The registry drops its end when it lets the session go; then only commands remain.
        let mut interruptible = true;
        loop {
            let attached = self.socket.is_some();
            let silence_deadline = self.last_heard + silence_limit;
            let departure = self.detached_at.map(|at| at + self.departure_timeout);
            tokio::select! {
                // Interrupts first: an eviction must not wait behind queued commands.
                biased;
                changed = interrupts.changed(), if interruptible => {
                    if changed.is_err() {
                        interruptible = false;
                        continue;
                    }
                    let interrupt = *interrupts.borrow_and_update();
                    if let Some(reason) = interrupt.evict {
                        self.evicted(reason).await;
                        return Ending::Evicted;
                    }
                    if interrupt.resyncs != self.resyncs_seen {
                        self.resyncs_seen = interrupt.resyncs;
                        if self.socket.is_some() {
                            tracing::warn!(identity = %self.identity, timeout = ?self.departure_timeout, "the session fell behind: closing its signal connection so the client resumes for the full state");
                            // The departure timeout runs as for any lost connection.
                            self.detached_at = Some(Instant::now());
                            self.close_socket();
                        }
                    }
                }
                frame = next_frame(&mut self.socket) => match frame {
                    Some(Ok(Message::Binary(bytes))) => {
                        self.last_heard = Instant::now();
                        match wire::decode_request(&bytes) {
                            Ok(request) => {
                                if self.handle_request(request).await {
                                    return Ending::Left;
                                }
                            }
                            Err(error) => tracing::warn!(identity = %self.identity, %error, "ignoring a malformed signal frame"),
                        }
                    }
                    Some(Ok(Message::Text(_))) => {
                        self.last_heard = Instant::now();
                        tracing::warn!(identity = %self.identity, "ignoring a text signal frame (JSON mode is not supported)");
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => self.last_heard = Instant::now(),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => self.detach("signal connection closed"),
                },
                command = commands.recv() => match command {
                    Some(SessionCommand::Evict(reason)) => {
                        self.evicted(reason).await;
                        return Ending::Evicted;
                    }
                    Some(SessionCommand::Resume(resumption)) => self.resume(*resumption).await,
                    Some(command) => self.handle_command(command).await,
                    None => return Ending::Evicted,
                },
                Some(event) = media_events.recv() => self.handle_media_event(event).await,
                _ = tokio::time::sleep_until(silence_deadline), if attached => {
                    self.detach("no message within the ping timeout");
                }
                _ = sleep_until(departure) => return Ending::Departed,
            }
        }
    }

    /// Takes over a resuming client's new connection (closing the old one if it is still
    /// open) and brings the client up to date, in livekit-server's order: `reconnect`,
    /// `update` for participants that left meanwhile, `update` with everybody (itself
    /// included), `room_update`, then an ICE-restart offer on the subscriber PC. The client's
    /// publisher ICE restart arrives as an ordinary `offer`.
    async fn resume(&mut self, resumption: Resumption) {
        let Resumption { socket, params } = resumption;
        self.close_socket();
        if params.sid.as_deref().is_some_and(|sid| sid != self.sid) {
            tracing::info!(identity = %self.identity, sid = %self.sid, asked = ?params.sid, "resume with another participant sid; resuming by identity");
        }
        self.socket = Some(socket);
        self.detached_at = None;
        self.last_heard = Instant::now();
        let Some(snapshot) = self.member.resume_snapshot() else {
            // Replaced by a newer join meanwhile (its eviction is queued): start over.
            let leave = wire::leave(
                lk::DisconnectReason::StateMismatch,
                lk::leave_request::Action::Reconnect,
            );
            let _ = self.send(leave).await;
            self.detach("resumed a participant that is no longer in the room");
            return;
        };
        match self.send_resume_state(snapshot).await {
            Ok(()) => {
                tracing::info!(identity = %self.identity, sid = %self.sid, "participant resumed")
            }
            Err(error) => {
                tracing::info!(identity = %self.identity, %error, "resume interrupted");
                return;
            }
        }
        if let Err(error) = self.media.restart_subscriber_ice().await {
            tracing::warn!(identity = %self.identity, %error, "cannot restart the subscriber ICE");
        }
    }

    async fn send_resume_state(&mut self, snapshot: ResumeSnapshot) -> Result<(), SendError> {
        self.send(Response::Reconnect(lk::ReconnectResponse {
            server_info: Some(server_info()),
            ..Default::default()
        }))
        .await?;
        let present: HashSet<&str> = snapshot
            .participants
            .iter()
            .map(|p| p.identity.as_str())
            .collect();
        let gone: Vec<lk::ParticipantInfo> = std::mem::take(&mut self.known)
            .into_values()
            .filter(|info| !present.contains(info.identity.as_str()))
            .map(|mut info| {
                info.state = lk::participant_info::State::Disconnected as i32;
                info.version += 1;
                info.tracks.clear();
                info
            })
            .collect();
        if !gone.is_empty() {
            self.send(wire::participant_update(gone)).await?;
        }
        self.send(wire::participant_update(snapshot.participants))
            .await?;
        self.send(Response::RoomUpdate(lk::RoomUpdate {
            room: Some(snapshot.room),
        }))
        .await?;
        match snapshot.resync {
            Some(resync) => self.resync(resync).await,
            None => Ok(()),
        }
    }

    /// Restores what the client and the media may have missed while commands to this
    /// session were lost: speakers (all of them, so stale ones go), connection qualities,
    /// and the forwarded tracks (subscribing is idempotent; tracks no longer wanted go).
    async fn resync(&mut self, resync: Resync) -> Result<(), SendError> {
        tracing::info!(identity = %self.identity, "resynchronising a session that fell behind");
        let wanted: HashSet<String> = resync
            .subscriptions
            .iter()
            .map(|forward| forward.track_sid.clone())
            .collect();
        let stale: Vec<String> = self.subscribed.difference(&wanted).cloned().collect();
        for track_sid in stale {
            self.unsubscribe(track_sid).await;
        }
        for forward in resync.subscriptions {
            self.subscribe(forward).await;
        }
        if !resync.speakers.is_empty() {
            self.send(Response::SpeakersChanged(lk::SpeakersChanged {
                speakers: resync.speakers,
            }))
            .await?;
        }
        if !resync.qualities.is_empty() {
            self.send(Response::ConnectionQuality(lk::ConnectionQualityUpdate {
                updates: resync.qualities,
            }))
            .await?;
        }
        Ok(())
    }

    /// Sends `leave` with `reason` and closes the signal connection (duplicate identity,
    /// shutdown).
    async fn evicted(&mut self, reason: lk::DisconnectReason) {
        let _ = self
            .send(wire::leave(reason, lk::leave_request::Action::Disconnect))
            .await;
        if let Some(socket) = self.socket.as_mut() {
            let _ = socket.send(Message::Close(None)).await;
        }
    }

    /// Closes the signal connection, if any, in its own task (closing waits for the peer;
    /// the session does not).
    fn close_socket(&mut self) {
        if let Some(mut old) = self.socket.take() {
            tokio::spawn(async move {
                let close = old.send(Message::Close(None));
                let _ = tokio::time::timeout(OLD_SOCKET_CLOSE_TIMEOUT, close).await;
            });
        }
    }

    /// Forwards a track to the client.
    async fn subscribe(&mut self, forward: Forward) {
        let Forward {
            track,
            track_sid,
            stream_id,
        } = forward;
        match self.media.subscribe(&track, &track_sid, &stream_id).await {
            Ok(()) => {
                self.subscribed.insert(track_sid);
            }
            Err(error) => {
                tracing::warn!(identity = %self.identity, %error, %track_sid, "cannot subscribe")
            }
        }
    }

    /// Stops forwarding a track to the client.
    async fn unsubscribe(&mut self, track_sid: String) {
        self.subscribed.remove(&track_sid);
        if let Err(error) = self.media.unsubscribe(&track_sid).await {
            tracing::debug!(identity = %self.identity, %error, %track_sid, "unsubscribe");
        }
    }

    /// Handles one client request; returns true when the client left.
    async fn handle_request(&mut self, request: Request) -> bool {
        match request {
            Request::Offer(offer) => {
                match self.media.answer_publisher_offer(offer.sdp.clone()).await {
                    Ok(sdp) => {
                        tracing::trace!(identity = %self.identity, offer = %offer.sdp, answer = %sdp, "publisher negotiation");
                        let answer = lk::SessionDescription {
                            r#type: "answer".to_owned(),
                            sdp,
                            id: offer.id,
                            ..Default::default()
                        };
                        let _ = self.send(Response::Answer(answer)).await;
                    }
                    Err(error) => {
                        tracing::warn!(identity = %self.identity, %error, "bad publisher offer")
                    }
                }
            }
            Request::Answer(answer) => {
                match self
                    .media
                    .apply_subscriber_answer_to(answer.id, answer.sdp)
                    .await
                {
                    Ok(()) => {}
                    // An answer to an offer a resume replaced.
                    Err(error @ MediaError::StaleAnswer { .. }) => {
                        tracing::debug!(identity = %self.identity, %error, "stale subscriber answer ignored")
                    }
                    Err(error) => {
                        tracing::warn!(identity = %self.identity, %error, "bad subscriber answer")
                    }
                }
            }
            Request::Trickle(trickle) => {
                let target = if trickle.target == lk::SignalTarget::Subscriber as i32 {
                    PcTarget::Subscriber
                } else {
                    PcTarget::Publisher
                };
                if let Err(error) = self
                    .media
                    .add_remote_candidate(target, &trickle.candidate_init)
                    .await
                {
                    tracing::warn!(identity = %self.identity, %error, "bad ICE candidate");
                }
            }
            Request::AddTrack(add) => self.add_track(add).await,
            Request::Subscription(subscription) => {
                let mut track_sids = subscription.track_sids;
                track_sids.extend(
                    subscription
                        .participant_tracks
                        .into_iter()
                        .flat_map(|p| p.track_sids),
                );
                self.member
                    .set_subscription(&track_sids, subscription.subscribe);
            }
            Request::Mute(mute) => self.member.mute(&mute.sid, mute.muted),
            Request::Leave(_) => {
                tracing::info!(identity = %self.identity, "client left");
                return true;
            }
            Request::Ping(_) => {
                let _ = self.send(Response::Pong(now_ms())).await;
            }
            Request::PingReq(ping) => {
                let pong = lk::Pong {
                    last_ping_timestamp: ping.timestamp,
                    timestamp: now_ms(),
                };
                let _ = self.send(Response::PongResp(pong)).await;
            }
            other => {
                tracing::debug!(identity = %self.identity, request = ?std::mem::discriminant(&other), "request accepted and ignored")
            }
        }
        false
    }

    // Older clients still read the deprecated per-track fields, so they are filled as
    // livekit-server fills them.
    #[allow(deprecated)]
    async fn add_track(&mut self, add: lk::AddTrackRequest) {
        if !self.can_publish {
            tracing::warn!(identity = %self.identity, "add_track without publish permission");
            return;
        }
        let is_video = add.r#type == lk::TrackType::Video as i32;
        let track = lk::TrackInfo {
            sid: ids::track_sid(is_video),
            r#type: add.r#type,
            name: add.name.clone(),
            muted: add.muted,
            width: add.width,
            height: add.height,
            simulcast: add.layers.len() > 1,
            disable_dtx: add.disable_dtx,
            source: add.source,
            layers: add.layers.clone(),
            stereo: add.stereo,
            disable_red: add.disable_red,
            stream: add.stream.clone(),
            ..Default::default()
        };
        self.member.add_pending_track(&add.cid, track.clone());
        let published = lk::TrackPublishedResponse {
            cid: add.cid,
            track: Some(track),
        };
        let _ = self.send(Response::TrackPublished(published)).await;
    }

    async fn handle_command(&mut self, command: SessionCommand) {
        match command {
            SessionCommand::Signal(response) => {
                let _ = self.send(*response).await;
            }
            SessionCommand::Subscribe(forward) => self.subscribe(forward).await,
            SessionCommand::Unsubscribe { track_sid } => self.unsubscribe(track_sid).await,
            SessionCommand::Data { reliable, payload } => {
                if let Err(error) = self.media.send_data(reliable, payload).await {
                    tracing::debug!(identity = %self.identity, %error, "data not delivered");
                }
            }
            SessionCommand::Evict(_) | SessionCommand::Resume(_) => {}
        }
    }

    async fn handle_media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::LocalCandidate {
                target,
                candidate_init_json,
            } => {
                let target = match target {
                    PcTarget::Publisher => lk::SignalTarget::Publisher,
                    PcTarget::Subscriber => lk::SignalTarget::Subscriber,
                };
                let trickle = lk::TrickleRequest {
                    candidate_init: candidate_init_json,
                    target: target as i32,
                    ..Default::default()
                };
                let _ = self.send(Response::Trickle(trickle)).await;
            }
            MediaEvent::SubscriberOffer { sdp, id } => {
                let offer = lk::SessionDescription {
                    r#type: "offer".to_owned(),
                    sdp,
                    id,
                    ..Default::default()
                };
                let _ = self.send(Response::Offer(offer)).await;
            }
            MediaEvent::TrackReceived {
                track_id,
                kind,
                source,
                ..
            } => {
                let is_video = matches!(kind, MediaKind::Video);
                match self.member.publish_track(&track_id, is_video, source) {
                    Some(info) => {
                        tracing::info!(identity = %self.identity, track = %info.sid, "track published");
                        self.published.insert(track_id, info.sid);
                    }
                    None => {
                        tracing::warn!(identity = %self.identity, %track_id, "media for a track that was never added")
                    }
                }
            }
            MediaEvent::TrackEnded { track_id } => {
                if let Some(track_sid) = self.published.remove(&track_id) {
                    self.member.unpublish_track(&track_sid);
                    self.member.audio_level(0.0);
                    self.member.track_loss(&track_sid, None);
                }
            }
            MediaEvent::PacketLoss { track_id, loss } => {
                if let Some(track_sid) = self.published.get(&track_id) {
                    self.member.track_loss(track_sid, Some(loss));
                }
            }
            MediaEvent::AudioLevel { track_id, level } => {
                if self.published.contains_key(&track_id) {
                    self.member.audio_level(level);
                }
            }
            MediaEvent::DataReceived { reliable, payload } => self.relay_data(reliable, &payload),
            MediaEvent::ConnectionState { target, state } => {
                tracing::debug!(identity = %self.identity, ?target, %state, "peer connection state");
                if matches!(target, PcTarget::Subscriber) && state.eq_ignore_ascii_case("connected")
                {
                    self.member.update(|info| {
                        info.state = lk::participant_info::State::Active as i32;
                    });
                }
            }
        }
    }

    /// Relays a client's data packet: the sender's identity and sid are overwritten (receivers
    /// look senders up by identity), destinations are honoured, the sequence is kept. The
    /// deprecated `UserPacket` fields are kept in step because older clients read them.
    #[allow(deprecated)]
    fn relay_data(&self, reliable: bool, payload: &[u8]) {
        if !self.can_publish_data {
            tracing::warn!(identity = %self.identity, "data packet without canPublishData dropped");
            return;
        }
        let mut packet = match lk::DataPacket::decode(payload) {
            Ok(packet) => packet,
            Err(error) => {
                tracing::warn!(identity = %self.identity, %error, "ignoring an undecodable data packet");
                return;
            }
        };
        packet.participant_identity = self.identity.clone();
        packet.participant_sid = self.sid.clone();
        if let Some(lk::data_packet::Value::User(user)) = packet.value.as_mut() {
            user.participant_identity = self.identity.clone();
            user.participant_sid = self.sid.clone();
            if packet.destination_identities.is_empty() {
                packet.destination_identities = user.destination_identities.clone();
            } else {
                user.destination_identities = packet.destination_identities.clone();
            }
        }
        let destinations = packet.destination_identities.clone();
        self.member
            .route_data(&destinations, reliable, Bytes::from(packet.encode_to_vec()));
    }
}
