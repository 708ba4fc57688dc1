//! convene-media: turns devices into media and media back into sound and pictures.
//!
//! It knows nothing about LiveKit. Today it holds the synthetic sources that tests and
//! `--fake-media` use in place of real devices; the cpal/nokhwa devices, codecs and
//! playback follow (see the media issue and docs/DESIGN.md).

pub mod synthetic;
