//! The remote participants as the server describes them, and the events a
//! `ParticipantUpdate` implies. Pure (no I/O), so the diffing is unit-tested directly.

use std::collections::BTreeMap;

use super::events::RoomEvent;
use super::participant::RemoteParticipant;
use super::track::TrackInfo;
use crate::ids::{Identity, ParticipantSid};
use crate::signal::event::ParticipantSnapshot;

/// Remote participants keyed by identity (a participant that rejoins keeps its identity and
/// gets a new sid, which the official clients also treat as the same participant).
#[derive(Debug, Default)]
pub(crate) struct Roster {
    participants: BTreeMap<Identity, (RemoteParticipant, u32)>,
}

impl Roster {
    /// Everybody, ordered by identity.
    pub(crate) fn participants(&self) -> Vec<RemoteParticipant> {
        self.participants.values().map(|(p, _)| p.clone()).collect()
    }

    /// Finds a participant by sid.
    pub(crate) fn by_sid(&self, sid: &ParticipantSid) -> Option<&RemoteParticipant> {
        self.participants
            .values()
            .map(|(p, _)| p)
            .find(|p| *sid == *p.sid)
    }

    /// Empties the roster, returning who was in it (for a full reconnect).
    pub(crate) fn clear(&mut self) -> Vec<RemoteParticipant> {
        std::mem::take(&mut self.participants)
            .into_values()
            .map(|(p, _)| p)
            .collect()
    }

    /// Fills the roster from a JoinResponse without events (they are announced separately).
    pub(crate) fn reset(&mut self, others: &[ParticipantSnapshot]) {
        self.participants.clear();
        for info in others {
            self.participants.insert(
                info.identity.clone(),
                (RemoteParticipant::from_snapshot(info), info.version),
            );
        }
    }

    /// Applies one participant's snapshot and returns the events it implies.
    pub(crate) fn apply(&mut self, info: &ParticipantSnapshot) -> Vec<RoomEvent> {
        let gone = info.left;
        let Some((current, version)) = self.participants.get(&info.identity) else {
            if gone {
                return Vec::new();
            }
            let participant = RemoteParticipant::from_snapshot(info);
            let mut events = vec![RoomEvent::ParticipantConnected(participant.clone())];
            events.extend(
                participant
                    .tracks
                    .iter()
                    .map(|track| RoomEvent::TrackPublished {
                        participant_identity: participant.identity.clone(),
                        track: track.clone(),
                    }),
            );
            self.participants
                .insert(info.identity.clone(), (participant, info.version));
            return events;
        };
        // A stale snapshot of the same session: keep what we have.
        if info.sid == *current.sid && info.version != 0 && info.version < *version {
            return Vec::new();
        }
        if gone {
            // An old session's disconnect arriving after its successor joined is not a leave.
            if info.sid != *current.sid {
                return Vec::new();
            }
            let Some((participant, _)) = self.participants.remove(&info.identity) else {
                return Vec::new();
            };
            let mut events = unpublished(&participant.identity, &participant.tracks);
            events.push(RoomEvent::ParticipantDisconnected(participant));
            return events;
        }
        let updated = RemoteParticipant::from_snapshot(info);
        let events = track_changes(&updated.identity, &current.tracks, &updated.tracks);
        self.participants
            .insert(info.identity.clone(), (updated, info.version));
        events
    }
}

fn unpublished(identity: &str, tracks: &[TrackInfo]) -> Vec<RoomEvent> {
    tracks
        .iter()
        .map(|track| RoomEvent::TrackUnpublished {
            participant_identity: identity.to_owned(),
            track: track.clone(),
        })
        .collect()
}

/// Events for the difference between two track lists of one participant.
fn track_changes(identity: &str, before: &[TrackInfo], after: &[TrackInfo]) -> Vec<RoomEvent> {
    let mut events = Vec::new();
    let removed: Vec<TrackInfo> = before
        .iter()
        .filter(|old| !after.iter().any(|new| new.sid == old.sid))
        .cloned()
        .collect();
    events.extend(unpublished(identity, &removed));
    for track in after {
        match before.iter().find(|old| old.sid == track.sid) {
            None => events.push(RoomEvent::TrackPublished {
                participant_identity: identity.to_owned(),
                track: track.clone(),
            }),
            Some(old) if old.muted != track.muted => events.push(RoomEvent::mute_change(
                identity.to_owned(),
                track.sid.clone(),
                track.muted,
            )),
            Some(_) => {}
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use livekit_protocol as lk;

    use super::*;
    use crate::signal::proto;

    fn track(sid: &str, muted: bool) -> lk::TrackInfo {
        lk::TrackInfo {
            sid: sid.into(),
            r#type: lk::TrackType::Audio as i32,
            muted,
            ..Default::default()
        }
    }

    fn info(
        identity: &str,
        sid: &str,
        version: u32,
        tracks: Vec<lk::TrackInfo>,
    ) -> ParticipantSnapshot {
        proto::participant(&lk::ParticipantInfo {
            identity: identity.into(),
            sid: sid.into(),
            version,
            tracks,
            state: lk::participant_info::State::Active as i32,
            ..Default::default()
        })
    }

    fn names(events: &[RoomEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                RoomEvent::ParticipantConnected(p) => format!("connected {}", p.identity),
                RoomEvent::ParticipantDisconnected(p) => format!("disconnected {}", p.identity),
                RoomEvent::TrackPublished { track, .. } => format!("published {}", track.sid),
                RoomEvent::TrackUnpublished { track, .. } => format!("unpublished {}", track.sid),
                RoomEvent::TrackMuted { track_sid, .. } => format!("muted {track_sid}"),
                RoomEvent::TrackUnmuted { track_sid, .. } => format!("unmuted {track_sid}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn join_publish_mute_unpublish_leave() {
        let mut roster = Roster::default();
        assert_eq!(
            names(&roster.apply(&info("bob", "PA_1", 1, vec![]))),
            ["connected bob"]
        );
        assert_eq!(
            names(&roster.apply(&info("bob", "PA_1", 2, vec![track("TR_a", false)]))),
            ["published TR_a"]
        );
        assert_eq!(
            names(&roster.apply(&info("bob", "PA_1", 3, vec![track("TR_a", true)]))),
            ["muted TR_a"]
        );
        // A stale snapshot changes nothing.
        assert!(
            roster
                .apply(&info("bob", "PA_1", 2, vec![track("TR_a", false)]))
                .is_empty()
        );
        assert_eq!(
            names(&roster.apply(&info("bob", "PA_1", 4, vec![]))),
            ["unpublished TR_a"]
        );
        let mut gone = info("bob", "PA_1", 5, vec![]);
        gone.left = true;
        assert_eq!(names(&roster.apply(&gone)), ["disconnected bob"]);
        assert!(roster.participants().is_empty());
    }

    #[test]
    fn a_rejoin_under_the_same_identity_is_not_a_leave() {
        let mut roster = Roster::default();
        roster.apply(&info("bob", "PA_1", 3, vec![track("TR_a", false)]));
        let events = roster.apply(&info("bob", "PA_2", 1, vec![track("TR_b", false)]));
        assert_eq!(names(&events), ["unpublished TR_a", "published TR_b"]);
        let mut old_gone = info("bob", "PA_1", 4, vec![]);
        old_gone.left = true;
        assert!(roster.apply(&old_gone).is_empty());
        assert_eq!(
            roster.by_sid(&"PA_2".into()).map(|p| p.identity.as_str()),
            Some("bob")
        );
    }
}
