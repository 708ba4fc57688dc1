//! Received RTP back to whole encoded frames (VP8 frames, H.264 access units, Opus packets),
//! the mirror of `LocalTrack::write_frame`: the application sees frames, never RTP or
//! webrtc-rs types.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::codec::opus::OpusPacket;
use rtc::rtp::codec::vp8::Vp8Packet;

/// Packets the reassembler waits for a late one before giving up on a frame.
const MAX_LATE_PACKETS: u16 = 128;
/// RTP clock of every video codec.
const VIDEO_CLOCK_HZ: u32 = 90_000;
/// RTP clock of Opus.
const OPUS_CLOCK_HZ: u32 = 48_000;

/// One RTP packet of a remote track, as received (for audio, whose playout buffer wants
/// each packet's sequence number and timestamp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp (the codec's clock).
    pub timestamp: u32,
    /// The marker bit (for video, the last packet of a frame).
    pub marker: bool,
    /// The payload (an Opus packet; for video a fragment of a frame).
    pub payload: Bytes,
}

impl From<rtc::rtp::Packet> for RtpPacket {
    fn from(packet: rtc::rtp::Packet) -> Self {
        Self {
            sequence: packet.header.sequence_number,
            timestamp: packet.header.timestamp,
            marker: packet.header.marker,
            payload: packet.payload,
        }
    }
}

/// One whole encoded frame of a remote track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The frame as its encoder made it (H.264 in Annex B).
    pub data: Bytes,
    /// Its RTP timestamp.
    pub rtp_timestamp: u32,
    /// How long it lasts, from the timestamps around it.
    pub duration: Duration,
    /// Packets were lost before it: a video decoder should wait for a keyframe.
    pub after_loss: bool,
}

/// Reassembles one track's packets by its codec.
pub(crate) enum FrameAssembler {
    Vp8(SampleBuilder<Vp8Packet>),
    H264(SampleBuilder<H264Packet>),
    Opus(SampleBuilder<OpusPacket>),
}

impl FrameAssembler {
    /// The assembler for `mime_type` (e.g. `video/VP8`); VP8 when it is not known yet.
    pub(crate) fn for_mime(mime_type: &str) -> Self {
        let mime = mime_type.to_ascii_lowercase();
        if mime.contains("h264") {
            Self::H264(SampleBuilder::new(
                MAX_LATE_PACKETS,
                H264Packet::default(),
                VIDEO_CLOCK_HZ,
            ))
        } else if mime.contains("opus") {
            Self::Opus(SampleBuilder::new(16, OpusPacket, OPUS_CLOCK_HZ))
        } else {
            Self::Vp8(SampleBuilder::new(
                MAX_LATE_PACKETS,
                Vp8Packet::default(),
                VIDEO_CLOCK_HZ,
            ))
        }
    }

    /// Adds `packet` (received `now`) and moves the frames it completed into `ready`.
    pub(crate) fn push(
        &mut self,
        now: Instant,
        packet: rtc::rtp::Packet,
        ready: &mut VecDeque<EncodedFrame>,
    ) {
        macro_rules! drain {
            ($builder:expr) => {{
                $builder.push(now, packet);
                while let Some(sample) = $builder.pop(now) {
                    ready.push_back(EncodedFrame {
                        data: sample.data,
                        rtp_timestamp: sample.packet_timestamp,
                        duration: sample.duration,
                        after_loss: sample.prev_dropped_packets > 0,
                    });
                }
            }};
        }
        match self {
            Self::Vp8(builder) => drain!(builder),
            Self::H264(builder) => drain!(builder),
            Self::Opus(builder) => drain!(builder),
        }
    }
}
