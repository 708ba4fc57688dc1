//! The room registry: every room's [`RoomState`] behind one `std::sync::Mutex`, and the
//! delivery of the commands those states return to the sessions.
//!
//! The lock is held only for short, synchronous bookkeeping and delivery (never across
//! `.await`); the session actor owns its socket and peer connections. Commands go out on each
//! session's bounded channel with `try_send`, in the order the state returned them. When a
//! channel is full the session is not left to diverge: it is marked for a resync and
//! interrupted (see [`Interrupt`]), so it drops its signal connection, the client resumes,
//! and the resume brings it the full state. Evictions never queue: they travel on the same
//! out-of-band [`Interrupt`] and cannot be lost.
//!
//! Rooms left empty close at a deadline ([`RoomState::close_deadline`]); one task,
//! [`Rooms::close_empty_rooms`], sleeps until the earliest and is woken when one is added.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use convene_rtc::clock::unix_now_millis as now_ms;
use livekit_protocol as lk;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use crate::ids;
use crate::media::PublishedTrack;
pub use crate::room_state::{
    Forward, JoinSnapshot, Outbox, ResumeSnapshot, Resync, RoomState, SessionCommand, SessionId,
};
use crate::session::Resumption;

/// Capacity of each session's command channel: signaling is low-rate; a session that lets
/// this many commands pile up is interrupted for a resync (see [`Interrupt`]).
pub const SESSION_CHANNEL_CAPACITY: usize = 256;

/// What the registry tells a session out of band, on a `watch` channel that never fills.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Interrupt {
    /// Send `leave` with this reason and end (duplicate identity, shutdown). Wins over
    /// everything else.
    pub evict: Option<lk::DisconnectReason>,
    /// Counts the times the session's queue overflowed: when it grows, the session lost
    /// commands and must drop its signal connection, so that the client resumes and gets the
    /// full state ([`Member::resume_snapshot`]).
    pub resyncs: u64,
}

/// Why [`Rooms::resume`] could not hand a connection over; the connection comes back with it.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// Nobody with that identity is in that room (never joined, left, or departed).
    #[error("no participant with that identity in the room")]
    NoSuchParticipant(Box<Resumption>),
    /// The participant's session is ending or its command channel is full.
    #[error("the participant's session cannot take the connection")]
    SessionUnavailable(Box<Resumption>),
}

impl ResumeError {
    /// The connection that was not handed over.
    pub fn into_resumption(self) -> Box<Resumption> {
        match self {
            Self::NoSuchParticipant(resumption) | Self::SessionUnavailable(resumption) => {
                resumption
            }
        }
    }
}

/// How the registry reaches one session.
struct SessionHandle {
    room: String,
    commands: mpsc::Sender<SessionCommand>,
    interrupt: watch::Sender<Interrupt>,
}

#[derive(Default)]
struct Registry {
    rooms: HashMap<String, RoomState>,
    sessions: HashMap<SessionId, SessionHandle>,
    next_session: u64,
}

impl Registry {
    /// Delivers `out` in order. A full queue marks its session for a resync and interrupts
    /// it; that session gets nothing more from this outbox.
    fn deliver(&mut self, out: Outbox) {
        let Self {
            rooms, sessions, ..
        } = self;
        let mut overflowed = HashSet::new();
        for (id, command) in out {
            let Some(handle) = sessions.get(&id) else {
                continue;
            };
            if let SessionCommand::Evict(reason) = command {
                handle.interrupt.send_modify(|i| i.evict = Some(reason));
                continue;
            }
            if overflowed.contains(&id) {
                continue;
            }
            match handle.commands.try_send(command) {
                Ok(()) | Err(TrySendError::Closed(_)) => {}
                Err(TrySendError::Full(_)) => {
                    overflowed.insert(id);
                    let marked = rooms
                        .get_mut(&handle.room)
                        .is_some_and(|room| room.overflowed(id));
                    if marked {
                        tracing::warn!(%id, room = %handle.room, "session not keeping up: detaching it for a resync");
                        handle.interrupt.send_modify(|i| i.resyncs += 1);
                    }
                }
            }
        }
    }
}

/// Every room of one server.
pub struct Rooms {
    state: Mutex<Registry>,
    empty_timeout: Duration,
    capacity: usize,
    /// Woken when a room gets a close deadline (see [`Rooms::close_empty_rooms`]).
    deadline_added: Arc<Notify>,
}

/// A participant that joined: its handle, what it learns, and its two inboxes.
pub struct Joined {
    /// The participant's handle in the registry.
    pub member: Member,
    /// What it learns on joining.
    pub snapshot: JoinSnapshot,
    /// Commands from the registry, in order.
    pub commands: mpsc::Receiver<SessionCommand>,
    /// Evictions and resync requests, out of band (see [`Interrupt`]).
    pub interrupts: watch::Receiver<Interrupt>,
}

impl Rooms {
    /// An empty registry; rooms left empty close `empty_timeout` later, once
    /// [`Rooms::close_empty_rooms`] runs.
    pub fn new(empty_timeout: Duration) -> Arc<Self> {
        Self::with_capacity(empty_timeout, SESSION_CHANNEL_CAPACITY)
    }

    /// As [`Rooms::new`], with `capacity` commands per session queue (tests use small ones
    /// to make queues overflow).
    pub fn with_capacity(empty_timeout: Duration, capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(Registry::default()),
            empty_timeout,
            capacity: capacity.max(1),
            deadline_added: Arc::new(Notify::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain bookkeeping data; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a participant to `room_name`, creating the room on first join. An earlier
    /// participant with the same identity is evicted (`DUPLICATE_IDENTITY`) and reported gone
    /// to the others.
    pub fn join(
        self: &Arc<Self>,
        room_name: &str,
        info: lk::ParticipantInfo,
        auto_subscribe: bool,
    ) -> Joined {
        let (commands, command_rx) = mpsc::channel(self.capacity);
        let (interrupt, interrupts) = watch::channel(Interrupt::default());
        let identity = info.identity.clone();
        let mut registry = self.lock();
        registry.next_session += 1;
        let session = SessionId(registry.next_session);
        let room = registry
            .rooms
            .entry(room_name.to_owned())
            .or_insert_with(|| {
                RoomState::new(
                    ids::room_sid(),
                    room_name.to_owned(),
                    now_ms(),
                    self.empty_timeout,
                    Instant::now(),
                )
            });
        let previous = room.session_of(&identity);
        let (snapshot, out) = room.join(info, session, auto_subscribe);
        registry.sessions.insert(
            session,
            SessionHandle {
                room: room_name.to_owned(),
                commands,
                interrupt,
            },
        );
        registry.deliver(out);
        if let Some(previous) = previous {
            // After its eviction is delivered: it is no longer a member.
            registry.sessions.remove(&previous);
        }
        drop(registry);
        Joined {
            member: Member {
                rooms: Arc::clone(self),
                room: room_name.to_owned(),
                identity,
                session,
            },
            snapshot,
            commands: command_rx,
            interrupts,
        }
    }

    /// Runs `act` on the room `room_name` under the lock and delivers what it returns; `None`
    /// when the room is gone.
    fn with_room<T>(
        &self,
        room_name: &str,
        act: impl FnOnce(&mut RoomState) -> (T, Outbox),
    ) -> Option<T> {
        let mut registry = self.lock();
        let room = registry.rooms.get_mut(room_name)?;
        let (value, out) = act(room);
        registry.deliver(out);
        Some(value)
    }

    /// Hands a resuming client's new signal connection to the session of `identity` in
    /// `room_name`, which keeps its peer connections, tracks and subscriptions. Others are not
    /// told anything. Gives the connection back when nobody with that identity is in the room,
    /// or its session cannot take it (ending, or its queue is full).
    pub fn resume(
        &self,
        room_name: &str,
        identity: &str,
        resumption: Box<Resumption>,
    ) -> Result<(), ResumeError> {
        let registry = self.lock();
        let Some(handle) = registry
            .rooms
            .get(room_name)
            .and_then(|room| room.session_of(identity))
            .and_then(|session| registry.sessions.get(&session))
        else {
            return Err(ResumeError::NoSuchParticipant(resumption));
        };
        match handle.commands.try_reserve() {
            Ok(permit) => {
                permit.send(SessionCommand::Resume(resumption));
                Ok(())
            }
            Err(_) => Err(ResumeError::SessionUnavailable(resumption)),
        }
    }

    /// Tells every participant of every room that the server is going away.
    pub fn evict_all(&self, reason: lk::DisconnectReason) {
        let mut registry = self.lock();
        let out: Outbox = registry
            .rooms
            .values()
            .flat_map(|room| room.evict_all(reason))
            .collect();
        registry.deliver(out);
    }

    /// Names of the open rooms and their participant identities (for tests and the CLI).
    pub fn snapshot(&self) -> Vec<(String, Vec<String>)> {
        self.lock()
            .rooms
            .values()
            .map(|room| (room.name().to_owned(), room.identities()))
            .collect()
    }

    /// Closes the rooms whose close deadline is `now` or earlier; returns the earliest
    /// deadline left, if any.
    pub fn close_expired(&self, now: Instant) -> Option<Instant> {
        let mut registry = self.lock();
        registry.rooms.retain(|name, room| {
            let expired = room.close_deadline().is_some_and(|at| at <= now);
            if expired {
                tracing::info!(room = %name, sid = room.sid(), "empty room closed");
            }
            !expired
        });
        registry
            .rooms
            .values()
            .filter_map(RoomState::close_deadline)
            .min()
    }

    /// Closes empty rooms at their deadlines until the registry is dropped: sleeps until the
    /// earliest deadline, and wakes early when a room is left empty. The server runs one.
    pub async fn close_empty_rooms(rooms: Weak<Self>) {
        let Some(woken) = rooms.upgrade().map(|r| Arc::clone(&r.deadline_added)) else {
            return;
        };
        loop {
            let next = match rooms.upgrade() {
                Some(rooms) => rooms.close_expired(Instant::now()),
                None => return,
            };
            match next {
                Some(deadline) => tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = woken.notified() => {}
                },
                None => woken.notified().await,
            }
        }
    }
}

impl Drop for Rooms {
    fn drop(&mut self) {
        // Lets `close_empty_rooms` see the registry is gone and end.
        self.deadline_added.notify_one();
    }
}

/// One participant's handle in the registry, returned by [`Rooms::join`]: its room, identity
/// and session. Every method acts for this session only, so a session replaced by a newer
/// join of the same identity can no longer change anything.
#[derive(Clone)]
pub struct Member {
    rooms: Arc<Rooms>,
    room: String,
    identity: String,
    session: SessionId,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("room", &self.room)
            .field("identity", &self.identity)
            .field("session", &self.session)
            .finish()
    }
}

impl Member {
    /// The room's name.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The participant's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// This connection's session id.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Removes the participant if this is still its session; the others see it leave. A room
    /// left empty closes after the empty timeout unless somebody joins again.
    pub fn leave(&self) {
        let mut registry = self.rooms.lock();
        let Some(room) = registry.rooms.get_mut(&self.room) else {
            return;
        };
        let out = room.leave(self.session, Instant::now());
        let emptied = room.close_deadline().is_some();
        registry.deliver(out);
        registry.sessions.remove(&self.session);
        drop(registry);
        if emptied {
            self.rooms.deadline_added.notify_one();
        }
    }

    /// See [`RoomState::update_participant`].
    pub fn update(
        &self,
        change: impl FnOnce(&mut lk::ParticipantInfo),
    ) -> Option<lk::ParticipantInfo> {
        self.rooms
            .with_room(&self.room, |room| {
                match room.update_participant(self.session, change) {
                    Some((info, out)) => (Some(info), out),
                    None => (None, Outbox::new()),
                }
            })
            .flatten()
    }

    /// See [`RoomState::mute`].
    pub fn mute(&self, track_sid: &str, muted: bool) {
        self.rooms.with_room(&self.room, |room| {
            ((), room.mute(self.session, track_sid, muted))
        });
    }

    /// See [`RoomState::add_pending_track`].
    pub fn add_pending_track(&self, cid: &str, track: lk::TrackInfo) {
        self.rooms.with_room(&self.room, |room| {
            room.add_pending_track(self.session, cid, track);
            ((), Outbox::new())
        });
    }

    /// See [`RoomState::publish_track`].
    pub fn publish_track(
        &self,
        client_track_id: &str,
        is_video: bool,
        track: PublishedTrack,
    ) -> Option<lk::TrackInfo> {
        self.rooms
            .with_room(&self.room, |room| {
                room.publish_track(self.session, client_track_id, is_video, track)
            })
            .flatten()
    }

    /// See [`RoomState::set_subscription`].
    pub fn set_subscription(&self, track_sids: &[String], subscribe: bool) {
        self.rooms.with_room(&self.room, |room| {
            (
                (),
                room.set_subscription(self.session, track_sids, subscribe),
            )
        });
    }

    /// See [`RoomState::unpublish_track`].
    pub fn unpublish_track(&self, track_sid: &str) {
        self.rooms.with_room(&self.room, |room| {
            ((), room.unpublish_track(self.session, track_sid))
        });
    }

    /// See [`RoomState::route_data`].
    pub fn route_data(&self, destinations: &[String], reliable: bool, payload: Bytes) {
        self.rooms.with_room(&self.room, |room| {
            (
                (),
                room.route_data(self.session, destinations, reliable, &payload),
            )
        });
    }

    /// See [`RoomState::audio_level`].
    pub fn audio_level(&self, level: f32) {
        self.rooms.with_room(&self.room, |room| {
            ((), room.audio_level(self.session, level))
        });
    }

    /// See [`RoomState::track_loss`].
    pub fn track_loss(&self, track_sid: &str, loss: Option<f64>) {
        self.rooms.with_room(&self.room, |room| {
            ((), room.track_loss(self.session, track_sid, loss))
        });
    }

    /// The room and all its participants for this session's resuming client, with the full
    /// state if commands to it were lost (see [`RoomState::resume`]); `None` when it is no
    /// longer in the room (replaced by a newer join, or removed).
    pub fn resume_snapshot(&self) -> Option<ResumeSnapshot> {
        self.rooms
            .with_room(&self.room, |room| {
                (room.resume(self.session), Outbox::new())
            })
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(identity: &str) -> lk::ParticipantInfo {
        lk::ParticipantInfo {
            sid: format!("PA_{identity}"),
            identity: identity.to_owned(),
            permission: Some(lk::ParticipantPermission {
                can_subscribe: true,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_newcomer_learns_the_others_connection_quality_at_once() {
        let rooms = Rooms::new(Duration::from_secs(1));
        let first = rooms.join("room", info("a"), true);
        assert!(first.snapshot.qualities.is_empty());
        let _b = rooms.join("room", info("b"), true);
        // Nothing announced for b yet; a loses 30 % of one track: poor, told to the room.
        first.member.track_loss("TR_a", Some(0.30));
        let late = rooms.join("room", info("c"), true);
        assert_eq!(late.snapshot.qualities.len(), 1, "only announced qualities");
        let quality = &late.snapshot.qualities[0];
        assert_eq!(quality.participant_sid, "PA_a");
        assert_eq!(quality.quality, lk::ConnectionQuality::Poor as i32);
    }

    #[tokio::test]
    async fn a_full_queue_detaches_the_session_and_its_resume_gets_the_full_state() {
        let rooms = Rooms::with_capacity(Duration::from_secs(1), 2);
        let mut slow = rooms.join("room", info("slow"), true);
        let others: Vec<Joined> = ["b", "c", "d"]
            .iter()
            .map(|identity| rooms.join("room", info(identity), true))
            .collect();
        // Two updates fit; the third overflows: the session is interrupted once, for a resync.
        assert!(slow.interrupts.has_changed().expect("open"));
        assert_eq!(
            *slow.interrupts.borrow_and_update(),
            Interrupt {
                evict: None,
                resyncs: 1
            }
        );
        // Nothing more is queued for it, even once there is room again.
        let mut queued = Vec::new();
        while let Ok(command) = slow.commands.try_recv() {
            queued.push(command);
        }
        assert_eq!(queued.len(), 2);
        others[0].member.audio_level(0.5);
        assert!(
            slow.commands.try_recv().is_err(),
            "withheld until the resume"
        );
        // The resume brings the whole room and the speakers it missed; then delivery resumes.
        let snapshot = slow.member.resume_snapshot().expect("still in the room");
        assert_eq!(snapshot.participants.len(), 4);
        let resync = snapshot.resync.expect("a resync");
        assert!(resync.speakers.iter().any(|s| s.sid == "PA_b" && s.active));
        others[0].member.audio_level(0.0);
        assert!(matches!(
            slow.commands.try_recv(),
            Ok(SessionCommand::Signal(response)) if matches!(*response, crate::wire::Response::SpeakersChanged(_))
        ));
        assert!(!slow.interrupts.has_changed().expect("open"));
    }

    #[tokio::test]
    async fn an_eviction_reaches_a_session_whose_queue_is_full() {
        let rooms = Rooms::with_capacity(Duration::from_secs(1), 1);
        let mut first = rooms.join("room", info("a"), true);
        let _b = rooms.join("room", info("b"), true);
        let _c = rooms.join("room", info("c"), true); // overflows a
        let _again = rooms.join("room", info("a"), true);
        first.interrupts.changed().await.expect("interrupted");
        let interrupt = *first.interrupts.borrow_and_update();
        assert_eq!(
            interrupt.evict,
            Some(lk::DisconnectReason::DuplicateIdentity)
        );
        // The registry let it go: nothing else will come, and its requests change nothing.
        assert!(first.interrupts.changed().await.is_err());
        assert!(first.member.update(|_| {}).is_none());
        first.member.leave();
        let mut open = rooms.snapshot();
        open[0].1.sort();
        assert_eq!(
            open,
            [(
                "room".to_owned(),
                vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]
            )]
        );
    }

    #[tokio::test]
    async fn an_empty_room_closes_at_its_deadline_and_the_closer_is_woken() {
        let timeout = Duration::from_secs(30);
        let rooms = Rooms::new(timeout);
        let joined = rooms.join("room", info("a"), true);
        let now = Instant::now();
        assert_eq!(rooms.close_expired(now), None, "somebody is in it");
        joined.member.leave();
        let deadline = rooms.close_expired(now).expect("a deadline");
        assert!(deadline >= now + timeout);
        assert_eq!(rooms.snapshot().len(), 1, "not yet");
        assert_eq!(rooms.close_expired(deadline), None);
        assert!(rooms.snapshot().is_empty());
        // The closer task ends once the registry is gone.
        let closer = tokio::spawn(Rooms::close_empty_rooms(Arc::downgrade(&rooms)));
        drop(joined);
        drop(rooms);
        tokio::time::timeout(Duration::from_secs(5), closer)
            .await
            .expect("the closer ends with the registry")
            .expect("no panic");
    }
}
