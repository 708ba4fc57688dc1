//! The devices a call uses, as chosen on the join screen: which microphone, camera and
//! speaker, and whether the microphone and camera start on. Remembered between runs.

use convene_call::{DeviceChoice, DeviceKind, TEST_PATTERN, TEST_TONE};
use serde::{Deserialize, Serialize};

/// The webview event carrying the previewed microphone's level (0.0 to 1.0), 20 times a
/// second while the join screen shows its meter.
pub const MIC_LEVEL_EVENT: &str = "mic-level";

/// Devices and on/off, from the join screen (or remembered, for a `convene://` link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", default)]
pub struct MediaChoice {
    /// Which devices (`None`: the default).
    pub devices: DeviceChoice,
    /// Join with the microphone on.
    pub microphone: bool,
    /// Join with the camera on.
    pub camera: bool,
}

impl Default for MediaChoice {
    /// The default devices, microphone and camera on.
    fn default() -> Self {
        Self {
            devices: DeviceChoice::default(),
            microphone: true,
            camera: true,
        }
    }
}

/// The devices to open: with the synthetic devices on (`--fake-media`), an unchosen
/// microphone or camera is the test tone or pattern; without, a remembered synthetic id
/// falls back to the default device.
pub fn resolve_devices(mut devices: DeviceChoice, synthetic: bool) -> DeviceChoice {
    for (kind, test_device) in [
        (DeviceKind::Microphone, TEST_TONE),
        (DeviceKind::Camera, TEST_PATTERN),
    ] {
        let chosen = devices.get(kind).map(str::to_owned);
        let resolved = match chosen {
            None if synthetic => Some(test_device.to_owned()),
            Some(id) if !synthetic && id == test_device => None,
            other => other,
        };
        devices.set(kind, resolved);
    }
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_devices_fill_gaps_only_when_asked_for() {
        let chosen = DeviceChoice {
            microphone: Some("pulseaudio:usb_mic".into()),
            ..DeviceChoice::default()
        };
        let fake = resolve_devices(chosen.clone(), true);
        assert_eq!(fake.microphone.as_deref(), Some("pulseaudio:usb_mic"));
        assert_eq!(fake.camera.as_deref(), Some(TEST_PATTERN));
        assert_eq!(resolve_devices(fake, false), chosen);
    }

    #[test]
    fn the_ui_may_leave_out_anything() {
        let choice: MediaChoice = serde_json::from_str(r#"{"camera": false}"#).expect("parses");
        assert!(choice.microphone && !choice.camera);
    }
}
