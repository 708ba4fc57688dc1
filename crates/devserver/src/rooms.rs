//! The room registry: who is in which room, what they publish, and fan-out of updates.
//!
//! State sits behind one `std::sync::Mutex`, held only for short, synchronous bookkeeping
//! (never across `.await`). Effects on other participants go out as [`SessionCommand`]s on
//! each session's bounded channel; the session actor owns its socket and peer connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use convene_room::clock::unix_now_millis as now_ms;
use livekit_protocol as lk;
use tokio::sync::mpsc;

use crate::ids;
use crate::media::PublishedTrack;
use crate::quality::{quality_for_loss, score_for_loss};
use crate::session::Resumption;
use crate::wire::{self, Response};

/// Capacity of each session's command channel: signaling is low-rate; a client that lets
/// this many messages pile up is stuck, and further messages to it are dropped (logged).
pub const SESSION_CHANNEL_CAPACITY: usize = 256;

/// Audio level (0..=1) from which a participant counts as speaking: -35 dBov, the default
/// `active_level` of livekit-server.
pub const SPEAKING_LEVEL: f32 = 0.0178;
/// Change of level that is worth a new `speakers_changed` while somebody keeps speaking.
const LEVEL_CHANGE_TO_ANNOUNCE: f32 = 0.1;

fn member_level(speaking: bool, level: f32) -> f32 {
    if speaking { level.clamp(0.0, 1.0) } else { 0.0 }
}

/// What the registry asks a participant's session to do.
#[derive(Debug)]
pub enum SessionCommand {
    /// Send this message to the client (boxed: responses are large, other commands small).
    Signal(Box<Response>),
    /// Forward `track` to the client as `track_sid` in stream `stream_id` (`PA_x|TR_y`).
    Subscribe {
        /// The published track.
        track: PublishedTrack,
        /// Its `TR_` sid.
        track_sid: String,
        /// LiveKit's stream id: publisher sid `|` track sid.
        stream_id: String,
    },
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
    Evict(lk::DisconnectReason),
    /// The client resumed (`/rtc?reconnect=1`): take over this new signal connection
    /// (boxed: it carries the WebSocket).
    Resume(Box<Resumption>),
}

/// A session's handle in the registry.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// Unique per connection, so a replaced session cannot remove its successor.
    pub id: u64,
    /// The session's command channel.
    pub commands: mpsc::Sender<SessionCommand>,
}

struct Member {
    info: lk::ParticipantInfo,
    /// Whether the last `speakers_changed` sent for this participant said "speaking".
    speaking: bool,
    /// The audio level last announced (0..=1).
    announced_level: f32,
    /// The latest loss share of each published track that is sending, by track sid.
    track_loss: HashMap<String, f64>,
    /// The connection quality last announced.
    announced_quality: Option<lk::ConnectionQuality>,
    session: SessionHandle,
    /// Subscribe this participant to new tracks by itself (`auto_subscribe`); when false it
    /// asks with `subscription` requests.
    auto_subscribe: bool,
    published: HashMap<String, PublishedTrack>,
    pending: HashMap<String, lk::TrackInfo>,
}

struct RoomState {
    sid: String,
    name: String,
    created_at_ms: i64,
    members: Vec<Member>,
    /// When the last participant left; `None` while somebody is in the room.
    emptied_at: Option<tokio::time::Instant>,
}

/// What a newcomer learns when it joins.
pub struct JoinSnapshot {
    /// The room (for the JoinResponse).
    pub room: lk::Room,
    /// Everybody else, with their tracks.
    pub others: Vec<lk::ParticipantInfo>,
    /// Tracks to subscribe the newcomer to: (track, track sid, stream id).
    pub tracks: Vec<(PublishedTrack, String, String)>,
    /// The others' connection quality as last announced to the room (sent right after the
    /// JoinResponse, so a newcomer does not wait for the next change).
    pub qualities: Vec<lk::ConnectionQualityInfo>,
}

/// What a resuming participant is told: the room and everybody in it, itself included.
pub struct ResumeSnapshot {
    /// The room (for `room_update`).
    pub room: lk::Room,
    /// Every participant of the room, the resuming one included (for `update`).
    pub participants: Vec<lk::ParticipantInfo>,
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

/// Every room of one server.
pub struct Rooms {
    state: Mutex<HashMap<String, RoomState>>,
    empty_timeout: Duration,
}

fn send(member: &Member, command: SessionCommand) {
    if let Err(error) = member.session.commands.try_send(command) {
        tracing::warn!(identity = %member.info.identity, %error, "session not keeping up; message dropped");
    }
}

fn broadcast_update(room: &RoomState, info: &lk::ParticipantInfo, except: &str) {
    for member in room.members.iter().filter(|m| m.info.identity != except) {
        send(
            member,
            SessionCommand::Signal(Box::new(wire::participant_update(vec![info.clone()]))),
        );
    }
}

fn room_proto(room: &RoomState, empty_timeout: Duration) -> lk::Room {
    lk::Room {
        sid: room.sid.clone(),
        name: room.name.clone(),
        empty_timeout: empty_timeout.as_secs() as u32,
        departure_timeout: empty_timeout.as_secs() as u32,
        creation_time: room.created_at_ms / 1000,
        creation_time_ms: room.created_at_ms,
        num_participants: room.members.len() as u32,
        num_publishers: room.members.iter().filter(|m| m.info.is_publisher).count() as u32,
        ..Default::default()
    }
}

impl Rooms {
    /// An empty registry; rooms left empty close after `empty_timeout`.
    pub fn new(empty_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(HashMap::new()),
            empty_timeout,
        })
    }

    /// Runs `act` on the room and the index of `identity` in it, under the lock; `None` when
    /// the room or the participant is gone.
    fn with_member<T>(
        &self,
        room_name: &str,
        identity: &str,
        act: impl FnOnce(&mut RoomState, usize) -> T,
    ) -> Option<T> {
        let mut rooms = self.lock();
        let room = rooms.get_mut(room_name)?;
        let index = room
            .members
            .iter()
            .position(|m| m.info.identity == identity)?;
        Some(act(room, index))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, RoomState>> {
        // A panic while holding the lock leaves plain bookkeeping data; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a participant, creating the room on first join. An earlier participant with the
    /// same identity is evicted (`DUPLICATE_IDENTITY`) and reported gone to the others.
    pub fn join(
        &self,
        room_name: &str,
        info: lk::ParticipantInfo,
        session: SessionHandle,
        auto_subscribe: bool,
    ) -> JoinSnapshot {
        let mut rooms = self.lock();
        let room = rooms
            .entry(room_name.to_owned())
            .or_insert_with(|| RoomState {
                sid: ids::room_sid(),
                name: room_name.to_owned(),
                created_at_ms: now_ms(),
                members: Vec::new(),
                emptied_at: None,
            });
        if let Some(index) = room
            .members
            .iter()
            .position(|m| m.info.identity == info.identity)
        {
            let previous = room.members.remove(index);
            tracing::info!(identity = %info.identity, room = room_name, "duplicate identity: evicting the earlier session");
            send(
                &previous,
                SessionCommand::Evict(lk::DisconnectReason::DuplicateIdentity),
            );
            Self::announce_departure(room, previous);
        }
        let others = room.members.iter().map(|m| m.info.clone()).collect();
        let tracks = room
            .members
            .iter()
            .flat_map(|m| {
                m.published.iter().map(|(sid, track)| {
                    (
                        track.clone(),
                        sid.clone(),
                        format!("{}|{}", m.info.sid, sid),
                    )
                })
            })
            .collect();
        let qualities = room
            .members
            .iter()
            .filter_map(|m| {
                let quality = m.announced_quality?;
                let worst = m.track_loss.values().copied().fold(0.0, f64::max);
                Some(lk::ConnectionQualityInfo {
                    participant_sid: m.info.sid.clone(),
                    quality: quality as i32,
                    score: score_for_loss(worst),
                })
            })
            .collect();
        broadcast_update(room, &info, &info.identity);
        room.emptied_at = None;
        room.members.push(Member {
            info,
            speaking: false,
            announced_level: 0.0,
            track_loss: HashMap::new(),
            announced_quality: None,
            session,
            auto_subscribe,
            published: HashMap::new(),
            pending: HashMap::new(),
        });
        JoinSnapshot {
            room: room_proto(room, self.empty_timeout),
            others,
            tracks,
            qualities,
        }
    }

    fn announce_departure(room: &RoomState, mut gone: Member) {
        if gone.speaking {
            Self::broadcast_speaker(room, &gone.info.sid, 0.0, false);
        }
        gone.info.state = lk::participant_info::State::Disconnected as i32;
        gone.info.version += 1;
        gone.info.tracks.clear();
        broadcast_update(room, &gone.info, &gone.info.identity);
        for track_sid in gone.published.keys() {
            for member in &room.members {
                send(
                    member,
                    SessionCommand::Unsubscribe {
                        track_sid: track_sid.clone(),
                    },
                );
            }
        }
    }

    /// Removes the participant if `session_id` is still its session; others see it leave.
    /// A room left empty closes after the empty timeout unless somebody joins again.
    pub fn leave(self: &Arc<Self>, room_name: &str, identity: &str, session_id: u64) {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_name) else {
            return;
        };
        let Some(index) = room
            .members
            .iter()
            .position(|m| m.info.identity == identity && m.session.id == session_id)
        else {
            return;
        };
        let gone = room.members.remove(index);
        tracing::info!(identity, room = room_name, "participant left");
        Self::announce_departure(room, gone);
        if room.members.is_empty() {
            room.emptied_at = Some(tokio::time::Instant::now());
            let rooms = Arc::clone(self);
            let room_name = room_name.to_owned();
            let sid = room.sid.clone();
            tokio::spawn(async move {
                tokio::time::sleep(rooms.empty_timeout).await;
                rooms.close_if_empty(&room_name, &sid);
            });
        }
    }

    fn close_if_empty(&self, room_name: &str, sid: &str) {
        let mut rooms = self.lock();
        if rooms.get(room_name).is_some_and(|r| {
            r.sid == sid
                && r.members.is_empty()
                && r.emptied_at
                    .is_some_and(|at| at.elapsed() >= self.empty_timeout)
        }) {
            rooms.remove(room_name);
            tracing::info!(room = room_name, "empty room closed");
        }
    }

    /// Applies `change` to the participant's info, bumps its version and tells the others.
    /// Returns the new info, or `None` if the participant is gone.
    pub fn update_participant(
        &self,
        room_name: &str,
        identity: &str,
        change: impl FnOnce(&mut lk::ParticipantInfo),
    ) -> Option<lk::ParticipantInfo> {
        self.with_member(room_name, identity, |room, index| {
            let member = &mut room.members[index];
            change(&mut member.info);
            member.info.version += 1;
            let info = member.info.clone();
            broadcast_update(room, &info, identity);
            info
        })
    }

    /// Records an `add_track` request; the track is published when its media arrives.
    pub fn add_pending_track(
        &self,
        room_name: &str,
        identity: &str,
        cid: &str,
        track: lk::TrackInfo,
    ) {
        self.with_member(room_name, identity, |room, index| {
            room.members[index].pending.insert(cid.to_owned(), track);
        });
    }

    /// Media for a track arrived: match it to its `add_track` (by the client's track id =
    /// cid, else the oldest pending track of that kind), publish it and subscribe everybody
    /// else who may subscribe. Returns the published track's info.
    pub fn publish_track(
        &self,
        room_name: &str,
        identity: &str,
        client_track_id: &str,
        is_video: bool,
        track: PublishedTrack,
    ) -> Option<lk::TrackInfo> {
        self.with_member(room_name, identity, |room, index| {
            Self::publish_pending(room, index, client_track_id, is_video, track)
        })?
    }

    fn publish_pending(
        room: &mut RoomState,
        index: usize,
        client_track_id: &str,
        is_video: bool,
        track: PublishedTrack,
    ) -> Option<lk::TrackInfo> {
        let member = &mut room.members[index];
        let identity = member.info.identity.clone();
        let video_type = lk::TrackType::Video as i32;
        let cid = if member.pending.contains_key(client_track_id) {
            client_track_id.to_owned()
        } else {
            member
                .pending
                .iter()
                .find(|(_, t)| (t.r#type == video_type) == is_video)
                .map(|(cid, _)| cid.clone())?
        };
        let info = member.pending.remove(&cid)?;
        member.published.insert(info.sid.clone(), track.clone());
        member.info.tracks.push(info.clone());
        member.info.is_publisher = true;
        member.info.version += 1;
        let participant = member.info.clone();
        broadcast_update(room, &participant, &identity);
        for other in room.members.iter().filter(|m| m.info.identity != identity) {
            if other.auto_subscribe
                && other
                    .info
                    .permission
                    .as_ref()
                    .is_some_and(|p| p.can_subscribe)
            {
                send(
                    other,
                    SessionCommand::Subscribe {
                        track: track.clone(),
                        track_sid: info.sid.clone(),
                        stream_id: format!("{}|{}", participant.sid, info.sid),
                    },
                );
            }
        }
        Some(info)
    }

    /// A `subscription` request: subscribes `identity` to (or unsubscribes it from) the
    /// published tracks named; unknown sids are ignored.
    pub fn set_subscription(
        &self,
        room_name: &str,
        identity: &str,
        track_sids: &[String],
        subscribe: bool,
    ) {
        self.with_member(room_name, identity, |room, index| {
            let member = &room.members[index];
            if subscribe
                && !member
                    .info
                    .permission
                    .as_ref()
                    .is_some_and(|p| p.can_subscribe)
            {
                return;
            }
            for track_sid in track_sids {
                let publisher = room
                    .members
                    .iter()
                    .find(|m| m.info.identity != identity && m.published.contains_key(track_sid));
                let Some(publisher) = publisher else {
                    continue;
                };
                let command = if subscribe {
                    SessionCommand::Subscribe {
                        track: publisher.published[track_sid].clone(),
                        track_sid: track_sid.clone(),
                        stream_id: format!("{}|{}", publisher.info.sid, track_sid),
                    }
                } else {
                    SessionCommand::Unsubscribe {
                        track_sid: track_sid.clone(),
                    }
                };
                send(member, command);
            }
        });
    }

    /// A published track's media ended: unpublish it and stop forwarding it to everybody.
    pub fn unpublish_track(&self, room_name: &str, identity: &str, track_sid: &str) {
        self.with_member(room_name, identity, |room, index| {
            Self::unpublish(room, index, track_sid)
        });
    }

    fn unpublish(room: &mut RoomState, index: usize, track_sid: &str) {
        let member = &mut room.members[index];
        let identity = member.info.identity.clone();
        if member.published.remove(track_sid).is_none() {
            return;
        }
        member.info.tracks.retain(|t| t.sid != track_sid);
        member.info.version += 1;
        send(
            member,
            SessionCommand::Signal(Box::new(Response::TrackUnpublished(
                lk::TrackUnpublishedResponse {
                    track_sid: track_sid.to_owned(),
                },
            ))),
        );
        let participant = member.info.clone();
        broadcast_update(room, &participant, &identity);
        for other in room.members.iter().filter(|m| m.info.identity != identity) {
            send(
                other,
                SessionCommand::Unsubscribe {
                    track_sid: track_sid.to_owned(),
                },
            );
        }
    }

    /// Delivers a data packet from `sender` to everybody else in the room, or only to
    /// `destinations` (identities) when that list is not empty.
    pub fn route_data(
        &self,
        room_name: &str,
        sender: &str,
        destinations: &[String],
        reliable: bool,
        payload: Bytes,
    ) {
        let rooms = self.lock();
        let Some(room) = rooms.get(room_name) else {
            return;
        };
        for member in room.members.iter().filter(|m| m.info.identity != sender) {
            if destinations.is_empty() || destinations.contains(&member.info.identity) {
                send(
                    member,
                    SessionCommand::Data {
                        reliable,
                        payload: payload.clone(),
                    },
                );
            }
        }
    }

    /// Records a participant's current audio level (0..=1, from its audio track's RTP
    /// audio-level extension) and sends `speakers_changed` to the whole room, speaker included,
    /// when it starts or stops speaking or its level moves noticeably. Deltas only, as
    /// livekit-server does: clients keep speakers not mentioned.
    pub fn audio_level(&self, room_name: &str, identity: &str, level: f32) {
        self.with_member(room_name, identity, |room, index| {
            Self::announce_level(room, index, level)
        });
    }

    fn announce_level(room: &mut RoomState, index: usize, level: f32) {
        let member = &mut room.members[index];
        let speaking = level >= SPEAKING_LEVEL;
        let moved = (level - member.announced_level).abs() >= LEVEL_CHANGE_TO_ANNOUNCE;
        if speaking == member.speaking && !(speaking && moved) {
            return;
        }
        member.speaking = speaking;
        member.announced_level = if speaking { level } else { 0.0 };
        let sid = member.info.sid.clone();
        Self::broadcast_speaker(room, &sid, member_level(speaking, level), speaking);
    }

    fn broadcast_speaker(room: &RoomState, sid: &str, level: f32, active: bool) {
        let update = Response::SpeakersChanged(lk::SpeakersChanged {
            speakers: vec![lk::SpeakerInfo {
                sid: sid.to_owned(),
                level,
                active,
            }],
        });
        for member in &room.members {
            send(member, SessionCommand::Signal(Box::new(update.clone())));
        }
    }

    /// Records the loss of one of a participant's published tracks (`None`: the track
    /// ended) and sends `connection_quality` to the whole room when the participant's
    /// quality (that of its worst track) changes.
    pub fn track_loss(&self, room_name: &str, identity: &str, track_sid: &str, loss: Option<f64>) {
        self.with_member(room_name, identity, |room, index| {
            let member = &mut room.members[index];
            match loss {
                Some(loss) => member.track_loss.insert(track_sid.to_owned(), loss),
                None => member.track_loss.remove(track_sid),
            };
            let worst = member.track_loss.values().copied().fold(0.0, f64::max);
            let quality = quality_for_loss(worst);
            if member.announced_quality == Some(quality) {
                return;
            }
            member.announced_quality = Some(quality);
            let update = Response::ConnectionQuality(lk::ConnectionQualityUpdate {
                updates: vec![lk::ConnectionQualityInfo {
                    participant_sid: member.info.sid.clone(),
                    quality: quality as i32,
                    score: score_for_loss(worst),
                }],
            });
            for member in &room.members {
                send(member, SessionCommand::Signal(Box::new(update.clone())));
            }
        });
    }

    /// Hands a resuming client's new signal connection to the session of `identity` in
    /// `room_name`, which keeps its peer connections, tracks and subscriptions. Others are not
    /// told anything. Gives the connection back when nobody with that identity is in the room,
    /// or its session cannot take it (ending, or not keeping up).
    pub fn resume(
        &self,
        room_name: &str,
        identity: &str,
        resumption: Box<Resumption>,
    ) -> Result<(), ResumeError> {
        let rooms = self.lock();
        let Some(member) = rooms
            .get(room_name)
            .and_then(|room| room.members.iter().find(|m| m.info.identity == identity))
        else {
            return Err(ResumeError::NoSuchParticipant(resumption));
        };
        match member.session.commands.try_reserve() {
            Ok(permit) => {
                permit.send(SessionCommand::Resume(resumption));
                Ok(())
            }
            Err(_) => Err(ResumeError::SessionUnavailable(resumption)),
        }
    }

    /// The room and all its participants, for `identity` resuming; `None` when it is no
    /// longer in the room (replaced by a newer join, or removed).
    pub fn resume_snapshot(&self, room_name: &str, identity: &str) -> Option<ResumeSnapshot> {
        self.with_member(room_name, identity, |room, _| ResumeSnapshot {
            room: room_proto(room, self.empty_timeout),
            participants: room.members.iter().map(|m| m.info.clone()).collect(),
        })
    }

    /// Tells every participant of every room that the server is going away.
    pub fn evict_all(&self, reason: lk::DisconnectReason) {
        for room in self.lock().values() {
            for member in &room.members {
                send(member, SessionCommand::Evict(reason));
            }
        }
    }

    /// Names of the open rooms and their participant identities (for tests and the CLI).
    pub fn snapshot(&self) -> Vec<(String, Vec<String>)> {
        self.lock()
            .values()
            .map(|r| {
                (
                    r.name.clone(),
                    r.members.iter().map(|m| m.info.identity.clone()).collect(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(
        rooms: &Rooms,
        identity: &str,
        id: u64,
    ) -> (JoinSnapshot, mpsc::Receiver<SessionCommand>) {
        let (commands, received) = mpsc::channel(16);
        let info = lk::ParticipantInfo {
            sid: format!("PA_{identity}"),
            identity: identity.to_owned(),
            ..Default::default()
        };
        let snapshot = rooms.join("room", info, SessionHandle { id, commands }, true);
        (snapshot, received)
    }

    #[tokio::test]
    async fn a_newcomer_learns_the_others_connection_quality_at_once() {
        let rooms = Rooms::new(Duration::from_secs(1));
        let (first, _a) = member(&rooms, "a", 1);
        assert!(first.qualities.is_empty());
        let (_, _b) = member(&rooms, "b", 2);
        // Nothing announced for b yet; a loses 30 % of one track: poor, told to the room.
        rooms.track_loss("room", "a", "TR_a", Some(0.30));
        let (late, _c) = member(&rooms, "c", 3);
        assert_eq!(late.qualities.len(), 1, "only announced qualities");
        let quality = &late.qualities[0];
        assert_eq!(quality.participant_sid, "PA_a");
        assert_eq!(quality.quality, lk::ConnectionQuality::Poor as i32);
    }
}
