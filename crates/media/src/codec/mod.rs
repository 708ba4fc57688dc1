//! Encoders and decoders: Opus for audio, VP8 (libvpx) and H.264 (OpenH264) for video.
//!
//! Both video codecs sit behind [`VideoEncoder`] and [`VideoDecoder`], so the call engine
//! picks one per track (VP8 where every LiveKit client decodes it, H.264 where a receiver
//! has hardware decoding) and drives it the same way: I420 frames in, one
//! [`EncodedVideoFrame`] out per frame, keyframes on request, bitrate from the network
//! estimate.

use std::time::Duration;

use bytes::Bytes;

use crate::video::I420Frame;

pub mod h264;
pub mod opus;
pub mod vp8;

/// Why a codec operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// libopus refused an operation (bad frame size, corrupt packet, …).
    #[error("opus: {0}")]
    Opus(#[from] ::opus::Error),
    /// The input is not one whole frame of the configured size.
    #[error("expected {expected} samples per frame, got {actual}")]
    FrameSize {
        /// Samples (all channels) the encoder needs.
        expected: usize,
        /// Samples given.
        actual: usize,
    },
    /// libvpx (VP8) refused an operation, e.g. a corrupt frame given to the decoder.
    #[error("vpx {operation}: error {code}: {detail}")]
    Vpx {
        /// The libvpx call that failed.
        operation: &'static str,
        /// libvpx's `vpx_codec_err_t` value.
        code: i32,
        /// libvpx's message and detail text.
        detail: String,
    },
    /// OpenH264 refused an operation, e.g. a corrupt bitstream given to the decoder.
    #[error("h264 {operation}: {detail}")]
    H264 {
        /// What we asked OpenH264 to do.
        operation: &'static str,
        /// OpenH264's error text.
        detail: String,
    },
    /// A video frame whose size the codec cannot take (odd, zero, too large, or planes
    /// whose lengths do not match the size).
    #[error("unusable {width}x{height} frame: {reason}")]
    FrameGeometry {
        /// Width given.
        width: usize,
        /// Height given.
        height: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// How to set up a video encoder: the size of the first frames, the target bitrate and
/// the frame rate the rate control plans for. Later frames may change size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoEncoderSettings {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
    /// Frames per second the caller will deliver.
    pub fps: u32,
}

impl VideoEncoderSettings {
    /// Settings for `width` x `height` at 30 fps with a bitrate that suits the size for a
    /// camera (about 0.06 bits per pixel, like LiveKit's presets: ~410 kbit/s at 360p,
    /// ~1.7 Mbit/s at 720p), for when nothing better is known yet.
    pub fn for_size(width: u32, height: u32) -> Self {
        let fps = 30;
        let bits = u64::from(width) * u64::from(height) * u64::from(fps) * 6 / 100;
        Self {
            width,
            height,
            bitrate_bps: bits.clamp(100_000, 4_000_000) as u32,
            fps,
        }
    }
}

impl Default for VideoEncoderSettings {
    /// 640x360 at 30 fps (see [`VideoEncoderSettings::for_size`]).
    fn default() -> Self {
        Self::for_size(640, 360)
    }
}

/// One encoded video frame, ready for packetisation (VP8 payload or H.264 Annex-B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedVideoFrame {
    /// The compressed frame.
    pub data: Bytes,
    /// Whether a decoder can start here (VP8 keyframe, H.264 IDR with SPS/PPS).
    pub keyframe: bool,
    /// The presentation time the caller gave with the raw frame.
    pub pts: Duration,
}

/// A video encoder the call engine can drive without knowing the codec.
pub trait VideoEncoder: Send {
    /// Encodes one frame; `Ok(None)` when the encoder dropped it to hold the bitrate. A
    /// frame of a new size restarts the stream with a keyframe at that size.
    fn encode(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
    ) -> Result<Option<EncodedVideoFrame>, CodecError>;
    /// Makes the next encoded frame a keyframe (a receiver joined or sent a PLI/FIR).
    fn request_keyframe(&mut self);
    /// Changes the target bitrate while running (following the congestion controller).
    fn set_bitrate(&mut self, bits_per_second: u32) -> Result<(), CodecError>;
}

/// A video decoder the receive path can drive without knowing the codec.
pub trait VideoDecoder: Send {
    /// Decodes one whole encoded frame; `Ok(None)` when it produced no picture (yet).
    /// Corrupt input is an error, never a panic.
    fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError>;
}

/// Checks that `frame` is an I420 picture a video encoder can take: even, non-zero
/// sides within `max_side`, and planes exactly as long as the size says.
fn check_geometry(frame: &I420Frame, max_side: usize) -> Result<(), CodecError> {
    let (width, height) = (frame.width, frame.height);
    let fail = |reason| {
        Err(CodecError::FrameGeometry {
            width,
            height,
            reason,
        })
    };
    if width == 0 || height == 0 || width % 2 != 0 || height % 2 != 0 {
        return fail("sides must be even and non-zero");
    }
    if width > max_side || height > max_side {
        return fail("larger than the codec supports");
    }
    let chroma = (width / 2) * (height / 2);
    if frame.y.len() != width * height || frame.u.len() != chroma || frame.v.len() != chroma {
        return fail("plane lengths do not match the size");
    }
    Ok(())
}

/// Copies a decoded picture out of a codec's buffers (rows `stride` bytes apart) into an
/// [`I420Frame`], dropping a last odd row or column so the frame stays even-sized.
/// `None` if the picture is under 2x2 (a remote sender can encode 1 pixel wide or high,
/// which would leave an empty plane) or a plane is shorter than its strides say.
fn copy_planes(width: usize, height: usize, planes: [(&[u8], usize); 3]) -> Option<I420Frame> {
    let (width, height) = (width & !1, height & !1);
    if width < 2 || height < 2 {
        return None;
    }
    let copy = |(plane, stride): (&[u8], usize), w: usize, h: usize| -> Option<Vec<u8>> {
        if h > 0 && (stride < w || plane.len() < (h - 1) * stride + w) {
            return None;
        }
        let mut out = Vec::with_capacity(w * h);
        for row in 0..h {
            out.extend_from_slice(plane.get(row * stride..row * stride + w)?);
        }
        Some(out)
    };
    let [y, u, v] = planes;
    Some(I420Frame {
        width,
        height,
        y: copy(y, width, height)?,
        u: copy(u, width / 2, height / 2)?,
        v: copy(v, width / 2, height / 2)?,
    })
}

/// Checks shared by the VP8 and H.264 tests: each codec's tests run them on its own
/// encoder and decoder through the traits, so both are held to the same behaviour.
#[cfg(test)]
mod tests {
    #[test]
    fn a_picture_under_two_pixels_wide_or_high_is_refused() {
        let row = [16_u8; 4096];
        let planes = |stride: usize| [(&row[..], stride), (&row[..], stride), (&row[..], stride)];
        assert!(super::copy_planes(1, 2000, planes(1)).is_none());
        assert!(super::copy_planes(3000, 1, planes(3000)).is_none());
        assert!(super::copy_planes(0, 0, planes(0)).is_none());
        let smallest = super::copy_planes(3, 3, planes(3)).expect("2x2 remains");
        assert_eq!((smallest.width, smallest.height), (2, 2));
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::time::Duration;

    use super::{CodecError, VideoDecoder, VideoEncoder};
    use crate::synthetic::TestPattern;
    use crate::video::I420Frame;

    /// Capture time of frame `n` at 30 fps from a fixed epoch.
    pub fn captured_ms(n: u64) -> u64 {
        1_795_800_000_000 + n * 33
    }

    /// The capture time of frame `n` as the pattern carries it (the low 40 bits).
    fn stamped_ms(n: u64) -> u64 {
        captured_ms(n) & ((1 << 40) - 1)
    }

    fn pts(n: u64) -> Duration {
        Duration::from_millis(n * 33)
    }

    /// Frame `n` of `pattern` with deterministic noise below the stamp bands, so the rate
    /// control has detail to spend bits on (a flat picture costs little at any rate).
    pub fn textured(pattern: &mut TestPattern, n: u64) -> I420Frame {
        let mut frame = pattern.next_frame(captured_ms(n));
        let start = frame.width * (frame.height / 3);
        let mut state = xorshift_seed(n);
        for p in &mut frame.y[start..] {
            *p = p.saturating_add((xorshift(&mut state) % 48) as u8);
        }
        frame
    }

    fn xorshift_seed(n: u64) -> u32 {
        0x9e37_79b9 ^ (n as u32).wrapping_mul(0x85eb_ca6b) | 1
    }

    fn xorshift(state: &mut u32) -> u32 {
        *state ^= *state << 13;
        *state ^= *state >> 17;
        *state ^= *state << 5;
        *state
    }

    fn assert_close(a: (f32, f32, f32), b: (f32, f32, f32), tolerance: f32, what: &str) {
        let worst = (a.0 - b.0)
            .abs()
            .max((a.1 - b.1).abs())
            .max((a.2 - b.2).abs());
        assert!(worst <= tolerance, "{what}: {a:?} vs {b:?}");
    }

    /// 60 frames of 640x360 at 1 Mbit/s: each decodes to its own counter, capture time and
    /// colour; only the first is a keyframe.
    pub fn round_trip(encoder: &mut dyn VideoEncoder, decoder: &mut dyn VideoDecoder) {
        let mut pattern = TestPattern::new(640, 360);
        for n in 0..60 {
            let frame = pattern.next_frame(captured_ms(n));
            let encoded = encoder
                .encode(&frame, pts(n))
                .expect("encode")
                .expect("a frame");
            assert_eq!(encoded.keyframe, n == 0, "keyframe flag of frame {n}");
            assert_eq!(encoded.pts, pts(n));
            let decoded = decoder
                .decode(&encoded.data)
                .expect("decode")
                .expect("a picture");
            assert_eq!((decoded.width, decoded.height), (640, 360));
            let stamp = pattern.read(&decoded).expect("same size");
            assert_eq!(stamp.counter, n, "counter of frame {n}");
            assert_eq!(
                stamp.captured_ms,
                stamped_ms(n),
                "capture time of frame {n}"
            );
            // Real-time VP8 lets the slow colour walk lag by up to ~3 levels for a few
            // frames after the keyframe; a wrong or stale picture is far off (or caught by
            // the stamp above).
            let what = format!("mean colour of frame {n}");
            assert_close(decoded.mean_yuv(), frame.mean_yuv(), 4.0, &what);
            // The background (below the bands) keeps the pattern's colour for frame n.
            let (y, u, v) = TestPattern::background(n);
            let (row, col) = (300, 320);
            let got = (
                decoded.y[row * 640 + col],
                decoded.u[row / 2 * 320 + col / 2],
                decoded.v[row / 2 * 320 + col / 2],
            );
            let to_f = |(a, b, c): (u8, u8, u8)| (f32::from(a), f32::from(b), f32::from(c));
            assert_close(
                to_f(got),
                to_f((y, u, v)),
                6.0,
                &format!("background of {n}"),
            );
        }
    }

    /// `request_keyframe` makes exactly the next frame a keyframe.
    pub fn keyframe_on_request(encoder: &mut dyn VideoEncoder) {
        let mut pattern = TestPattern::new(640, 360);
        let mut keyframes = Vec::new();
        for n in 0..20 {
            if n == 12 {
                encoder.request_keyframe();
            }
            let frame = pattern.next_frame(captured_ms(n));
            let encoded = encoder
                .encode(&frame, pts(n))
                .expect("encode")
                .expect("a frame");
            if encoded.keyframe {
                keyframes.push(n);
            }
        }
        assert_eq!(keyframes, [0, 12]);
    }

    /// Bytes of frames `from..to` of a textured stream.
    fn stream_bytes(
        encoder: &mut dyn VideoEncoder,
        pattern: &mut TestPattern,
        frames: std::ops::Range<u64>,
    ) -> usize {
        frames
            .map(|n| {
                let frame = textured(pattern, n);
                let encoded = encoder.encode(&frame, pts(n)).expect("encode");
                encoded.map_or(0, |e| e.data.len())
            })
            .sum()
    }

    /// Dropping the bitrate from 1.5 Mbit/s to 150 kbit/s shrinks the next 30 frames.
    /// Returns (bytes of 30 frames before, bytes of 30 frames after) for the message.
    pub fn bitrate_follows_set_bitrate(encoder: &mut dyn VideoEncoder) -> (usize, usize) {
        let mut pattern = TestPattern::new(640, 360);
        stream_bytes(encoder, &mut pattern, 0..30);
        let before = stream_bytes(encoder, &mut pattern, 30..60);
        encoder.set_bitrate(150_000).expect("set_bitrate");
        let after = stream_bytes(encoder, &mut pattern, 60..90);
        // 1 s at 1.5 Mbit/s is 187 kB; the encoder must actually use most of it …
        assert!(
            before > 100_000,
            "1.5 Mbit/s stream used only {before} B in 1 s"
        );
        // … and 1 s at 150 kbit/s (19 kB) must be several times smaller.
        assert!(after * 4 < before, "before {before} B, after {after} B");
        (before, after)
    }

    /// A size change mid-stream starts over with a keyframe that decodes at the new size.
    pub fn size_change(encoder: &mut dyn VideoEncoder, decoder: &mut dyn VideoDecoder) {
        let mut n = 0;
        for (width, height) in [(640, 360), (320, 180), (640, 360)] {
            let mut pattern = TestPattern::new(width, height);
            for i in 0..5 {
                let frame = pattern.next_frame(captured_ms(n));
                let encoded = encoder
                    .encode(&frame, pts(n))
                    .expect("encode")
                    .expect("a frame");
                assert_eq!(
                    encoded.keyframe,
                    i == 0,
                    "keyframe flag at {width}x{height} #{i}"
                );
                let decoded = decoder
                    .decode(&encoded.data)
                    .expect("decode")
                    .expect("a picture");
                assert_eq!((decoded.width, decoded.height), (width, height));
                assert_eq!(
                    pattern.read(&decoded).map(|s| s.captured_ms),
                    Some(stamped_ms(n))
                );
                n += 1;
            }
        }
    }

    /// Random bytes and truncated frames give errors or nothing, never a panic, and the
    /// decoder still decodes the next keyframe. Odd-sized frames are a typed error.
    pub fn bad_input(encoder: &mut dyn VideoEncoder, decoder: &mut dyn VideoDecoder) {
        let mut state = xorshift_seed(7);
        for round in 0..300 {
            let len = (xorshift(&mut state) % 3_000) as usize * (round % 2);
            let garbage: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            let _ = decoder.decode(&garbage);
        }
        let mut pattern = TestPattern::new(640, 360);
        // The rate control may skip some of these detailed frames; the first is kept.
        let frames: Vec<_> = (0..3)
            .filter_map(|n| {
                let frame = textured(&mut pattern, n);
                encoder.encode(&frame, pts(n)).expect("encode")
            })
            .collect();
        assert!(!frames.is_empty());
        for frame in &frames {
            for cut in [
                1,
                5,
                frame.data.len() / 4,
                frame.data.len() / 2,
                frame.data.len() - 1,
            ] {
                let _ = decoder.decode(&frame.data[..cut]);
            }
        }
        encoder.request_keyframe();
        let frame = pattern.next_frame(captured_ms(3));
        let key = encoder
            .encode(&frame, pts(3))
            .expect("encode")
            .expect("a frame");
        assert!(key.keyframe);
        let decoded = decoder
            .decode(&key.data)
            .expect("decode")
            .expect("a picture");
        assert_eq!(pattern.read(&decoded).map(|s| s.counter), Some(3));

        let mut odd = I420Frame::filled(64, 64, 16, 128, 128);
        odd.width = 63;
        assert!(matches!(
            encoder.encode(&odd, pts(4)),
            Err(CodecError::FrameGeometry { .. })
        ));
        let mut short = I420Frame::filled(64, 64, 16, 128, 128);
        short.y.truncate(100);
        assert!(matches!(
            encoder.encode(&short, pts(4)),
            Err(CodecError::FrameGeometry { .. })
        ));
    }
}
