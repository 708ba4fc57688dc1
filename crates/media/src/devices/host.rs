//! Which cpal host to use, listing its devices, and finding a device again by id.
//!
//! The PulseAudio host is preferred when its server answers: it names the real sources and
//! sinks (PipeWire's pulse server included). Otherwise cpal's default host (ALSA on Linux) is
//! used. Only the preferred host is listed, since probing every ALSA plugin is slow; ids of
//! other hosts still open (the id carries its host).

use cpal::traits::{DeviceTrait, HostTrait};

use super::{AudioDeviceId, AudioDeviceInfo, DeviceError, Direction};

/// The host to list and to take defaults from: PulseAudio where cpal has it (Linux and the
/// BSDs) and its server answers, else the platform's default (WASAPI on Windows, CoreAudio
/// on macOS, ALSA on Linux).
pub(crate) fn preferred_host() -> cpal::Host {
    #[cfg(any(
        target_os = "linux",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "netbsd"
    ))]
    if cpal::available_hosts().contains(&cpal::HostId::PulseAudio) {
        match cpal::host_from_id(cpal::HostId::PulseAudio) {
            Ok(host) => return host,
            Err(e) => tracing::debug!("PulseAudio host unavailable, using the default: {e}"),
        }
    }
    cpal::default_host()
}

/// Every input and output device of the preferred host, defaults marked. A device doing both
/// directions appears once per direction. Call it again whenever the list is shown; the ids
/// stay the same across calls and runs.
pub fn list_audio_devices() -> Result<Vec<AudioDeviceInfo>, DeviceError> {
    list_on(&preferred_host())
}

/// The devices of `host` (see [`list_audio_devices`]).
pub(crate) fn list_on(host: &cpal::Host) -> Result<Vec<AudioDeviceInfo>, DeviceError> {
    let default_id = |device: Option<cpal::Device>| {
        device
            .and_then(|d| d.id().ok())
            .map(|id| AudioDeviceId::from_cpal(&id))
    };
    let default_input = default_id(host.default_input_device());
    let default_output = default_id(host.default_output_device());
    let devices = host.devices().map_err(|e| DeviceError::Backend {
        detail: format!("listing {} devices: {e}", host.id()),
    })?;
    let mut list = Vec::new();
    for device in devices {
        let Ok(cpal_id) = device.id() else {
            continue; // Vanished while listing.
        };
        let id = AudioDeviceId::from_cpal(&cpal_id);
        let (name, input, output) = match device.description() {
            Ok(d) if d.supports_input() || d.supports_output() => {
                (d.name().to_owned(), d.supports_input(), d.supports_output())
            }
            other => (
                other.map_or_else(|_| id.device().to_owned(), |d| d.name().to_owned()),
                device.supports_input(),
                device.supports_output(),
            ),
        };
        for (supported, direction, default) in [
            (input, Direction::Input, &default_input),
            (output, Direction::Output, &default_output),
        ] {
            if supported {
                list.push(AudioDeviceInfo {
                    id: id.clone(),
                    name: name.clone(),
                    direction,
                    is_default: default.as_ref() == Some(&id),
                });
            }
        }
    }
    Ok(list)
}

/// Finds the device to open: `id`, or the preferred host's default for `direction`.
pub(crate) fn find_device(
    id: Option<&AudioDeviceId>,
    direction: Direction,
) -> Result<(cpal::Device, AudioDeviceId), DeviceError> {
    let (device, wanted) = match id {
        None => {
            let host = preferred_host();
            let wanted = AudioDeviceId::new(host.id().to_string(), "default");
            let device = match direction {
                Direction::Input => host.default_input_device(),
                Direction::Output => host.default_output_device(),
            };
            (device, wanted)
        }
        Some(id) => {
            let not_found = || DeviceError::NotFound { id: id.clone() };
            let cpal_id = id.to_cpal().ok_or_else(not_found)?;
            let host = cpal::host_from_id(cpal_id.host()).map_err(|e| match e.kind() {
                cpal::ErrorKind::HostUnavailable => not_found(),
                _ => DeviceError::Backend {
                    detail: format!("opening host {}: {e}", id.host()),
                },
            })?;
            (host.device_by_id(&cpal_id), id.clone())
        }
    };
    let device = device.ok_or_else(|| DeviceError::NotFound { id: wanted.clone() })?;
    let id = device
        .id()
        .map(|id| AudioDeviceId::from_cpal(&id))
        .map_err(|e| DeviceError::from_cpal(&wanted, &e, false))?;
    let fits = match direction {
        Direction::Input => device.supports_input(),
        Direction::Output => device.supports_output(),
    };
    if !fits {
        return Err(DeviceError::Unsupported {
            id,
            detail: format!("not an {direction:?} device").to_lowercase(),
        });
    }
    Ok((device, id))
}
