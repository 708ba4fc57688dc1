//! Sample plumbing between a device's format and the 48 kHz mono the rest of the app uses:
//! downmixing capture, cutting it into 10 ms frames, and spreading playback over channels.

use crate::processing::FRAME_SAMPLES;
use crate::resample::{ResampleError, ToTargetRate};

/// Audio per capture callback. Without asking, PulseAudio delivers capture in 2 s bursts;
/// 20 ms keeps a call responsive. (Measured with cpal 0.18's PulseAudio host: sources with
/// dynamic latency — hardware, monitors — then deliver every ~20-60 ms, but a source with a
/// large fixed latency such as `module-sine-source` loses its audio and stalls. Playback
/// uses its own, larger period: see `playback.rs`.)
pub(crate) const CALLBACK_MS: u32 = 20;

/// A fixed [`CALLBACK_MS`] buffer for `supported` when the device allows it (clamped to its
/// range), else the device's default.
pub(crate) fn callback_buffer(supported: &cpal::SupportedStreamConfig) -> cpal::BufferSize {
    fixed_buffer(supported, CALLBACK_MS)
}

/// A fixed buffer of `ms` milliseconds for `supported` when the device allows it (clamped
/// to its range), else the device's default.
pub(crate) fn fixed_buffer(supported: &cpal::SupportedStreamConfig, ms: u32) -> cpal::BufferSize {
    let wanted = supported.sample_rate() * ms / 1000;
    match supported.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } if min <= max && wanted > 0 => {
            cpal::BufferSize::Fixed(wanted.clamp(*min, *max))
        }
        _ => cpal::BufferSize::Default,
    }
}

/// Averages interleaved `channels` into mono, appending to `out`.
pub(crate) fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels <= 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

/// Writes each mono sample into every channel of `interleaved`.
pub(crate) fn spread(mono: &[f32], channels: usize, interleaved: &mut [f32]) {
    let channels = channels.max(1);
    for (frame, sample) in interleaved.chunks_exact_mut(channels).zip(mono) {
        frame.fill(*sample);
    }
}

/// Device audio in (any rate, any channels), 10 ms mono 48 kHz frames out.
pub(crate) struct CapturePipeline {
    channels: usize,
    mono: Vec<f32>,
    resampler: ToTargetRate,
    pending: Vec<f32>,
}

impl CapturePipeline {
    /// For a device delivering `rate` Hz with `channels` interleaved channels.
    pub fn new(rate: u32, channels: usize) -> Result<Self, ResampleError> {
        Ok(Self {
            channels: channels.max(1),
            mono: Vec::new(),
            resampler: ToTargetRate::new(rate, 1)?,
            pending: Vec::with_capacity(FRAME_SAMPLES * 4),
        })
    }

    /// Takes a device buffer; calls `emit` with each complete 480-sample frame.
    pub fn push(
        &mut self,
        interleaved: &[f32],
        mut emit: impl FnMut(Vec<f32>),
    ) -> Result<(), ResampleError> {
        self.mono.clear();
        downmix(interleaved, self.channels, &mut self.mono);
        let resampled = self.resampler.push(&self.mono)?;
        self.pending.extend_from_slice(&resampled);
        let whole = self.pending.len() / FRAME_SAMPLES * FRAME_SAMPLES;
        for frame in self.pending[..whole].chunks_exact(FRAME_SAMPLES) {
            emit(frame.to_vec());
        }
        self.pending.drain(..whole);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;
    use crate::synthetic::SineTone;

    #[test]
    fn stereo_44_1_khz_becomes_10_ms_mono_frames_at_48_khz() {
        let mut tone = SineTone::new(440.0, 44_100, 0.5);
        let mut pipeline = CapturePipeline::new(44_100, 2).expect("pipeline");
        let mut frames = Vec::new();
        for _ in 0..100 {
            let mut mono = vec![0.0; 441];
            tone.fill(&mut mono);
            let mut stereo = vec![0.0; 882];
            spread(&mono, 2, &mut stereo);
            pipeline.push(&stereo, |f| frames.push(f)).expect("push");
        }
        assert!(frames.len() >= 95, "{} frames", frames.len());
        assert!(frames.iter().all(|f| f.len() == FRAME_SAMPLES));
        let joined: Vec<f32> = frames[10..].concat();
        let hz = dominant_frequency(&joined, 48_000);
        assert!((hz - 440.0).abs() < 1.0, "{hz} Hz");
    }

    #[test]
    fn downmix_averages_channels() {
        let mut out = Vec::new();
        downmix(&[1.0, 0.0, 0.5, 0.5], 2, &mut out);
        assert_eq!(out, vec![0.5, 0.5]);
    }
}
