//! Where camera frames come from, and the capture thread that pulls them.
//!
//! A real camera and the test pattern are both a [`VideoSource`]; everything downstream
//! (encoder, preview) takes frames from a [`VideoCapture`], so `--fake-media` exercises the
//! same pipeline as a webcam. Sources are opened on the capture thread itself (cameras are
//! not `Send` everywhere). A source that fails (camera unplugged) ends the capture with
//! its error, which [`VideoCapture::stop_reason`] reports.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::I420Frame;
use crate::synthetic::TestPattern;

/// Frames waiting for the consumer at most; more are dropped (a slow encoder must not make
/// the picture late).
const QUEUE_FRAMES: usize = 2;

/// One captured picture and when it was taken (for latency measurements).
#[derive(Debug, Clone)]
pub struct CapturedFrame {
    /// The picture.
    pub frame: I420Frame,
    /// Wall-clock capture time.
    pub captured_at: SystemTime,
}

/// Why a camera could not be opened or stopped producing frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CameraError {
    /// No camera has this id (unplugged, or a stale setting).
    #[error("no camera {id}")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The user or the system refused this app the camera (macOS privacy prompt, Windows
    /// privacy settings, Linux device permissions).
    #[error(
        "the camera {id} is not allowed for Convene: allow it in the system's privacy settings"
    )]
    Denied {
        /// The camera.
        id: String,
    },
    /// Another application holds the camera.
    #[error("the camera {id} is in use by another application")]
    Busy {
        /// The camera.
        id: String,
    },
    /// The camera offers no format we can convert.
    #[error("the camera {id} offers no usable format: {detail}")]
    Unsupported {
        /// The camera.
        id: String,
        /// What the backend said.
        detail: String,
    },
    /// The device went away while capturing.
    #[error("the camera {0} was disconnected")]
    Lost(String),
    /// The platform's camera API or a frame failed otherwise.
    #[error("camera: {0}")]
    Failed(String),
}

/// Opens a source on the capture thread (cameras are not `Send` on every platform, so
/// they are created where they are used).
pub type OpenSource = Box<dyn FnOnce() -> Result<Box<dyn VideoSource>, CameraError> + Send>;

/// A camera: blocks until its next frame. Implementations pace themselves (a device by its
/// frame rate, a synthetic source by a clock); they never run faster than real time.
pub trait VideoSource: 'static {
    /// The next frame, waiting for it if necessary.
    fn next_frame(&mut self) -> Result<CapturedFrame, CameraError>;
    /// A human-readable name for logs and pickers.
    fn name(&self) -> String;
}

/// The synthetic camera: a [`TestPattern`] at a fixed frame rate, with the frame counter
/// and capture time drawn in, so a receiver can check order, rate and latency.
pub struct PatternCamera {
    pattern: TestPattern,
    interval: Duration,
    next_due: Option<Instant>,
}

impl PatternCamera {
    /// A `width` x `height` pattern at `fps` frames a second.
    pub fn new(width: usize, height: usize, fps: u32) -> Self {
        Self {
            pattern: TestPattern::new(width, height),
            interval: Duration::from_secs(1) / fps.max(1),
            next_due: None,
        }
    }
}

impl VideoSource for PatternCamera {
    fn next_frame(&mut self) -> Result<CapturedFrame, CameraError> {
        let now = Instant::now();
        let due = self.next_due.unwrap_or(now);
        if due > now {
            std::thread::sleep(due - now);
        }
        // Fall behind by at most one frame instead of bursting to catch up.
        self.next_due =
            Some(due.max(now.checked_sub(self.interval).unwrap_or(now)) + self.interval);
        let captured_at = SystemTime::now();
        let millis = captured_at
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_millis() as u64)
            .unwrap_or_default();
        Ok(CapturedFrame {
            frame: self.pattern.next_frame(millis),
            captured_at,
        })
    }

    fn name(&self) -> String {
        "Test pattern camera".to_owned()
    }
}

enum Control {
    Switch(OpenSource, SyncSender<Result<(), CameraError>>),
    Stop,
}

/// A capture thread pulling frames from a [`VideoSource`] into a bounded queue. Dropping it
/// stops the thread (within one frame interval).
pub struct VideoCapture {
    control: SyncSender<Control>,
    thread: Option<JoinHandle<()>>,
    stop_reason: Arc<Mutex<Option<CameraError>>>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl VideoCapture {
    /// Opens a source on a new capture thread and starts capturing; frames arrive on the
    /// returned receiver. Fails with the source's error (missing, busy) if it cannot open.
    pub fn start(open: OpenSource) -> Result<(Self, Receiver<CapturedFrame>), CameraError> {
        let (frames_tx, frames_rx) = std::sync::mpsc::sync_channel(QUEUE_FRAMES);
        let (control_tx, control_rx) = std::sync::mpsc::sync_channel(4);
        let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel(1);
        let stop_reason = Arc::new(Mutex::new(None));
        let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (reason, dropped_count) = (stop_reason.clone(), dropped.clone());
        let thread = std::thread::Builder::new()
            .name("video-capture".to_owned())
            .spawn(move || {
                let source = match open() {
                    Ok(source) => source,
                    Err(error) => {
                        let _ = opened_tx.send(Err(error));
                        return;
                    }
                };
                let _ = opened_tx.send(Ok(()));
                CaptureLoop {
                    source,
                    frames: frames_tx,
                    control: control_rx,
                    stop_reason: reason,
                    dropped: dropped_count,
                }
                .run();
            })
            .map_err(|error| CameraError::Failed(error.to_string()))?;
        let opened = opened_rx
            .recv()
            .unwrap_or_else(|_| Err(CameraError::Failed("capture thread ended".to_owned())));
        let capture = Self {
            control: control_tx,
            thread: Some(thread),
            stop_reason,
            dropped,
        };
        opened.map(|()| (capture, frames_rx))
    }

    /// Continues on another source (camera switch); the receiver stays the same. If the new
    /// source cannot open, capture continues on the old one and the error is returned.
    pub fn switch_to(&self, open: OpenSource) -> Result<(), CameraError> {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        self.control
            .send(Control::Switch(open, done_tx))
            .map_err(|_| CameraError::Failed("capture has stopped".to_owned()))?;
        done_rx
            .recv()
            .unwrap_or_else(|_| Err(CameraError::Failed("capture has stopped".to_owned())))
    }

    /// Why capturing stopped by itself, if it did (e.g. the camera was unplugged).
    pub fn stop_reason(&self) -> Option<CameraError> {
        self.stop_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Frames dropped because the consumer was behind.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for VideoCapture {
    fn drop(&mut self) {
        let _ = self.control.try_send(Control::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct CaptureLoop {
    source: Box<dyn VideoSource>,
    frames: SyncSender<CapturedFrame>,
    control: Receiver<Control>,
    stop_reason: Arc<Mutex<Option<CameraError>>>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl CaptureLoop {
    fn run(mut self) {
        loop {
            match self.control.recv_timeout(Duration::ZERO) {
                Ok(Control::Switch(open, done)) => {
                    let result = open().map(|source| self.source = source);
                    let _ = done.send(result);
                }
                Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let frame = match self.source.next_frame() {
                Ok(frame) => frame,
                Err(error) => {
                    tracing::warn!(source = %self.source.name(), %error, "video capture stopped");
                    *self
                        .stop_reason
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(error);
                    return;
                }
            };
            match self.frames.try_send(frame) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.dropped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Unplugged;

    fn pattern_camera(width: usize, height: usize) -> OpenSource {
        Box::new(
            move || Ok(Box::new(PatternCamera::new(width, height, 50)) as Box<dyn VideoSource>),
        )
    }

    impl VideoSource for Unplugged {
        fn next_frame(&mut self) -> Result<CapturedFrame, CameraError> {
            Err(CameraError::Lost("test".to_owned()))
        }

        fn name(&self) -> String {
            "unplugged".to_owned()
        }
    }

    #[test]
    fn the_pattern_camera_is_paced_and_numbers_its_frames() {
        let (capture, frames) = VideoCapture::start(pattern_camera(160, 90)).expect("start");
        let started = Instant::now();
        let pattern = TestPattern::new(160, 90);
        let mut counters = Vec::new();
        for _ in 0..10 {
            let captured = frames.recv_timeout(Duration::from_secs(2)).expect("frame");
            let stamp = pattern.read(&captured.frame).expect("stamp");
            counters.push(stamp.counter);
        }
        // Ten frames at 50 fps take at least 9 intervals: it does not run free.
        assert!(started.elapsed() >= Duration::from_millis(170));
        assert!(
            counters.windows(2).all(|pair| pair[1] > pair[0]),
            "{counters:?}"
        );
        assert_eq!(capture.stop_reason(), None);
    }

    #[test]
    fn a_camera_that_cannot_open_is_an_error_from_start() {
        let missing: OpenSource = Box::new(|| {
            Err(CameraError::Busy {
                id: "cam".to_owned(),
            })
        });
        assert!(matches!(
            VideoCapture::start(missing),
            Err(CameraError::Busy { .. })
        ));
    }

    #[test]
    fn a_lost_camera_ends_the_capture_with_its_reason() {
        let (capture, frames) =
            VideoCapture::start(Box::new(|| Ok(Box::new(Unplugged) as Box<dyn VideoSource>)))
                .expect("start");
        assert!(frames.recv_timeout(Duration::from_secs(2)).is_err());
        assert_eq!(
            capture.stop_reason(),
            Some(CameraError::Lost("test".to_owned()))
        );
    }

    #[test]
    fn switching_sources_keeps_the_same_receiver() {
        let (capture, frames) = VideoCapture::start(pattern_camera(160, 90)).expect("start");
        frames
            .recv_timeout(Duration::from_secs(2))
            .expect("first source");
        capture.switch_to(pattern_camera(320, 180)).expect("switch");
        let missing = Box::new(|| Err(CameraError::NotFound { id: "x".to_owned() }));
        assert!(capture.switch_to(missing).is_err());
        let switched = (0..10).any(|_| {
            frames
                .recv_timeout(Duration::from_secs(2))
                .is_ok_and(|captured| captured.frame.width == 320)
        });
        assert!(switched);
    }
}
