//! Before joining: the chosen camera in a tile and the chosen microphone on a level meter,
//! so people see and hear themselves before anyone else does (and pick another device if
//! the picture is black or the meter does not move).
//!
//! The picture goes out like a remote track's (a newest-wins [`LocalPicture`]), so the
//! same frame server and tile draw it. Nothing here touches the network.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use convene_media::playout::LevelMeter;
use convene_media::video::I420Frame;
use convene_media::video::source::VideoCapture;
use tokio::sync::watch;

use crate::local_devices::{DeviceChoice, DeviceKind, MicrophoneSource, blocking};
use crate::local_devices::{open_camera, open_microphone};
use crate::{CallError, DecodedVideo};

/// The frame server's name for our own camera (before and during a call).
pub const LOCAL_CAMERA_FEED: &str = "local:camera";
/// How often the level meter is updated.
pub const LEVEL_INTERVAL: Duration = Duration::from_millis(50);

/// Our own camera's newest picture (`None`: camera off).
pub type LocalPicture = watch::Receiver<Option<Arc<DecodedVideo>>>;
/// Where our own camera's pictures are put.
pub type LocalPictures = Arc<watch::Sender<Option<Arc<DecodedVideo>>>>;
/// Receives the microphone level (0.0 silence to 1.0 full scale) every [`LEVEL_INTERVAL`].
pub type LevelSink = Arc<dyn Fn(f32) + Send + Sync>;

/// Replaces the newest local picture with `frame` (the `sequence`-th).
pub(crate) fn show_local_picture(pictures: &LocalPictures, frame: I420Frame, sequence: u64) {
    pictures.send_replace(Some(Arc::new(DecodedVideo {
        frame,
        decoded_at: Instant::now(),
        sequence,
    })));
}

/// The running preview; dropping it releases the devices (the camera light goes off).
pub struct DevicePreview {
    camera: Option<VideoCapture>,
    microphone: Option<MicrophoneSource>,
    threads: Vec<JoinHandle<()>>,
    picture: LocalPicture,
}

impl DevicePreview {
    /// Opens the chosen camera (when `camera_on`) and microphone (when `microphone_on`).
    /// A device that cannot open is returned as a problem; the preview runs without it.
    pub async fn start(
        choice: &DeviceChoice,
        camera_on: bool,
        microphone_on: bool,
        level: LevelSink,
    ) -> (Self, Vec<(DeviceKind, CallError)>) {
        let (pictures, picture) = watch::channel(None);
        let pictures: LocalPictures = Arc::new(pictures);
        let mut preview = Self {
            camera: None,
            microphone: None,
            threads: Vec::new(),
            picture,
        };
        let mut problems = Vec::new();
        if camera_on {
            let id = choice.camera.clone();
            match blocking(move || open_camera(id.as_deref())).await {
                Ok(camera) => {
                    let frames = camera.frames;
                    preview.camera = Some(camera.capture);
                    preview.spawn("camera-preview", move || {
                        for (sequence, captured) in frames.into_iter().enumerate() {
                            show_local_picture(&pictures, captured.frame, sequence as u64 + 1);
                        }
                    });
                }
                Err(error) => problems.push((DeviceKind::Camera, error)),
            }
        }
        if microphone_on {
            let id = choice.microphone.clone();
            match blocking(move || open_microphone(id.as_deref())).await {
                Ok((source, frames)) => {
                    preview.microphone = Some(source);
                    preview.spawn("level-meter", move || {
                        let mut meter = LevelMeter::default();
                        let mut last_report = Instant::now();
                        for frame in frames {
                            meter.update(&frame.samples);
                            if last_report.elapsed() >= LEVEL_INTERVAL {
                                level(meter.level());
                                last_report = Instant::now();
                            }
                        }
                    });
                }
                Err(error) => problems.push((DeviceKind::Microphone, error)),
            }
        }
        (preview, problems)
    }

    /// The camera's newest picture (stays `None` with the camera off).
    pub fn picture(&self) -> LocalPicture {
        self.picture.clone()
    }

    /// Whether the camera is being previewed.
    pub fn has_camera(&self) -> bool {
        self.camera.is_some()
    }

    /// Whether the microphone is being metered.
    pub fn has_microphone(&self) -> bool {
        self.microphone.is_some()
    }

    fn spawn(&mut self, name: &str, work: impl FnOnce() + Send + 'static) {
        match std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(work)
        {
            Ok(thread) => self.threads.push(thread),
            Err(error) => tracing::warn!(%error, name, "cannot start a preview thread"),
        }
    }
}

impl Drop for DevicePreview {
    fn drop(&mut self) {
        // Stopping the devices closes their queues, which ends the threads.
        self.camera.take();
        self.microphone.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_devices::{TEST_PATTERN, TEST_TONE};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_test_devices_preview_pictures_and_a_level() {
        let (levels_tx, mut levels) = tokio::sync::mpsc::unbounded_channel();
        let (mut preview, problems) = DevicePreview::start(
            &DeviceChoice::synthetic(),
            true,
            true,
            Arc::new(move |level| {
                let _ = levels_tx.send(level);
            }),
        )
        .await;
        assert!(problems.is_empty(), "{problems:?}");
        assert!(preview.has_camera() && preview.has_microphone());
        let mut picture = preview.picture();
        let first = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                picture.changed().await.expect("pictures");
                if let Some(shown) = picture.borrow_and_update().clone() {
                    return shown;
                }
            }
        })
        .await
        .expect("a picture within 5 s");
        assert_eq!((first.frame.width, first.frame.height), (640, 360));
        // The tone is at half amplitude: the meter reads about 0.5.
        tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(level) = levels.recv().await {
                if level > 0.4 {
                    return;
                }
            }
        })
        .await
        .expect("the meter follows the tone");
        drop(preview);
        preview = DevicePreview::start(
            &DeviceChoice {
                camera: Some(TEST_PATTERN.into()),
                microphone: Some(TEST_TONE.into()),
                speaker: None,
            },
            false,
            false,
            Arc::new(|_| {}),
        )
        .await
        .0;
        assert!(!preview.has_camera() && !preview.has_microphone());
        assert!(preview.picture().borrow().is_none());
    }
}
