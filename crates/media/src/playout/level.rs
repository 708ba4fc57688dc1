//! Per-participant audio level for the active-speaker highlight and level meters.

/// Decay of the displayed level per 10 ms once the sound gets quieter (about -1.4 dB).
const RELEASE_PER_10_MS: f32 = 0.85;
/// Samples in 10 ms at 48 kHz.
const SAMPLES_PER_10_MS: f32 = 480.0;

/// A level meter with instant attack and a slow release, like a VU meter: it follows a
/// voice without flickering between syllables.
#[derive(Debug, Clone, Copy, Default)]
pub struct LevelMeter {
    level: f32,
}

impl LevelMeter {
    /// Feeds the next block of mono samples (any length).
    pub fn update(&mut self, samples: &[f32]) {
        if samples.is_empty() {
            return;
        }
        let mean_square = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
        // RMS scaled so a full-scale sine reads 1.0.
        let block_level = (mean_square.sqrt() * std::f32::consts::SQRT_2).min(1.0);
        let release = RELEASE_PER_10_MS.powf(samples.len() as f32 / SAMPLES_PER_10_MS);
        self.level = block_level.max(self.level * release);
    }

    /// The level, 0.0 (silence) to 1.0 (full scale).
    pub fn level(&self) -> f32 {
        self.level
    }

    /// The level in dB relative to full scale (-100 for silence).
    pub fn dbfs(&self) -> f32 {
        if self.level <= 1e-5 {
            -100.0
        } else {
            20.0 * self.level.log10()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SineTone;

    #[test]
    fn a_tone_reads_its_amplitude_and_silence_decays_to_nothing() {
        let mut meter = LevelMeter::default();
        let mut block = vec![0.0; 480];
        let mut tone = SineTone::new(440.0, 48_000, 0.5);
        for _ in 0..20 {
            tone.fill(&mut block);
            meter.update(&block);
        }
        assert!(
            (meter.level() - 0.5).abs() < 0.02,
            "level {}",
            meter.level()
        );
        assert!((meter.dbfs() + 6.0).abs() < 0.5);
        block.fill(0.0);
        meter.update(&block);
        assert!(meter.level() > 0.4, "the release is slow");
        for _ in 0..100 {
            meter.update(&block);
        }
        assert!(meter.level() < 0.001);
    }
}
