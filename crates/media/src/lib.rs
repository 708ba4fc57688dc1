//! convene-media: turns devices into media and media back into sound and pictures.
//!
//! It knows nothing about LiveKit. Today it holds the synthetic sources that tests and
//! `--fake-media` use in place of real devices, the codecs (Opus for audio; VP8 and H.264
//! behind one video encoder/decoder interface), microphone processing (AEC, noise
//! suppression, gain control), resampling to 48 kHz, and a tone analyser; the cpal/nokhwa
//! devices and playback follow (see the media issue and docs/DESIGN.md).

pub mod analysis;
pub mod codec;
pub mod playout;
pub mod processing;
pub mod resample;
pub mod synthetic;
pub mod video;
