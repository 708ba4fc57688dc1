//! convene-call: the media pipelines of a call, between `convene-media` (devices, codecs,
//! playout) and `convene-room` (published and subscribed tracks).
//!
//! - [`AudioSender`]: microphone frames (a real device or the test tone) are processed
//!   (echo cancellation, noise suppression, gain), Opus-encoded and written to a track.
//! - [`VideoSender`]: camera frames (a real camera or the test pattern) are encoded (VP8 or
//!   H.264) and written to a track; the track's keyframe requests reach the encoder.
//! - [`play_remote_audio`]: a subscribed audio track feeds its playout buffer in the
//!   shared mixer that the speaker plays.
//! - [`RemoteVideo`]: a subscribed video track is reassembled and decoded; the newest
//!   picture is always available, older ones are never queued.
//!
//! - [`FakeMedia`]: the test pattern and test tone published through the same pipelines.
//! - [`CallSession`]: one call (join, devices, playback, UI events, leave);
//!   [`CallController`]: the app's one call as an actor (`Idle | Joining | InCall`, the
//!   join screen's preview, device changes, chat), so the app's commands only delegate.
//!
//! - [`list_devices`], [`DeviceChoice`]: the microphones, cameras and speakers by id
//!   (real, or the synthetic test tone and pattern); [`DevicePreview`]: the camera and a
//!   microphone level before joining.
//! - [`FrameServer`]: decoded pictures to the webview over a token-protected 127.0.0.1
//!   WebSocket, scaled to the tile, newest first.
//!
//! Blocking work (device queues, encoders, decoders) runs on its own threads; tokio tasks
//! only move packets. Every pipeline stops when its handle is dropped.

mod chat;
mod controller;
mod device_change;
mod diagnostics;
mod error;
mod fake;
mod frame_server;
mod local_devices;
mod preview;
mod receive_audio;
mod receive_video;
mod send_audio;
mod send_video;
mod session;
mod video_registry;

pub use chat::{CHAT_TOPIC, ChatMessage, MAX_CHAT_CHARS};
pub use controller::{
    CallController, DeviceNotice, DeviceNoticeSink, DevicesInCall, JoinRequest, JoinedCall,
    PreviewRequest, PreviewStatus,
};
pub use device_change::{DeviceChange, DeviceOpening, OpenedDevice};
pub use diagnostics::{
    Diagnostics, StatsReader, TIMELINE_LIMIT, Timeline, TimelineEntry, describe_event,
};
pub use error::CallError;
pub use fake::{FakeMedia, FakeMediaSettings};
pub use frame_server::{FrameServer, encode_for_tile, encode_message, scale_to_fit};
pub use local_devices::{
    CAMERA_SIZE, DeviceChoice, DeviceKind, DeviceList, DeviceLosses, MediaDevice, MicrophoneSource,
    OpenCamera, TEST_PATTERN, TEST_PATTERN_SIZE, TEST_TONE, TEST_TONE_HZ, list_devices,
    open_camera, open_microphone, open_speaker, parse_audio_id,
};
pub use preview::{
    DevicePreview, LEVEL_INTERVAL, LOCAL_CAMERA_FEED, LevelSink, LocalPicture, LocalPictures,
};
pub use receive_audio::play_remote_audio;
pub use receive_video::{DecodedVideo, RemoteVideo, RemoteVideoStats};
pub use send_audio::AudioSender;
pub use send_video::VideoSender;
pub use session::{CallEvent, CallEventSink, CallOptions, CallReader, CallSession, LEAVE_BOUND};
pub use video_registry::{PictureFeed, VideoRegistry, VideoSources};
