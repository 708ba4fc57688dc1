//! What the media side tells the signaling session, and the small enums it uses.

use super::forward::PublishedTrack;

pub use convene_rtc::webrtc_kit::{MediaKind, PcTarget};

/// Events from one participant's media to its signaling session.
///
/// Delivered on the bounded `tokio::sync::mpsc` channel whose sender is given to
/// [`super::ParticipantMedia::new`]; [`super::EVENT_CHANNEL_CAPACITY`] is a good size. Apart
/// from [`MediaEvent::DataReceived`], events go through an internal unbounded queue first,
/// so neither the WebRTC callbacks nor the `ParticipantMedia` methods ever wait for the
/// session to drain the channel (a session may call `subscribe` from the same task that
/// reads events without deadlocking). Order is preserved among those events.
/// `DataReceived` is sent straight from the data-channel reader, which waits for room in the
/// channel: that back-pressure reaches the client through SCTP flow control.
#[derive(Debug)]
pub enum MediaEvent {
    /// A local ICE candidate to trickle to the client (`TrickleRequest` with this `target`).
    ///
    /// `candidate_init_json` is an `RTCIceCandidateInit` JSON string with exactly the keys
    /// `"candidate"`, `"sdpMid"` (a string: the mid of the first m-section of our local
    /// description, never null) and `"sdpMLineIndex"` (the number 0), which is what
    /// LiveKit's `TrickleRequest.candidateInit` carries and what both the JS and the Rust SDK
    /// parse. Candidates can be emitted before the session has sent the matching answer;
    /// LiveKit clients queue candidates that arrive before the remote description.
    LocalCandidate {
        /// Which PC the candidate belongs to.
        target: PcTarget,
        /// The `RTCIceCandidateInit` JSON.
        candidate_init_json: String,
    },
    /// A subscriber offer to send to the client (`SessionDescription { type: "offer" }`).
    ///
    /// `id` counts from 1 and the client echoes it in its answer. At most one offer is
    /// outstanding: the next one is only produced after `apply_subscriber_answer`, except
    /// for an ICE restart (`restart_subscriber_ice`), which replaces the outstanding one.
    SubscriberOffer {
        /// The offer SDP.
        sdp: String,
        /// The offer id (1, 2, ...).
        id: u32,
    },
    /// A remote track started arriving on the publisher PC.
    ///
    /// `track_id` and `stream_id` are the client's msid values. LiveKit clients put their
    /// track's `cid` (from `AddTrackRequest`) in the track part, which the signaling layer
    /// maps to the `TR_` sid it assigned. `source` is the handle other participants'
    /// [`super::ParticipantMedia::subscribe`] needs.
    TrackReceived {
        /// The msid track id (the client's `cid`).
        track_id: String,
        /// The msid stream id.
        stream_id: String,
        /// Audio or video.
        kind: MediaKind,
        /// Fan-out handle for forwarding this track to subscribers.
        source: PublishedTrack,
    },
    /// A published track ended: the client removed it or the publisher PC closed. Forwarding
    /// to subscribers stops by itself; the session should unpublish it (ParticipantUpdate) and
    /// call `unsubscribe` on the subscribers to drop the m-line.
    TrackEnded {
        /// The msid track id, as in [`MediaEvent::TrackReceived`].
        track_id: String,
    },
    /// The audio level of a published audio track over the last 500 ms, for LiveKit's
    /// `SpeakersChanged` (`SpeakerInfo.level`, `active = level > 0`).
    ///
    /// Emitted about every 500 ms per audio track **while its packets arrive** (nothing is
    /// sent while the client is muted or has stopped sending; treat a track without a level
    /// for a while, or one that ended, as silent), and only if the client negotiated the RFC
    /// 6464 `ssrc-audio-level` RTP header extension (browsers and the LiveKit SDKs do).
    ///
    /// `level` is LiveKit's linear scale, 0.0..=1.0: the mean over the interval's packets of
    /// `10^(-dBov / 20)` (0 dBov, full scale, is 1.0; -20 dBov is 0.1), with anything under
    /// 0.01 (quieter than -40 dBov: silence, background noise) reported as exactly 0.0.
    ///
    /// Sent with `try_send` straight to the session's channel, bypassing the ordered queue
    /// the other events use, so the media path never waits: a level is dropped when the
    /// channel is full, and one may, when the channel is congested, overtake the track's
    /// `TrackReceived` (ignore levels of unknown track ids). It never follows the track's
    /// `TrackEnded`.
    PacketLoss {
        /// The msid track id (the client's `cid`).
        track_id: String,
        /// Share of the packets lost over the last [`crate::quality::QUALITY_WINDOW`].
        loss: f64,
    },
    /// The current audio level of a published audio track (from its RTP audio-level
    /// extension), at most every few tens of milliseconds.
    AudioLevel {
        /// The msid track id (the client's `cid`), as in [`MediaEvent::TrackReceived`].
        track_id: String,
        /// Linear audio level, 0.0 (silent) ..= 1.0 (full scale).
        level: f32,
    },
    /// A data-channel message from the client: one serialized LiveKit `DataPacket`, from its
    /// publisher PC's `_reliable` (`reliable = true`) or `_lossy` channel. Messages on the
    /// subscriber PC's channels (older clients also send there) are reported the same way.
    DataReceived {
        /// `true` for `_reliable`, `false` for `_lossy`.
        reliable: bool,
        /// The message bytes.
        payload: bytes::Bytes,
    },
    /// The connection state of one PC changed (`"new"`, `"connecting"`, `"connected"`,
    /// `"disconnected"`, `"failed"`, `"closed"`). Log it; `failed`/`closed` lets the session
    /// clean up.
    ConnectionState {
        /// Which PC.
        target: PcTarget,
        /// The W3C `RTCPeerConnectionState` name.
        state: String,
    },
}
