//! Real audio devices through cpal: listing them under stable ids, capturing a microphone as
//! 10 ms mono frames at 48 kHz, playing 48 kHz mono to a speaker, and noticing devices come,
//! go and get lost while in use.
//!
//! - [`list_audio_devices`] for the settings screen; remember an [`AudioDeviceId`] by its
//!   string form (`pulseaudio:alsa_input.usb-…`).
//! - [`MicrophoneCapture::open`] / [`SpeakerPlayback::open`] run a cpal stream on a thread of
//!   their own (cpal streams may be `!Send`); drop them to stop. `switch_to` changes device
//!   without changing the frame receiver or the playback source.
//! - [`DeviceWatcher`] polls for hot-plug; pass [`DeviceWatcher::event_sender`] to
//!   `open_with_events` so a device lost mid-call arrives as [`DeviceEvent::Lost`] on the
//!   same channel.
//!
//! - [`ToneMicrophone`] is the synthetic microphone: the same frames, from a sine wave.
//!
//! The PulseAudio host (and PipeWire's pulse server) is preferred on Linux; see `host.rs`.

mod capture;
mod convert;
mod error;
mod host;
mod id;
mod playback;
mod tone;
mod watcher;
mod worker;

pub use capture::{AudioFrame, CAPTURE_QUEUE_FRAMES, MicrophoneCapture};
pub use error::DeviceError;
pub use host::list_audio_devices;
pub use id::{AudioDeviceId, AudioDeviceInfo, Direction, ParseDeviceIdError};
pub use playback::{PlaybackSource, SpeakerPlayback};
pub use tone::ToneMicrophone;
pub use watcher::{DEFAULT_WATCH_INTERVAL, DeviceEvent, DeviceWatcher};
pub use worker::PendingSwitch;

#[cfg(test)]
mod tests {
    use super::*;

    fn send<T: Send>() {}

    #[test]
    fn handles_can_move_between_threads() {
        send::<MicrophoneCapture>();
        send::<SpeakerPlayback>();
        send::<DeviceWatcher>();
        send::<DeviceError>();
    }
}
