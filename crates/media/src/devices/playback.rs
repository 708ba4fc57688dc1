//! Speaker playback through cpal: the app's mixer fills 48 kHz mono, this puts it on the
//! device at 48 kHz when the device allows (PulseAudio always does), else at the device's
//! default rate through a resampler, copied into every channel.
//!
//! The buffer size is the host's default. With cpal 0.18's PulseAudio host that means about
//! 2 s of buffering (its first request is 2 s of audio): too much for a call. A fixed size
//! (20-100 ms tried) played corrupted audio here (an 880 Hz tone measured 1.4-5.6 kHz on the
//! sink monitor), so lowering it waits for a fix or a workaround in cpal's PulseAudio host.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use cpal::traits::DeviceTrait;
use cpal::{FromSample, SampleFormat, SizedSample};

use super::convert::spread;
use super::host::find_device;
use super::worker::{StreamHooks, StreamWorker};
use super::{AudioDeviceId, DeviceError, DeviceEvent, Direction};
use crate::processing::FRAME_SAMPLES;
use crate::resample::{TARGET_RATE, ToTargetRate};

/// Fills its buffer with the next 48 kHz mono samples (silence when there is nothing to
/// play). Called from the audio thread: must not block.
pub type PlaybackSource = Box<dyn FnMut(&mut [f32]) + Send>;

/// A running speaker. Dropping it stops the device and ends its thread.
pub struct SpeakerPlayback {
    worker: StreamWorker,
}

impl SpeakerPlayback {
    /// Opens `id` (or the default output when `None`) and starts pulling from `source`.
    pub fn open(id: Option<&AudioDeviceId>, source: PlaybackSource) -> Result<Self, DeviceError> {
        Self::open_with_events(id, source, None)
    }

    /// Like [`open`](Self::open); when the device is lost mid-stream a
    /// [`DeviceEvent::Lost`] goes to `events`.
    pub fn open_with_events(
        id: Option<&AudioDeviceId>,
        source: PlaybackSource,
        events: Option<Sender<DeviceEvent>>,
    ) -> Result<Self, DeviceError> {
        let source = Arc::new(Mutex::new(source));
        let build = Box::new(move |id: Option<&AudioDeviceId>, hooks: StreamHooks| {
            build_playback(id, hooks, source.clone())
        });
        let worker = StreamWorker::start("convene-speaker", id, events, build)?;
        Ok(Self { worker })
    }

    /// Moves playback to `id` (or the default output), keeping the same source. On failure
    /// the old device keeps playing. Also restarts playback after a loss.
    pub fn switch_to(&self, id: Option<&AudioDeviceId>) -> Result<AudioDeviceId, DeviceError> {
        self.worker.switch_to(id)
    }

    /// The device playing; `None` after it was lost.
    pub fn device(&self) -> Option<AudioDeviceId> {
        self.worker.device()
    }
}

/// The device config to use: 48 kHz in a format we write, with the default channel count if
/// possible; else the device default (resampled to).
fn choose_config(
    device: &cpal::Device,
    id: &AudioDeviceId,
) -> Result<cpal::SupportedStreamConfig, DeviceError> {
    let default = device
        .default_output_config()
        .map_err(|e| DeviceError::from_cpal(id, &e, false))?;
    let usable = |f: SampleFormat| matches!(f, SampleFormat::F32 | SampleFormat::I16);
    let at_48k = device
        .supported_output_configs()
        .map(|ranges| {
            ranges
                .filter(|r| usable(r.sample_format()) && r.contains_rate(TARGET_RATE))
                .min_by_key(|r| {
                    (
                        r.channels() != default.channels(),
                        r.sample_format() != SampleFormat::F32,
                    )
                })
        })
        .ok()
        .flatten();
    Ok(match at_48k {
        Some(range) => range.with_sample_rate(TARGET_RATE),
        None => default,
    })
}

fn build_playback(
    id: Option<&AudioDeviceId>,
    hooks: StreamHooks,
    source: Arc<Mutex<PlaybackSource>>,
) -> Result<(cpal::Stream, AudioDeviceId), DeviceError> {
    let (device, id) = find_device(id, Direction::Output)?;
    let supported = choose_config(&device, &id)?;
    let config = supported.config();
    let resampler = if config.sample_rate == TARGET_RATE {
        None
    } else {
        let r = ToTargetRate::between(TARGET_RATE, config.sample_rate, 1).map_err(|e| {
            DeviceError::Unsupported {
                id: id.clone(),
                detail: e.to_string(),
            }
        })?;
        Some(r)
    };
    let feed = Feed {
        source,
        resampler,
        channels: usize::from(config.channels.max(1)),
        fifo: VecDeque::new(),
        chunk: vec![0.0; FRAME_SAMPLES],
        mono: Vec::new(),
        hooks: hooks.clone(),
    };
    let stream = match supported.sample_format() {
        SampleFormat::F32 => output_stream::<f32>(&device, config, feed, hooks),
        SampleFormat::I16 => output_stream::<i16>(&device, config, feed, hooks),
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

/// What the cpal data callback owns: pulls 10 ms steps from the source as needed.
struct Feed {
    source: Arc<Mutex<PlaybackSource>>,
    resampler: Option<ToTargetRate>,
    channels: usize,
    /// Mono samples at the device rate, not yet played.
    fifo: VecDeque<f32>,
    chunk: Vec<f32>,
    mono: Vec<f32>,
    hooks: StreamHooks,
}

impl Feed {
    fn fill(&mut self, out: &mut [f32]) {
        let frames = out.len() / self.channels;
        if !self.hooks.active.load(Ordering::Relaxed) {
            out.fill(0.0);
            return;
        }
        while self.fifo.len() < frames {
            // A stream being switched away from may briefly overlap the new one: whichever
            // does not get the source plays silence rather than waiting.
            match self.source.try_lock() {
                Ok(mut source) => source(&mut self.chunk),
                Err(_) => self.chunk.fill(0.0),
            }
            match self.resampler.as_mut().map(|r| r.push(&self.chunk)) {
                None => self.fifo.extend(&self.chunk),
                Some(Ok(resampled)) => self.fifo.extend(resampled),
                Some(Err(e)) => {
                    tracing::error!("playback resampling failed: {e}");
                    self.fifo.extend(std::iter::repeat_n(0.0, frames));
                }
            }
        }
        self.mono.clear();
        self.mono.extend(self.fifo.drain(..frames));
        spread(&self.mono, self.channels, out);
    }
}

fn output_stream<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut feed: Feed,
    hooks: StreamHooks,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let mut scratch: Vec<f32> = Vec::new();
    device.build_output_stream::<T, _, _>(
        config,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
            scratch.resize(data.len(), 0.0);
            feed.fill(&mut scratch);
            for (out, sample) in data.iter_mut().zip(&scratch) {
                *out = T::from_sample_(*sample);
            }
        },
        move |error| hooks.report(error),
        Some(std::time::Duration::from_secs(5)),
    )
}
