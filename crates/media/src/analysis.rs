//! Measuring media, for tests and diagnostics: what frequency a tone arrived at.

/// The frequency of the dominant tone in mono `samples` at `sample_rate` Hz, from the
/// spacing of rising zero crossings (interpolated between samples). Accurate to well under
/// 1 Hz for a clean tone of a few hundred milliseconds; meant for test tones, not music.
/// Returns 0.0 when fewer than two crossings are found.
pub fn dominant_frequency(samples: &[f32], sample_rate: u32) -> f32 {
    let mut crossings = Vec::new();
    for (i, pair) in samples.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        if a < 0.0 && b >= 0.0 {
            let fraction = if b - a > 0.0 { -a / (b - a) } else { 0.0 };
            crossings.push(i as f32 + fraction);
        }
    }
    let (Some(first), Some(last)) = (crossings.first(), crossings.last()) else {
        return 0.0;
    };
    let periods = crossings.len().saturating_sub(1);
    if periods == 0 || last <= first {
        return 0.0;
    }
    sample_rate as f32 * periods as f32 / (last - first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SineTone;

    #[test]
    fn measures_a_clean_tone() {
        for hz in [220.0, 440.0, 880.0, 1_000.0] {
            let mut tone = SineTone::new(hz, 48_000, 0.5);
            let mut samples = vec![0.0; 24_000];
            tone.fill(&mut samples);
            let measured = dominant_frequency(&samples, 48_000);
            assert!(
                (measured - hz).abs() < 0.5,
                "{hz} Hz measured as {measured}"
            );
        }
        assert_eq!(dominant_frequency(&[0.0; 100], 48_000), 0.0);
    }
}
