//! Mixes every remote audio stream into the one signal the speaker plays, and keeps each
//! participant's level for the active-speaker highlight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::buffer::{PlayoutBuffer, PlayoutConfig, PlayoutStats};
use super::level::LevelMeter;
use crate::codec::CodecError;

/// Where the mixed signal starts to be compressed rather than passed through.
const SOFT_CLIP_KNEE: f32 = 0.8;

struct Stream {
    buffer: PlayoutBuffer,
    level: LevelMeter,
}

/// The streams being played, keyed by the caller's name for them (a track sid).
pub struct Mixer {
    config: PlayoutConfig,
    streams: HashMap<String, Stream>,
    scratch: Vec<f32>,
}

impl Mixer {
    /// A mixer whose streams use `config`.
    pub fn new(config: PlayoutConfig) -> Self {
        Self {
            config,
            streams: HashMap::new(),
            scratch: Vec::new(),
        }
    }

    /// Starts playing a stream (when a remote audio track is subscribed). Replaces a
    /// stream of the same key, which starts over (e.g. after a full reconnect).
    pub fn add_stream(&mut self, key: impl Into<String>) -> Result<(), CodecError> {
        let stream = Stream {
            buffer: PlayoutBuffer::new(self.config)?,
            level: LevelMeter::default(),
        };
        self.streams.insert(key.into(), stream);
        Ok(())
    }

    /// Stops playing a stream (unsubscribed, participant left).
    pub fn remove_stream(&mut self, key: &str) {
        self.streams.remove(key);
    }

    /// Hands one RTP packet to its stream's playout buffer; unknown keys are ignored (a
    /// packet racing the stream's removal).
    pub fn push(&mut self, key: &str, sequence: u16, timestamp: u32, payload: &[u8]) {
        if let Some(stream) = self.streams.get_mut(key) {
            stream
                .buffer
                .push(sequence, timestamp, payload, Instant::now());
        }
    }

    /// Fills `out` (48 kHz mono) with the sum of all streams, soft-clipped, and updates
    /// their levels. Called from the speaker's callback.
    pub fn fill(&mut self, out: &mut [f32]) {
        out.fill(0.0);
        self.scratch.resize(out.len(), 0.0);
        for stream in self.streams.values_mut() {
            stream.buffer.pull(&mut self.scratch);
            stream.level.update(&self.scratch);
            for (mixed, sample) in out.iter_mut().zip(&self.scratch) {
                *mixed += sample;
            }
        }
        out.iter_mut()
            .for_each(|sample| *sample = soft_clip(*sample));
    }

    /// Each stream's current level (0.0..=1.0), for level meters and speaker highlight.
    pub fn levels(&self) -> Vec<(String, f32)> {
        self.streams
            .iter()
            .map(|(key, stream)| (key.clone(), stream.level.level()))
            .collect()
    }

    /// A stream's playout counters, for diagnostics.
    pub fn stats(&self, key: &str) -> Option<PlayoutStats> {
        self.streams.get(key).map(|stream| stream.buffer.stats())
    }
}

/// A mixer shared between the network side (push) and the speaker callback (fill).
pub type SharedMixer = Arc<Mutex<Mixer>>;

/// Like [`playback_source`], and also hands every block played to `far_end`, the echo
/// canceller's reference for the microphone pipeline.
pub fn playback_source_with_echo_reference(
    mixer: SharedMixer,
    far_end: crate::far_end::FarEnd,
) -> impl FnMut(&mut [f32]) + Send + 'static {
    let mut play = playback_source(mixer);
    move |out: &mut [f32]| {
        play(out);
        far_end.push(out);
    }
}

/// The speaker callback for a shared mixer: fills each buffer the device asks for.
/// A poisoned lock (a panic elsewhere) still plays: the mixer's state is plain data.
pub fn playback_source(mixer: SharedMixer) -> impl FnMut(&mut [f32]) + Send + 'static {
    move |out: &mut [f32]| {
        mixer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fill(out);
    }
}

/// Passes quiet signals unchanged and bends peaks above the knee smoothly toward 1.0, so
/// several loud talkers do not wrap around or click.
fn soft_clip(sample: f32) -> f32 {
    let magnitude = sample.abs();
    if magnitude <= SOFT_CLIP_KNEE {
        return sample;
    }
    let headroom = 1.0 - SOFT_CLIP_KNEE;
    let bent = SOFT_CLIP_KNEE + headroom * ((magnitude - SOFT_CLIP_KNEE) / headroom).tanh();
    bent.copysign(sample)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;
    use crate::codec::opus::{OpusEncoder, OpusSettings};
    use crate::synthetic::SineTone;

    fn tone_packets(hz: f32, amplitude: f32, count: usize) -> Vec<bytes::Bytes> {
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        let mut tone = SineTone::new(hz, 48_000, amplitude);
        let mut frame = vec![0.0; 960];
        (0..count)
            .map(|_| {
                tone.fill(&mut frame);
                encoder.encode(&frame).expect("encode")
            })
            .collect()
    }

    #[test]
    fn two_talkers_are_mixed_and_each_has_its_own_level() {
        let mut mixer = Mixer::new(PlayoutConfig::default());
        mixer.add_stream("loud").expect("stream");
        mixer.add_stream("quiet").expect("stream");
        mixer.add_stream("silent").expect("stream");
        let loud = tone_packets(440.0, 0.5, 50);
        let quiet = tone_packets(440.0, 0.05, 50);
        for (k, (a, b)) in loud.iter().zip(&quiet).enumerate() {
            mixer.push("loud", k as u16, k as u32 * 960, a);
            mixer.push("quiet", k as u16, k as u32 * 960, b);
        }
        mixer.push("gone", 0, 0, &loud[0]);
        let mut out = vec![0.0; 48_000 / 2];
        mixer.fill(&mut out);
        let hz = dominant_frequency(&out[4_800..], 48_000);
        assert!((hz - 440.0).abs() < 5.0, "{hz}");
        let levels: HashMap<_, _> = mixer.levels().into_iter().collect();
        assert!(levels["loud"] > 0.3, "{levels:?}");
        assert!(
            levels["quiet"] > 0.02 && levels["quiet"] < 0.1,
            "{levels:?}"
        );
        assert!(levels["silent"] < 0.001, "{levels:?}");
        mixer.remove_stream("loud");
        assert!(mixer.stats("loud").is_none());
        // 25 frames played; the one-second backlog also made it drop some.
        let quiet_stats = mixer.stats("quiet").expect("stats");
        assert!(quiet_stats.decoded >= 25 && quiet_stats.accelerated > 0);
    }

    #[test]
    fn peaks_are_bent_below_full_scale_and_quiet_samples_pass() {
        assert_eq!(soft_clip(0.5), 0.5);
        assert_eq!(soft_clip(-0.8), -0.8);
        assert!(soft_clip(3.0) <= 1.0 && soft_clip(3.0) > 0.99);
        assert!(soft_clip(-1.2) > -1.0);
        assert!(soft_clip(0.9) > soft_clip(0.85));
    }
}
