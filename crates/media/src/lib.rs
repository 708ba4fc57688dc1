//! convene-media: turns devices into media and media back into sound and pictures.
//!
//! It knows nothing about LiveKit. It holds:
//! - [`devices`]: audio devices through cpal (listing under stable ids, microphone capture
//!   as 10 ms 48 kHz mono frames, speaker playback, hot-plug and device-lost events) and
//!   the test tone microphone;
//! - [`video`]: I420 frames, camera formats converted to I420, cameras through nokhwa and
//!   the test pattern camera behind one capture thread;
//! - [`codec`]: Opus for audio; VP8 (libvpx) and H.264 (OpenH264) behind one video
//!   encoder/decoder interface;
//! - [`processing`]: echo cancellation, noise suppression and gain control (sonora), with
//!   [`far_end`] carrying what the speaker played to the echo canceller;
//! - [`playout`]: per-stream jitter/playout buffers, the mixer and audio levels;
//! - [`resample`], [`synthetic`] (tone, test pattern) and [`analysis`] (tone frequency).
//!
//! See docs/DESIGN.md for how the pieces connect in a call.

pub mod analysis;
pub mod codec;
pub mod devices;
pub mod far_end;
pub mod playout;
pub mod processing;
pub mod resample;
pub mod synthetic;
pub mod video;
