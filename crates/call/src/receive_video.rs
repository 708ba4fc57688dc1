//! A subscribed video track decoded into pictures, newest first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Instant;

use bytes::Bytes;
use convene_media::codec::h264::H264Decoder;
use convene_media::codec::vp8::Vp8Decoder;
use convene_media::codec::{CodecError, VideoDecoder};
use convene_media::video::I420Frame;
use convene_room::room::RemoteTrack;
use tokio::sync::{mpsc, watch};

/// Whole frames waiting for the decoder at most; beyond it frames are skipped and a
/// keyframe is requested (a decoder cannot continue after a gap).
const DECODE_QUEUE: usize = 4;

/// One decoded picture of a remote track.
#[derive(Debug, Clone)]
pub struct DecodedVideo {
    /// The picture.
    pub frame: I420Frame,
    /// When it finished decoding.
    pub decoded_at: Instant,
    /// How many pictures of this track were decoded so far (including this one).
    pub sequence: u64,
}

/// Counters of a [`RemoteVideo`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteVideoStats {
    /// Pictures decoded.
    pub decoded: u64,
    /// Frames the decoder rejected.
    pub decode_errors: u64,
    /// Frames skipped: the decoder was behind, or they followed a loss and came before the
    /// next keyframe.
    pub skipped: u64,
    /// Keyframes requested from the sender.
    pub keyframe_requests: u64,
}

#[derive(Default)]
struct Counters {
    decoded: AtomicU64,
    decode_errors: AtomicU64,
    skipped: AtomicU64,
    keyframe_requests: AtomicU64,
}

/// Decodes a subscribed video track (VP8 or H.264) on its own thread. The newest picture is
/// in [`RemoteVideo::latest`]; a renderer that is slower than the stream simply sees fewer
/// pictures. Dropping it stops decoding.
pub struct RemoteVideo {
    latest: watch::Receiver<Option<Arc<DecodedVideo>>>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl RemoteVideo {
    /// Starts decoding `track`. Must be called inside a tokio runtime.
    pub fn start(track: RemoteTrack) -> Result<Self, CodecError> {
        let (latest_tx, latest) = watch::channel(None);
        let (frames_tx, frames_rx) = std::sync::mpsc::sync_channel(DECODE_QUEUE);
        let (keyframe_tx, keyframe_rx) = mpsc::channel(1);
        let counters = Arc::new(Counters::default());
        let h264 = track.info.mime_type.to_ascii_lowercase().contains("h264");
        let decoder: Box<dyn VideoDecoder> = if h264 {
            Box::new(H264Decoder::new()?)
        } else {
            Box::new(Vp8Decoder::new()?)
        };
        let decoding = DecodeLoop {
            frames: frames_rx,
            decoder,
            latest: latest_tx,
            keyframes: keyframe_tx.clone(),
            counters: counters.clone(),
        };
        let _ = std::thread::Builder::new()
            .name("video-decode".to_owned())
            .spawn(move || decoding.run());
        let reassembly = Reassembly {
            track,
            h264,
            frames: frames_tx,
            keyframe_requests: keyframe_rx,
            keyframes: keyframe_tx,
            counters: counters.clone(),
        };
        let task = tokio::spawn(reassembly.run());
        Ok(Self {
            latest,
            counters,
            task,
        })
    }

    /// The newest picture, `None` before the first; `changed().await` on it waits for the
    /// next one.
    pub fn latest(&self) -> watch::Receiver<Option<Arc<DecodedVideo>>> {
        self.latest.clone()
    }

    /// Counters so far.
    pub fn stats(&self) -> RemoteVideoStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RemoteVideoStats {
            decoded: load(&self.counters.decoded),
            decode_errors: load(&self.counters.decode_errors),
            skipped: load(&self.counters.skipped),
            keyframe_requests: load(&self.counters.keyframe_requests),
        }
    }
}

impl Drop for RemoteVideo {
    fn drop(&mut self) {
        // Ending the task drops the frame sender, which ends the decoding thread.
        self.task.abort();
    }
}

/// Whole frames (reassembled by the room) to the decoder, on the tokio side: frames after a
/// loss wait for a keyframe, and a decoder that falls behind skips to the next one.
struct Reassembly {
    track: RemoteTrack,
    h264: bool,
    frames: SyncSender<Bytes>,
    keyframe_requests: mpsc::Receiver<()>,
    keyframes: mpsc::Sender<()>,
    counters: Arc<Counters>,
}

impl Reassembly {
    async fn run(mut self) {
        // Decoding can only start at a keyframe.
        let mut waiting_for_keyframe = true;
        loop {
            let frame = tokio::select! {
                frame = self.track.recv_frame() => match frame {
                    Some(frame) => frame,
                    None => return,
                },
                Some(()) = self.keyframe_requests.recv() => {
                    self.counters.keyframe_requests.fetch_add(1, Ordering::Relaxed);
                    let _ = self.track.request_keyframe().await;
                    continue;
                }
            };
            // After a gap the next frames reference pictures we never got: decoding
            // them shows stale or smeared content. Wait for a keyframe instead.
            if frame.after_loss {
                waiting_for_keyframe = true;
            }
            if waiting_for_keyframe {
                if !is_keyframe(&frame.data, self.h264) {
                    self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    let _ = self.keyframes.try_send(());
                    continue;
                }
                waiting_for_keyframe = false;
            }
            match self.frames.try_send(frame.data) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    waiting_for_keyframe = true;
                    let _ = self.keyframes.try_send(());
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

/// Whether a whole frame can be decoded on its own: a VP8 key frame (bit 0 of the frame tag
/// is 0) or an H.264 access unit (Annex B) containing an IDR slice (NAL type 5).
fn is_keyframe(frame: &[u8], h264: bool) -> bool {
    if !h264 {
        return frame.first().is_some_and(|tag| tag & 1 == 0);
    }
    frame
        .windows(4)
        .any(|window| window[..3] == [0, 0, 1] && window[3] & 0x1f == 5)
}

/// Whole frames to pictures, on its own thread.
struct DecodeLoop {
    frames: Receiver<Bytes>,
    decoder: Box<dyn VideoDecoder>,
    latest: watch::Sender<Option<Arc<DecodedVideo>>>,
    keyframes: mpsc::Sender<()>,
    counters: Arc<Counters>,
}

impl DecodeLoop {
    fn run(mut self) {
        while let Ok(frame) = self.frames.recv() {
            match self.decoder.decode(&frame) {
                Ok(Some(picture)) => {
                    let sequence = self.counters.decoded.fetch_add(1, Ordering::Relaxed) + 1;
                    let decoded = DecodedVideo {
                        frame: picture,
                        decoded_at: Instant::now(),
                        sequence,
                    };
                    self.latest.send_replace(Some(Arc::new(decoded)));
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::debug!(%error, "undecodable video frame; asking for a keyframe");
                    self.counters.decode_errors.fetch_add(1, Ordering::Relaxed);
                    let _ = self.keyframes.try_send(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_keyframe;

    #[test]
    fn keyframes_are_recognised_in_both_codecs() {
        assert!(is_keyframe(&[0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a], false));
        assert!(!is_keyframe(&[0x51, 0x42, 0x00], false));
        assert!(!is_keyframe(&[], false));
        let idr = [0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0, 0, 1, 0x65, 0x88];
        let non_idr = [0, 0, 0, 1, 0x41, 0x9a, 0x02];
        assert!(is_keyframe(&idr, true));
        assert!(!is_keyframe(&non_idr, true));
    }
}
