//! The local devices a call can use, real or synthetic, each named by one string id that
//! the UI shows in its pickers and the settings remember.
//!
//! Real devices are cpal's (`pulseaudio:alsa_input.usb-…`) and nokhwa's (`/dev/video0`);
//! the synthetic ones ([`TEST_TONE`], [`TEST_PATTERN`]) are listed only when asked for
//! (`--fake-media`), so a machine without a camera or microphone can still hold a real call.
//! Opening blocks (device servers, camera drivers): call these from a blocking thread.

use std::sync::mpsc::Receiver;

#[cfg(doc)]
use convene_media::devices::DeviceWatcher;
use convene_media::devices::{
    AudioDeviceId, AudioFrame, DeviceError, DeviceEvent, Direction, MicrophoneCapture,
    PlaybackSource, SpeakerPlayback, ToneMicrophone, list_audio_devices,
};
use convene_media::video::camera::{NokhwaCamera, list_cameras};
use convene_media::video::source::{
    CameraError, CapturedFrame, PatternCamera, VideoCapture, VideoSource,
};
use serde::{Deserialize, Serialize};

use crate::CallError;

/// The test tone microphone's id (a 440 Hz tone).
pub const TEST_TONE: &str = "synthetic:tone";
/// The test pattern camera's id (640x360 at 30 fps, a frame counter and changing colours).
pub const TEST_PATTERN: &str = "synthetic:pattern";
/// The test tone's frequency.
pub const TEST_TONE_HZ: f32 = 440.0;
/// The test pattern's size and rate.
pub const TEST_PATTERN_SIZE: (u32, u32, u32) = (640, 360, 30);
/// The size asked of a real camera (the closest it offers is used).
pub const CAMERA_SIZE: (u32, u32, u32) = (1280, 720, 30);

/// What a device is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum DeviceKind {
    /// Records our voice.
    Microphone,
    /// Films us.
    Camera,
    /// Plays the others.
    Speaker,
}

impl DeviceKind {
    /// The word the UI uses (`microphone`, `camera`, `speaker`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Microphone => "microphone",
            Self::Camera => "camera",
            Self::Speaker => "speaker",
        }
    }
}

/// One device as the pickers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct MediaDevice {
    /// What it is for.
    pub kind: DeviceKind,
    /// Stable id, to open it with and to remember.
    pub id: String,
    /// Name for people.
    pub label: String,
    /// What is used when nothing was chosen.
    pub is_default: bool,
}

/// The devices present now, and why some kind could not be listed (the sound system is
/// down, no camera subsystem): listing never fails as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct DeviceList {
    /// Every device, microphones then speakers then cameras.
    pub devices: Vec<MediaDevice>,
    /// Kinds that could not be listed, with the reason.
    pub problems: Vec<String>,
}

/// Which device to use for each kind; `None` is the default (the system's default
/// microphone and speaker, the first camera, or the synthetic devices with `--fake-media`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceChoice {
    /// Microphone id.
    pub microphone: Option<String>,
    /// Camera id.
    pub camera: Option<String>,
    /// Speaker id.
    pub speaker: Option<String>,
}

impl DeviceChoice {
    /// The synthetic devices (and the default speaker).
    pub fn synthetic() -> Self {
        Self {
            microphone: Some(TEST_TONE.to_owned()),
            camera: Some(TEST_PATTERN.to_owned()),
            speaker: None,
        }
    }

    /// The chosen id of `kind`.
    pub fn get(&self, kind: DeviceKind) -> Option<&str> {
        match kind {
            DeviceKind::Microphone => self.microphone.as_deref(),
            DeviceKind::Camera => self.camera.as_deref(),
            DeviceKind::Speaker => self.speaker.as_deref(),
        }
    }

    /// Chooses `id` for `kind`.
    pub fn set(&mut self, kind: DeviceKind, id: Option<String>) {
        match kind {
            DeviceKind::Microphone => self.microphone = id,
            DeviceKind::Camera => self.camera = id,
            DeviceKind::Speaker => self.speaker = id,
        }
    }
}

/// Lists the devices; with `synthetic`, the test tone and test pattern come first and are
/// the defaults.
pub fn list_devices(synthetic: bool) -> DeviceList {
    let mut list = DeviceList::default();
    if synthetic {
        list.devices.push(MediaDevice {
            kind: DeviceKind::Microphone,
            id: TEST_TONE.to_owned(),
            label: "Test tone (440 Hz)".to_owned(),
            is_default: true,
        });
        list.devices.push(MediaDevice {
            kind: DeviceKind::Camera,
            id: TEST_PATTERN.to_owned(),
            label: "Test pattern".to_owned(),
            is_default: true,
        });
    }
    match list_audio_devices() {
        Ok(audio) => list.devices.extend(audio.into_iter().map(|device| {
            let kind = match device.direction {
                Direction::Input => DeviceKind::Microphone,
                Direction::Output => DeviceKind::Speaker,
            };
            MediaDevice {
                kind,
                id: device.id.to_string(),
                label: device.name,
                is_default: device.is_default && !(synthetic && kind == DeviceKind::Microphone),
            }
        })),
        Err(error) => list
            .problems
            .push(format!("microphones and speakers: {error}")),
    }
    match list_cameras() {
        Ok(cameras) => {
            let first = !synthetic;
            list.devices.extend(
                cameras
                    .into_iter()
                    .enumerate()
                    .map(|(n, camera)| MediaDevice {
                        kind: DeviceKind::Camera,
                        id: camera.id,
                        label: camera.name,
                        is_default: first && n == 0,
                    }),
            );
        }
        Err(error) => list.problems.push(format!("cameras: {error}")),
    }
    list.devices.sort_by_key(|device| match device.kind {
        DeviceKind::Microphone => 0,
        DeviceKind::Speaker => 1,
        DeviceKind::Camera => 2,
    });
    list
}

/// A running microphone: a real device or the test tone. Dropping it stops it.
pub enum MicrophoneSource {
    /// A cpal input.
    Device(MicrophoneCapture),
    /// The synthetic 440 Hz tone.
    Tone(ToneMicrophone),
}

impl MicrophoneSource {
    /// Whether this is the test tone (which needs no echo cancellation or noise
    /// suppression: they would treat a steady tone as noise).
    pub fn is_synthetic(&self) -> bool {
        matches!(self, Self::Tone(_))
    }
}

/// Opens the microphone `id` (`None`: the system default); frames arrive on the receiver.
pub fn open_microphone(
    id: Option<&str>,
) -> Result<(MicrophoneSource, Receiver<AudioFrame>), CallError> {
    open_microphone_reporting(id, None)
}

/// [`open_microphone`], telling `losses` ([`DeviceEvent::Lost`]) when the device stops
/// working mid-stream (unplugged).
pub fn open_microphone_reporting(
    id: Option<&str>,
    losses: Option<DeviceLosses>,
) -> Result<(MicrophoneSource, Receiver<AudioFrame>), CallError> {
    // Logged: what was opened, and when, is part of the app's story (and tests check that
    // nothing opens before the user asks).
    tracing::info!(device = id.unwrap_or("default"), "opening the microphone");
    if id == Some(TEST_TONE) {
        let (tone, frames) = ToneMicrophone::start(TEST_TONE_HZ);
        return Ok((MicrophoneSource::Tone(tone), frames));
    }
    let id = id.map(parse_audio_id).transpose()?;
    let (capture, frames) =
        MicrophoneCapture::open_with_events(id.as_ref(), losses.map(|losses| losses.0))?;
    Ok((MicrophoneSource::Device(capture), frames))
}

/// Opens the speaker `id` (`None`: the system default) playing `source`.
pub fn open_speaker(
    id: Option<&str>,
    source: PlaybackSource,
) -> Result<SpeakerPlayback, CallError> {
    open_speaker_reporting(id, source, None)
}

/// [`open_speaker`], telling `losses` when the device stops working mid-stream.
pub fn open_speaker_reporting(
    id: Option<&str>,
    source: PlaybackSource,
    losses: Option<DeviceLosses>,
) -> Result<SpeakerPlayback, CallError> {
    tracing::info!(device = id.unwrap_or("default"), "opening the speaker");
    let id = id.map(parse_audio_id).transpose()?;
    Ok(SpeakerPlayback::open_with_events(
        id.as_ref(),
        source,
        losses.map(|losses| losses.0),
    )?)
}

/// Where a running microphone or speaker reports that it lost its device
/// ([`DeviceEvent::Lost`]); a device watcher's sender ([`DeviceWatcher::event_sender`]).
#[derive(Clone)]
pub struct DeviceLosses(pub std::sync::mpsc::Sender<DeviceEvent>);

impl std::fmt::Debug for DeviceLosses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceLosses")
    }
}

impl PartialEq for DeviceLosses {
    /// Any two are alike: they say where losses go, not what the call is.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for DeviceLosses {}

/// Parses a remembered or picked audio device id; a malformed one is a device not found.
pub fn parse_audio_id(id: &str) -> Result<AudioDeviceId, DeviceError> {
    id.parse().map_err(|_| DeviceError::NotFound {
        id: AudioDeviceId::new("unknown", id),
    })
}

/// A camera being captured and the size of its pictures.
pub struct OpenCamera {
    /// The capture thread (dropping it stops the camera).
    pub capture: VideoCapture,
    /// Its pictures.
    pub frames: Receiver<CapturedFrame>,
    /// The size asked for (for the published track's dimensions and the encoder).
    pub size: (u32, u32),
}

/// Opens the camera `id` (`None`: the first camera) and starts capturing.
pub fn open_camera(id: Option<&str>) -> Result<OpenCamera, CallError> {
    tracing::info!(device = id.unwrap_or("default"), "opening the camera");
    if id == Some(TEST_PATTERN) {
        let (width, height, fps) = TEST_PATTERN_SIZE;
        let (capture, frames) = VideoCapture::start(Box::new(move || {
            Ok(
                Box::new(PatternCamera::new(width as usize, height as usize, fps))
                    as Box<dyn VideoSource>,
            )
        }))?;
        return Ok(OpenCamera {
            capture,
            frames,
            size: (width, height),
        });
    }
    let id = match id {
        Some(id) => id.to_owned(),
        None => {
            list_cameras()?
                .into_iter()
                .next()
                .ok_or_else(|| CameraError::NotFound {
                    id: "(no camera connected)".to_owned(),
                })?
                .id
        }
    };
    let (width, height, fps) = CAMERA_SIZE;
    let (capture, frames) = VideoCapture::start(Box::new(move || {
        Ok(Box::new(NokhwaCamera::open(&id, width, height, fps)?) as Box<dyn VideoSource>)
    }))?;
    Ok(OpenCamera {
        capture,
        frames,
        size: (width, height),
    })
}

/// Runs a blocking device operation off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CallError> + Send + 'static,
) -> Result<T, CallError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Err(CallError::DeviceThread(error.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_devices_are_listed_first_and_are_the_defaults() {
        let list = list_devices(true);
        let defaults: Vec<_> = list
            .devices
            .iter()
            .filter(|device| device.is_default && device.kind != DeviceKind::Speaker)
            .map(|device| device.id.as_str())
            .collect();
        assert_eq!(defaults, [TEST_TONE, TEST_PATTERN]);
        assert!(
            !list_devices(false)
                .devices
                .iter()
                .any(|d| d.id == TEST_TONE)
        );
    }

    #[test]
    fn choices_deserialise_from_the_ui_with_missing_fields_as_defaults() {
        let choice: DeviceChoice =
            serde_json::from_str(r#"{"camera": "synthetic:pattern"}"#).expect("parses");
        assert_eq!(choice.get(DeviceKind::Camera), Some(TEST_PATTERN));
        assert_eq!(choice.get(DeviceKind::Microphone), None);
    }

    #[test]
    fn a_malformed_or_unknown_device_is_not_found() {
        assert!(matches!(
            open_microphone(Some("no-colon")),
            Err(CallError::Device(DeviceError::NotFound { .. }))
        ));
        assert!(matches!(
            open_camera(Some("/dev/no-such-camera")),
            Err(CallError::Camera(
                CameraError::NotFound { .. } | CameraError::Failed(_)
            ))
        ));
    }

    #[test]
    fn the_test_pattern_and_tone_open_like_devices() {
        let camera = open_camera(Some(TEST_PATTERN)).expect("pattern");
        assert_eq!(camera.size, (640, 360));
        let picture = camera
            .frames
            .recv_timeout(std::time::Duration::from_secs(2))
            .expect("a picture");
        assert_eq!((picture.frame.width, picture.frame.height), (640, 360));
        let (tone, frames) = open_microphone(Some(TEST_TONE)).expect("tone");
        assert!(tone.is_synthetic());
        let frame = frames
            .recv_timeout(std::time::Duration::from_secs(2))
            .expect("a frame");
        assert_eq!(frame.samples.len(), 480);
    }
}
