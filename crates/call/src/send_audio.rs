//! Microphone frames to a published audio track.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use convene_media::codec::CodecError;
use convene_media::codec::opus::{FRAME_DURATION, OpusEncoder, OpusSettings};
use convene_media::devices::AudioFrame;
use convene_media::far_end::FarEnd;
use convene_media::processing::{AudioProcessor, FRAME_SAMPLES, ProcessingSettings};
use convene_room::room::LocalTrack;
use tokio::sync::mpsc;

/// Encoded packets waiting for the network at most (200 ms); more are dropped.
const SEND_QUEUE: usize = 10;
/// How often the encoding thread checks that it should stop.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Encodes 10 ms microphone frames into 20 ms Opus packets on a published track, after
/// echo cancellation, noise suppression and gain control. Dropping it stops the pipeline.
pub struct AudioSender {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    writer: tokio::task::JoinHandle<()>,
}

impl AudioSender {
    /// Starts sending `frames` on `track`. `far_end` is what the speaker plays (see
    /// `playback_source_with_echo_reference`); without it the echo canceller has no
    /// reference and passes the echo. Must be called inside a tokio runtime.
    pub fn start(
        track: LocalTrack,
        frames: Receiver<AudioFrame>,
        processing: ProcessingSettings,
        far_end: Option<FarEnd>,
    ) -> Result<Self, CodecError> {
        let encoder = OpusEncoder::new(OpusSettings::default())?;
        let (packets_tx, mut packets_rx) = mpsc::channel::<Bytes>(SEND_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let encoding = EncodeLoop {
            frames,
            encoder,
            processor: AudioProcessor::new(processing),
            far_end,
            packets: packets_tx,
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("audio-send".to_owned())
            .spawn(move || encoding.run())
            .ok();
        let writer = tokio::spawn(async move {
            while let Some(packet) = packets_rx.recv().await {
                let _ = track.write_frame(packet, FRAME_DURATION).await;
            }
        });
        Ok(Self {
            stop,
            thread,
            writer,
        })
    }
}

impl Drop for AudioSender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.writer.abort();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct EncodeLoop {
    frames: Receiver<AudioFrame>,
    encoder: OpusEncoder,
    processor: AudioProcessor,
    far_end: Option<FarEnd>,
    packets: mpsc::Sender<Bytes>,
    stop: Arc<AtomicBool>,
}

impl EncodeLoop {
    /// Everything the speaker played since the last frame goes to the echo canceller
    /// before the next microphone frame is cleaned.
    fn feed_echo_reference(&mut self) {
        let Some(far_end) = &self.far_end else {
            return;
        };
        let mut played = [0.0; FRAME_SAMPLES];
        while far_end.pop_frame(&mut played) {
            let _ = self.processor.process_render(&played);
        }
    }

    fn run(mut self) {
        let mut pending: Vec<f32> = Vec::with_capacity(self.encoder.frame_len());
        while !self.stop.load(Ordering::Acquire) {
            let mut frame = match self.frames.recv_timeout(STOP_POLL) {
                Ok(frame) => frame.samples,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            self.feed_echo_reference();
            if let Err(error) = self.processor.process_capture(&mut frame) {
                tracing::debug!(%error, "audio processing skipped a frame");
            }
            pending.extend_from_slice(&frame);
            if pending.len() < self.encoder.frame_len() {
                continue;
            }
            match self.encoder.encode(&pending) {
                Ok(packet) => {
                    // A full queue means the network side is stalled: drop, stay real time.
                    let _ = self.packets.try_send(packet);
                }
                Err(error) => tracing::warn!(%error, "opus encoding failed"),
            }
            pending.clear();
        }
    }
}
