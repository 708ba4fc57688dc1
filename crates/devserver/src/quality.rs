//! Connection quality as the server judges it: the share of a publisher's RTP packets that
//! never arrived, per track over a short window, mapped to LiveKit's
//! excellent / good / poor. livekit-server scores a MOS from loss, jitter and RTT; loss is
//! what hurts a call most and the one thing an SFU sees directly, so it is what we use.

use std::collections::HashMap;

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

/// A participant's connection quality as the room hears it: the latest loss of each of its
/// published tracks that is sending, and what the room was last told. Its quality is that of
/// its worst track.
#[derive(Debug, Clone, Default)]
pub struct ParticipantQuality {
    /// The latest loss share of each published track that is sending, by track sid.
    track_loss: HashMap<String, f64>,
    /// The quality last announced to the room; `None` before the first measurement.
    announced: Option<lk::ConnectionQuality>,
}

impl ParticipantQuality {
    /// Records the loss of one track (`None`: the track ended); returns the quality and
    /// score to announce when the participant's quality changed (or is measured the first
    /// time).
    pub fn record(
        &mut self,
        track_sid: &str,
        loss: Option<f64>,
    ) -> Option<(lk::ConnectionQuality, f32)> {
        match loss {
            Some(loss) => self.track_loss.insert(track_sid.to_owned(), loss),
            None => self.track_loss.remove(track_sid),
        };
        let quality = quality_for_loss(self.worst_loss());
        if self.announced == Some(quality) {
            return None;
        }
        self.announced = Some(quality);
        Some((quality, score_for_loss(self.worst_loss())))
    }

    /// The quality last announced and the current score, for a newcomer (who should not wait
    /// for the next change); `None` if nothing was announced yet.
    pub fn announced(&self) -> Option<(lk::ConnectionQuality, f32)> {
        let quality = self.announced?;
        Some((quality, score_for_loss(self.worst_loss())))
    }

    fn worst_loss(&self) -> f64 {
        self.track_loss.values().copied().fold(0.0, f64::max)
    }
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

    #[test]
    fn a_participant_is_as_good_as_its_worst_track_and_only_changes_are_announced() {
        use lk::ConnectionQuality::{Excellent, Good, Poor};
        // (track, loss, expected announcement)
        let table: &[(&str, Option<f64>, Option<lk::ConnectionQuality>)] = &[
            ("TR_a", Some(0.0), Some(Excellent)), // first measurement: announced
            ("TR_a", Some(0.01), None),           // still excellent
            ("TR_v", Some(0.05), Some(Good)),     // the worse track decides
            ("TR_a", Some(0.0), None),            // the better track does not
            ("TR_v", Some(0.30), Some(Poor)),
            ("TR_v", None, Some(Excellent)), // the bad track ended
        ];
        let mut quality = ParticipantQuality::default();
        assert_eq!(quality.announced(), None);
        for (step, &(track, loss, expected)) in table.iter().enumerate() {
            let got = quality.record(track, loss).map(|(q, _)| q);
            assert_eq!(got, expected, "step {step}");
        }
        assert_eq!(quality.announced().map(|(q, _)| q), Some(Excellent));
    }
}
