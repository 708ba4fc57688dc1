//! Errors of room operations.

use crate::signal::ConnectError;

/// Why a room operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// The server URL is not usable.
    #[error(transparent)]
    InvalidUrl(#[from] crate::ServerUrlError),
    /// The token is not a LiveKit token.
    #[error(transparent)]
    InvalidToken(#[from] crate::TokenError),
    /// Joining failed (typed: unreachable, 401, 403, 404, version, timeout…).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The media connection did not come up in time after joining.
    #[error("the media connection did not come up within {0:?}")]
    MediaTimeout(std::time::Duration),
    /// The WebRTC stack failed.
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    /// The server refused to publish the track (no permission or a bad request), or did not
    /// answer in time.
    #[error("publishing failed: {0}")]
    PublishFailed(String),
    /// The codec of a local track is not one we can send (Opus, VP8, H.264).
    #[error("unsupported codec {0}")]
    UnsupportedCodec(String),
    /// The token does not allow this (e.g. publishing data without `canPublishData`).
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    /// A data payload larger than [`super::data::MAX_DATA_PAYLOAD`].
    #[error("data message of {0} bytes is too large")]
    DataTooLarge(usize),
    /// The data channel is not open (yet, or any more).
    #[error("data channel {0} is not open")]
    DataChannelClosed(&'static str),
    /// The track is not published in this room.
    #[error("the track is not published")]
    UnknownTrack,
    /// The room is disconnected (or reconnecting, for operations that cannot wait).
    #[error("the room is not connected")]
    NotConnected,
}
