//! Why a call pipeline could not start.

use convene_media::codec::CodecError;
use convene_media::devices::DeviceError;
use convene_media::video::source::CameraError;
use convene_room::RoomError;

/// Why publishing or playing media failed; each variant keeps the layer's own typed error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The room refused (not connected, no permission, …).
    #[error(transparent)]
    Room(#[from] RoomError),
    /// An encoder or decoder could not be created.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A camera could not be opened.
    #[error(transparent)]
    Camera(#[from] CameraError),
    /// A microphone or speaker could not be opened.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The thread opening a device ended abnormally.
    #[error("a device thread failed: {0}")]
    DeviceThread(String),
    /// The join was given up before it finished (see [`crate::CallSession::join_unless`]).
    #[error("the join was cancelled")]
    Cancelled,
    /// The action needs a call and there is none (it ended meanwhile).
    #[error("not in a call")]
    NotInCall,
    /// The call controller has stopped (the app is exiting).
    #[error("the call controller has stopped")]
    Stopped,
}
