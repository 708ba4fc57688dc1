//! Naming devices so the app can remember them: an [`AudioDeviceId`] is the cpal host plus
//! the host's own device id (for PulseAudio the source/sink name, e.g. `pulseaudio:fake_mic`),
//! stable across runs and enumerations, and written/read as that string.

use std::fmt;
use std::str::FromStr;

/// A device's stable id: `<host>:<device>`, e.g. `pulseaudio:alsa_input.usb-…` or `alsa:hw:0,0`.
/// Store its string form in settings; parse it back with [`str::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AudioDeviceId {
    host: String,
    device: String,
}

impl AudioDeviceId {
    /// An id from a host name (lowercase, as cpal writes it) and the host's device id.
    pub fn new(host: impl Into<String>, device: impl Into<String>) -> Self {
        Self {
            host: host.into().to_ascii_lowercase(),
            device: device.into(),
        }
    }

    /// The cpal host, lowercase (`pulseaudio`, `alsa`, …).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host's id for the device (for PulseAudio: the source or sink name).
    pub fn device(&self) -> &str {
        &self.device
    }

    pub(crate) fn from_cpal(id: &cpal::DeviceId) -> Self {
        Self::new(id.host().to_string(), id.id())
    }

    /// The cpal id, or `None` when the host is not compiled in on this platform.
    pub(crate) fn to_cpal(&self) -> Option<cpal::DeviceId> {
        let host = cpal::HostId::from_str(&self.host).ok()?;
        Some(cpal::DeviceId::new(host, &self.device))
    }
}

impl fmt::Display for AudioDeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.device)
    }
}

/// The string is not `<host>:<device>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an audio device id (expected \"host:device\"): {0:?}")]
pub struct ParseDeviceIdError(String);

impl FromStr for AudioDeviceId {
    type Err = ParseDeviceIdError;

    /// Parses `<host>:<device>`; the device part may itself contain colons (`alsa:hw:0,0`).
    /// An unknown host parses fine (opening it then gives `NotFound`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((host, device)) if !host.is_empty() && !device.is_empty() => {
                Ok(Self::new(host, device))
            }
            _ => Err(ParseDeviceIdError(s.to_owned())),
        }
    }
}

/// Whether a device records or plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A microphone (PulseAudio source, including sink monitors).
    Input,
    /// A speaker or headset (PulseAudio sink).
    Output,
}

/// One device as the settings screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AudioDeviceInfo {
    /// Stable id to open it with and to remember.
    pub id: AudioDeviceId,
    /// Human-readable name (PulseAudio's description).
    pub name: String,
    /// Input or output. A device doing both is listed twice, once per direction.
    pub direction: Direction,
    /// Whether it is the system's default for its direction.
    pub is_default: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_string_form() {
        for text in [
            "pulseaudio:fake_mic",
            "alsa:hw:0,0",
            "pulseaudio:sink.monitor",
        ] {
            let id: AudioDeviceId = text.parse().expect("parses");
            assert_eq!(id.to_string(), text);
        }
        let id: AudioDeviceId = "alsa:hw:0,0".parse().expect("parses");
        assert_eq!((id.host(), id.device()), ("alsa", "hw:0,0"));
        assert!("nocolon".parse::<AudioDeviceId>().is_err());
        assert!(":x".parse::<AudioDeviceId>().is_err());
        assert!("unknownhost:x".parse::<AudioDeviceId>().is_ok());
    }
}
