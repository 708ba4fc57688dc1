//! Synthetic sources that stand in for devices: a sine tone for the microphone.
//!
//! They produce exactly what a receiver can check with an analyser (a known frequency), and
//! they never pace themselves: the caller's clock decides how many samples to ask for, so a
//! fake device cannot run faster than real time.

use std::f32::consts::TAU;

/// A continuous sine wave, e.g. 440 Hz at 48 kHz, generated block by block without gaps.
#[derive(Debug, Clone)]
pub struct SineTone {
    phase_step: f32,
    amplitude: f32,
    phase: f32,
}

impl SineTone {
    /// A tone of `frequency_hz` sampled at `sample_rate_hz`, peak `amplitude` (0.0..=1.0).
    pub fn new(frequency_hz: f32, sample_rate_hz: u32, amplitude: f32) -> Self {
        Self {
            phase_step: TAU * frequency_hz / sample_rate_hz as f32,
            amplitude: amplitude.clamp(0.0, 1.0),
            phase: 0.0,
        }
    }

    /// Fills `samples` (mono) with the next part of the wave.
    pub fn fill(&mut self, samples: &mut [f32]) {
        for sample in samples {
            *sample = self.amplitude * self.phase.sin();
            self.phase = (self.phase + self.phase_step) % TAU;
        }
    }
}

/// One 20 ms Opus frame of silence (a CELT-only TOC byte for 20 ms fullband mono plus an
/// empty payload), which every Opus decoder accepts. Publishing it at 50 frames a second
/// gives a real, decodable audio stream without an encoder (QA tools, network tests).
pub const OPUS_SILENCE_FRAME: [u8; 3] = [0xf8, 0xff, 0xfe];

/// The duration of [`OPUS_SILENCE_FRAME`].
pub const OPUS_SILENCE_FRAME_DURATION: std::time::Duration = std::time::Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency as estimate_frequency;

    #[test]
    fn tone_has_the_requested_frequency_across_blocks() {
        let mut tone = SineTone::new(440.0, 48_000, 0.5);
        let mut second = vec![0.0; 48_000];
        for block in second.chunks_mut(480) {
            tone.fill(block);
        }
        let hz = estimate_frequency(&second, 48_000);
        assert!((hz - 440.0).abs() <= 1.0, "measured {hz} Hz");
        let peak = second.iter().fold(0.0_f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.01, "peak {peak}");
    }
}
