//! Snapshots of the participants in a room.

use super::track::TrackInfo;
use crate::signal::event::ParticipantSnapshot;

/// Another participant, as of the last update from the server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RemoteParticipant {
    /// Server id (`PA_…`); changes when the participant rejoins.
    pub sid: String,
    /// Unique identity in the room.
    pub identity: String,
    /// Display name (may be empty).
    pub name: String,
    /// Application metadata.
    pub metadata: String,
    /// Published tracks.
    pub tracks: Vec<TrackInfo>,
}

impl RemoteParticipant {
    pub(crate) fn from_snapshot(snapshot: &ParticipantSnapshot) -> Self {
        Self {
            sid: snapshot.sid.to_string(),
            identity: snapshot.identity.to_string(),
            name: snapshot.name.clone(),
            metadata: snapshot.metadata.clone(),
            tracks: snapshot.tracks.clone(),
        }
    }

    /// The display name, or the identity when there is none.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.identity
        } else {
            &self.name
        }
    }
}

/// Ourselves in the room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct LocalParticipant {
    /// Server id (`PA_…`); a new one after a full reconnect.
    pub sid: String,
    /// Our identity (from the token).
    pub identity: String,
    /// Our display name.
    pub name: String,
    /// Our published tracks.
    pub tracks: Vec<TrackInfo>,
}
