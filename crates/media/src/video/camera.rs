//! Real cameras through nokhwa (V4L2 on Linux, AVFoundation on macOS, Media Foundation on
//! Windows), listed with stable ids and opened as a [`VideoSource`].
//!
//! Cameras are chosen by id, never by index: V4L2 indexes move when devices come and go
//! (nokhwa #171). Frames arrive in whatever the camera offers (MJPEG, YUYV, NV12, RGB) and
//! are converted to I420 here.

use std::time::{Duration, SystemTime};

use nokhwa::Camera;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use super::convert::{PixelFormat, RawFrame, to_i420};
use super::source::{CameraError, CapturedFrame, VideoSource};

/// A camera as the pickers show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    /// Stable id (the device path on Linux), for settings and [`NokhwaCamera::open`].
    pub id: String,
    /// Human-readable name.
    pub name: String,
}

/// The cameras present now. No cameras (or no camera subsystem, as in containers) is an
/// empty list, not an error.
pub fn list_cameras() -> Result<Vec<CameraInfo>, CameraError> {
    let cameras = match nokhwa::query(ApiBackend::Auto) {
        Ok(cameras) => cameras,
        Err(error) => return Err(CameraError::Failed(error.to_string())),
    };
    Ok(cameras
        .into_iter()
        .map(|camera| CameraInfo {
            id: id_of(camera.index(), &camera.misc()),
            name: camera.human_name(),
        })
        .collect())
}

/// An open camera producing I420 frames. Open it on the capture thread:
/// `VideoCapture::start(Box::new(move || Ok(Box::new(NokhwaCamera::open(&id, 1280, 720, 30)?))))`.
pub struct NokhwaCamera {
    id: String,
    name: String,
    camera: Camera,
    format: CameraFormat,
}

impl NokhwaCamera {
    /// Opens camera `id` at the format closest to `width` x `height` at `fps`.
    pub fn open(id: &str, width: u32, height: u32, fps: u32) -> Result<Self, CameraError> {
        ensure_permission(id)?;
        let info = list_cameras()?
            .into_iter()
            .find(|camera| camera.id == id)
            .ok_or_else(|| CameraError::NotFound { id: id.to_owned() })?;
        let wanted = CameraFormat::new(Resolution::new(width, height), FrameFormat::MJPEG, fps);
        let formats = [
            FrameFormat::MJPEG,
            FrameFormat::YUYV,
            FrameFormat::NV12,
            FrameFormat::RAWRGB,
        ];
        let request = RequestedFormat::with_formats(RequestedFormatType::Closest(wanted), &formats);
        let mut camera = Camera::new(CameraIndex::String(id.to_owned()), request)
            .map_err(|error| open_error(id, &error.to_string()))?;
        camera
            .open_stream()
            .map_err(|error| open_error(id, &error.to_string()))?;
        let format = camera.camera_format();
        Ok(Self {
            id: id.to_owned(),
            name: info.name,
            camera,
            format,
        })
    }
}

impl VideoSource for NokhwaCamera {
    fn next_frame(&mut self) -> Result<CapturedFrame, CameraError> {
        let raw = self
            .camera
            .frame_raw()
            .map_err(|error| CameraError::Lost(format!("{}: {error}", self.id)))?;
        let captured_at = SystemTime::now();
        let format = match self.format.format() {
            FrameFormat::MJPEG => PixelFormat::Mjpeg,
            FrameFormat::YUYV => PixelFormat::Yuyv,
            FrameFormat::NV12 => PixelFormat::Nv12,
            FrameFormat::RAWRGB => PixelFormat::Rgb24,
            other => return Err(CameraError::Failed(format!("unexpected format {other}"))),
        };
        let frame = to_i420(&RawFrame {
            format,
            width: self.format.width() as usize,
            height: self.format.height() as usize,
            data: &raw,
        })
        .map_err(|error| CameraError::Failed(error.to_string()))?;
        Ok(CapturedFrame { frame, captured_at })
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

impl Drop for NokhwaCamera {
    fn drop(&mut self) {
        let _ = self.camera.stop_stream();
    }
}

fn id_of(index: &CameraIndex, misc: &str) -> String {
    match index {
        CameraIndex::String(path) => path.clone(),
        CameraIndex::Index(number) if misc.is_empty() => number.to_string(),
        CameraIndex::Index(_) => misc.to_owned(),
    }
}

/// How long the system's camera prompt (macOS) may wait for the user's answer.
const PERMISSION_PROMPT_WAIT: Duration = Duration::from_secs(120);

/// Asks for the camera before the first open. On macOS that shows the system prompt (with
/// the Info.plist's `NSCameraUsageDescription`) and waits for the answer; nokhwa answers
/// "allowed" at once elsewhere (Windows and Linux refuse at open instead, see
/// [`open_error`]).
fn ensure_permission(id: &str) -> Result<(), CameraError> {
    if nokhwa::nokhwa_check() {
        return Ok(());
    }
    let (answer, answered) = std::sync::mpsc::sync_channel(1);
    nokhwa::nokhwa_initialize(move |granted| {
        let _ = answer.try_send(granted);
    });
    match answered.recv_timeout(PERMISSION_PROMPT_WAIT) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(CameraError::Denied { id: id.to_owned() }),
    }
}

/// Maps an open failure to the error a user can act on.
fn open_error(id: &str, detail: &str) -> CameraError {
    let lower = detail.to_ascii_lowercase();
    // V4L2's EACCES, Media Foundation's E_ACCESSDENIED (0x80070005), AVFoundation's text.
    let denied = [
        "permission denied",
        "access is denied",
        "0x80070005",
        "not authorized",
    ];
    if denied.iter().any(|words| lower.contains(words)) {
        CameraError::Denied { id: id.to_owned() }
    } else if lower.contains("busy") {
        CameraError::Busy { id: id.to_owned() }
    } else if lower.contains("no such file") || lower.contains("not found") {
        CameraError::NotFound { id: id.to_owned() }
    } else {
        CameraError::Unsupported {
            id: id.to_owned(),
            detail: detail.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_without_cameras_is_empty_and_opening_a_missing_one_is_not_found() {
        let cameras = list_cameras().expect("listing never fails for lack of cameras");
        let missing = "/dev/video-convene-missing";
        assert!(cameras.iter().all(|camera| camera.id != missing));
        assert!(matches!(
            NokhwaCamera::open(missing, 640, 360, 30),
            Err(CameraError::NotFound { .. })
        ));
    }

    #[test]
    fn open_failures_are_classified() {
        assert!(matches!(
            open_error(
                "/dev/video0",
                "Could not open device: Device or resource busy"
            ),
            CameraError::Busy { .. }
        ));
        assert!(matches!(
            open_error(
                "/dev/video0",
                "V4L2 Error: No such file or directory (os error 2)"
            ),
            CameraError::NotFound { .. }
        ));
        for refused in [
            "Failed to open /dev/video0: Permission denied (os error 13)",
            "MF error: Access is denied. (0x80070005)",
        ] {
            assert!(
                matches!(open_error("cam", refused), CameraError::Denied { .. }),
                "{refused}"
            );
        }
    }
}
