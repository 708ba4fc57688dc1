//! WebRTC building blocks on webrtc-rs 0.21.1 that every Convene peer connection shares: the
//! client's publisher and subscriber PCs here, and the devserver's SFU side.
//!
//! `codecs` (the explicit codec table and interceptor chain), `candidate` (LiveKit's trickle
//! JSON), `keyframe` (an interceptor that surfaces PLI/FIR to the application), `sdp`
//! (which tracks an offer still sends), `tcp_fallback` (ICE over TCP only when UDP does not
//! connect), `turn_tunnel` (TURN over TCP and TLS), and `transport` (one peer connection with its candidate queue and event channel).

pub mod candidate;
pub mod codecs;
pub mod keyframe;
pub mod sdp;
pub mod tcp_fallback;
pub mod transport;
pub mod turn_tunnel;

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;

/// Which of a participant's two peer connections something refers to.
///
/// The numbering is LiveKit's `SignalTarget` (used by `TrickleRequest.target`), which names
/// the **client's** PC: the client publishes on its publisher PC (the client offers) and
/// receives on its subscriber PC (the server offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PcTarget {
    /// The PC the client publishes on (`SignalTarget::PUBLISHER = 0`); the client offers.
    Publisher,
    /// The PC the client subscribes on (`SignalTarget::SUBSCRIBER = 1`); the server offers.
    Subscriber,
}

impl PcTarget {
    /// The `SignalTarget` wire value: 0 for the publisher, 1 for the subscriber.
    pub fn to_signal_target(self) -> i32 {
        match self {
            Self::Publisher => 0,
            Self::Subscriber => 1,
        }
    }

    /// Parses a `SignalTarget` wire value; `None` for unknown values.
    pub fn from_signal_target(value: i32) -> Option<Self> {
        match value {
            0 => Some(Self::Publisher),
            1 => Some(Self::Subscriber),
            _ => None,
        }
    }
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum MediaKind {
    /// An audio track (Opus).
    Audio,
    /// A video track (VP8 or H.264).
    Video,
}

impl MediaKind {
    /// The webrtc-rs codec kind.
    pub fn codec_kind(self) -> RtpCodecKind {
        match self {
            Self::Audio => RtpCodecKind::Audio,
            Self::Video => RtpCodecKind::Video,
        }
    }
}
