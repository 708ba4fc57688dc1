//! H.264 through OpenH264 2.7 (built from source by the `openh264` crate): constrained
//! baseline in Annex-B byte-stream form, for receivers that prefer H.264 (hardware
//! decoders, Safari). SPS and PPS travel with every IDR, so each keyframe stands alone.

use std::time::Duration;

use bytes::Bytes;
use openh264::Timestamp;
use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, Profile, RateControlMode, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};

use super::{
    CodecError, EncodedVideoFrame, VideoDecoder, VideoEncoder, VideoEncoderSettings,
    check_geometry, copy_planes,
};
use crate::video::I420Frame;

/// OpenH264's largest picture side (level 5.2, 3840x2160 either way round).
const MAX_SIDE: usize = 3_840;

fn h264_error(operation: &'static str) -> impl FnOnce(openh264::Error) -> CodecError {
    move |error| CodecError::H264 {
        operation,
        detail: error.to_string(),
    }
}

/// Encodes I420 frames to H.264 (Annex-B) for a real-time call: bitrate rate control,
/// one output frame per input frame unless the rate control skips one, IDR frames only at
/// the start, on request, after a size change or after a bitrate change.
pub struct H264Encoder {
    encoder: Encoder,
    settings: VideoEncoderSettings,
    /// Whether `encoder` has encoded a frame (before that, its first frame is an IDR anyway).
    started: bool,
    keyframe_requested: bool,
}

impl H264Encoder {
    /// An encoder with `settings` (the size is taken from each frame).
    pub fn new(settings: VideoEncoderSettings) -> Result<Self, CodecError> {
        Ok(Self {
            encoder: Self::open(&settings)?,
            settings,
            started: false,
            keyframe_requested: false,
        })
    }

    fn open(settings: &VideoEncoderSettings) -> Result<Encoder, CodecError> {
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .profile(Profile::Baseline)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(settings.bitrate_bps.max(10_000)))
            .max_frame_rate(FrameRate::from_hz(settings.fps.max(1) as f32))
            .skip_frames(true)
            .num_threads(1);
        Encoder::with_api_config(openh264::OpenH264API::from_source(), config)
            .map_err(h264_error("create encoder"))
    }

    /// Makes the next encoded frame an IDR frame (a receiver joined or lost the picture).
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
    }

    /// Changes the target bitrate. The `openh264` crate offers no safe live setter, so
    /// this recreates the encoder and the next frame is an IDR: callers should change the
    /// rate on real estimate changes (e.g. at most once a second), not every packet.
    pub fn set_bitrate(&mut self, bits_per_second: u32) -> Result<(), CodecError> {
        if bits_per_second == self.settings.bitrate_bps {
            return Ok(());
        }
        self.settings.bitrate_bps = bits_per_second;
        self.encoder = Self::open(&self.settings)?;
        self.started = false;
        Ok(())
    }

    /// Encodes one frame shown at `pts`. A frame of a new size restarts the stream with an
    /// IDR at that size. `Ok(None)` when the rate control skipped the frame.
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
    ) -> Result<Option<EncodedVideoFrame>, CodecError> {
        check_geometry(frame, MAX_SIDE)?;
        if self.started && std::mem::take(&mut self.keyframe_requested) {
            self.encoder.force_intra_frame();
        }
        let (w, h) = (frame.width, frame.height);
        let source = YUVSlices::new((&frame.y, &frame.u, &frame.v), (w, h), (w, w / 2, w / 2));
        let millis = u64::try_from(pts.as_millis())
            .unwrap_or(u64::MAX)
            .min(i64::MAX as u64);
        let stream = self
            .encoder
            .encode_at(&source, Timestamp::from_millis(millis))
            .map_err(h264_error("encode"))?;
        self.started = true;
        self.keyframe_requested = false;
        let keyframe = match stream.frame_type() {
            FrameType::IDR | FrameType::I => true,
            FrameType::P | FrameType::IPMixed => false,
            FrameType::Skip => return Ok(None),
            FrameType::Invalid => {
                return Err(CodecError::H264 {
                    operation: "encode",
                    detail: "encoder returned an invalid frame".into(),
                });
            }
        };
        let data = stream.to_vec();
        self.settings.width = w as u32;
        self.settings.height = h as u32;
        Ok((!data.is_empty()).then(|| EncodedVideoFrame {
            data: Bytes::from(data),
            keyframe,
            pts,
        }))
    }
}

impl VideoEncoder for H264Encoder {
    fn encode(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
    ) -> Result<Option<EncodedVideoFrame>, CodecError> {
        H264Encoder::encode(self, frame, pts)
    }

    fn request_keyframe(&mut self) {
        H264Encoder::request_keyframe(self);
    }

    fn set_bitrate(&mut self, bits_per_second: u32) -> Result<(), CodecError> {
        H264Encoder::set_bitrate(self, bits_per_second)
    }
}

/// Decodes H.264 Annex-B frames (from any sender) into I420 pictures.
pub struct H264Decoder {
    decoder: Decoder,
}

impl H264Decoder {
    /// A decoder; it adapts to whatever size the stream has.
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self {
            decoder: Decoder::new().map_err(h264_error("create decoder"))?,
        })
    }

    /// Decodes one whole Annex-B access unit (all NAL units of one frame). Corrupt input
    /// is an error; `Ok(None)` when the data held no picture (e.g. only SPS/PPS).
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        if data.is_empty() {
            return Ok(None);
        }
        let Some(picture) = self.decoder.decode(data).map_err(h264_error("decode"))? else {
            return Ok(None);
        };
        let (width, height) = picture.dimensions();
        let (y_stride, u_stride, v_stride) = picture.strides();
        copy_planes(
            width,
            height,
            [
                (picture.y(), y_stride),
                (picture.u(), u_stride),
                (picture.v(), v_stride),
            ],
        )
        .map(Some)
        .ok_or(CodecError::FrameGeometry {
            width,
            height,
            reason: "decoded planes shorter than their strides",
        })
    }
}

impl VideoDecoder for H264Decoder {
    fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        H264Decoder::decode(self, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::test_support;

    fn encoder(bitrate_bps: u32) -> H264Encoder {
        H264Encoder::new(VideoEncoderSettings {
            bitrate_bps,
            ..VideoEncoderSettings::for_size(640, 360)
        })
        .expect("encoder")
    }

    #[test]
    fn frames_keep_their_stamp_and_colour_through_h264() {
        let mut decoder = H264Decoder::new().expect("decoder");
        test_support::round_trip(&mut encoder(1_000_000), &mut decoder);
    }

    #[test]
    fn h264_sends_a_keyframe_first_and_on_request_only() {
        test_support::keyframe_on_request(&mut encoder(1_000_000));
    }

    #[test]
    fn h264_bitrate_drops_when_lowered_live() {
        let (before, after) = test_support::bitrate_follows_set_bitrate(&mut encoder(1_500_000));
        eprintln!("h264: 30 frames at 1.5 Mbit/s {before} B, at 150 kbit/s {after} B");
    }

    #[test]
    fn h264_follows_a_size_change() {
        let mut decoder = H264Decoder::new().expect("decoder");
        test_support::size_change(&mut encoder(1_000_000), &mut decoder);
    }

    #[test]
    fn h264_bad_input_is_an_error_not_a_crash() {
        let mut decoder = H264Decoder::new().expect("decoder");
        test_support::bad_input(&mut encoder(1_000_000), &mut decoder);
    }
}
