//! Connection quality as the server judges it: the share of a publisher's RTP packets that
//! never arrived, per track over a short window, mapped to LiveKit's
//! excellent / good / poor. livekit-server scores a MOS from loss, jitter and RTT; loss is
//! what hurts a call most and the one thing an SFU sees directly, so it is what we use.

use livekit_protocol as lk;

/// How often a publisher's loss is measured and reported.
pub const QUALITY_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);
/// Up to this loss a connection is excellent.
pub const EXCELLENT_LOSS: f64 = 0.02;
/// Up to this loss it is good; beyond, poor.
pub const GOOD_LOSS: f64 = 0.08;

/// Counts received and expected packets of one RTP stream from sequence numbers (which
/// wrap at 2^16); late packets count as received, duplicates are not told apart.
#[derive(Debug, Default, Clone)]
pub struct LossWindow {
    highest: Option<u16>,
    expected: u64,
    received: u64,
}

impl LossWindow {
    /// Notes a packet with this sequence number.
    pub fn observe(&mut self, sequence: u16) {
        self.received += 1;
        match self.highest {
            None => {
                self.highest = Some(sequence);
                self.expected += 1;
            }
            Some(highest) => {
                let ahead = sequence.wrapping_sub(highest);
                // Ahead by less than half the space: new packets (and any gap before them).
                if ahead != 0 && ahead < 0x8000 {
                    self.expected += u64::from(ahead);
                    self.highest = Some(sequence);
                }
            }
        }
    }

    /// The share lost since the last call (0..=1), or `None` if nothing arrived (a muted
    /// track sends nothing: that is not loss).
    pub fn take(&mut self) -> Option<f64> {
        let (expected, received) = (self.expected, self.received);
        self.expected = 0;
        self.received = 0;
        if received == 0 || expected == 0 {
            return None;
        }
        Some(expected.saturating_sub(received) as f64 / expected as f64)
    }
}

/// The quality a loss share earns.
pub fn quality_for_loss(loss: f64) -> lk::ConnectionQuality {
    if loss <= EXCELLENT_LOSS {
        lk::ConnectionQuality::Excellent
    } else if loss <= GOOD_LOSS {
        lk::ConnectionQuality::Good
    } else {
        lk::ConnectionQuality::Poor
    }
}

/// A score out of 5 for `ConnectionQualityInfo.score` (what livekit-server reports as MOS).
pub fn score_for_loss(loss: f64) -> f32 {
    (5.0 - 25.0 * loss as f32).clamp(1.0, 5.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_counted_from_gaps_across_the_wrap_and_late_packets_are_not_loss() {
        let mut window = LossWindow::default();
        assert_eq!(window.take(), None, "nothing arrived: no verdict");
        for sequence in (65_530..=65_535).chain(0..10) {
            if sequence % 4 != 0 {
                window.observe(sequence);
            }
        }
        let loss = window.take().expect("a verdict");
        assert!((loss - 4.0 / 16.0).abs() < 1e-9, "{loss}");
        // A late packet (older than the highest) is received, not expected again.
        window.observe(10);
        window.observe(12);
        window.observe(11);
        assert_eq!(window.take(), Some(0.0));
    }

    #[test]
    fn loss_maps_to_livekits_three_levels() {
        assert_eq!(quality_for_loss(0.0), lk::ConnectionQuality::Excellent);
        assert_eq!(quality_for_loss(0.05), lk::ConnectionQuality::Good);
        assert_eq!(quality_for_loss(0.2), lk::ConnectionQuality::Poor);
        assert!(score_for_loss(0.0) > 4.9 && score_for_loss(0.5) <= 1.0);
    }
}
