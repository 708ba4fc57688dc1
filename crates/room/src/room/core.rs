//! The room's bookkeeping without I/O: who is in the room (the roster), which remote tracks
//! we receive, which publications wait for the server, and every deadline the room keeps
//! (the first join's media timeout, publication confirmations, the signaling keep-alive).
//!
//! Sans-IO, like [`super::reconnect::Reconnector`]: every input carries `now`, outputs are
//! [`Action`]s the engine carries out in order ([`RoomCore::poll_action`]), and
//! [`RoomCore::poll_timeout`] says when to call [`RoomCore::handle_timeout`] next, so the
//! engine sleeps until then instead of polling. Its tests run on virtual time.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::events::RoomEvent;
use super::participant::RemoteParticipant;
use super::publishing::PUBLISH_TIMEOUT;
use super::roster::Roster;
use crate::ids::{Identity, ParticipantSid, TrackSid};
use crate::signal::event::ParticipantSnapshot;

/// What the engine must do, in the order the core returns them.
#[derive(Debug)]
pub(crate) enum Action {
    /// Deliver an event to the application (the engine holds participant and track events
    /// back while a reconnection is in progress).
    Emit(RoomEvent),
    /// The roster changed: refresh what the `Room` handle reads.
    RosterChanged,
    /// Stop reading a remote track and tell the application (`TrackUnsubscribed`).
    EndSubscription {
        /// The publisher (empty if it is no longer in the roster).
        participant_identity: Identity,
        /// The track.
        track_sid: TrackSid,
    },
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
#[derive(Debug)]
pub(crate) struct RoomCore {
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
    /// A reconnection is in progress: the keep-alive is not checked meanwhile.
    recovering: bool,
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
    ) -> Self {
        let mut core = Self {
            local_sid,
            roster: Roster::default(),
            subscribed: BTreeSet::new(),
            pending_publications: BTreeMap::new(),
            join_deadline: Some(now + media_timeout),
            liveness: None,
            recovering: false,
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
            .filter(|_| !self.recovering)
            .map(Liveness::deadline);
        [self.join_deadline, publication, liveness]
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
        if let Some(liveness) = self.liveness
            && !self.recovering
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

    /// Both peer connections are up: the first join is complete.
    pub(crate) fn handle_media_connected(&mut self) {
        self.join_deadline = None;
    }

    /// The join ended another way (failed, or we left): no more join deadline.
    pub(crate) fn handle_join_abandoned(&mut self) {
        self.join_deadline = None;
    }

    /// A signaling connection is up (joined, resumed or rejoined) at `now`; silence longer
    /// than `ping_timeout` will count as a lost link (zero: never).
    pub(crate) fn handle_signal_connected(&mut self, now: Instant, ping_timeout: Duration) {
        self.liveness = (!ping_timeout.is_zero()).then_some(Liveness {
            last_inbound: now,
            timeout: ping_timeout,
        });
    }

    /// Whether a reconnection is in progress. While it is, silence on the signaling
    /// connection is not a loss (the reconnection machine has its own deadlines); once it
    /// is over, a connection silent for longer than the ping timeout counts as lost at once.
    pub(crate) fn set_recovering(&mut self, recovering: bool) {
        self.recovering = recovering;
    }

    /// The server said something at `now`.
    pub(crate) fn handle_signal_activity(&mut self, now: Instant) {
        if let Some(liveness) = self.liveness.as_mut() {
            liveness.last_inbound = now;
        }
    }

    /// A full reconnect joined afresh as `local_sid`, with `others` in the room. Returns
    /// them (to announce after `Reconnected`).
    pub(crate) fn handle_rejoined(
        &mut self,
        local_sid: ParticipantSid,
        others: &[ParticipantSnapshot],
    ) -> Vec<RemoteParticipant> {
        self.local_sid = local_sid;
        self.roster.reset(others);
        self.roster.participants()
    }

    /// A full reconnect tears the session down: forgets the roster (returned, to announce
    /// as disconnected), the subscriptions and the publications in flight.
    pub(crate) fn handle_full_reconnect_started(&mut self) -> Vec<RemoteParticipant> {
        self.subscribed.clear();
        self.pending_publications.clear();
        self.liveness = None;
        self.roster.clear()
    }

    /// A rejoin attempt failed after the roster was reset: nobody is known.
    pub(crate) fn handle_rejoin_failed(&mut self) {
        self.roster.clear();
    }

    // ---- roster -------------------------------------------------------------------------

    /// Applies participant snapshots from the server. Actions: first the subscriptions that
    /// end because their track was unpublished, then [`Action::RosterChanged`], then the
    /// roster's events in the server's order. Our own snapshot is skipped.
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
                    self.actions.push_back(Action::EndSubscription {
                        participant_identity: participant_identity.as_str().into(),
                        track_sid,
                    });
                }
            }
        }
        self.actions.push_back(Action::RosterChanged);
        self.actions.extend(events.into_iter().map(Action::Emit));
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
    /// subscription ends ([`Action::EndSubscription`], in sid order).
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
            self.actions.push_back(Action::EndSubscription {
                participant_identity,
                track_sid,
            });
        }
    }

    /// The tracks we receive (for a resume's sync state).
    pub(crate) fn subscriptions(&self) -> Vec<String> {
        self.subscribed.iter().map(ToString::to_string).collect()
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
    use crate::room::track::{TrackInfo, TrackSource};
    use crate::webrtc_kit::MediaKind;

    const MEDIA_TIMEOUT: Duration = Duration::from_secs(15);
    const PING_TIMEOUT: Duration = Duration::from_secs(20);

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
        RoomCore::new(t0, "PA_me".into(), others, MEDIA_TIMEOUT, ping_timeout)
    }

    fn drain(core: &mut RoomCore) -> Vec<String> {
        std::iter::from_fn(|| core.poll_action())
            .map(|action| match action {
                Action::Emit(RoomEvent::ParticipantConnected(p)) => {
                    format!("connected {}", p.identity)
                }
                Action::Emit(RoomEvent::ParticipantDisconnected(p)) => {
                    format!("disconnected {}", p.identity)
                }
                Action::Emit(RoomEvent::TrackPublished {
                    participant_identity,
                    track,
                }) => format!("published {participant_identity} {}", track.sid),
                Action::Emit(RoomEvent::TrackUnpublished {
                    participant_identity,
                    track,
                }) => format!("unpublished {participant_identity} {}", track.sid),
                Action::EndSubscription {
                    participant_identity,
                    track_sid,
                } => format!("end subscription {participant_identity} {track_sid}"),
                Action::RosterChanged => "roster changed".into(),
                Action::JoinTimedOut => "join timed out".into(),
                Action::PublishTimedOut { cid } => format!("publish timed out {cid}"),
                Action::SignalSilent { timeout } => format!("signal silent {timeout:?}"),
                other => format!("{other:?}"),
            })
            .collect()
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
        core.handle_media_connected();
        assert_eq!(core.poll_timeout(), None);
        core.handle_timeout(t0 + MEDIA_TIMEOUT);
        assert!(drain(&mut core).is_empty());
    }

    #[test]
    fn an_unconfirmed_publication_times_out_and_a_confirmed_one_does_not() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        core.handle_media_connected();
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
        core.handle_media_connected();
        assert_eq!(core.poll_timeout(), Some(t0 + PING_TIMEOUT));
        core.handle_publish_requested(t0, "cid".into());
        assert_eq!(core.poll_timeout(), Some(t0 + PUBLISH_TIMEOUT));
    }

    #[test]
    fn silence_for_the_ping_timeout_loses_the_signal_but_messages_keep_it() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], PING_TIMEOUT);
        core.handle_media_connected();
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
    fn silence_is_not_checked_while_recovering_but_counts_after() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], PING_TIMEOUT);
        core.handle_media_connected();
        core.set_recovering(true);
        assert_eq!(core.poll_timeout(), None);
        core.handle_timeout(t0 + PING_TIMEOUT * 2);
        assert!(drain(&mut core).is_empty());
        core.set_recovering(false);
        assert_eq!(core.poll_timeout(), Some(t0 + PING_TIMEOUT));
        core.handle_timeout(t0 + PING_TIMEOUT * 2);
        assert_eq!(drain(&mut core), ["signal silent 20s"]);
    }

    #[test]
    fn a_zero_ping_timeout_turns_the_keep_alive_off() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[], Duration::ZERO);
        core.handle_media_connected();
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
        assert_eq!(drain(&mut core), ["roster changed"]);
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
        assert_eq!(drain(&mut core), ["end subscription  TR_x"]);
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
                "end subscription bob TR_a",
                "roster changed",
                "unpublished bob TR_a",
                "published bob TR_b"
            ]
        );
        core.handle_participants(t0, &[left("bob", "PA_1", 4)]);
        assert_eq!(drain(&mut core), ["roster changed"]);
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
            ["roster changed", "unpublished bob TR_b", "disconnected bob"]
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
                "roster changed",
                "connected carol",
                "published carol TR_1",
                "published carol TR_2"
            ]
        );
    }

    #[test]
    fn a_full_reconnect_forgets_everything_and_the_rejoin_brings_the_new_roster() {
        let t0 = Instant::now();
        let mut core = core_at(t0, &[snapshot("bob", "PA_1", 1, &["TR_a"])], PING_TIMEOUT);
        core.handle_media_connected();
        core.handle_subscribed("TR_a".into());
        core.handle_publish_requested(t0, "cid".into());
        let gone = core.handle_full_reconnect_started();
        assert_eq!(gone.len(), 1);
        assert!(core.participants().is_empty());
        assert!(core.subscriptions().is_empty());
        assert_eq!(core.poll_timeout(), None);
        let t1 = t0 + Duration::from_secs(3);
        let present = core.handle_rejoined(
            "PA_me2".into(),
            &[
                snapshot("bob", "PA_3", 1, &[]),
                snapshot("dave", "PA_4", 1, &[]),
            ],
        );
        core.handle_signal_connected(t1, PING_TIMEOUT);
        let names: Vec<&str> = present.iter().map(|p| p.identity.as_str()).collect();
        assert_eq!(names, ["bob", "dave"]);
        assert_eq!(core.poll_timeout(), Some(t1 + PING_TIMEOUT));
        // Our new sid is skipped in updates.
        core.handle_participants(t1, &[snapshot("me", "PA_me2", 1, &[])]);
        assert_eq!(drain(&mut core), ["roster changed"]);
    }
}
