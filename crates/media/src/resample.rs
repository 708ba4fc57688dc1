//! Bringing device audio to 48 kHz, the rate Opus and the audio processing use: microphones
//! and speakers commonly run at 44.1 kHz (or 16/32 kHz), and cpal hands over whatever the
//! device does. An FFT resampler (`rubato`) for fixed rate pairs, streaming: push chunks of
//! any length, take whatever 48 kHz audio is ready.

use std::collections::VecDeque;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// The rate everything after capture runs at.
pub const TARGET_RATE: u32 = 48_000;
/// Input frames per resampler step (10 ms at 48 kHz; any size works).
const CHUNK_FRAMES: usize = 480;

/// Why a resampler could not be made or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    /// The rates or channel count are not usable (zero, or absurd).
    #[error("cannot resample from {rate} Hz with {channels} channels: {reason}")]
    Unsupported {
        /// Input rate.
        rate: u32,
        /// Channels.
        channels: usize,
        /// Why.
        reason: String,
    },
    /// The resampler failed on a chunk.
    #[error("resampling failed: {0}")]
    Failed(String),
}

/// Streams interleaved `f32` audio from one rate to [`TARGET_RATE`].
pub struct ToTargetRate {
    channels: usize,
    /// `None` when the input already runs at the output rate.
    fft: Option<Fft<f32>>,
    pending: VecDeque<f32>,
    chunk: Vec<f32>,
    out: Vec<f32>,
}

impl ToTargetRate {
    /// A resampler from `input_rate` with `channels` interleaved channels.
    pub fn new(input_rate: u32, channels: usize) -> Result<Self, ResampleError> {
        Self::between(input_rate, TARGET_RATE, channels)
    }

    /// A resampler from `input_rate` to `output_rate` (despite the type's name; playback
    /// uses it to bring 48 kHz audio to a speaker that cannot run at 48 kHz).
    pub fn between(
        input_rate: u32,
        output_rate: u32,
        channels: usize,
    ) -> Result<Self, ResampleError> {
        let unsupported = |reason: String| ResampleError::Unsupported {
            rate: input_rate,
            channels,
            reason,
        };
        if channels == 0 || input_rate == 0 || output_rate == 0 {
            return Err(unsupported("zero rate or channels".into()));
        }
        let fft = if input_rate == output_rate {
            None
        } else {
            Some(
                Fft::<f32>::new(
                    input_rate as usize,
                    output_rate as usize,
                    CHUNK_FRAMES,
                    channels,
                    FixedSync::Input,
                )
                .map_err(|e| unsupported(e.to_string()))?,
            )
        };
        Ok(Self {
            channels,
            fft,
            pending: VecDeque::new(),
            chunk: Vec::new(),
            out: Vec::new(),
        })
    }

    /// Adds `samples` (interleaved, a whole number of frames) and returns the 48 kHz audio
    /// that is ready (possibly none yet; the resampler works in 10 ms steps and has a
    /// short start-up delay).
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<f32>, ResampleError> {
        let Some(fft) = self.fft.as_mut() else {
            return Ok(samples.to_vec());
        };
        self.pending.extend(samples);
        let mut ready = Vec::new();
        loop {
            let needed = fft.input_frames_next() * self.channels;
            if self.pending.len() < needed {
                break;
            }
            self.chunk.clear();
            self.chunk.extend(self.pending.drain(..needed));
            let out_frames = fft.output_frames_next();
            self.out.resize(out_frames * self.channels, 0.0);
            let input = InterleavedSlice::new(&self.chunk, self.channels, needed / self.channels)
                .map_err(|e| ResampleError::Failed(e.to_string()))?;
            let mut output = InterleavedSlice::new_mut(&mut self.out, self.channels, out_frames)
                .map_err(|e| ResampleError::Failed(e.to_string()))?;
            let (_, produced) = fft
                .process_into_buffer(&input, &mut output, None)
                .map_err(|e| ResampleError::Failed(e.to_string()))?;
            ready.extend_from_slice(&self.out[..produced * self.channels]);
        }
        Ok(ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;
    use crate::synthetic::SineTone;

    #[test]
    fn a_tone_at_44_1_khz_arrives_at_48_khz_with_its_pitch_and_length() {
        let mut tone = SineTone::new(440.0, 44_100, 0.5);
        let mut resampler = ToTargetRate::new(44_100, 1).expect("resampler");
        let mut out = Vec::new();
        // Two seconds in uneven chunks, as a device delivers them.
        let mut fed = 0;
        for size in [441, 1_000, 37, 2_048].iter().cycle() {
            if fed >= 88_200 {
                break;
            }
            let mut chunk = vec![0.0; (*size).min(88_200 - fed)];
            tone.fill(&mut chunk);
            fed += chunk.len();
            out.extend(resampler.push(&chunk).expect("push"));
        }
        // All but the last partial step and the start-up delay came out.
        assert!(
            out.len() > 95_000 && out.len() <= 96_000,
            "{} samples",
            out.len()
        );
        let hz = dominant_frequency(&out[4_800..], TARGET_RATE);
        assert!((hz - 440.0).abs() < 1.0, "measured {hz} Hz");
    }

    #[test]
    fn passthrough_and_bad_input() {
        let mut same = ToTargetRate::new(48_000, 2).expect("resampler");
        assert_eq!(same.push(&[0.1, 0.2]).expect("push"), vec![0.1, 0.2]);
        assert!(matches!(
            ToTargetRate::new(0, 1),
            Err(ResampleError::Unsupported { .. })
        ));
        assert!(ToTargetRate::new(16_000, 0).is_err());
    }
}
