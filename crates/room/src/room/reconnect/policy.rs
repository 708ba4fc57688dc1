//! When to try again.

use std::time::Duration;

/// Decides the wait before each reconnection attempt, and when to give up. Replaceable
/// through `RoomOptions::reconnect_policy` (e.g. a kiosk that retries forever, or a test with
/// short delays).
pub trait ReconnectPolicy: Send + Sync + 'static {
    /// The wait before attempt `attempt` (0-based; attempt 0 follows the loss at once), or
    /// `None` to give up.
    fn next_delay(&mut self, attempt: u32) -> Option<Duration>;
}

/// The official clients' policy: 10 attempts, waiting 0, 0.3, 1.2, 2.7, 4.8 s and then 7 s,
/// with up to 1 s of random jitter from the third attempt on (so clients that lost the same
/// server do not all come back in the same millisecond).
#[derive(Debug, Clone)]
pub struct DefaultReconnectPolicy {
    delays: Vec<Duration>,
    max_jitter: Duration,
}

impl DefaultReconnectPolicy {
    /// LiveKit's delays, in milliseconds.
    const DELAYS_MS: [u64; 10] = [
        0, 300, 1_200, 2_700, 4_800, 7_000, 7_000, 7_000, 7_000, 7_000,
    ];

    /// The policy without jitter (deterministic; for tests and tools).
    pub fn without_jitter() -> Self {
        Self {
            max_jitter: Duration::ZERO,
            ..Self::default()
        }
    }

    /// A policy with the given delays (attempt n waits `delays[n]`) and no jitter.
    pub fn with_delays(delays: Vec<Duration>) -> Self {
        Self {
            delays,
            max_jitter: Duration::ZERO,
        }
    }
}

impl Default for DefaultReconnectPolicy {
    fn default() -> Self {
        Self {
            delays: Self::DELAYS_MS
                .iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect(),
            max_jitter: Duration::from_secs(1),
        }
    }
}

impl ReconnectPolicy for DefaultReconnectPolicy {
    fn next_delay(&mut self, attempt: u32) -> Option<Duration> {
        let base = *self.delays.get(usize::try_from(attempt).ok()?)?;
        if attempt < 2 || self.max_jitter.is_zero() {
            return Some(base);
        }
        let jitter_ms = u64::try_from(self.max_jitter.as_millis()).unwrap_or(u64::MAX);
        Some(base + Duration::from_millis(fastrand::u64(0..=jitter_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_delays_match_the_official_clients() {
        let mut policy = DefaultReconnectPolicy::without_jitter();
        let delays: Vec<u64> = (0..11)
            .map_while(|n| policy.next_delay(n))
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(0))
            .collect();
        assert_eq!(
            delays,
            [
                0, 300, 1_200, 2_700, 4_800, 7_000, 7_000, 7_000, 7_000, 7_000
            ]
        );
    }

    #[test]
    fn jitter_stays_within_a_second_and_spares_the_first_two() {
        let mut policy = DefaultReconnectPolicy::default();
        for _ in 0..50 {
            assert_eq!(policy.next_delay(0), Some(Duration::ZERO));
            assert_eq!(policy.next_delay(1), Some(Duration::from_millis(300)));
            let third = policy.next_delay(2).unwrap_or_default();
            assert!(third >= Duration::from_millis(1_200));
            assert!(third <= Duration::from_millis(2_200));
        }
        assert_eq!(policy.next_delay(10), None);
    }
}
