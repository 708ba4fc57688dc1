//! Speaker playback through cpal: the app's mixer fills 48 kHz mono, this puts it on the
//! device at 48 kHz when the device allows (PulseAudio always does), else at the device's
//! default rate through a resampler, copied into every channel.
//!
//! # Latency
//!
//! The buffer is fixed at [`PLAYBACK_PERIOD_MS`] per callback. The host's default would be
//! about 2 s with cpal 0.18's PulseAudio host (the server's default target length): far too
//! much for a call.
//!
//! With `BufferSize::Fixed(n)` that host asks the server for a target length of 2·n frames,
//! a minimum request of n and `ADJUST_LATENCY`. PulseAudio then gives the sink
//! (target − 2·request)/2 = 0, i.e. its minimum latency (well under 1 ms on a null sink),
//! so everything rests on the stream's own queue: the server asks for a period when one is
//! missing, and the client has one period to answer before the stream runs dry. Requests are
//! whole frames and cpal sizes them correctly (no bytes/frames or channel mix-up); what broke
//! an earlier attempt (an 880 Hz tone "measured" at 1.4-5.6 kHz on the sink monitor) was
//! underruns: up to a third of the audio was silence gaps, which the zero-crossing
//! frequency estimate reads as kHz. The client missed its deadline because the `pulseaudio`
//! crate's reactor zero-fills a 1 MiB read buffer per socket read, which takes milliseconds
//! in an unoptimized build; the workspace now builds that crate optimized in dev too, and
//! then even 20 ms periods play cleanly (measured ~50 ms from the source callback to the
//! sink monitor, against ~2 s before).
//!
//! The period stays larger than capture's 20 ms so that a busy machine has 40 ms of slack
//! before an underrun, for ~70 ms of latency. ALSA's `pulse` plugin with a fixed period was
//! tried as a way around the PulseAudio host: no lower latency, sometimes no sound at all,
//! and it can only reach the default sink, so it is not used.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use cpal::traits::DeviceTrait;
use cpal::{FromSample, SampleFormat, SizedSample};

use super::convert::{fixed_buffer, spread};
use super::host::find_device;
use super::worker::{PendingSwitch, StreamHooks, StreamWorker};
use super::{AudioDeviceId, DeviceError, DeviceEvent, Direction};
use crate::processing::FRAME_SAMPLES;
use crate::resample::{TARGET_RATE, ToTargetRate};

/// Fills its buffer with the next 48 kHz mono samples (silence when there is nothing to
/// play). Called from the audio thread: must not block.
pub type PlaybackSource = Box<dyn FnMut(&mut [f32]) + Send>;

/// Audio per playback callback; the server keeps about two of these queued (see the module
/// docs for why this size).
pub(crate) const PLAYBACK_PERIOD_MS: u32 = 40;

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

    /// Like [`switch_to`](Self::switch_to) without blocking: the switch is carried out on
    /// the stream's thread and waited for with [`PendingSwitch::wait`].
    pub fn request_switch(&self, id: Option<&AudioDeviceId>) -> Result<PendingSwitch, DeviceError> {
        self.worker.request_switch(id)
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
    let mut config = supported.config();
    config.buffer_size = fixed_buffer(&supported, PLAYBACK_PERIOD_MS);
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
