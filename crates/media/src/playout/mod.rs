//! Playing remote audio: a jitter/playout buffer per stream and a mixer for the speaker.
//!
//! The network side pushes RTP packets as they arrive ([`Mixer::push`]); the speaker's
//! callback pulls mixed 48 kHz mono samples at its own pace ([`Mixer::fill`], or
//! [`playback_source`] for a device). Between the two clocks each stream's
//! [`PlayoutBuffer`] absorbs jitter, loss and clock drift, and a [`LevelMeter`] per stream
//! gives the participant's audio level.

mod buffer;
mod jitter;
mod level;
mod mixer;
mod sequence;

pub use buffer::{PlayoutBuffer, PlayoutConfig, PlayoutStats};
pub use jitter::JitterEstimator;
pub use level::LevelMeter;
pub use mixer::{Mixer, SharedMixer, playback_source, playback_source_with_echo_reference};
pub use sequence::SequenceUnwrapper;
