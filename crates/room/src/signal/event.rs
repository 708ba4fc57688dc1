//! What the server tells us over signaling, and what the room asks of it, in the room's own
//! vocabulary: no protobuf type appears here. [`super::proto`] builds [`SignalEvent`]s from
//! `livekit_protocol` messages and the wire messages from [`SignalRequest`]s.

use std::collections::HashMap;

use crate::ids::{Identity, ParticipantSid, TrackSid};
use crate::room::{ConnectionQuality, DisconnectReason, LocalTrackOptions, TrackInfo};
use crate::webrtc_kit::PcTarget;

/// One server message, translated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SignalEvent {
    /// The server offers (or re-offers) the subscriber peer connection.
    SubscriberOffer(SessionDescription),
    /// The server answers our last publisher offer.
    PublisherAnswer(SessionDescription),
    /// A remote ICE candidate; `target` is `None` when the server named a PC we do not
    /// know.
    RemoteCandidate {
        /// The PC the candidate is for.
        target: Option<PcTarget>,
        /// The candidate as browser-style JSON (`RTCIceCandidateInit`).
        candidate_init: String,
    },
    /// Snapshots of participants that changed (ourselves included; the roster skips us).
    ParticipantsChanged(Vec<ParticipantSnapshot>),
    /// The answer to our `AddTrackRequest` with client id `cid`; `track` is `None` when
    /// the server sent no track description.
    TrackPublished {
        /// Our client track id from the request.
        cid: String,
        /// What the server published.
        track: Option<PublishedTrack>,
    },
    /// The server unpublished one of our tracks.
    TrackUnpublished(TrackSid),
    /// The server muted or unmuted one of our tracks.
    TrackMuteRequested {
        /// Our track.
        track_sid: TrackSid,
        /// The new state.
        muted: bool,
    },
    /// The server asks us to leave, resume or reconnect.
    Leave(Leave),
    /// Speaking levels changed (only the participants that changed are listed).
    SpeakersChanged(Vec<SpeakerUpdate>),
    /// Connection quality for some participants.
    ConnectionQualityChanged(Vec<QualityUpdate>),
    /// The room got its server id (rooms created on join may not have one at first).
    RoomSidAssigned(String),
    /// A fresh token for later reconnects.
    TokenRefreshed(String),
    /// A message the room does not act on (named for the logs).
    Ignored(&'static str),
}

/// An SDP offer or answer with the server's negotiation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionDescription {
    /// The SDP text.
    pub(crate) sdp: String,
    /// The negotiation id (0 when the server does not number them).
    pub(crate) id: u32,
    /// The server's map from media id to track sid, echoed back in a resume's sync state.
    pub(crate) mid_to_track_id: HashMap<String, String>,
}

/// One participant as the server last described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParticipantSnapshot {
    /// This session's sid.
    pub(crate) sid: ParticipantSid,
    /// The stable identity.
    pub(crate) identity: Identity,
    /// Display name (may be empty).
    pub(crate) name: String,
    /// Application metadata.
    pub(crate) metadata: String,
    /// The server's version of this snapshot (0: unversioned).
    pub(crate) version: u32,
    /// True when the participant has left.
    pub(crate) left: bool,
    /// Its audio and video tracks (data tracks and unknown kinds left out).
    pub(crate) tracks: Vec<TrackInfo>,
}

/// A track the server confirmed, with what it said about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PublishedTrack {
    /// The track's sid.
    pub(crate) sid: TrackSid,
    /// The description for events and snapshots; `None` for kinds we do not model.
    pub(crate) info: Option<TrackInfo>,
    /// The server's description, kept whole so a resume can echo it back.
    pub(super) wire: Box<livekit_protocol::TrackInfo>,
}

/// A `leave` from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leave {
    /// What the server wants us to do.
    pub(crate) action: LeaveAction,
    /// Why.
    pub(crate) reason: DisconnectReason,
}

/// What a server `leave` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaveAction {
    /// Leave for good (also for actions we do not know).
    Disconnect,
    /// Resume the session on a new signaling connection.
    Resume,
    /// Join afresh (full reconnect).
    Reconnect,
}

/// One participant's speaking state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpeakerUpdate {
    /// Who.
    pub(crate) participant_sid: ParticipantSid,
    /// Audio level, 0 to 1.
    pub(crate) level: f32,
    /// False when the participant stopped speaking.
    pub(crate) active: bool,
}

/// One participant's connection quality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QualityUpdate {
    /// Who.
    pub(crate) participant_sid: ParticipantSid,
    /// How good.
    pub(crate) quality: ConnectionQuality,
}

/// What the room engine asks of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignalRequest {
    /// Subscribe to a remote track, or stop.
    Subscription {
        /// The track.
        track_sid: TrackSid,
        /// True to receive it.
        subscribe: bool,
    },
    /// Publish a track (`cid` is our client track id, echoed in `track_published`).
    AddTrack {
        /// Our client track id.
        cid: String,
        /// What the track is.
        options: LocalTrackOptions,
        /// Whether it starts muted.
        muted: bool,
    },
    /// Mute or unmute one of our published tracks.
    Mute {
        /// Our track.
        track_sid: TrackSid,
        /// The new state.
        muted: bool,
    },
    /// One of our ICE candidates.
    Trickle {
        /// The PC that gathered it.
        target: PcTarget,
        /// The candidate as browser-style JSON (`RTCIceCandidateInit`).
        candidate_init: String,
    },
    /// The legacy keep-alive ping, with our wall clock in milliseconds.
    Ping(i64),
    /// The keep-alive ping request (the server answers with a pong carrying it back).
    PingRequest(i64),
    /// We leave the room for good.
    Leave,
}
