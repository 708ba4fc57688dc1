//! Why a device could not be listed, opened or kept: typed, so the app can tell the user
//! "that microphone is gone" apart from "it is in use" or "the sound system is down".

use super::AudioDeviceId;

/// A device operation failed. cpal's errors are mapped onto these (see [`DeviceError::from_cpal`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// No device with this id exists (unplugged, renamed, or remembered from another machine).
    #[error("audio device {id} not found")]
    NotFound {
        /// The id that was asked for.
        id: AudioDeviceId,
    },
    /// The device exists but another program (or stream) holds it.
    #[error("audio device {id} is busy")]
    Busy {
        /// The busy device.
        id: AudioDeviceId,
    },
    /// The device cannot do what was asked (direction, rate, format).
    #[error("audio device {id} cannot be used this way: {detail}")]
    Unsupported {
        /// The device.
        id: AudioDeviceId,
        /// What the backend said.
        detail: String,
    },
    /// The device went away while a stream was running on it.
    #[error("audio device {id} was lost")]
    Lost {
        /// The device that went away.
        id: AudioDeviceId,
    },
    /// The sound system failed in a way that is not about one device (server down, bug).
    #[error("audio backend error: {detail}")]
    Backend {
        /// What failed.
        detail: String,
    },
}

impl DeviceError {
    /// Maps a cpal error met while opening `id` (or while it ran, when `running`).
    pub(crate) fn from_cpal(id: &AudioDeviceId, error: &cpal::Error, running: bool) -> Self {
        use cpal::ErrorKind as K;
        let id = id.clone();
        match error.kind() {
            K::DeviceNotAvailable if running => Self::Lost { id },
            K::DeviceNotAvailable => Self::NotFound { id },
            K::DeviceBusy => Self::Busy { id },
            K::UnsupportedConfig | K::UnsupportedOperation | K::InvalidInput => Self::Unsupported {
                id,
                detail: error.to_string(),
            },
            K::StreamInvalidated if running => Self::Lost { id },
            _ => Self::Backend {
                detail: format!("{id}: {error}"),
            },
        }
    }

    /// Whether a cpal error reported by a running stream ends that stream. Glitches (xruns),
    /// refused real-time priority and "rerouted to the new default" are not fatal.
    pub(crate) fn is_fatal(error: &cpal::Error) -> bool {
        use cpal::ErrorKind as K;
        !matches!(error.kind(), K::Xrun | K::RealtimeDenied | K::DeviceChanged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpal_errors_map_to_typed_errors() {
        let id: AudioDeviceId = "pulseaudio:mic".parse().expect("id");
        let gone = cpal::Error::new(cpal::ErrorKind::DeviceNotAvailable);
        assert!(matches!(
            DeviceError::from_cpal(&id, &gone, false),
            DeviceError::NotFound { .. }
        ));
        assert!(matches!(
            DeviceError::from_cpal(&id, &gone, true),
            DeviceError::Lost { .. }
        ));
        let busy = cpal::Error::new(cpal::ErrorKind::DeviceBusy);
        assert!(matches!(
            DeviceError::from_cpal(&id, &busy, false),
            DeviceError::Busy { .. }
        ));
        let config = cpal::Error::new(cpal::ErrorKind::UnsupportedConfig);
        assert!(matches!(
            DeviceError::from_cpal(&id, &config, false),
            DeviceError::Unsupported { .. }
        ));
        assert!(!DeviceError::is_fatal(&cpal::Error::new(
            cpal::ErrorKind::Xrun
        )));
        assert!(DeviceError::is_fatal(&gone));
    }
}
