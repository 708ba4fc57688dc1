//! One room's state, sans IO: membership, publications, subscriptions, data routing, speakers
//! and connection quality.
//!
//! Every method changes the state and returns the [`SessionCommand`]s to deliver, addressed
//! by [`SessionId`] (an [`Outbox`]); the caller ([`crate::rooms::Rooms`]) delivers them. Time
//! comes in as `now`, and the one timer of a room (closing it once left empty) goes out as a
//! deadline ([`RoomState::close_deadline`]).
//!
//! A session whose queue overflowed is marked for a resync ([`RoomState::overflowed`]): it gets
//! no further commands (its client is told to resume), and [`RoomState::resume`] hands it the
//! full state again, subscriptions included.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use livekit_protocol as lk;
use tokio::time::Instant;

use crate::media::PublishedTrack;
use crate::quality::ParticipantQuality;
use crate::session::Resumption;
use crate::speakers::SpeakerState;
use crate::wire::{self, Response};

/// Identifies one session (one connection of a participant), so a replaced session cannot act
/// for, or remove, its successor of the same identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session-{}", self.0)
    }
}

/// What the registry asks a participant's session to do.
#[derive(Debug)]
pub enum SessionCommand {
    /// Send this message to the client (boxed: responses are large, other commands small).
    Signal(Box<Response>),
    /// Forward `track` to the client as `track_sid` in stream `stream_id` (`PA_x|TR_y`).
    Subscribe(Forward),
    /// Stop forwarding the track `track_sid`.
    Unsubscribe {
        /// Its `TR_` sid.
        track_sid: String,
    },
    /// Deliver a data packet (already rewritten with the sender's identity).
    Data {
        /// `_reliable` or `_lossy`.
        reliable: bool,
        /// The encoded `DataPacket`.
        payload: Bytes,
    },
    /// Send `leave` with this reason and end the session (duplicate identity, shutdown).
    /// Never queued behind other commands: [`crate::rooms::Rooms`] delivers it out of band.
    Evict(lk::DisconnectReason),
    /// The client resumed (`/rtc?reconnect=1`): take over this new signal connection
    /// (boxed: it carries the WebSocket).
    Resume(Box<Resumption>),
}

/// A track to forward to a subscriber.
#[derive(Debug, Clone)]
pub struct Forward {
    /// The published track.
    pub track: PublishedTrack,
    /// Its `TR_` sid.
    pub track_sid: String,
    /// LiveKit's stream id: publisher sid `|` track sid.
    pub stream_id: String,
}

/// Commands to deliver, in order.
pub type Outbox = Vec<(SessionId, SessionCommand)>;

/// What a newcomer learns when it joins.
#[derive(Debug)]
pub struct JoinSnapshot {
    /// The room (for the JoinResponse).
    pub room: lk::Room,
    /// Everybody else, with their tracks.
    pub others: Vec<lk::ParticipantInfo>,
    /// Tracks to subscribe the newcomer to (none unless it auto-subscribes and may
    /// subscribe).
    pub tracks: Vec<Forward>,
    /// The others' connection quality as last announced to the room (sent right after the
    /// JoinResponse, so a newcomer does not wait for the next change).
    pub qualities: Vec<lk::ConnectionQualityInfo>,
}

/// What a resuming participant is told: the room and everybody in it, itself included.
#[derive(Debug)]
pub struct ResumeSnapshot {
    /// The room (for `room_update`).
    pub room: lk::Room,
    /// Every participant of the room, the resuming one included (for `update`).
    pub participants: Vec<lk::ParticipantInfo>,
    /// Set when the session lost commands (its queue overflowed): the tracks it should
    /// forward now (the session subscribes to these and drops any other), the speakers and
    /// the qualities, all of which it may have missed.
    pub resync: Option<Resync>,
}

/// The state a session that lost commands must restore (see [`ResumeSnapshot::resync`]).
#[derive(Debug)]
pub struct Resync {
    /// Every track the participant is subscribed to.
    pub subscriptions: Vec<Forward>,
    /// Every participant's speaking state (inactive ones too, so the client drops stale
    /// speakers).
    pub speakers: Vec<lk::SpeakerInfo>,
    /// Every announced connection quality.
    pub qualities: Vec<lk::ConnectionQualityInfo>,
}

#[derive(Debug)]
struct MemberState {
    info: lk::ParticipantInfo,
    session: SessionId,
    /// Subscribe this participant to new tracks by itself (`auto_subscribe`); when false it
    /// asks with `subscription` requests.
    auto_subscribe: bool,
    speaker: SpeakerState,
    quality: ParticipantQuality,
    /// Published tracks by `TR_` sid.
    published: HashMap<String, PublishedTrack>,
    /// `add_track` requests waiting for media, by the client's track id (cid).
    pending: HashMap<String, lk::TrackInfo>,
    /// The tracks (`TR_` sids) of others this participant is subscribed to.
    subscriptions: BTreeSet<String>,
    /// The session lost commands: send it nothing until it resumes with the full state.
    needs_resync: bool,
}

impl MemberState {
    fn may_subscribe(&self) -> bool {
        self.info
            .permission
            .as_ref()
            .is_some_and(|p| p.can_subscribe)
    }
}

/// One room: its members and what they publish.
#[derive(Debug)]
pub struct RoomState {
    sid: String,
    name: String,
    created_at_ms: i64,
    empty_timeout: Duration,
    members: Vec<MemberState>,
    /// When the last participant left; `None` while somebody is in the room.
    emptied_at: Option<Instant>,
}

fn stream_id(publisher_sid: &str, track_sid: &str) -> String {
    format!("{publisher_sid}|{track_sid}")
}

/// Queues `command` for `member` unless it awaits a resync (then the resync covers it).
fn push(out: &mut Outbox, member: &MemberState, command: SessionCommand) {
    if !member.needs_resync {
        out.push((member.session, command));
    }
}

impl RoomState {
    /// A new, empty room; it closes `empty_timeout` after `now` unless somebody joins.
    pub fn new(
        sid: String,
        name: String,
        created_at_ms: i64,
        empty_timeout: Duration,
        now: Instant,
    ) -> Self {
        Self {
            sid,
            name,
            created_at_ms,
            empty_timeout,
            members: Vec::new(),
            emptied_at: Some(now),
        }
    }

    /// The room's `RM_` sid.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The room's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The identities of its participants, in joining order.
    pub fn identities(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| m.info.identity.clone())
            .collect()
    }

    /// The session of `identity`, if it is in the room.
    pub fn session_of(&self, identity: &str) -> Option<SessionId> {
        self.members
            .iter()
            .find(|m| m.info.identity == identity)
            .map(|m| m.session)
    }

    /// Whether `session` is a participant of this room.
    pub fn contains(&self, session: SessionId) -> bool {
        self.index(session).is_some()
    }

    /// When the room should close: `empty_timeout` after it was left empty; `None` while
    /// somebody is in it.
    pub fn close_deadline(&self) -> Option<Instant> {
        if !self.members.is_empty() {
            return None;
        }
        self.emptied_at.map(|at| at + self.empty_timeout)
    }

    /// The room as `lk::Room`.
    pub fn to_proto(&self) -> lk::Room {
        lk::Room {
            sid: self.sid.clone(),
            name: self.name.clone(),
            empty_timeout: self.empty_timeout.as_secs() as u32,
            departure_timeout: self.empty_timeout.as_secs() as u32,
            creation_time: self.created_at_ms / 1000,
            creation_time_ms: self.created_at_ms,
            num_participants: self.members.len() as u32,
            num_publishers: self.members.iter().filter(|m| m.info.is_publisher).count() as u32,
            ..Default::default()
        }
    }

    fn index(&self, session: SessionId) -> Option<usize> {
        self.members.iter().position(|m| m.session == session)
    }

    /// Adds a participant as `session`. An earlier participant with the same identity is
    /// evicted (`DUPLICATE_IDENTITY`) and reported gone to the others, as livekit-server
    /// does. The others learn of the newcomer; the newcomer gets a [`JoinSnapshot`].
    pub fn join(
        &mut self,
        info: lk::ParticipantInfo,
        session: SessionId,
        auto_subscribe: bool,
    ) -> (JoinSnapshot, Outbox) {
        let mut out = Outbox::new();
        if let Some(index) = self
            .members
            .iter()
            .position(|m| m.info.identity == info.identity)
        {
            let previous = self.members.remove(index);
            tracing::info!(identity = %info.identity, room = %self.name, "duplicate identity: evicting the earlier session");
            // Even to a session awaiting a resync: an eviction is never withheld.
            out.push((
                previous.session,
                SessionCommand::Evict(lk::DisconnectReason::DuplicateIdentity),
            ));
            self.announce_departure(previous, &mut out);
        }
        let mut member = MemberState {
            info,
            session,
            auto_subscribe,
            speaker: SpeakerState::default(),
            quality: ParticipantQuality::default(),
            published: HashMap::new(),
            pending: HashMap::new(),
            subscriptions: BTreeSet::new(),
            needs_resync: false,
        };
        let others = self.members.iter().map(|m| m.info.clone()).collect();
        let tracks = if member.auto_subscribe && member.may_subscribe() {
            self.members
                .iter()
                .flat_map(|m| {
                    m.published.iter().map(|(sid, track)| Forward {
                        track: track.clone(),
                        track_sid: sid.clone(),
                        stream_id: stream_id(&m.info.sid, sid),
                    })
                })
                .collect::<Vec<_>>()
        } else {
            Vec::new()
        };
        member
            .subscriptions
            .extend(tracks.iter().map(|t| t.track_sid.clone()));
        let qualities = self.qualities();
        self.broadcast_update(&member.info, &mut out);
        self.emptied_at = None;
        self.members.push(member);
        let snapshot = JoinSnapshot {
            room: self.to_proto(),
            others,
            tracks,
            qualities,
        };
        (snapshot, out)
    }

    /// Removes the participant if `session` is still its session; the others see it leave
    /// (and stop receiving its tracks). A room left empty closes at [`Self::close_deadline`].
    pub fn leave(&mut self, session: SessionId, now: Instant) -> Outbox {
        let mut out = Outbox::new();
        let Some(index) = self.index(session) else {
            return out;
        };
        let gone = self.members.remove(index);
        tracing::info!(identity = %gone.info.identity, room = %self.name, "participant left");
        self.announce_departure(gone, &mut out);
        if self.members.is_empty() {
            self.emptied_at = Some(now);
        }
        out
    }

    /// Tells every participant the server is going away (out of band, like every eviction).
    pub fn evict_all(&self, reason: lk::DisconnectReason) -> Outbox {
        self.members
            .iter()
            .map(|m| (m.session, SessionCommand::Evict(reason)))
            .collect()
    }

    fn announce_departure(&mut self, mut gone: MemberState, out: &mut Outbox) {
        if gone.speaker.is_speaking() {
            self.broadcast_speaker(&gone.info.sid, 0.0, false, out);
        }
        gone.info.state = lk::participant_info::State::Disconnected as i32;
        gone.info.version += 1;
        gone.info.tracks.clear();
        self.broadcast_update(&gone.info, out);
        for track_sid in gone.published.keys() {
            for member in &mut self.members {
                // As before: every other participant is told, subscribed or not.
                member.subscriptions.remove(track_sid);
                push(
                    out,
                    member,
                    SessionCommand::Unsubscribe {
                        track_sid: track_sid.clone(),
                    },
                );
            }
        }
    }

    /// Tells everybody but `info`'s participant about `info`.
    fn broadcast_update(&self, info: &lk::ParticipantInfo, out: &mut Outbox) {
        for member in self
            .members
            .iter()
            .filter(|m| m.info.identity != info.identity)
        {
            push(
                out,
                member,
                SessionCommand::Signal(Box::new(wire::participant_update(vec![info.clone()]))),
            );
        }
    }

    /// Applies `change` to the participant's info, bumps its version and tells the others.
    /// Returns the new info, or `None` if `session` is not in the room.
    pub fn update_participant(
        &mut self,
        session: SessionId,
        change: impl FnOnce(&mut lk::ParticipantInfo),
    ) -> Option<(lk::ParticipantInfo, Outbox)> {
        let index = self.index(session)?;
        let member = &mut self.members[index];
        change(&mut member.info);
        member.info.version += 1;
        let info = member.info.clone();
        let mut out = Outbox::new();
        self.broadcast_update(&info, &mut out);
        Some((info, out))
    }

    /// A `mute` request: sets the track's `muted`, tells the others, and, when muted, stops
    /// showing the participant as speaking (a muted track sends no audio levels).
    pub fn mute(&mut self, session: SessionId, track_sid: &str, muted: bool) -> Outbox {
        let Some((_, mut out)) = self.update_participant(session, |info| {
            for track in info.tracks.iter_mut().filter(|t| t.sid == track_sid) {
                track.muted = muted;
            }
        }) else {
            return Outbox::new();
        };
        if muted {
            out.extend(self.audio_level(session, 0.0));
        }
        out
    }

    /// Records an `add_track` request; the track is published when its media arrives.
    pub fn add_pending_track(&mut self, session: SessionId, cid: &str, track: lk::TrackInfo) {
        if let Some(index) = self.index(session) {
            self.members[index].pending.insert(cid.to_owned(), track);
        }
    }

    /// Media for a track arrived: matches it to its `add_track` (by the client's track id =
    /// cid, else a pending track of that kind), publishes it and subscribes everybody else
    /// who auto-subscribes and may subscribe. Returns the published track's info, or `None`
    /// when no `add_track` matches (or `session` is gone).
    pub fn publish_track(
        &mut self,
        session: SessionId,
        client_track_id: &str,
        is_video: bool,
        track: PublishedTrack,
    ) -> (Option<lk::TrackInfo>, Outbox) {
        let mut out = Outbox::new();
        let Some(index) = self.index(session) else {
            return (None, out);
        };
        let member = &mut self.members[index];
        let video_type = lk::TrackType::Video as i32;
        let cid = if member.pending.contains_key(client_track_id) {
            Some(client_track_id.to_owned())
        } else {
            member
                .pending
                .iter()
                .find(|(_, t)| (t.r#type == video_type) == is_video)
                .map(|(cid, _)| cid.clone())
        };
        let Some(info) = cid.and_then(|cid| member.pending.remove(&cid)) else {
            return (None, out);
        };
        member.published.insert(info.sid.clone(), track.clone());
        member.info.tracks.push(info.clone());
        member.info.is_publisher = true;
        member.info.version += 1;
        let participant = member.info.clone();
        self.broadcast_update(&participant, &mut out);
        for other in self
            .members
            .iter_mut()
            .filter(|m| m.session != session && m.auto_subscribe && m.may_subscribe())
        {
            other.subscriptions.insert(info.sid.clone());
            push(
                &mut out,
                other,
                SessionCommand::Subscribe(Forward {
                    track: track.clone(),
                    track_sid: info.sid.clone(),
                    stream_id: stream_id(&participant.sid, &info.sid),
                }),
            );
        }
        (Some(info), out)
    }

    /// A `subscription` request: subscribes `session` to (or unsubscribes it from) the
    /// published tracks named; unknown sids and its own tracks are ignored, and so is a
    /// subscribe without the permission to subscribe.
    pub fn set_subscription(
        &mut self,
        session: SessionId,
        track_sids: &[String],
        subscribe: bool,
    ) -> Outbox {
        let mut out = Outbox::new();
        let Some(index) = self.index(session) else {
            return out;
        };
        if subscribe && !self.members[index].may_subscribe() {
            return out;
        }
        for track_sid in track_sids {
            let Some(publisher) = self
                .members
                .iter()
                .find(|m| m.session != session && m.published.contains_key(track_sid))
            else {
                continue;
            };
            let command = if subscribe {
                SessionCommand::Subscribe(Forward {
                    track: publisher.published[track_sid].clone(),
                    track_sid: track_sid.clone(),
                    stream_id: stream_id(&publisher.info.sid, track_sid),
                })
            } else {
                SessionCommand::Unsubscribe {
                    track_sid: track_sid.clone(),
                }
            };
            let member = &mut self.members[index];
            if subscribe {
                member.subscriptions.insert(track_sid.clone());
            } else {
                member.subscriptions.remove(track_sid);
            }
            push(&mut out, member, command);
        }
        out
    }

    /// A published track's media ended: unpublishes it (the publisher gets
    /// `track_unpublished`, the others an update) and stops forwarding it to everybody.
    pub fn unpublish_track(&mut self, session: SessionId, track_sid: &str) -> Outbox {
        let mut out = Outbox::new();
        let Some(index) = self.index(session) else {
            return out;
        };
        let member = &mut self.members[index];
        if member.published.remove(track_sid).is_none() {
            return out;
        }
        member.info.tracks.retain(|t| t.sid != track_sid);
        member.info.version += 1;
        push(
            &mut out,
            member,
            SessionCommand::Signal(Box::new(Response::TrackUnpublished(
                lk::TrackUnpublishedResponse {
                    track_sid: track_sid.to_owned(),
                },
            ))),
        );
        let participant = member.info.clone();
        self.broadcast_update(&participant, &mut out);
        for other in self.members.iter_mut().filter(|m| m.session != session) {
            other.subscriptions.remove(track_sid);
            push(
                &mut out,
                other,
                SessionCommand::Unsubscribe {
                    track_sid: track_sid.to_owned(),
                },
            );
        }
        out
    }

    /// Delivers a data packet from `sender` to everybody else in the room, or only to
    /// `destinations` (identities) when that list is not empty. Nothing from a session that
    /// is no longer in the room.
    pub fn route_data(
        &self,
        sender: SessionId,
        destinations: &[String],
        reliable: bool,
        payload: &Bytes,
    ) -> Outbox {
        let mut out = Outbox::new();
        if !self.contains(sender) {
            return out;
        }
        for member in self.members.iter().filter(|m| m.session != sender) {
            if destinations.is_empty() || destinations.contains(&member.info.identity) {
                push(
                    &mut out,
                    member,
                    SessionCommand::Data {
                        reliable,
                        payload: payload.clone(),
                    },
                );
            }
        }
        out
    }

    /// Records a participant's current audio level (0..=1) and sends `speakers_changed` to
    /// the whole room, speaker included, when [`SpeakerState::observe`] says so.
    pub fn audio_level(&mut self, session: SessionId, level: f32) -> Outbox {
        let mut out = Outbox::new();
        let Some(index) = self.index(session) else {
            return out;
        };
        let member = &mut self.members[index];
        if let Some(change) = member.speaker.observe(level) {
            let sid = member.info.sid.clone();
            self.broadcast_speaker(&sid, change.level, change.active, &mut out);
        }
        out
    }

    fn broadcast_speaker(&self, sid: &str, level: f32, active: bool, out: &mut Outbox) {
        let update = Response::SpeakersChanged(lk::SpeakersChanged {
            speakers: vec![lk::SpeakerInfo {
                sid: sid.to_owned(),
                level,
                active,
            }],
        });
        for member in &self.members {
            push(
                out,
                member,
                SessionCommand::Signal(Box::new(update.clone())),
            );
        }
    }

    /// Records the loss of one of a participant's published tracks (`None`: the track
    /// ended) and sends `connection_quality` to the whole room when the participant's
    /// quality (that of its worst track) changes.
    pub fn track_loss(&mut self, session: SessionId, track_sid: &str, loss: Option<f64>) -> Outbox {
        let mut out = Outbox::new();
        let Some(index) = self.index(session) else {
            return out;
        };
        let member = &mut self.members[index];
        let Some((quality, score)) = member.quality.record(track_sid, loss) else {
            return out;
        };
        let update = Response::ConnectionQuality(lk::ConnectionQualityUpdate {
            updates: vec![lk::ConnectionQualityInfo {
                participant_sid: member.info.sid.clone(),
                quality: quality as i32,
                score,
            }],
        });
        for member in &self.members {
            push(
                &mut out,
                member,
                SessionCommand::Signal(Box::new(update.clone())),
            );
        }
        out
    }

    fn qualities(&self) -> Vec<lk::ConnectionQualityInfo> {
        self.members
            .iter()
            .filter_map(|m| {
                let (quality, score) = m.quality.announced()?;
                Some(lk::ConnectionQualityInfo {
                    participant_sid: m.info.sid.clone(),
                    quality: quality as i32,
                    score,
                })
            })
            .collect()
    }

    /// `session`'s command queue overflowed: a command to it was lost. It gets nothing more
    /// until it resumes ([`Self::resume`] then hands it the full state). Returns false if
    /// it is not in the room or was already marked.
    pub fn overflowed(&mut self, session: SessionId) -> bool {
        match self.index(session) {
            Some(index) if !self.members[index].needs_resync => {
                self.members[index].needs_resync = true;
                true
            }
            _ => false,
        }
    }

    /// `session`'s client resumed: the room and everybody in it, and, if commands to it were
    /// lost, everything it must restore. Deliveries to it start again. `None` when it is no
    /// longer in the room (replaced by a newer join, or gone).
    pub fn resume(&mut self, session: SessionId) -> Option<ResumeSnapshot> {
        let index = self.index(session)?;
        let resync = std::mem::take(&mut self.members[index].needs_resync).then(|| Resync {
            subscriptions: self.subscriptions_of(index),
            speakers: self
                .members
                .iter()
                .map(|m| lk::SpeakerInfo {
                    sid: m.info.sid.clone(),
                    level: m.speaker.level(),
                    active: m.speaker.is_speaking(),
                })
                .collect(),
            qualities: self.qualities(),
        });
        Some(ResumeSnapshot {
            room: self.to_proto(),
            participants: self.members.iter().map(|m| m.info.clone()).collect(),
            resync,
        })
    }

    fn subscriptions_of(&self, index: usize) -> Vec<Forward> {
        let member = &self.members[index];
        self.members
            .iter()
            .filter(|m| m.session != member.session)
            .flat_map(|m| {
                m.published
                    .iter()
                    .filter(|(sid, _)| member.subscriptions.contains(*sid))
                    .map(|(sid, track)| Forward {
                        track: track.clone(),
                        track_sid: sid.clone(),
                        stream_id: stream_id(&m.info.sid, sid),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::MediaKind;

    const TIMEOUT: Duration = Duration::from_secs(5);

    /// Commands expected in a table row: (session, summary line).
    type Expected = &'static [(u64, &'static str)];
    /// Pending `add_track`s: (cid, sid, video).
    type Pending = &'static [(&'static str, &'static str, bool)];

    fn info(identity: &str, can_subscribe: bool) -> lk::ParticipantInfo {
        lk::ParticipantInfo {
            sid: format!("PA_{identity}"),
            identity: identity.to_owned(),
            permission: Some(lk::ParticipantPermission {
                can_subscribe,
                can_publish: true,
                can_publish_data: true,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn media(kind: MediaKind) -> PublishedTrack {
        let (track, _feeder) = PublishedTrack::new(kind, "audio/opus".into(), 48_000, "t".into());
        track
    }

    fn track_info(sid: &str, video: bool) -> lk::TrackInfo {
        lk::TrackInfo {
            sid: sid.to_owned(),
            r#type: if video {
                lk::TrackType::Video
            } else {
                lk::TrackType::Audio
            } as i32,
            ..Default::default()
        }
    }

    fn s(id: u64) -> SessionId {
        SessionId(id)
    }

    /// One line per command, to compare outboxes in tables.
    fn summary(out: &Outbox) -> Vec<(u64, String)> {
        out.iter()
            .map(|(id, command)| {
                let text = match command {
                    SessionCommand::Signal(response) => match response.as_ref() {
                        Response::Update(update) => {
                            let p = &update.participants[0];
                            let gone = p.state == lk::participant_info::State::Disconnected as i32;
                            let muted = p.tracks.iter().any(|t| t.muted);
                            format!(
                                "update {}{}{}",
                                p.identity,
                                if gone { " gone" } else { "" },
                                if muted { " muted" } else { "" }
                            )
                        }
                        Response::SpeakersChanged(changed) => {
                            let sp = &changed.speakers[0];
                            format!("speaker {} {} {}", sp.sid, sp.active, sp.level)
                        }
                        Response::ConnectionQuality(update) => {
                            let q = &update.updates[0];
                            format!("quality {} {}", q.participant_sid, q.quality)
                        }
                        Response::TrackUnpublished(gone) => {
                            format!("unpublished {}", gone.track_sid)
                        }
                        other => format!("{other:?}"),
                    },
                    SessionCommand::Subscribe(forward) => {
                        format!("subscribe {} {}", forward.track_sid, forward.stream_id)
                    }
                    SessionCommand::Unsubscribe { track_sid } => format!("unsubscribe {track_sid}"),
                    SessionCommand::Data { payload, .. } => {
                        format!("data {}", String::from_utf8_lossy(payload))
                    }
                    SessionCommand::Evict(reason) => format!("evict {reason:?}"),
                    SessionCommand::Resume(_) => "resume".to_owned(),
                };
                (id.0, text)
            })
            .collect()
    }

    fn lines(expected: &[(u64, &str)]) -> Vec<(u64, String)> {
        expected
            .iter()
            .map(|(id, t)| (*id, (*t).to_owned()))
            .collect()
    }

    fn room() -> RoomState {
        RoomState::new("RM_t".into(), "room".into(), 0, TIMEOUT, Instant::now())
    }

    /// A room with `identities` joined as sessions 1, 2, …, all auto-subscribing.
    fn room_with(identities: &[&str]) -> RoomState {
        let mut room = room();
        for (n, identity) in identities.iter().enumerate() {
            room.join(info(identity, true), s(n as u64 + 1), true);
        }
        room
    }

    /// `session` publishes an audio track `TR_x`, announced with cid `c`.
    fn publish(room: &mut RoomState, session: SessionId, sid: &str) -> Outbox {
        room.add_pending_track(session, sid, track_info(sid, false));
        let (published, out) = room.publish_track(session, sid, false, media(MediaKind::Audio));
        assert_eq!(published.map(|t| t.sid), Some(sid.to_owned()));
        out
    }

    #[test]
    fn join_tells_the_others_and_gives_the_newcomer_the_room() {
        // (identity, commands the join returns, others the newcomer learns of)
        let table: &[(&str, Expected, &[&str])] = &[
            ("a", &[], &[]),
            ("b", &[(1, "update b")], &["a"]),
            ("c", &[(1, "update c"), (2, "update c")], &["a", "b"]),
        ];
        let mut room = room();
        for (n, &(identity, expected, others)) in table.iter().enumerate() {
            let (snapshot, out) = room.join(info(identity, true), s(n as u64 + 1), true);
            assert_eq!(summary(&out), lines(expected), "join of {identity}");
            let known: Vec<&str> = snapshot
                .others
                .iter()
                .map(|p| p.identity.as_str())
                .collect();
            assert_eq!(known, others, "join of {identity}");
            assert_eq!(snapshot.room.num_participants, n as u32 + 1);
            assert_eq!(snapshot.room.name, "room");
        }
        assert_eq!(room.identities(), ["a", "b", "c"]);
    }

    #[test]
    fn a_duplicate_identity_evicts_the_earlier_connection_which_can_no_longer_act() {
        let mut room = room_with(&["a", "b"]);
        publish(&mut room, s(1), "TR_a");
        let (snapshot, out) = room.join(info("a", true), s(3), true);
        assert_eq!(
            summary(&out),
            lines(&[
                (1, "evict DuplicateIdentity"),
                (2, "update a gone"),
                (2, "unsubscribe TR_a"),
                (2, "update a"),
            ])
        );
        assert_eq!(snapshot.others.len(), 1, "only b");
        assert_eq!(room.session_of("a"), Some(s(3)));
        // The evicted session's requests change nothing, and its leave does not remove a.
        assert!(room.update_participant(s(1), |_| {}).is_none());
        assert!(room.audio_level(s(1), 0.5).is_empty());
        assert!(
            room.route_data(s(1), &[], true, &Bytes::from_static(b"x"))
                .is_empty()
        );
        assert!(room.leave(s(1), Instant::now()).is_empty());
        assert_eq!(room.identities(), ["b", "a"]);
    }

    #[test]
    fn publishing_subscribes_those_who_auto_subscribe_and_may() {
        // (subscriber auto-subscribes, subscriber may subscribe, subscribe command to it)
        let table = [
            (true, true, true),
            (false, true, false),
            (true, false, false),
        ];
        for (auto, may, subscribed) in table {
            let mut room = room();
            room.join(info("pub", true), s(1), true);
            room.join(info("sub", may), s(2), auto);
            let out = publish(&mut room, s(1), "TR_p");
            let mut expected = vec![(2, "update pub")];
            if subscribed {
                expected.push((2, "subscribe TR_p PA_pub|TR_p"));
            }
            assert_eq!(summary(&out), lines(&expected), "auto {auto} may {may}");
            // A later joiner with the same settings gets the track in its snapshot or not.
            let (snapshot, _) = room.join(info("late", may), s(3), auto);
            assert_eq!(
                snapshot.tracks.len(),
                usize::from(subscribed),
                "late joiner"
            );
            assert!(snapshot.others[0].is_publisher);
        }
    }

    #[test]
    fn media_matches_its_add_track_by_cid_else_by_kind() {
        // (pending (cid, sid, video), media (cid, video), published sid)
        let table: &[(Pending, (&str, bool), Option<&str>)] = &[
            (&[("c1", "TR_1", false)], ("c1", false), Some("TR_1")),
            (&[("c1", "TR_1", false)], ("msid", false), Some("TR_1")),
            (&[("c1", "TR_1", false)], ("msid", true), None),
            (
                &[("c1", "TR_1", false), ("c2", "TR_2", true)],
                ("msid", true),
                Some("TR_2"),
            ),
            (&[], ("c1", false), None),
        ];
        for (pending, (cid, video), expected) in table {
            let mut room = room_with(&["a"]);
            for (cid, sid, video) in pending.iter() {
                room.add_pending_track(s(1), cid, track_info(sid, *video));
            }
            let kind = if *video {
                MediaKind::Video
            } else {
                MediaKind::Audio
            };
            let (published, _) = room.publish_track(s(1), cid, *video, media(kind));
            assert_eq!(
                published.map(|t| t.sid).as_deref(),
                *expected,
                "{pending:?} {cid}"
            );
        }
    }

    #[test]
    fn subscription_requests_follow_permission_and_known_tracks() {
        // (requester may subscribe, subscribe?, sids asked, commands to the requester)
        let table: &[(bool, bool, &[&str], Expected)] = &[
            (true, true, &["TR_a"], &[(2, "subscribe TR_a PA_a|TR_a")]),
            (true, false, &["TR_a"], &[(2, "unsubscribe TR_a")]),
            (false, true, &["TR_a"], &[]),
            (false, false, &["TR_a"], &[(2, "unsubscribe TR_a")]),
            (
                true,
                true,
                &["TR_unknown", "TR_a"],
                &[(2, "subscribe TR_a PA_a|TR_a")],
            ),
            (true, true, &["TR_b"], &[]), // its own track
        ];
        for &(may, subscribe, sids, expected) in table {
            let mut room = room();
            room.join(info("a", true), s(1), false);
            room.join(info("b", may), s(2), false);
            publish(&mut room, s(1), "TR_a");
            publish(&mut room, s(2), "TR_b");
            let sids: Vec<String> = sids.iter().map(|t| (*t).to_owned()).collect();
            let out = room.set_subscription(s(2), &sids, subscribe);
            assert_eq!(
                summary(&out),
                lines(expected),
                "may {may} subscribe {subscribe} {sids:?}"
            );
        }
    }

    #[test]
    fn unpublishing_and_leaving_stop_forwarding() {
        let mut room = room_with(&["a", "b"]);
        publish(&mut room, s(1), "TR_a");
        let out = room.unpublish_track(s(1), "TR_a");
        assert_eq!(
            summary(&out),
            lines(&[
                (1, "unpublished TR_a"),
                (2, "update a"),
                (2, "unsubscribe TR_a")
            ])
        );
        assert!(room.unpublish_track(s(1), "TR_a").is_empty(), "only once");
        publish(&mut room, s(1), "TR_a2");
        room.audio_level(s(1), 0.5);
        let out = room.leave(s(1), Instant::now());
        assert_eq!(
            summary(&out),
            lines(&[
                (2, "speaker PA_a false 0"),
                (2, "update a gone"),
                (2, "unsubscribe TR_a2")
            ])
        );
    }

    #[test]
    fn mute_updates_the_track_and_silences_the_speaker() {
        let mut room = room_with(&["a", "b"]);
        publish(&mut room, s(1), "TR_a");
        room.audio_level(s(1), 0.5);
        // (muted, commands)
        let table: &[(bool, &[(u64, &str)])] = &[
            (
                true,
                &[
                    (2, "update a muted"),
                    (1, "speaker PA_a false 0"),
                    (2, "speaker PA_a false 0"),
                ],
            ),
            (true, &[(2, "update a muted")]), // already silent
            (false, &[(2, "update a")]),
        ];
        for &(muted, expected) in table {
            let out = room.mute(s(1), "TR_a", muted);
            assert_eq!(summary(&out), lines(expected), "muted {muted}");
        }
    }

    #[test]
    fn speakers_are_announced_to_the_whole_room_with_hysteresis() {
        let mut room = room_with(&["a", "b"]);
        // (level, commands)
        let table: &[(f32, &[(u64, &str)])] = &[
            (0.01, &[]),
            (
                0.5,
                &[(1, "speaker PA_a true 0.5"), (2, "speaker PA_a true 0.5")],
            ),
            (0.55, &[]),
            (
                0.7,
                &[(1, "speaker PA_a true 0.7"), (2, "speaker PA_a true 0.7")],
            ),
            (
                0.0,
                &[(1, "speaker PA_a false 0"), (2, "speaker PA_a false 0")],
            ),
        ];
        for &(level, expected) in table {
            assert_eq!(
                summary(&room.audio_level(s(1), level)),
                lines(expected),
                "level {level}"
            );
        }
    }

    #[test]
    fn quality_changes_go_to_everybody_and_newcomers_get_the_last_announced() {
        let poor = lk::ConnectionQuality::Poor as i32;
        let excellent = lk::ConnectionQuality::Excellent as i32;
        let mut room = room_with(&["a", "b"]);
        // (loss of TR_a, quality announced to both)
        let table = [
            (Some(0.3), Some(poor)),
            (Some(0.4), None),
            (None, Some(excellent)), // the track ended
            (Some(0.3), Some(poor)),
        ];
        for (loss, announced) in table {
            let expected: Vec<(u64, String)> = announced
                .map(|q| {
                    vec![
                        (1, format!("quality PA_a {q}")),
                        (2, format!("quality PA_a {q}")),
                    ]
                })
                .unwrap_or_default();
            let out = room.track_loss(s(1), "TR_a", loss);
            assert_eq!(summary(&out), expected, "{loss:?}");
        }
        let (snapshot, _) = room.join(info("c", true), s(3), true);
        assert_eq!(snapshot.qualities.len(), 1, "only announced qualities");
        assert_eq!(snapshot.qualities[0].participant_sid, "PA_a");
        assert_eq!(snapshot.qualities[0].quality, poor);
    }

    #[test]
    fn data_goes_to_everybody_else_or_to_the_destinations() {
        let mut room = room_with(&["a", "b", "c"]);
        let payload = Bytes::from_static(b"hi");
        // (destinations, receivers)
        let table: &[(&[&str], &[u64])] = &[(&[], &[2, 3]), (&["c"], &[3]), (&["a", "zed"], &[])];
        for &(destinations, receivers) in table {
            let destinations: Vec<String> = destinations.iter().map(|d| (*d).to_owned()).collect();
            let out = room.route_data(s(1), &destinations, true, &payload);
            let got: Vec<u64> = out.iter().map(|(id, _)| id.0).collect();
            assert_eq!(got, receivers, "{destinations:?}");
        }
        room.leave(s(2), Instant::now());
        assert_eq!(room.route_data(s(1), &[], true, &payload).len(), 1);
    }

    #[test]
    fn an_empty_room_closes_at_a_deadline_that_a_join_cancels() {
        let start = Instant::now();
        let mut room = room_with(&["a", "b"]);
        assert_eq!(room.close_deadline(), None);
        room.leave(s(1), start);
        assert_eq!(room.close_deadline(), None, "b is still there");
        let emptied = start + Duration::from_secs(1);
        room.leave(s(2), emptied);
        assert_eq!(room.close_deadline(), Some(emptied + TIMEOUT));
        room.join(info("c", true), s(3), true);
        assert_eq!(room.close_deadline(), None);
    }

    #[test]
    fn a_session_that_overflowed_gets_nothing_until_it_resumes_with_the_full_state() {
        let mut room = room_with(&["a", "b"]);
        publish(&mut room, s(1), "TR_a");
        assert!(room.overflowed(s(2)));
        assert!(!room.overflowed(s(2)), "marked once");
        // While b awaits its resync, nothing is queued for it (but its state moves on).
        publish(&mut room, s(1), "TR_a2");
        room.audio_level(s(1), 0.5);
        room.track_loss(s(1), "TR_a", Some(0.3));
        assert!(
            summary(&room.unpublish_track(s(1), "TR_a"))
                .iter()
                .all(|(id, _)| *id == 1)
        );
        let (_, out) = room.join(info("c", true), s(3), true);
        assert_eq!(summary(&out), lines(&[(1, "update c")]));
        assert!(
            room.route_data(s(1), &[], false, &Bytes::new())
                .iter()
                .all(|(id, _)| id.0 == 3)
        );
        // A resume brings everything back.
        let snapshot = room.resume(s(2)).expect("b is in the room");
        let participants: Vec<&str> = snapshot
            .participants
            .iter()
            .map(|p| p.identity.as_str())
            .collect();
        assert_eq!(participants, ["a", "b", "c"]);
        let resync = snapshot.resync.expect("b lost commands");
        let forwarded: Vec<&str> = resync
            .subscriptions
            .iter()
            .map(|f| f.track_sid.as_str())
            .collect();
        assert_eq!(
            forwarded,
            ["TR_a2"],
            "the unpublished track is gone, the new one wanted"
        );
        let speaking: Vec<(&str, bool)> = resync
            .speakers
            .iter()
            .map(|sp| (sp.sid.as_str(), sp.active))
            .collect();
        assert_eq!(speaking, [("PA_a", true), ("PA_b", false), ("PA_c", false)]);
        assert_eq!(resync.qualities.len(), 1);
        // Deliveries start again, and a second resume has nothing to restore.
        assert_eq!(summary(&room.audio_level(s(1), 0.0)).len(), 3);
        assert!(room.resume(s(2)).expect("still in").resync.is_none());
    }

    #[test]
    fn an_eviction_is_never_withheld() {
        let mut room = room_with(&["a"]);
        room.overflowed(s(1));
        let (_, out) = room.join(info("a", true), s(2), true);
        assert_eq!(summary(&out), lines(&[(1, "evict DuplicateIdentity")]));
        let out = room.evict_all(lk::DisconnectReason::ServerShutdown);
        assert_eq!(summary(&out), lines(&[(2, "evict ServerShutdown")]));
    }
}
