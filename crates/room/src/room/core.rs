//! The room's bookkeeping without I/O: the connection state, who is in the room (the
//! roster), which remote tracks we receive, which publications wait for the server, the
//! events held back during a reconnection, the order in which a reconnection is announced,
//! data messages waiting for their channel to open, and every deadline the room keeps (the
//! first join's media timeout, publication confirmations, the signaling keep-alive, the
//! wait for a data channel).
//!
//! It also drives the reconnection machine ([`Reconnector`]) and turns its steps into
//! actions and announcements.
//!
//! Sans-IO, like the [`Reconnector`] it owns: every input carries `now`, outputs are
//! [`Action`]s the engine carries out in order ([`RoomCore::poll_action`]), and
//! [`RoomCore::poll_timeout`] says when to call [`RoomCore::handle_timeout`] next, so the
//! engine sleeps until then instead of polling. Its tests run on virtual time.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::DATA_CHANNEL_OPEN_WAIT;
use super::data::DataKind;
use super::events::{ConnectionState, DisconnectReason, ReconnectKind, RoomEvent};
use super::participant::RemoteParticipant;
use super::publishing::PUBLISH_TIMEOUT;
use super::reconnect::{AttemptFailure, LossCause, Reconnector, Step};
use super::roster::Roster;
use super::track::TrackInfo;
use crate::ids::{Identity, ParticipantSid, TrackSid};
use crate::signal::event::ParticipantSnapshot;

/// What the engine must do, in the order the core returns them.
#[derive(Debug)]
pub(crate) enum Action {
    /// Deliver an event to the application now.
    Emit(RoomEvent),
    /// The roster or the connection state changed: refresh what the `Room` handle reads.
    RefreshSnapshot,
    /// Stop reading a remote track (its `TrackUnsubscribed` comes as an event).
    EndSubscription(TrackSid),
    /// A full reconnect starts: close the session, stop every reader and publication, then
    /// report our unpublished tracks with [`RoomCore::handle_session_torn_down`] (the core
    /// announces the reconnect and continues from there).
    TearDownSession,
    /// Start a reconnection attempt now (resume on the current session, or join afresh).
    StartAttempt {
        /// Resume or full.
        kind: ReconnectKind,
        /// Which attempt (0 first).
        attempt: u32,
    },
    /// The session's ICE restart is complete (a reconnection succeeded).
    RestartDone,
    /// Reconnecting gave up: close everything and leave for `reason` (the engine then calls
    /// [`RoomCore::handle_left`]).
    GiveUp(DisconnectReason),
    /// A full reconnect is complete: ask the server to publish our tracks again.
    Republish,
    /// The first connection did not bring media up within the media timeout: fail the
    /// join.
    JoinTimedOut,
    /// The server did not confirm the publication with client id `cid` in time.
    PublishTimedOut {
        /// The client track id of the `AddTrackRequest`.
        cid: String,
    },
    /// Nothing arrived on the signaling connection for the server's ping timeout: the link
    /// is presumed dead.
    SignalSilent {
        /// The ping timeout that passed.
        timeout: Duration,
    },
    /// The channel of a waiting data message is open: send it now.
    SendData(DataTicket),
    /// A waiting data message cannot go (its channel did not open within
    /// [`DATA_CHANNEL_OPEN_WAIT`], or the connection was lost meanwhile): fail it.
    FailData(DataTicket),
}

/// Names a data message the engine keeps while its channel opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DataTicket(u64);

/// A data message waiting for its channel.
#[derive(Debug, Clone, Copy)]
struct WaitingData {
    kind: DataKind,
    deadline: Instant,
}

/// The signaling keep-alive: when the server last said something and how long silence
/// may last.
#[derive(Debug, Clone, Copy)]
struct Liveness {
    last_inbound: Instant,
    timeout: Duration,
}

impl Liveness {
    fn deadline(self) -> Instant {
        self.last_inbound + self.timeout
    }
}

/// The room's state apart from sockets, peer connections and tasks.
pub(crate) struct RoomCore {
    state: ConnectionState,
    /// Our own sid in the current session (the server's updates include us).
    local_sid: ParticipantSid,
    roster: Roster,
    /// Remote tracks we are receiving.
    subscribed: BTreeSet<TrackSid>,
    /// Publications waiting for `track_published`, by client id, with their deadline.
    pending_publications: BTreeMap<String, Instant>,
    /// `Some` until the first connection has media.
    join_deadline: Option<Instant>,
    /// `None` while no signaling connection is up, or the server set no ping timeout.
    liveness: Option<Liveness>,
    /// Resume first, then full reconnects. While it recovers, the keep-alive is not checked
    /// and participant and track events are held back.
    reconnector: Reconnector,
    /// Steps that follow a full reconnect's teardown, carried out once the engine reports it.
    steps_after_teardown: Vec<Step>,
    /// Participant and track events that arrived while reconnecting, delivered after
    /// `Reconnected` (as the official clients buffer them).
    deferred: Vec<RoomEvent>,
    /// Participants a full reconnect found, announced after `Reconnected`.
    present_after_rejoin: Vec<RemoteParticipant>,
    /// Data messages waiting for their channel, in the order they were sent.
    waiting_data: BTreeMap<DataTicket, WaitingData>,
    next_ticket: u64,
    actions: VecDeque<Action>,
}

impl RoomCore {
    /// A core for a session that just joined at `now`: `others` are the participants the
    /// join response lists (announced by the engine, not as actions); the join completes
    /// when media is up ([`Self::handle_media_connected`]) or fails at `now + media_timeout`.
    /// A zero `ping_timeout` turns the keep-alive check off.
    pub(crate) fn new(
        now: Instant,
        local_sid: ParticipantSid,
        others: &[ParticipantSnapshot],
        media_timeout: Duration,
        ping_timeout: Duration,
        reconnector: Reconnector,
    ) -> Self {
        let mut core = Self {
            state: ConnectionState::Connected,
            local_sid,
            roster: Roster::default(),
            subscribed: BTreeSet::new(),
            pending_publications: BTreeMap::new(),
            join_deadline: Some(now + media_timeout),
            liveness: None,
            reconnector,
            steps_after_teardown: Vec::new(),
            deferred: Vec::new(),
            present_after_rejoin: Vec::new(),
            waiting_data: BTreeMap::new(),
            next_ticket: 0,
            actions: VecDeque::new(),
        };
        core.roster.reset(others);
        core.handle_signal_connected(now, ping_timeout);
        core
    }

    // ---- outputs --------------------------------------------------------------------

    /// The next thing to do, if any. Call until `None` after every input.
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Self::handle_timeout`] must run next (`None`: no deadline pending).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let publication = self.pending_publications.values().min().copied();
        let liveness = self
            .liveness
            .filter(|_| !self.is_recovering())
            .map(Liveness::deadline);
        let data = self.waiting_data.values().map(|w| w.deadline).min();
        let reconnection = self.reconnector.deadline();
        [
            self.join_deadline,
            publication,
            liveness,
            data,
            reconnection,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires every deadline that has passed by `now`, each once.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.join_deadline.is_some_and(|deadline| now >= deadline) {
            self.join_deadline = None;
            self.actions.push_back(Action::JoinTimedOut);
        }
        let expired: Vec<String> = self
            .pending_publications
            .iter()
            .filter(|(_, deadline)| now >= **deadline)
            .map(|(cid, _)| cid.clone())
            .collect();
        for cid in expired {
            self.pending_publications.remove(&cid);
            self.actions.push_back(Action::PublishTimedOut { cid });
        }
        let expired: Vec<DataTicket> = self
            .waiting_data
            .iter()
            .filter(|(_, waiting)| now >= waiting.deadline)
            .map(|(ticket, _)| *ticket)
            .collect();
        for ticket in expired {
            self.waiting_data.remove(&ticket);
            self.actions.push_back(Action::FailData(ticket));
        }
        if self
            .reconnector
            .deadline()
            .is_some_and(|deadline| now >= deadline)
        {
            let steps = self.reconnector.poll(now);
            self.apply_steps(steps);
        }
        if let Some(liveness) = self.liveness
            && !self.is_recovering()
            && now >= liveness.deadline()
        {
            // Watched again once a signaling connection is up again.
            self.liveness = None;
            self.actions.push_back(Action::SignalSilent {
                timeout: liveness.timeout,
            });
        }
    }

    // ---- connection -------------------------------------------------------------------

    /// The connection state the application was last told.
    pub(crate) fn state(&self) -> ConnectionState {
        self.state
    }

    /// Both peer connections are up for the first time: the join is complete.
    pub(crate) fn handle_joined(&mut self) {
        self.join_deadline = None;
    }

    /// True while a reconnection is in progress.
    pub(crate) fn is_recovering(&self) -> bool {
        self.reconnector.is_recovering()
    }

    /// The connection was lost (or the server asked us to resume or reconnect).
    pub(crate) fn handle_lost(&mut self, now: Instant, cause: LossCause) {
        let steps = self.reconnector.lost(now, cause);
        self.apply_steps(steps);
    }

    /// A reconnection attempt failed.
    pub(crate) fn handle_attempt_failed(&mut self, now: Instant, failure: AttemptFailure) {
        let steps = self.reconnector.attempt_failed(now, failure);
        self.apply_steps(steps);
    }

    /// Both peer connections are up again during a reconnection.
    pub(crate) fn handle_media_restored(&mut self, now: Instant) {
        let steps = self.reconnector.media_connected(now);
        self.apply_steps(steps);
    }

    /// Turns the reconnection machine's steps into announcements and actions. A full
    /// reconnect's announcement waits for the engine's teardown, and so do the steps after it.
    fn apply_steps(&mut self, steps: Vec<Step>) {
        let mut steps = steps.into_iter();
        while let Some(step) = steps.next() {
            match step {
                Step::AnnounceResume => self.announce_resume(),
                Step::AnnounceFull => {
                    self.actions.push_back(Action::TearDownSession);
                    self.steps_after_teardown = steps.collect();
                    return;
                }
                Step::Attempt { kind, attempt } => {
                    self.actions
                        .push_back(Action::StartAttempt { kind, attempt });
                }
                Step::Reconnected { kind } => {
                    self.actions.push_back(Action::RestartDone);
                    self.announce_reconnected(kind);
                }
                Step::GiveUp {
                    attempts,
                    last_error,
                    token_rejected,
                } => {
                    let reason = if token_rejected {
                        DisconnectReason::TokenRejected(last_error)
                    } else {
                        DisconnectReason::ReconnectFailed {
                            attempts,
                            last_error,
                        }
                    };
                    self.actions.push_back(Action::GiveUp(reason));
                }
            }
        }
    }

    /// The join ended another way (failed, or we left): no more join deadline.
    pub(crate) fn handle_join_abandoned(&mut self) {
        self.join_deadline = None;
    }

    /// A signaling connection is up (joined, resumed or rejoined) at `now`; silence longer
    /// than `ping_timeout` will count as a lost link (zero: never). During a reconnection,
    /// the attempt moves on to waiting for media.
    pub(crate) fn handle_signal_connected(&mut self, now: Instant, ping_timeout: Duration) {
        self.reconnector.signal_connected(now);
        self.liveness = (!ping_timeout.is_zero()).then_some(Liveness {
            last_inbound: now,
            timeout: ping_timeout,
        });
    }

    /// The server said something at `now`.
    pub(crate) fn handle_signal_activity(&mut self, now: Instant) {
        if let Some(liveness) = self.liveness.as_mut() {
            liveness.last_inbound = now;
        }
    }

    /// A resume starts: tell the application.
    fn announce_resume(&mut self) {
        self.fail_waiting_data();
        self.set_state(ConnectionState::Reconnecting);
        self.actions
            .push_back(Action::Emit(RoomEvent::Reconnecting(ReconnectKind::Resume)));
    }

    /// The engine tore the session down for a full reconnect ([`Action::TearDownSession`]),
    /// unpublishing `own_tracks`. Announced in the documented order: every other participant
    /// disconnected, each own track unpublished, the state change (unless a resume already
    /// announced it), `Reconnecting(Full)`; then the reconnection goes on. Forgets the
    /// roster, the subscriptions, the publications in flight and the held-back events.
    pub(crate) fn handle_session_torn_down(&mut self, own_tracks: Vec<TrackInfo>) {
        self.fail_waiting_data();
        self.subscribed.clear();
        self.pending_publications.clear();
        self.liveness = None;
        self.deferred.clear();
        for participant in self.roster.clear() {
            self.actions
                .push_back(Action::Emit(RoomEvent::ParticipantDisconnected(
                    participant,
                )));
        }
        for track in own_tracks {
            self.actions
                .push_back(Action::Emit(RoomEvent::LocalTrackUnpublished(track)));
        }
        self.set_state(ConnectionState::Reconnecting);
        self.actions
            .push_back(Action::Emit(RoomEvent::Reconnecting(ReconnectKind::Full)));
        let steps = std::mem::take(&mut self.steps_after_teardown);
        self.apply_steps(steps);
    }

    /// A full reconnect joined afresh as `local_sid`, with `others` in the room (announced
    /// after `Reconnected`).
    pub(crate) fn handle_rejoined(
        &mut self,
        local_sid: ParticipantSid,
        others: &[ParticipantSnapshot],
    ) {
        self.local_sid = local_sid;
        self.roster.reset(others);
        self.present_after_rejoin = self.roster.participants();
    }

    /// A rejoin attempt failed after the roster was reset: nobody is known.
    pub(crate) fn handle_rejoin_failed(&mut self) {
        self.roster.clear();
        self.present_after_rejoin.clear();
    }

    /// The connection is back. Announced as `Reconnected`, the state change, then (after a
    /// full reconnect) everybody present with their tracks, then the events held back
    /// meanwhile, and last [`Action::Republish`] after a full reconnect (each
    /// `LocalTrackPublished` follows as the server confirms).
    fn announce_reconnected(&mut self, kind: ReconnectKind) {
        self.state = ConnectionState::Connected;
        self.actions.push_back(Action::RefreshSnapshot);
        self.actions.push_back(Action::Emit(RoomEvent::Reconnected));
        self.actions
            .push_back(Action::Emit(RoomEvent::ConnectionStateChanged(
                ConnectionState::Connected,
            )));
        if kind == ReconnectKind::Full {
            for participant in std::mem::take(&mut self.present_after_rejoin) {
                let identity = participant.identity.clone();
                let tracks = participant.tracks.clone();
                self.actions
                    .push_back(Action::Emit(RoomEvent::ParticipantConnected(participant)));
                for track in tracks {
                    self.actions
                        .push_back(Action::Emit(RoomEvent::TrackPublished {
                            participant_identity: identity.clone(),
                            track,
                        }));
                }
            }
        }
        let deferred = std::mem::take(&mut self.deferred);
        self.actions.extend(deferred.into_iter().map(Action::Emit));
        if kind == ReconnectKind::Full {
            self.actions.push_back(Action::Republish);
        }
    }

    /// We are out of the room for `reason` (we left, the server removed us, or reconnecting
    /// gave up): the last state change and `Disconnected`. Held-back events are dropped.
    pub(crate) fn handle_left(&mut self, reason: DisconnectReason) {
        self.reconnector.cancel();
        self.steps_after_teardown.clear();
        self.fail_waiting_data();
        self.join_deadline = None;
        self.liveness = None;
        self.deferred.clear();
        self.state = ConnectionState::Disconnected;
        self.actions.push_back(Action::RefreshSnapshot);
        self.actions
            .push_back(Action::Emit(RoomEvent::ConnectionStateChanged(
                ConnectionState::Disconnected,
            )));
        self.actions
            .push_back(Action::Emit(RoomEvent::Disconnected(reason)));
    }

    /// Moves to `Reconnecting` or back, telling the application if that is news.
    fn set_state(&mut self, state: ConnectionState) {
        let changed = self.state != state;
        self.state = state;
        self.actions.push_back(Action::RefreshSnapshot);
        if changed {
            self.actions
                .push_back(Action::Emit(RoomEvent::ConnectionStateChanged(state)));
        }
    }

    /// Delivers `event` now, or after `Reconnected` while a reconnection is in progress.
    fn emit_or_defer(&mut self, event: RoomEvent) {
        if self.is_recovering() {
            self.deferred.push(event);
        } else {
            self.actions.push_back(Action::Emit(event));
        }
    }

    /// An event the engine produced (a remote track it started reading) that keeps its
    /// place among participant and track events: held back while reconnecting.
    pub(crate) fn handle_track_event(&mut self, event: RoomEvent) {
        self.emit_or_defer(event);
    }

    // ---- roster -------------------------------------------------------------------------

    /// Applies participant snapshots from the server. Actions: first the subscriptions that
    /// end because their track was unpublished, then [`Action::RefreshSnapshot`], then the
    /// roster's events in the server's order (held back while reconnecting). Our own
    /// snapshot is skipped.
    pub(crate) fn handle_participants(&mut self, _now: Instant, snapshots: &[ParticipantSnapshot]) {
        let mut events = Vec::new();
        for snapshot in snapshots {
            if snapshot.sid == self.local_sid {
                continue;
            }
            events.extend(self.roster.apply(snapshot));
        }
        for event in &events {
            if let RoomEvent::TrackUnpublished {
                participant_identity,
                track,
            } = event
            {
                let track_sid = TrackSid::from(track.sid.as_str());
                if self.subscribed.remove(&track_sid) {
                    self.end_subscription(participant_identity.as_str().into(), track_sid);
                }
            }
        }
        self.actions.push_back(Action::RefreshSnapshot);
        for event in events {
            self.emit_or_defer(event);
        }
    }

    fn end_subscription(&mut self, participant_identity: Identity, track_sid: TrackSid) {
        self.actions
            .push_back(Action::EndSubscription(track_sid.clone()));
        self.emit_or_defer(RoomEvent::TrackUnsubscribed {
            participant_identity: participant_identity.into(),
            track_sid: track_sid.into(),
        });
    }

    /// Everybody else, ordered by identity.
    pub(crate) fn participants(&self) -> Vec<RemoteParticipant> {
        self.roster.participants()
    }

    /// The participant with this sid, if it is in the roster.
    pub(crate) fn participant(&self, sid: &ParticipantSid) -> Option<&RemoteParticipant> {
        self.roster.by_sid(sid)
    }

    // ---- subscriptions ----------------------------------------------------------------

    /// We started receiving `track_sid`. False if we already were.
    pub(crate) fn handle_subscribed(&mut self, track_sid: TrackSid) -> bool {
        self.subscribed.insert(track_sid)
    }

    /// The subscriber offer no longer sends anything but `sending`: every other
    /// subscription ends ([`Action::EndSubscription`] and `TrackUnsubscribed`, in sid
    /// order).
    pub(crate) fn handle_subscriber_offer(&mut self, sending: &HashSet<String>) {
        let ended: Vec<TrackSid> = self
            .subscribed
            .iter()
            .filter(|sid| !sending.contains(AsRef::<str>::as_ref(sid)))
            .cloned()
            .collect();
        for track_sid in ended {
            self.subscribed.remove(&track_sid);
            let participant_identity = self
                .roster
                .participants()
                .into_iter()
                .find(|p| p.tracks.iter().any(|t| track_sid == *t.sid))
                .map(|p| Identity::from(p.identity))
                .unwrap_or_default();
            self.end_subscription(participant_identity, track_sid);
        }
    }

    /// The tracks we receive (for a resume's sync state).
    pub(crate) fn subscriptions(&self) -> Vec<String> {
        self.subscribed.iter().map(ToString::to_string).collect()
    }

    // ---- data -------------------------------------------------------------------------

    /// A data message could not go at `now` because its `kind` of channel is not open yet
    /// (right after joining). While connected it waits, up to [`DATA_CHANNEL_OPEN_WAIT`],
    /// under the returned ticket: [`Action::SendData`] when the channel opens,
    /// [`Action::FailData`] otherwise. `None` when not connected: fail it now.
    pub(crate) fn handle_data_blocked(
        &mut self,
        now: Instant,
        kind: DataKind,
    ) -> Option<DataTicket> {
        if self.state != ConnectionState::Connected {
            return None;
        }
        let ticket = DataTicket(self.next_ticket);
        self.next_ticket += 1;
        self.waiting_data.insert(
            ticket,
            WaitingData {
                kind,
                deadline: now + DATA_CHANNEL_OPEN_WAIT,
            },
        );
        Some(ticket)
    }

    /// Our `kind` data channel opened: the messages waiting for it go, in order.
    pub(crate) fn handle_data_channel_open(&mut self, kind: DataKind) {
        let ready: Vec<DataTicket> = self
            .waiting_data
            .iter()
            .filter(|(_, waiting)| waiting.kind == kind)
            .map(|(ticket, _)| *ticket)
            .collect();
        for ticket in ready {
            self.waiting_data.remove(&ticket);
            self.actions.push_back(Action::SendData(ticket));
        }
    }

    fn fail_waiting_data(&mut self) {
        let waiting = std::mem::take(&mut self.waiting_data);
        self.actions
            .extend(waiting.into_keys().map(Action::FailData));
    }

    // ---- publications -----------------------------------------------------------------

    /// We asked the server to publish the track with client id `cid` at `now`: it has
    /// [`PUBLISH_TIMEOUT`] to confirm it.
    pub(crate) fn handle_publish_requested(&mut self, now: Instant, cid: String) {
        self.pending_publications.insert(cid, now + PUBLISH_TIMEOUT);
    }

    /// The publication `cid` no longer waits (confirmed, failed or withdrawn).
    pub(crate) fn handle_publish_settled(&mut self, cid: &str) {
        self.pending_publications.remove(cid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::reconnect::DefaultReconnectPolicy;
    use crate::room::track::{TrackInfo, TrackSource};
    use crate::webrtc_kit::MediaKind;

    const MEDIA_TIMEOUT: Duration = Duration::from_secs(15);
    const PING_TIMEOUT: Duration = Duration::from_secs(20);
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    fn track(sid: &str) -> TrackInfo {
        TrackInfo {
            sid: sid.into(),
            name: String::new(),
            kind: MediaKind::Audio,
            source: TrackSource::Microphone,
            muted: false,
            mime_type: String::new(),
            width: 0,
            height: 0,
        }
    }

    fn snapshot(identity: &str, sid: &str, version: u32, tracks: &[&str]) -> ParticipantSnapshot {
        ParticipantSnapshot {
            sid: sid.into(),
            identity: identity.into(),
            name: String::new(),
            metadata: String::new(),
            version,
            left: false,
            tracks: tracks.iter().map(|sid| track(sid)).collect(),
        }
    }

    fn left(identity: &str, sid: &str, version: u32) -> ParticipantSnapshot {
        ParticipantSnapshot {
            left: true,
            ..snapshot(identity, sid, version, &[])
        }
    }

    /// A core that joined at `t0` as `PA_me`, keep-alive off unless `ping_timeout` is set.
    fn core_at(t0: Instant, others: &[ParticipantSnapshot], ping_timeout: Duration) -> RoomCore {
        let reconnector = Reconnector::new(
            Box::new(DefaultReconnectPolicy::default()),
            CONNECT_TIMEOUT,
            MEDIA_TIMEOUT,
        );
        RoomCore::new(
            t0,
            "PA_me".into(),
            others,
            MEDIA_TIMEOUT,
            ping_timeout,
            reconnector,
        )
    }

    fn drain(core: &mut RoomCore) -> Vec<String> {
        std::iter::from_fn(|| core.poll_action())
            .map(|action| match action {
                Action::Emit(event) => describe(event),
                Action::EndSubscription(track_sid) => format!("end subscription {track_sid}"),
                Action::RefreshSnapshot => "snapshot".into(),
                Action::Republish => "republish".into(),
                Action::TearDownSession => "tear down".into(),
                Action::StartAttempt { kind, attempt } => {
                    format!("start attempt {kind:?} {attempt}")
                }
                Action::RestartDone => "restart done".into(),
                Action::GiveUp(reason) => format!("give up: {reason:?}"),
                Action::JoinTimedOut => "join timed out".into(),
                Action::PublishTimedOut { cid } => format!("publish timed out {cid}"),
                Action::SignalSilent { timeout } => format!("signal silent {timeout:?}"),
                Action::SendData(DataTicket(n)) => format!("send data {n}"),
                Action::FailData(DataTicket(n)) => format!("fail data {n}"),
            })
            .collect()
    }

    fn describe(event: RoomEvent) -> String {
        match event {
            RoomEvent::ParticipantConnected(p) => format!("connected {}", p.identity),
            RoomEvent::ParticipantDisconnected(p) => format!("disconnected {}", p.identity),
            RoomEvent::TrackPublished {
                participant_identity,
                track,
            } => format!("published {participant_identity} {}", track.sid),
            RoomEvent::TrackUnpublished {
                participant_identity,
                track,
            } => format!("unpublished {participant_identity} {}", track.sid),
            RoomEvent::TrackUnsubscribed {
                participant_identity,
                track_sid,
            } => format!("unsubscribed {participant_identity} {track_sid}"),
            RoomEvent::LocalTrackUnpublished(track) => format!("local unpublished {}", track.sid),
            RoomEvent::ConnectionStateChanged(state) => format!("state {state:?}"),
            RoomEvent::Reconnecting(kind) => format!("reconnecting {kind:?}"),
            RoomEvent::Reconnected => "reconnected".into(),
            RoomEvent::Disconnected(reason) => format!("disconnected: {reason:?}"),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn the_join_fails_at_the_media_timeout_once() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        assert_eq!(core.poll_timeout(), Some(t0 + MEDIA_TIMEOUT));
        core.handle_timeout(t0 + MEDIA_TIMEOUT - Duration::from_millis(1));
        assert!(drain(&mut core).is_empty());
        core.handle_timeout(t0 + MEDIA_TIMEOUT);
        assert_eq!(drain(&mut core), ["join timed out"]);
        assert_eq!(core.poll_timeout(), None);
        core.handle_timeout(t0 + MEDIA_TIMEOUT * 2);
        assert!(drain(&mut core).is_empty());
    }

    #[test]
    fn media_up_completes_the_join_and_clears_its_deadline() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        core.handle_joined();
        assert_eq!(core.poll_timeout(), None);
        core.handle_timeout(t0 + MEDIA_TIMEOUT);
        assert!(drain(&mut core).is_empty());
    }

    #[test]
    fn an_unconfirmed_publication_times_out_and_a_confirmed_one_does_not() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        core.handle_joined();
        let t1 = t0 + Duration::from_secs(1);
        core.handle_publish_requested(t1, "cid-mic".into());
        core.handle_publish_requested(t1, "cid-cam".into());
        assert_eq!(core.poll_timeout(), Some(t1 + PUBLISH_TIMEOUT));
        core.handle_publish_settled("cid-cam");
        core.handle_timeout(t1 + PUBLISH_TIMEOUT - Duration::from_millis(1));
        assert!(drain(&mut core).is_empty());
        core.handle_timeout(t1 + PUBLISH_TIMEOUT);
        assert_eq!(drain(&mut core), ["publish timed out cid-mic"]);
        assert_eq!(core.poll_timeout(), None);
    }

    #[test]
    fn the_earliest_deadline_wins() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], PING_TIMEOUT);
        // Join (15 s) before keep-alive (20 s).
        assert_eq!(core.poll_timeout(), Some(t0 + MEDIA_TIMEOUT));
        core.handle_joined();
        assert_eq!(core.poll_timeout(), Some(t0 + PING_TIMEOUT));
        core.handle_publish_requested(t0, "cid".into());
        assert_eq!(core.poll_timeout(), Some(t0 + PUBLISH_TIMEOUT));
    }

    #[test]
    fn silence_for_the_ping_timeout_loses_the_signal_but_messages_keep_it() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], PING_TIMEOUT);
        core.handle_joined();
        let t1 = t0 + Duration::from_secs(15);
        core.handle_signal_activity(t1);
        assert_eq!(core.poll_timeout(), Some(t1 + PING_TIMEOUT));
        core.handle_timeout(t0 + PING_TIMEOUT);
        assert!(drain(&mut core).is_empty());
        core.handle_timeout(t1 + PING_TIMEOUT);
        assert_eq!(drain(&mut core), ["signal silent 20s"]);
        // Reported once; watched again when a connection is up.
        assert_eq!(core.poll_timeout(), None);
        let t2 = t1 + PING_TIMEOUT + Duration::from_secs(1);
        core.handle_signal_connected(t2, PING_TIMEOUT);
        assert_eq!(core.poll_timeout(), Some(t2 + PING_TIMEOUT));
    }

    #[test]
    fn silence_is_not_checked_while_recovering_and_the_resumed_link_is_watched() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], PING_TIMEOUT);
        core.handle_joined();
        let t1 = t0 + Duration::from_secs(5);
        core.handle_lost(t1, LossCause::SignalClosed);
        assert_eq!(
            drain(&mut core),
            [
                "snapshot",
                "state Reconnecting",
                "reconnecting Resume",
                "start attempt Resume 0"
            ]
        );
        // The attempt's deadline, not the old link's keep-alive.
        assert_eq!(core.poll_timeout(), Some(t1 + CONNECT_TIMEOUT));
        let t2 = t1 + Duration::from_secs(1);
        core.handle_signal_connected(t2, PING_TIMEOUT);
        assert_eq!(core.poll_timeout(), Some(t2 + MEDIA_TIMEOUT));
        core.handle_timeout(t0 + PING_TIMEOUT);
        assert!(drain(&mut core).is_empty());
        let t3 = t2 + Duration::from_secs(1);
        core.handle_media_restored(t3);
        assert_eq!(
            drain(&mut core),
            ["restart done", "snapshot", "reconnected", "state Connected"]
        );
        assert_eq!(core.poll_timeout(), Some(t2 + PING_TIMEOUT));
        core.handle_timeout(t2 + PING_TIMEOUT);
        assert_eq!(drain(&mut core), ["signal silent 20s"]);
    }

    #[test]
    fn a_zero_ping_timeout_turns_the_keep_alive_off() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        core.handle_joined();
        core.handle_signal_activity(t0);
        assert_eq!(core.poll_timeout(), None);
    }

    #[test]
    fn updates_for_unknown_sids_and_for_ourselves_change_nobody() {
        let t0 = Instant::now();
        let mut core = core_at(
            t0,
            &[snapshot("bob", "PA_bob", 1, &["TR_b"])],
            Duration::ZERO,
        );
        // Someone we never saw leaves; we ourselves appear in an update.
        core.handle_participants(
            t0,
            &[
                left("ghost", "PA_ghost", 3),
                snapshot("me", "PA_me", 2, &["TR_mine"]),
            ],
        );
        assert_eq!(drain(&mut core), ["snapshot"]);
        assert_eq!(core.participants().len(), 1);
        assert!(core.participant(&"PA_ghost".into()).is_none());
        assert!(core.participant(&"PA_me".into()).is_none());
        // An offer that drops a track we never subscribed to ends nothing.
        core.handle_subscriber_offer(&HashSet::new());
        assert!(drain(&mut core).is_empty());
    }

    #[test]
    fn a_subscription_to_an_unknown_publisher_ends_with_an_empty_identity() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        assert!(core.handle_subscribed("TR_x".into()));
        assert!(!core.handle_subscribed("TR_x".into()));
        core.handle_subscriber_offer(&HashSet::from(["TR_other".to_owned()]));
        assert_eq!(
            drain(&mut core),
            ["end subscription TR_x", "unsubscribed  TR_x"]
        );
        assert!(core.subscriptions().is_empty());
    }

    #[test]
    fn a_rejoin_under_the_same_identity_replaces_the_participant_without_a_leave() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[snapshot("bob", "PA_1", 3, &["TR_a"])], Duration::ZERO);
        core.handle_subscribed("TR_a".into());
        // Bob's new session arrives before the old one's disconnect.
        core.handle_participants(t0, &[snapshot("bob", "PA_2", 1, &["TR_b"])]);
        assert_eq!(
            drain(&mut core),
            [
                "end subscription TR_a",
                "unsubscribed bob TR_a",
                "snapshot",
                "unpublished bob TR_a",
                "published bob TR_b"
            ]
        );
        core.handle_participants(t0, &[left("bob", "PA_1", 4)]);
        assert_eq!(drain(&mut core), ["snapshot"]);
        assert_eq!(
            core.participant(&"PA_2".into())
                .map(|p| p.identity.as_str()),
            Some("bob")
        );
        assert!(core.participant(&"PA_1".into()).is_none());
        // The new session's own disconnect is a leave.
        core.handle_participants(t0, &[left("bob", "PA_2", 2)]);
        assert_eq!(
            drain(&mut core),
            ["snapshot", "unpublished bob TR_b", "disconnected bob"]
        );
        assert!(core.participants().is_empty());
    }

    #[test]
    fn a_new_participant_is_announced_with_its_tracks() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        core.handle_participants(t0, &[snapshot("carol", "PA_c", 1, &["TR_1", "TR_2"])]);
        assert_eq!(
            drain(&mut core),
            [
                "snapshot",
                "connected carol",
                "published carol TR_1",
                "published carol TR_2"
            ]
        );
    }

    #[test]
    fn a_full_reconnect_is_announced_in_the_documented_order() {
        let t0 = Instant::now();
        let others = [
            snapshot("bob", "PA_b", 1, &["TR_b"]),
            snapshot("carol", "PA_c", 1, &[]),
        ];
        let mut core = core_at(t0, &others, PING_TIMEOUT);
        core.handle_joined();
        core.handle_subscribed("TR_b".into());
        core.handle_publish_requested(t0, "cid-cam".into());

        // The server asks for a full reconnect: the engine tears the session down first.
        core.handle_lost(t0, LossCause::ServerRequestedReconnect);
        assert_eq!(drain(&mut core), ["tear down"]);
        core.handle_session_torn_down(vec![track("TR_mine")]);
        assert_eq!(
            drain(&mut core),
            [
                "disconnected bob",
                "disconnected carol",
                "local unpublished TR_mine",
                "snapshot",
                "state Reconnecting",
                "reconnecting Full",
                "start attempt Full 0"
            ]
        );
        assert_eq!(core.state(), ConnectionState::Reconnecting);
        assert!(core.participants().is_empty());
        assert!(core.subscriptions().is_empty());
        // Only the attempt's deadline: no keep-alive, no publication deadline.
        assert_eq!(core.poll_timeout(), Some(t0 + CONNECT_TIMEOUT));

        // The new session: bob is still there, carol left, dave came.
        let t1 = t0 + Duration::from_secs(2);
        core.handle_rejoined(
            "PA_me2".into(),
            &[
                snapshot("bob", "PA_b2", 1, &["TR_b2"]),
                snapshot("dave", "PA_d", 1, &[]),
            ],
        );
        core.handle_signal_connected(t1, PING_TIMEOUT);
        // An update before media is back is held, and our new sid is skipped.
        core.handle_participants(
            t1,
            &[
                snapshot("erin", "PA_e", 1, &[]),
                snapshot("me", "PA_me2", 1, &[]),
            ],
        );
        assert_eq!(drain(&mut core), ["snapshot"]);

        core.handle_media_restored(t1);
        assert_eq!(
            drain(&mut core),
            [
                "restart done",
                "snapshot",
                "reconnected",
                "state Connected",
                "connected bob",
                "published bob TR_b2",
                "connected dave",
                "connected erin",
                "republish"
            ]
        );
        assert_eq!(core.state(), ConnectionState::Connected);
        assert_eq!(core.poll_timeout(), Some(t1 + PING_TIMEOUT));
        // Nothing is held any more.
        core.handle_participants(t1, &[left("erin", "PA_e", 2)]);
        assert_eq!(drain(&mut core), ["snapshot", "disconnected erin"]);
    }

    #[test]
    fn a_resume_holds_events_until_reconnected_and_escalating_does_not_repeat_the_state() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[snapshot("bob", "PA_b", 1, &[])], Duration::ZERO);
        core.handle_joined();
        core.handle_lost(t0, LossCause::SignalClosed);
        drain(&mut core);
        core.handle_participants(t0, &[snapshot("carol", "PA_c", 1, &["TR_c"])]);
        assert_eq!(drain(&mut core), ["snapshot"]);
        core.handle_signal_connected(t0, Duration::ZERO);
        core.handle_media_restored(t0);
        assert_eq!(
            drain(&mut core),
            [
                "restart done",
                "snapshot",
                "reconnected",
                "state Connected",
                "connected carol",
                "published carol TR_c"
            ]
        );
        // A resume the server refuses escalates to a full reconnect, announced once.
        let t1 = t0 + Duration::from_secs(30);
        core.handle_lost(t1, LossCause::SignalClosed);
        drain(&mut core);
        core.handle_attempt_failed(t1, AttemptFailure::ResumeRejected("refused".into()));
        assert_eq!(drain(&mut core), ["tear down"]);
        core.handle_session_torn_down(Vec::new());
        let actions = drain(&mut core);
        assert_eq!(
            actions[..4],
            [
                "disconnected bob",
                "disconnected carol",
                "snapshot",
                "reconnecting Full"
            ]
        );
        assert!(
            actions[4..]
                .iter()
                .all(|a| a.starts_with("start attempt Full")),
            "{actions:?}"
        );
    }

    #[test]
    fn a_refused_token_gives_up_and_leaving_ends_with_disconnected() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], PING_TIMEOUT);
        core.handle_joined();
        core.handle_lost(t0, LossCause::SignalClosed);
        core.handle_participants(t0, &[snapshot("carol", "PA_c", 1, &[])]);
        drain(&mut core);
        core.handle_attempt_failed(t0, AttemptFailure::Permanent("401".into()));
        let actions = drain(&mut core);
        assert_eq!(actions.len(), 1, "{actions:?}");
        assert!(
            actions[0].starts_with("give up: TokenRejected"),
            "{actions:?}"
        );
        // The engine closes everything and reports the end; held events are dropped.
        core.handle_left(DisconnectReason::TokenRejected("401".into()));
        assert_eq!(
            drain(&mut core),
            [
                "snapshot",
                "state Disconnected",
                "disconnected: TokenRejected(\"401\")"
            ]
        );
        assert!(!core.is_recovering());
        assert_eq!(core.poll_timeout(), None);
    }

    #[test]
    fn a_data_message_waits_for_its_channel_and_goes_when_it_opens() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        core.handle_joined();
        let first = core.handle_data_blocked(t0, DataKind::Reliable);
        let lossy = core.handle_data_blocked(t0, DataKind::Lossy);
        let second = core.handle_data_blocked(t0 + Duration::from_millis(10), DataKind::Reliable);
        assert_eq!(
            (first, lossy, second),
            (
                Some(DataTicket(0)),
                Some(DataTicket(1)),
                Some(DataTicket(2))
            )
        );
        assert_eq!(core.poll_timeout(), Some(t0 + DATA_CHANNEL_OPEN_WAIT));
        core.handle_data_channel_open(DataKind::Reliable);
        assert_eq!(drain(&mut core), ["send data 0", "send data 2"]);
        // The lossy one still waits, and fails at its deadline.
        core.handle_timeout(t0 + DATA_CHANNEL_OPEN_WAIT - Duration::from_millis(1));
        assert!(drain(&mut core).is_empty());
        core.handle_timeout(t0 + DATA_CHANNEL_OPEN_WAIT);
        assert_eq!(drain(&mut core), ["fail data 1"]);
        assert_eq!(core.poll_timeout(), None);
        // Opening again sends nothing twice.
        core.handle_data_channel_open(DataKind::Reliable);
        assert!(drain(&mut core).is_empty());
    }

    #[test]
    fn data_does_not_wait_while_reconnecting_and_a_lost_connection_fails_the_waiting() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        core.handle_joined();
        assert!(core.handle_data_blocked(t0, DataKind::Reliable).is_some());
        core.handle_lost(t0, LossCause::SignalClosed);
        assert_eq!(
            drain(&mut core),
            [
                "fail data 0",
                "snapshot",
                "state Reconnecting",
                "reconnecting Resume",
                "start attempt Resume 0"
            ]
        );
        assert_eq!(core.handle_data_blocked(t0, DataKind::Reliable), None);
        core.handle_signal_connected(t0, Duration::ZERO);
        core.handle_media_restored(t0);
        drain(&mut core);
        assert!(core.handle_data_blocked(t0, DataKind::Reliable).is_some());
        core.handle_left(DisconnectReason::ClientInitiated);
        assert_eq!(drain(&mut core)[0], "fail data 1");
    }
}
