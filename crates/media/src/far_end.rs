//! What the speaker played, handed from the speaker callback to the microphone pipeline as
//! the echo canceller's reference.
//!
//! The speaker side pushes every block it plays ([`FarEnd::push`], any length, never
//! blocks for long); the microphone side pops 10 ms frames before cleaning each captured
//! frame ([`FarEnd::pop_frame`]). At most one second is kept: if nobody pops (no microphone
//! open) the oldest audio is dropped. A lock-free queue: the speaker's real-time callback
//! never waits on the microphone side.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::processing::FRAME_SAMPLES;

/// Samples kept at most (1 s at 48 kHz).
const CAPACITY: usize = 48_000;

/// A shared, bounded queue of played 48 kHz mono samples. Clones share the queue.
#[derive(Debug, Clone)]
pub struct FarEnd {
    queue: Arc<ArrayQueue<f32>>,
}

impl Default for FarEnd {
    fn default() -> Self {
        Self {
            queue: Arc::new(ArrayQueue::new(CAPACITY)),
        }
    }
}

impl FarEnd {
    /// Appends samples just handed to the speaker; when full, the oldest make room.
    pub fn push(&self, played: &[f32]) {
        for sample in played {
            self.queue.force_push(*sample);
        }
    }

    /// Moves the oldest 10 ms into `frame` (480 samples); `false` when less than 10 ms is
    /// queued.
    pub fn pop_frame(&self, frame: &mut [f32; FRAME_SAMPLES]) -> bool {
        if self.queue.len() < FRAME_SAMPLES {
            return false;
        }
        // One consumer: what was counted stays (a full queue only swaps old for new).
        for slot in frame.iter_mut() {
            *slot = self.queue.pop().unwrap_or(0.0);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_in_order_and_the_queue_stays_bounded() {
        let far_end = FarEnd::default();
        let mut frame = [0.0; FRAME_SAMPLES];
        assert!(!far_end.pop_frame(&mut frame));
        let ramp: Vec<f32> = (0..700).map(|i| i as f32).collect();
        far_end.clone().push(&ramp);
        assert!(far_end.pop_frame(&mut frame));
        assert_eq!((frame[0], frame[479]), (0.0, 479.0));
        assert!(!far_end.pop_frame(&mut frame), "220 samples left");
        far_end.push(&vec![1.0; 2 * CAPACITY]);
        let mut frames = 0;
        while far_end.pop_frame(&mut frame) {
            frames += 1;
        }
        assert_eq!(frames, CAPACITY / FRAME_SAMPLES);
    }
}
