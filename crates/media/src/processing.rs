//! Microphone clean-up before encoding: echo cancellation (AEC3), noise suppression,
//! automatic gain control (AGC2) and a high-pass filter, from `sonora` (a pure-Rust port of
//! WebRTC's audio processing module). On by default, each switchable while running.
//!
//! Audio goes through in 10 ms mono frames at 48 kHz: the far end (what the speakers play)
//! through [`AudioProcessor::process_render`], the near end (the microphone) through
//! [`AudioProcessor::process_capture`], in place.

use sonora::config::{EchoCanceller, GainController2, HighPassFilter, NoiseSuppression};
use sonora::{AudioProcessing, Config, StreamConfig};

/// The processing rate.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 10 ms frame (mono).
pub const FRAME_SAMPLES: usize = 480;

/// Which stages run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingSettings {
    /// Remove the far end's sound picked up by the microphone.
    pub echo_cancellation: bool,
    /// Reduce steady background noise.
    pub noise_suppression: bool,
    /// Keep the voice at a steady level.
    pub gain_control: bool,
    /// Remove rumble below the voice band.
    pub high_pass: bool,
}

impl Default for ProcessingSettings {
    /// Everything on, as a meeting app should start.
    fn default() -> Self {
        Self {
            echo_cancellation: true,
            noise_suppression: true,
            gain_control: true,
            high_pass: true,
        }
    }
}

impl ProcessingSettings {
    /// Everything off (the signal passes unchanged apart from framing).
    pub fn off() -> Self {
        Self {
            echo_cancellation: false,
            noise_suppression: false,
            gain_control: false,
            high_pass: false,
        }
    }

    fn config(self) -> Config {
        Config {
            echo_canceller: self.echo_cancellation.then(EchoCanceller::default),
            noise_suppression: self.noise_suppression.then(NoiseSuppression::default),
            gain_controller2: self.gain_control.then(GainController2::default),
            high_pass_filter: self.high_pass.then(HighPassFilter::default),
            ..Config::default()
        }
    }
}

/// Why a frame was not processed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessingError {
    /// Not one 10 ms mono frame.
    #[error("expected {FRAME_SAMPLES} samples (10 ms mono at 48 kHz), got {0}")]
    FrameSize(usize),
    /// The processing module refused the frame.
    #[error("audio processing failed: {0:?}")]
    Apm(sonora::Error),
}

/// The capture-side audio processing of one microphone.
pub struct AudioProcessor {
    apm: AudioProcessing,
    settings: ProcessingSettings,
    scratch: Vec<f32>,
}

impl AudioProcessor {
    /// A processor with `settings`.
    pub fn new(settings: ProcessingSettings) -> Self {
        let stream = StreamConfig::new(SAMPLE_RATE, 1);
        Self {
            apm: AudioProcessing::builder()
                .config(settings.config())
                .capture_config(stream)
                .render_config(stream)
                .build(),
            settings,
            scratch: vec![0.0; FRAME_SAMPLES],
        }
    }

    /// The stages now running.
    pub fn settings(&self) -> ProcessingSettings {
        self.settings
    }

    /// Switches stages on or off without interrupting the audio.
    pub fn set_settings(&mut self, settings: ProcessingSettings) {
        self.settings = settings;
        self.apm.apply_config(settings.config());
    }

    /// Feeds one 10 ms frame of what the speakers are playing (the echo reference).
    pub fn process_render(&mut self, far_end: &[f32]) -> Result<(), ProcessingError> {
        check(far_end.len())?;
        self.apm
            .process_render_f32(&[far_end], &mut [&mut self.scratch[..]])
            .map_err(ProcessingError::Apm)
    }

    /// Cleans one 10 ms frame of microphone audio in place.
    pub fn process_capture(&mut self, near_end: &mut [f32]) -> Result<(), ProcessingError> {
        check(near_end.len())?;
        self.scratch.copy_from_slice(near_end);
        self.apm
            .process_capture_f32(&[&self.scratch[..]], &mut [near_end])
            .map_err(ProcessingError::Apm)
    }
}

fn check(len: usize) -> Result<(), ProcessingError> {
    if len == FRAME_SAMPLES {
        Ok(())
    } else {
        Err(ProcessingError::FrameSize(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic speech-band noise (a linear congruential generator), as the far end.
    fn far_end(frames: usize) -> Vec<f32> {
        let mut state: u32 = 0x1234_5678;
        (0..frames * FRAME_SAMPLES)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (f32::from((state >> 16) as u16) / 65_535.0 - 0.5) * 0.5
            })
            .collect()
    }

    fn energy(samples: &[f32]) -> f32 {
        samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32
    }

    /// Plays `far` through an echo path (30 ms delay, half amplitude) into the microphone
    /// and returns the echo energy left in the last second, relative to what came in (dB).
    fn remaining_echo_db(settings: ProcessingSettings) -> f32 {
        let frames = 400; // 4 s
        let far = far_end(frames);
        let delay = 30 * FRAME_SAMPLES / 10;
        let mut processor = AudioProcessor::new(settings);
        let (mut input, mut output) = (Vec::new(), Vec::new());
        for frame in 0..frames {
            let range = frame * FRAME_SAMPLES..(frame + 1) * FRAME_SAMPLES;
            processor
                .process_render(&far[range.clone()])
                .expect("render");
            let mut mic: Vec<f32> = range
                .map(|i| {
                    if i >= delay {
                        0.5 * far[i - delay]
                    } else {
                        0.0
                    }
                })
                .collect();
            input.extend_from_slice(&mic);
            processor.process_capture(&mut mic).expect("capture");
            output.extend_from_slice(&mic);
        }
        let last_second = input.len() - SAMPLE_RATE as usize..;
        10.0 * (energy(&output[last_second.clone()]) / energy(&input[last_second])).log10()
    }

    #[test]
    fn echo_cancellation_measurably_removes_a_synthetic_echo() {
        let with_aec = remaining_echo_db(ProcessingSettings {
            echo_cancellation: true,
            ..ProcessingSettings::off()
        });
        let without = remaining_echo_db(ProcessingSettings::off());
        assert!(without > -1.0, "without AEC the echo passes: {without} dB");
        assert!(with_aec < -20.0, "with AEC the echo drops: {with_aec} dB");
    }

    #[test]
    fn stages_switch_live_and_bad_frames_are_errors() {
        let mut processor = AudioProcessor::new(ProcessingSettings::default());
        assert_eq!(processor.settings(), ProcessingSettings::default());
        processor.set_settings(ProcessingSettings::off());
        assert_eq!(processor.settings(), ProcessingSettings::off());
        let mut frame = vec![0.1; FRAME_SAMPLES];
        processor
            .process_capture(&mut frame)
            .expect("a whole frame");
        assert!(matches!(
            processor.process_capture(&mut [0.0; 100]),
            Err(ProcessingError::FrameSize(100))
        ));
    }
}
