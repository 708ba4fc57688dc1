//! Camera frames to a published video track.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use convene_media::codec::VideoEncoder;
use convene_media::video::source::CapturedFrame;
use convene_room::room::LocalTrack;
use tokio::sync::mpsc;

use crate::preview::{LocalPictures, show_local_picture};

/// Encoded frames waiting for the network at most; more are dropped (and the next frame is
/// made a keyframe, so receivers recover at once).
const SEND_QUEUE: usize = 4;
/// How often the encoding thread checks that it should stop.
const STOP_POLL: Duration = Duration::from_millis(100);
/// Frame duration assumed for the first frame.
const DEFAULT_FRAME: Duration = Duration::from_millis(33);

/// Encodes camera frames onto a published track; keyframe requests from receivers (PLI/FIR,
/// republishing after a reconnect) force keyframes. Dropping it stops the pipeline.
pub struct VideoSender {
    stop: Arc<AtomicBool>,
    bitrate: Arc<AtomicU32>,
    thread: Option<JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl VideoSender {
    /// Starts sending `frames` on `track` through `encoder`. Must be called inside a tokio
    /// runtime.
    pub fn start(
        track: LocalTrack,
        frames: Receiver<CapturedFrame>,
        encoder: Box<dyn VideoEncoder>,
    ) -> Self {
        Self::start_with_self_view(track, frames, encoder, None)
    }

    /// Like [`VideoSender::start`], and every captured picture also becomes the newest in
    /// `self_view` (our own tile), without a copy.
    pub fn start_with_self_view(
        track: LocalTrack,
        frames: Receiver<CapturedFrame>,
        encoder: Box<dyn VideoEncoder>,
        self_view: Option<LocalPictures>,
    ) -> Self {
        let (encoded_tx, mut encoded_rx) = mpsc::channel::<(Bytes, Duration)>(SEND_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let keyframe_wanted = Arc::new(AtomicBool::new(true));
        let bitrate = Arc::new(AtomicU32::new(0));
        let encoding = EncodeLoop {
            frames,
            encoder,
            encoded: encoded_tx,
            stop: stop.clone(),
            keyframe_wanted: keyframe_wanted.clone(),
            bitrate: bitrate.clone(),
            self_view,
        };
        let thread = std::thread::Builder::new()
            .name("video-send".to_owned())
            .spawn(move || encoding.run())
            .ok();
        let mut requests = track.keyframe_requests();
        let keyframes = tokio::spawn(async move {
            while requests.changed().await.is_ok() {
                keyframe_wanted.store(true, Ordering::Release);
            }
        });
        let writer = tokio::spawn(async move {
            while let Some((frame, duration)) = encoded_rx.recv().await {
                let _ = track.write_frame(frame, duration).await;
            }
        });
        Self {
            stop,
            bitrate,
            thread,
            tasks: vec![keyframes, writer],
        }
    }

    /// Changes the encoder's target bitrate (e.g. following the network estimate).
    pub fn set_bitrate(&self, bits_per_second: u32) {
        self.bitrate.store(bits_per_second, Ordering::Release);
    }
}

impl Drop for VideoSender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.tasks.iter().for_each(tokio::task::JoinHandle::abort);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct EncodeLoop {
    frames: Receiver<CapturedFrame>,
    encoder: Box<dyn VideoEncoder>,
    encoded: mpsc::Sender<(Bytes, Duration)>,
    stop: Arc<AtomicBool>,
    keyframe_wanted: Arc<AtomicBool>,
    bitrate: Arc<AtomicU32>,
    self_view: Option<LocalPictures>,
}

impl EncodeLoop {
    fn run(mut self) {
        let mut first: Option<SystemTime> = None;
        let mut previous_pts: Option<Duration> = None;
        let mut sequence = 0;
        while !self.stop.load(Ordering::Acquire) {
            let captured = match self.frames.recv_timeout(STOP_POLL) {
                Ok(captured) => captured,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            self.apply_controls();
            let start = *first.get_or_insert(captured.captured_at);
            let pts = captured
                .captured_at
                .duration_since(start)
                .unwrap_or_default();
            let encoded = self.encoder.encode(&captured.frame, pts);
            if let Some(self_view) = &self.self_view {
                sequence += 1;
                show_local_picture(self_view, captured.frame, sequence);
            }
            let encoded = match encoded {
                Ok(Some(encoded)) => encoded,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%error, "video encoding failed");
                    continue;
                }
            };
            let duration = previous_pts.map_or(DEFAULT_FRAME, |previous| {
                pts.saturating_sub(previous).max(Duration::from_millis(1))
            });
            previous_pts = Some(pts);
            if self.encoded.try_send((encoded.data, duration)).is_err() {
                self.keyframe_wanted.store(true, Ordering::Release);
            }
        }
    }

    fn apply_controls(&mut self) {
        if self.keyframe_wanted.swap(false, Ordering::AcqRel) {
            self.encoder.request_keyframe();
        }
        let bitrate = self.bitrate.swap(0, Ordering::AcqRel);
        if bitrate > 0
            && let Err(error) = self.encoder.set_bitrate(bitrate)
        {
            tracing::warn!(%error, "bitrate change refused");
        }
    }
}
