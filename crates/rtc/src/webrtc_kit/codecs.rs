//! The codec table and interceptor chain every Convene peer connection uses (client and
//! devserver alike).
//!
//! An explicit, minimal codec list instead of `MediaEngine::register_default_codecs`: with
//! the default table, webrtc-rs 0.21.1 generated an answer Chrome rejects for the layout
//! "audio + video recvonly + video sendonly" (VP9 profile 0/1 both mapped to one payload type,
//! RTX pointing at an absent codec; docs/DESIGN.md, "The local server"). Only the three codecs
//! LiveKit clients publish by default are registered, with fixed payload types, so the
//! offers we generate always carry the same numbers.

use rtc::interceptor::{Registry, SenderReportBuilder, Slot};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_simulcast_extension_headers, configure_twcc_receiver_only,
    register_default_interceptors,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sdp::extmap::AUDIO_LEVEL_URI;

use super::MediaKind;
use super::keyframe::KeyframeRequestForwarder;

/// Opus payload type (what browsers use too).
pub const PT_OPUS: u8 = 111;
/// VP8 payload type.
pub const PT_VP8: u8 = 96;
/// H.264 (constrained baseline 3.1, packetization-mode 1) payload type.
pub const PT_H264: u8 = 108;

/// The `sdp_fmtp_line` of the one H.264 profile we accept: constrained baseline level 3.1,
/// non-interleaved packetization, which every browser offers.
const H264_FMTP: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

/// Where the keyframe-request forwarder sits: after every built-in interceptor (the highest
/// named slot is the jitter buffer at 13 000), so they have all seen the inbound RTCP first.
const KEYFRAME_FORWARDER_SLOT: usize = 14_000;

fn feedback(typ: &str, parameter: &str) -> RTCPFeedback {
    RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    }
}

fn video_feedback() -> Vec<RTCPFeedback> {
    vec![
        feedback("nack", ""),
        feedback("nack", "pli"),
        feedback("ccm", "fir"),
        feedback("transport-cc", ""),
    ]
}

/// The codec we register for `mime_type` (case-insensitive), with its payload type.
///
/// Used both to fill the media engine and to describe the send track of a subscription, so
/// a forwarded track always names a codec the subscriber PC knows.
pub fn codec_for_mime(mime_type: &str) -> Option<(RTCRtpCodec, u8, MediaKind)> {
    if mime_type.eq_ignore_ascii_case(MIME_TYPE_OPUS) {
        Some((
            RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![feedback("transport-cc", "")],
            },
            PT_OPUS,
            MediaKind::Audio,
        ))
    } else if mime_type.eq_ignore_ascii_case(MIME_TYPE_VP8) {
        Some((
            RTCRtpCodec {
                mime_type: MIME_TYPE_VP8.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: video_feedback(),
            },
            PT_VP8,
            MediaKind::Video,
        ))
    } else if mime_type.eq_ignore_ascii_case(MIME_TYPE_H264) {
        Some((
            RTCRtpCodec {
                mime_type: MIME_TYPE_H264.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: H264_FMTP.to_owned(),
                rtcp_feedback: video_feedback(),
            },
            PT_H264,
            MediaKind::Video,
        ))
    } else {
        None
    }
}

/// Whether a peer connection negotiates the RFC 6464 audio-level header extension
/// (`urn:ietf:params:rtp-hdrext:ssrc-audio-level`), which the default interceptors do not
/// register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioLevels {
    /// Negotiate it for audio: on a PC that receives published audio (the SFU reads the
    /// levels for `speakers_changed`) or sends it (the client stamps them).
    Negotiate,
    /// Leave it out: forwarded packets carry no extensions, so a PC that only relays keeps
    /// its offers without it (a direction filter would not keep it out of `sendrecv` audio).
    Omit,
}

/// Whether a peer connection sends RTCP receiver reports for the media it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverReports {
    /// Send them (the default interceptor set).
    Send,
    /// Leave them out, keeping sender reports, NACK and transport-wide feedback: for the
    /// SFU's publisher-side PC, which receives simulcast.
    ///
    /// Why: webrtc-rs 0.21.1 forgets which SSRC carries which simulcast layer whenever a
    /// remote offer is applied (`start_rtp` resets every rid-based receive coding to "SSRC
    /// unknown"), and can only learn it again from packets that carry the mid and rid header
    /// extensions. Chrome stops sending those once a receiver report has acknowledged the
    /// SSRC, so after any renegotiation (an ICE restart on resume, a second track) the layers
    /// that were flowing would be dropped for good. Without receiver reports Chrome keeps
    /// sending mid/rid on every packet and the layers re-bind at once; its bandwidth
    /// estimation works from transport-wide feedback, which stays.
    Omit,
}

/// A sending track description with one encoding of `codec` on `ssrc` (no simulcast):
/// stream id, track id and label as LiveKit wants them.
pub fn single_encoding_track(
    stream_id: &str,
    track_id: &str,
    label: &str,
    kind: super::MediaKind,
    codec: RTCRtpCodec,
    ssrc: u32,
) -> webrtc::media_stream::MediaStreamTrack {
    use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters};
    webrtc::media_stream::MediaStreamTrack::new(
        stream_id.to_owned(),
        track_id.to_owned(),
        label.to_owned(),
        kind.codec_kind(),
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )
}

/// The payload type `sender` negotiated for `mime_type`, or `default` if it cannot tell
/// (parameters unavailable, or the codec not among them).
pub async fn negotiated_payload_type(
    sender: &std::sync::Arc<dyn webrtc::rtp_transceiver::RtpSender>,
    mime_type: &str,
    default: u8,
) -> u8 {
    match sender.get_parameters().await {
        Ok(parameters) => parameters
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime_type))
            .map_or(default, |c| c.payload_type),
        Err(_) => default,
    }
}

/// A media engine with Opus 111, VP8 96 and H.264 108, plus the default interceptors (NACK
/// generator/responder, sender/receiver reports, TWCC receiver, mid/rid header extensions for
/// simulcast receive) and the [`KeyframeRequestForwarder`] that lets the sending side see
/// the PLI/FIR its peer sends.
///
/// The audio-level extension, when asked for, is registered after the defaults so their
/// extension ids are unchanged.
///
/// Called once per peer connection: a `MediaEngine` and a `Registry` are consumed by the
/// builder.
pub fn media_engine_and_registry(
    audio_levels: AudioLevels,
    receiver_reports: ReceiverReports,
) -> Result<(MediaEngine, Registry), webrtc::error::Error> {
    let mut engine = MediaEngine::default();
    for mime in [MIME_TYPE_OPUS, MIME_TYPE_VP8, MIME_TYPE_H264] {
        let Some((codec, payload_type, kind)) = codec_for_mime(mime) else {
            continue;
        };
        engine.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: codec,
                payload_type,
            },
            kind.codec_kind(),
        )?;
    }
    let registry = match receiver_reports {
        ReceiverReports::Send => register_default_interceptors(Registry::new(), &mut engine)?,
        // Same registration order as `register_default_interceptors`, so the header
        // extension ids are unchanged.
        ReceiverReports::Omit => {
            let registry = configure_nack(Registry::new(), &mut engine);
            configure_simulcast_extension_headers(&mut engine)?;
            let registry = configure_twcc_receiver_only(registry, &mut engine)?;
            registry.with(Slot::SenderReport, SenderReportBuilder::new().build())
        }
    };
    if audio_levels == AudioLevels::Negotiate {
        engine.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: AUDIO_LEVEL_URI.to_owned(),
            },
            RtpCodecKind::Audio,
            None,
        )?;
    }
    let registry = registry.with(
        Slot::from(KEYFRAME_FORWARDER_SLOT),
        KeyframeRequestForwarder::default(),
    );
    Ok((engine, registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_lookup_is_case_insensitive_and_limited() {
        assert_eq!(codec_for_mime("video/vp8").map(|c| c.1), Some(PT_VP8));
        assert_eq!(codec_for_mime("audio/OPUS").map(|c| c.1), Some(PT_OPUS));
        assert_eq!(codec_for_mime("video/h264").map(|c| c.1), Some(PT_H264));
        assert!(codec_for_mime("video/VP9").is_none());
    }

    #[test]
    fn engine_builds() {
        assert!(media_engine_and_registry(AudioLevels::Negotiate, ReceiverReports::Omit).is_ok());
        assert!(media_engine_and_registry(AudioLevels::Omit, ReceiverReports::Send).is_ok());
    }
}
