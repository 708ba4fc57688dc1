//! Microphone capture through cpal: the device's own format in, 10 ms mono frames at 48 kHz
//! out over a bounded channel, ready for processing and Opus.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError};

use cpal::traits::DeviceTrait;
use cpal::{FromSample, SizedSample};

use super::convert::{CapturePipeline, callback_buffer};
use super::host::find_device;
use super::worker::{StreamHooks, StreamWorker};
use super::{AudioDeviceId, DeviceError, DeviceEvent, Direction};

/// Frames buffered for a slow consumer before new ones are dropped (500 ms).
pub const CAPTURE_QUEUE_FRAMES: usize = 50;

/// 10 ms of captured audio: [`crate::processing::FRAME_SAMPLES`] mono samples at 48 kHz.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFrame {
    /// 480 samples, mono, 48 kHz, nominally in -1..=1.
    pub samples: Vec<f32>,
    /// The device it came from (changes after [`MicrophoneCapture::switch_to`]).
    pub device: AudioDeviceId,
}

/// A running microphone. Frames arrive on the receiver returned by [`MicrophoneCapture::open`];
/// dropping this stops the device and ends its thread. The receiver stays usable across
/// [`switch_to`](Self::switch_to) and yields nothing more after a loss until a switch.
pub struct MicrophoneCapture {
    worker: StreamWorker,
    dropped: Arc<AtomicU64>,
}

impl MicrophoneCapture {
    /// Opens `id` (or the default input when `None`) in its default format.
    pub fn open(
        id: Option<&AudioDeviceId>,
    ) -> Result<(MicrophoneCapture, Receiver<AudioFrame>), DeviceError> {
        Self::open_with_events(id, None)
    }

    /// Like [`open`](Self::open); when the device is lost mid-stream a
    /// [`DeviceEvent::Lost`] goes to `events` (e.g. [`super::DeviceWatcher::event_sender`]).
    pub fn open_with_events(
        id: Option<&AudioDeviceId>,
        events: Option<Sender<DeviceEvent>>,
    ) -> Result<(MicrophoneCapture, Receiver<AudioFrame>), DeviceError> {
        let (frames, receiver) = std::sync::mpsc::sync_channel(CAPTURE_QUEUE_FRAMES);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        let build = Box::new(move |id: Option<&AudioDeviceId>, hooks: StreamHooks| {
            build_capture(id, hooks, frames.clone(), counter.clone())
        });
        let worker = StreamWorker::start("convene-mic", id, events, build)?;
        Ok((MicrophoneCapture { worker, dropped }, receiver))
    }

    /// Moves capture to `id` (or the default input). Frames keep coming on the same receiver,
    /// from the new device; on failure the old device keeps capturing. Also restarts capture
    /// after a loss. Returns the id actually opened.
    pub fn switch_to(&self, id: Option<&AudioDeviceId>) -> Result<AudioDeviceId, DeviceError> {
        self.worker.switch_to(id)
    }

    /// The device being captured; `None` after it was lost.
    pub fn device(&self) -> Option<AudioDeviceId> {
        self.worker.device()
    }

    /// Frames thrown away because the receiver was not keeping up.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn build_capture(
    id: Option<&AudioDeviceId>,
    hooks: StreamHooks,
    frames: SyncSender<AudioFrame>,
    dropped: Arc<AtomicU64>,
) -> Result<(cpal::Stream, AudioDeviceId), DeviceError> {
    let (device, id) = find_device(id, Direction::Input)?;
    let supported = device
        .default_input_config()
        .map_err(|e| DeviceError::from_cpal(&id, &e, false))?;
    let mut config = supported.config();
    config.buffer_size = callback_buffer(&supported);
    let pipeline =
        CapturePipeline::new(config.sample_rate, usize::from(config.channels)).map_err(|e| {
            DeviceError::Unsupported {
                id: id.clone(),
                detail: e.to_string(),
            }
        })?;
    let sink = FrameSink {
        pipeline,
        frames,
        dropped,
        id: id.clone(),
        hooks: hooks.clone(),
        scratch: Vec::new(),
    };
    use cpal::SampleFormat as F;
    let stream = match supported.sample_format() {
        F::F32 => input_stream::<f32>(&device, config, sink, hooks),
        F::I16 => input_stream::<i16>(&device, config, sink, hooks),
        F::I32 => input_stream::<i32>(&device, config, sink, hooks),
        F::U16 => input_stream::<u16>(&device, config, sink, hooks),
        F::U8 => input_stream::<u8>(&device, config, sink, hooks),
        F::F64 => input_stream::<f64>(&device, config, sink, hooks),
        other => {
            return Err(DeviceError::Unsupported {
                id,
                detail: format!("sample format {other}"),
            });
        }
    }
    .map_err(|e| DeviceError::from_cpal(&id, &e, false))?;
    Ok((stream, id))
}

/// What the cpal data callback owns.
struct FrameSink {
    pipeline: CapturePipeline,
    frames: SyncSender<AudioFrame>,
    dropped: Arc<AtomicU64>,
    id: AudioDeviceId,
    hooks: StreamHooks,
    scratch: Vec<f32>,
}

impl FrameSink {
    fn push(&mut self, samples: &[f32]) {
        if !self.hooks.active.load(Ordering::Relaxed) {
            return;
        }
        let (frames, dropped, id) = (&self.frames, &self.dropped, &self.id);
        let result = self.pipeline.push(samples, |samples| {
            let frame = AudioFrame {
                samples,
                device: id.clone(),
            };
            match frames.try_send(frame) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        if let Err(e) = result {
            tracing::error!("capture resampling failed: {e}");
        }
    }
}

fn input_stream<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut sink: FrameSink,
    hooks: StreamHooks,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            let mut scratch = std::mem::take(&mut sink.scratch);
            scratch.clear();
            scratch.extend(data.iter().map(|s| f32::from_sample_(*s)));
            sink.push(&scratch);
            sink.scratch = scratch;
        },
        move |error| hooks.report(error),
        Some(std::time::Duration::from_secs(5)),
    )
}
