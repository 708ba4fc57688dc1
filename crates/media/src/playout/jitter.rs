//! How much a stream's packets wander in arrival time, and so how long to hold them.

use std::time::{Duration, Instant};

/// RTP clock of Opus (always 48 kHz on the wire).
const RTP_CLOCK_HZ: f64 = 48_000.0;

/// The RFC 3550 interarrival-jitter estimate of one stream, in seconds.
#[derive(Debug, Clone, Default)]
pub struct JitterEstimator {
    previous: Option<(u32, Instant)>,
    jitter_seconds: f64,
}

impl JitterEstimator {
    /// Feeds one packet's RTP timestamp and local arrival time. Packets older than the
    /// previous one (reordered) are ignored: their transit difference is not jitter.
    pub fn observe(&mut self, rtp_timestamp: u32, arrival: Instant) {
        if let Some((previous_timestamp, previous_arrival)) = self.previous {
            let media_step = rtp_timestamp.wrapping_sub(previous_timestamp) as i32;
            if media_step < 0 {
                return;
            }
            let arrival_step = arrival.saturating_duration_since(previous_arrival);
            let difference = arrival_step.as_secs_f64() - f64::from(media_step) / RTP_CLOCK_HZ;
            self.jitter_seconds += (difference.abs() - self.jitter_seconds) / 16.0;
        }
        self.previous = Some((rtp_timestamp, arrival));
    }

    /// The current estimate.
    pub fn jitter(&self) -> Duration {
        Duration::from_secs_f64(self.jitter_seconds)
    }

    /// How much audio to hold before playing: one frame plus four times the jitter,
    /// clamped to `[min, max]` (four deviations cover nearly all late packets without
    /// adding delay on a steady network).
    pub fn target_delay(&self, frame: Duration, min: Duration, max: Duration) -> Duration {
        (frame + self.jitter() * 4).clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_packets_have_no_jitter_and_wandering_ones_do() {
        let start = Instant::now();
        let mut steady = JitterEstimator::default();
        let mut wandering = JitterEstimator::default();
        for k in 0..200u32 {
            let sent = Duration::from_millis(u64::from(k) * 20);
            steady.observe(k * 960, start + sent);
            let wander = Duration::from_millis(if k % 2 == 0 { 0 } else { 30 });
            wandering.observe(k * 960, start + sent + wander);
        }
        assert!(steady.jitter() < Duration::from_micros(100));
        assert!(wandering.jitter() > Duration::from_millis(20));
        let (min, max) = (Duration::from_millis(40), Duration::from_millis(400));
        let frame = Duration::from_millis(20);
        assert_eq!(steady.target_delay(frame, min, max), min);
        assert!(wandering.target_delay(frame, min, max) > Duration::from_millis(100));
    }
}
