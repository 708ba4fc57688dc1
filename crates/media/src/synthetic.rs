//! Synthetic sources that stand in for devices: a sine tone for the microphone and a test
//! pattern for the camera.
//!
//! They produce exactly what a receiver can check with an analyser (a known frequency; a
//! frame counter and capture time written into the picture as bars a codec cannot blur), and
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

/// Bits of the frame counter drawn into each pattern frame.
const COUNTER_BITS: usize = 24;
/// Bits of the capture time (milliseconds since the Unix epoch, low bits) drawn below it.
const TIME_BITS: usize = 40;
/// Luma of a 1 bit and of a 0 bit (video range).
const BIT_ON: u8 = 235;
const BIT_OFF: u8 = 16;

/// A moving camera test pattern: a background whose colour changes slowly with the frame
/// number, and two bands of large black/white blocks at the top carrying the frame counter
/// and the capture time, readable back with [`TestPattern::read`] after lossy coding.
#[derive(Debug, Clone)]
pub struct TestPattern {
    width: usize,
    height: usize,
    frame: u64,
}

/// What [`TestPattern::read`] recovers from a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternStamp {
    /// The frame counter (modulo 2^24).
    pub counter: u64,
    /// The capture time in milliseconds since the Unix epoch (modulo 2^40).
    pub captured_ms: u64,
}

impl TestPattern {
    /// A pattern of `width` x `height` (made even; at least 128 x 64 so the bars stay large).
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width: width.max(128) & !1,
            height: height.max(64) & !1,
            frame: 0,
        }
    }

    /// The background colour (Y, U, V) of frame `n`: a slow walk around the hue circle.
    pub fn background(n: u64) -> (u8, u8, u8) {
        let angle = (n % 360) as f32 * TAU / 360.0;
        let u = 128.0 + 80.0 * angle.cos();
        let v = 128.0 + 80.0 * angle.sin();
        (110, u as u8, v as u8)
    }

    /// The next frame, stamped with its counter and `captured_ms`.
    pub fn next_frame(&mut self, captured_ms: u64) -> crate::video::I420Frame {
        let n = self.frame;
        self.frame += 1;
        let (y, u, v) = Self::background(n);
        let mut frame = crate::video::I420Frame::filled(self.width, self.height, y, u, v);
        self.draw_bits(&mut frame, 0, n, COUNTER_BITS);
        self.draw_bits(&mut frame, 1, captured_ms, TIME_BITS);
        frame
    }

    fn band(&self, row: usize) -> (usize, usize) {
        let band_height = (self.height / 8).max(8) & !1;
        (row * band_height, band_height)
    }

    fn draw_bits(&self, frame: &mut crate::video::I420Frame, row: usize, value: u64, bits: usize) {
        let (top, band_height) = self.band(row);
        let block = self.width / bits;
        for bit in 0..bits {
            let on = (value >> (bits - 1 - bit)) & 1 == 1;
            let luma = if on { BIT_ON } else { BIT_OFF };
            for y in top..top + band_height {
                let start = y * frame.width + bit * block;
                frame.y[start..start + block].fill(luma);
            }
        }
        // Neutral chroma under the bars, so a colour change cannot bleed into them.
        let chroma_width = frame.width / 2;
        for y in top / 2..(top + band_height) / 2 {
            frame.u[y * chroma_width..(y + 1) * chroma_width].fill(128);
            frame.v[y * chroma_width..(y + 1) * chroma_width].fill(128);
        }
    }

    /// Reads the counter and capture time back from a frame of this pattern's size (e.g.
    /// after encode and decode), sampling the middle of each block.
    pub fn read(&self, frame: &crate::video::I420Frame) -> Option<PatternStamp> {
        if frame.width != self.width || frame.height != self.height {
            return None;
        }
        Some(PatternStamp {
            counter: self.read_bits(frame, 0, COUNTER_BITS),
            captured_ms: self.read_bits(frame, 1, TIME_BITS),
        })
    }

    fn read_bits(&self, frame: &crate::video::I420Frame, row: usize, bits: usize) -> u64 {
        let (top, band_height) = self.band(row);
        let block = self.width / bits;
        let threshold = (u32::from(BIT_ON) + u32::from(BIT_OFF)) / 2;
        (0..bits).fold(0, |value, bit| {
            let (x0, x1) = (bit * block + block / 4, bit * block + 3 * block / 4);
            let (y0, y1) = (top + band_height / 4, top + 3 * band_height / 4);
            let (mut sum, mut count) = (0u32, 0u32);
            for y in y0..y1 {
                for x in x0..x1 {
                    sum += u32::from(frame.y[y * frame.width + x]);
                    count += 1;
                }
            }
            (value << 1) | u64::from(sum / count.max(1) > threshold)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency as estimate_frequency;

    #[test]
    fn the_pattern_carries_its_counter_and_time_through_noise() {
        let mut pattern = TestPattern::new(640, 360);
        let mut last = None;
        for n in 0..5u64 {
            let captured = 1_795_800_000_000 + n * 33;
            let mut frame = pattern.next_frame(captured);
            // Coarse, deterministic "codec noise" of up to +-40 luma levels.
            for (i, p) in frame.y.iter_mut().enumerate() {
                let noise = ((i * 7 + n as usize * 13) % 81) as i16 - 40;
                *p = (i16::from(*p) + noise).clamp(0, 255) as u8;
            }
            let stamp = pattern.read(&frame).expect("same size");
            assert_eq!(stamp.counter, n);
            assert_eq!(stamp.captured_ms, captured & ((1 << 40) - 1));
            let (_, u, v) = frame.mean_yuv();
            if let Some((last_u, last_v)) = last {
                assert!(u != last_u || v != last_v, "the colour moves");
            }
            last = Some((u, v));
        }
        assert!(
            pattern
                .read(&crate::video::I420Frame::filled(320, 240, 0, 0, 0))
                .is_none()
        );
    }

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
