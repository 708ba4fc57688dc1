//! The error type of the media module.

/// What can go wrong in a participant's server-side WebRTC.
///
/// Every public operation of [`super::ParticipantMedia`] returns this; the signaling layer
/// usually logs it and, for the negotiation calls, tears the participant down (a failed
/// offer/answer leaves the peer connection unusable).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The WebRTC stack (webrtc-rs) refused an operation: building a peer connection,
    /// applying or creating a session description, adding a candidate or a track, sending on
    /// a data channel.
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    /// A trickle candidate from the client was not valid `RTCIceCandidateInit` JSON.
    #[error("invalid ICE candidate JSON: {0}")]
    CandidateJson(#[from] serde_json::Error),
    /// A published track uses a codec this server does not forward (only Opus, VP8 and
    /// H.264 are registered; see `codecs.rs`).
    #[error("unsupported codec {0}")]
    UnsupportedCodec(String),
    /// The published track being subscribed to has already ended (its publisher removed it
    /// or disconnected).
    #[error("the published track has ended")]
    TrackEnded,
    /// `apply_subscriber_answer` was called while no subscriber offer was outstanding.
    #[error("no subscriber offer is awaiting an answer")]
    NoOfferPending,
    /// A subscriber answer echoed the id of an offer that a newer one (e.g. an ICE restart)
    /// has replaced; it is ignored.
    #[error("answer to subscriber offer {answered}, but offer {current} is the current one")]
    StaleAnswer {
        /// The offer id the answer echoed.
        answered: u32,
        /// The id of the offer awaiting its answer.
        current: u32,
    },
    /// `send_data` was called before the subscriber data channel was created
    /// (`start_subscriber` not called yet) or before the client opened it.
    #[error("subscriber data channel {0} is not open")]
    DataChannelNotOpen(&'static str),
}
