//! The test tone microphone: a sine wave delivered exactly like a real microphone's frames,
//! paced by the clock, so `--fake-media` exercises the same pipeline as a device.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{AudioDeviceId, AudioFrame, CAPTURE_QUEUE_FRAMES};
use crate::processing::FRAME_SAMPLES;
use crate::synthetic::SineTone;

/// The frame period (10 ms).
const FRAME: Duration = Duration::from_millis(10);

/// A running test tone; frames arrive on the receiver from [`ToneMicrophone::start`].
/// Dropping it stops the tone.
pub struct ToneMicrophone {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ToneMicrophone {
    /// The id the tone's frames carry (`synthetic:tone`).
    pub fn id() -> AudioDeviceId {
        AudioDeviceId::new("synthetic", "tone")
    }

    /// Starts a `hz` tone at half amplitude, 10 ms mono 48 kHz frames in real time.
    pub fn start(hz: f32) -> (Self, Receiver<AudioFrame>) {
        let (frames, receiver) = std::sync::mpsc::sync_channel(CAPTURE_QUEUE_FRAMES);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tone-microphone".to_owned())
            .spawn(move || {
                let mut tone = SineTone::new(hz, 48_000, 0.5);
                let started = Instant::now();
                let mut sent: u32 = 0;
                while !stopped.load(Ordering::Acquire) {
                    let due = started + FRAME * sent;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let mut samples = vec![0.0; FRAME_SAMPLES];
                    tone.fill(&mut samples);
                    let frame = AudioFrame {
                        samples,
                        device: Self::id(),
                    };
                    sent = sent.wrapping_add(1);
                    match frames.try_send(frame) {
                        Ok(()) | Err(TrySendError::Full(_)) => {}
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
            })
            .ok();
        (Self { stop, thread }, receiver)
    }
}

impl Drop for ToneMicrophone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;

    #[test]
    fn the_tone_arrives_in_real_time_at_its_frequency() {
        let started = Instant::now();
        let (_tone, frames) = ToneMicrophone::start(440.0);
        let mut samples = Vec::new();
        for _ in 0..30 {
            let frame = frames.recv_timeout(Duration::from_secs(1)).expect("frame");
            assert_eq!(frame.samples.len(), FRAME_SAMPLES);
            assert_eq!(frame.device, ToneMicrophone::id());
            samples.extend(frame.samples);
        }
        assert!(
            started.elapsed() >= Duration::from_millis(280),
            "paced, not free-running"
        );
        assert!((dominant_frequency(&samples, 48_000) - 440.0).abs() < 2.0);
    }
}
