//! convene-media: turns devices into media and media back into sound and pictures.
//!
//! It knows nothing about LiveKit. Today it holds the audio devices (cpal: listing under
//! stable ids, microphone capture as 10 ms 48 kHz mono frames, speaker playback, hot-plug
//! events), the synthetic sources that tests and `--fake-media` use in place of real
//! devices, the Opus codec, microphone processing (AEC, noise suppression, gain control),
//! resampling to 48 kHz, and a tone analyser; cameras (nokhwa) and video codecs follow (see
//! the media issue and docs/DESIGN.md).

pub mod analysis;
pub mod codec;
pub mod devices;
pub mod processing;
pub mod resample;
pub mod synthetic;
pub mod video;
