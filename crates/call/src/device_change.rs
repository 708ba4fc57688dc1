//! Device changes in a call, in two steps: opening the device, which is slow (a camera can
//! take a second, a sound server up to its timeout) and needs nothing of the session, then
//! putting it in, which is quick. A caller that keeps the session behind a lock opens with
//! the lock released, so chat, mute and Leave are not held up by a camera starting
//! ([`crate::CallSession::opening_for`], [`crate::CallSession::apply`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::Receiver;

use convene_media::devices::{AudioFrame, SpeakerPlayback};
use convene_room::webrtc_kit::MediaKind;

use crate::CallError;
use crate::local_devices::{DeviceKind, MicrophoneSource, OpenCamera};

/// A change to our devices during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChange {
    /// Turn the microphone (`Audio`) or camera (`Video`) on or off. Turning on a device we
    /// joined without publishes it; a camera turned off is released (its light goes off).
    Enable {
        /// Microphone or camera.
        kind: MediaKind,
        /// On or off.
        enabled: bool,
    },
    /// Use another device of `kind` (`None`: the default) from now on.
    Switch {
        /// Microphone, camera or speaker.
        kind: DeviceKind,
        /// The device's id (see [`crate::list_devices`]).
        id: Option<String>,
    },
}

/// A device opened for a [`DeviceChange`], ready to be put into the call.
pub struct OpenedDevice {
    pub(crate) device: Opened,
}

/// What was opened.
pub(crate) enum Opened {
    Microphone(MicrophoneSource, Receiver<AudioFrame>),
    Camera(OpenCamera),
    /// A new speaker playing the call's mix.
    Speaker(SpeakerPlayback),
    /// The running speaker moved to the device.
    SpeakerMoved,
}

/// Opening a device; does not borrow the session, so it may run on any task.
pub type DeviceOpening = Pin<Box<dyn Future<Output = Result<OpenedDevice, CallError>> + Send>>;
