//! Everything a [`super::Room`] tells the application, in one enum.

use livekit_protocol as lk;

use super::data::DataMessage;
use super::participant::RemoteParticipant;
use super::track::{RemoteTrack, TrackInfo};

/// The room connection's state, for a status line or banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum ConnectionState {
    /// Joined; media and data flow.
    Connected,
    /// Connection lost; trying to get it back (see [`RoomEvent::Reconnecting`]).
    Reconnecting,
    /// Left or gave up; terminal.
    Disconnected,
}

/// How a reconnection is being attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum ReconnectKind {
    /// Same session, new signaling connection and an ICE restart: nobody notices.
    Resume,
    /// A new session: others see us leave and come back, our tracks are republished.
    Full,
}

/// A participant's connection quality as the server rates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum ConnectionQuality {
    /// Very good.
    Excellent,
    /// Good.
    Good,
    /// Poor.
    Poor,
    /// No media is arriving.
    Lost,
}

impl ConnectionQuality {
    pub(crate) fn from_proto(value: i32) -> Self {
        match lk::ConnectionQuality::try_from(value) {
            Ok(lk::ConnectionQuality::Excellent) => Self::Excellent,
            Ok(lk::ConnectionQuality::Good) => Self::Good,
            Ok(lk::ConnectionQuality::Lost) => Self::Lost,
            _ => Self::Poor,
        }
    }
}

/// Why we are no longer in the room. Safe to show to a user (no tokens).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(tag = "kind", content = "detail", rename_all = "camelCase")]
#[non_exhaustive]
pub enum DisconnectReason {
    /// We called `disconnect`.
    #[error("you left the room")]
    ClientInitiated,
    /// Someone joined with the same identity (e.g. the same account on another device).
    #[error("you joined this room from somewhere else")]
    DuplicateIdentity,
    /// The server is shutting down.
    #[error("the server shut down")]
    ServerShutdown,
    /// A moderator removed us.
    #[error("you were removed from the room")]
    ParticipantRemoved,
    /// The room was deleted.
    #[error("the room was deleted")]
    RoomDeleted,
    /// The room was closed.
    #[error("the room was closed")]
    RoomClosed,
    /// The server asked us to leave for another reason (LiveKit `DisconnectReason` number).
    #[error("the server ended the session (reason {0})")]
    Server(i32),
    /// Reconnection gave up after this many attempts; the last error is included.
    #[error(
        "the connection was lost and could not be restored after {attempts} attempts: {last_error}"
    )]
    ReconnectFailed {
        /// Attempts made.
        attempts: u32,
        /// What the last attempt ran into.
        last_error: String,
    },
    /// The server no longer accepts our token (expired or revoked) while reconnecting.
    #[error("the server no longer accepts the token: {0}")]
    TokenRejected(String),
}

impl DisconnectReason {
    /// From a server `LeaveRequest.reason`.
    pub(crate) fn from_leave(reason: i32) -> Self {
        match lk::DisconnectReason::try_from(reason) {
            Ok(lk::DisconnectReason::ClientInitiated) => Self::ClientInitiated,
            Ok(lk::DisconnectReason::DuplicateIdentity) => Self::DuplicateIdentity,
            Ok(lk::DisconnectReason::ServerShutdown) => Self::ServerShutdown,
            Ok(lk::DisconnectReason::ParticipantRemoved) => Self::ParticipantRemoved,
            Ok(lk::DisconnectReason::RoomDeleted) => Self::RoomDeleted,
            Ok(lk::DisconnectReason::RoomClosed) => Self::RoomClosed,
            _ => Self::Server(reason),
        }
    }
}

/// Everything that happens in a room, in the order it happened.
///
/// During a full reconnect the order is: `ParticipantDisconnected` for every other
/// participant, `LocalTrackUnpublished` for each own track, `Reconnecting(Full)`, then
/// `Reconnected`, `ParticipantConnected` for everyone present, and `LocalTrackPublished` as
/// each track is republished.
#[derive(Debug)]
#[non_exhaustive]
pub enum RoomEvent {
    /// Someone joined (or is present after a full reconnect).
    ParticipantConnected(RemoteParticipant),
    /// Someone left (or the connection to them is being rebuilt in a full reconnect).
    ParticipantDisconnected(RemoteParticipant),
    /// A remote participant published a track.
    TrackPublished {
        /// Publisher's identity.
        participant_identity: String,
        /// The publication.
        track: TrackInfo,
    },
    /// A remote participant unpublished a track.
    TrackUnpublished {
        /// Publisher's identity.
        participant_identity: String,
        /// The publication.
        track: TrackInfo,
    },
    /// Media of a remote track started arriving.
    TrackSubscribed(RemoteTrack),
    /// A remote track stopped arriving (unsubscribed or unpublished).
    TrackUnsubscribed {
        /// Publisher's identity.
        participant_identity: String,
        /// The track's sid.
        track_sid: String,
    },
    /// A track (remote or our own) was muted.
    TrackMuted {
        /// Publisher's identity.
        participant_identity: String,
        /// The track's sid.
        track_sid: String,
    },
    /// A track (remote or our own) was unmuted.
    TrackUnmuted {
        /// Publisher's identity.
        participant_identity: String,
        /// The track's sid.
        track_sid: String,
    },
    /// One of our tracks is published (first time or after a full reconnect).
    LocalTrackPublished(TrackInfo),
    /// One of our tracks is no longer published.
    LocalTrackUnpublished(TrackInfo),
    /// The identities currently speaking, loudest first.
    ActiveSpeakersChanged(Vec<String>),
    /// The server's rating of a participant's connection (ours included).
    ConnectionQualityChanged {
        /// Whose.
        participant_identity: String,
        /// The rating.
        quality: ConnectionQuality,
    },
    /// A data message arrived.
    DataReceived(DataMessage),
    /// The connection state changed.
    ConnectionStateChanged(ConnectionState),
    /// The connection was lost and is being restored.
    Reconnecting(ReconnectKind),
    /// The connection is back.
    Reconnected,
    /// We are out of the room; the last event.
    Disconnected(DisconnectReason),
}

impl RoomEvent {
    /// `TrackMuted` or `TrackUnmuted` for a track whose muted state became `muted`.
    pub(crate) fn mute_change(
        participant_identity: String,
        track_sid: String,
        muted: bool,
    ) -> Self {
        if muted {
            Self::TrackMuted {
                participant_identity,
                track_sid,
            }
        } else {
            Self::TrackUnmuted {
                participant_identity,
                track_sid,
            }
        }
    }
}
