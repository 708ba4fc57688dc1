//! Our published tracks: the AddTrackRequest -> TrackPublished -> offer sequence, the
//! sending track bound into the publisher PC, and keyframe requests back to the encoder.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::RtpSender;

use super::error::RoomError;
use super::track::{LocalTrack, LocalTrackOptions, SendBinding};
use crate::signal::event::PublishedTrack;
use crate::webrtc_kit::codecs::{codec_for_mime, negotiated_payload_type, single_encoding_track};
use crate::webrtc_kit::keyframe::is_keyframe_request;

/// How long the server has to confirm a publication (both official SDKs use 10 s).
pub(crate) const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// A publication waiting for the server's `track_published` (its deadline is kept by the
/// room core).
pub(crate) struct PendingPublish {
    pub(crate) track: LocalTrack,
    pub(crate) reply: Option<oneshot::Sender<Result<LocalTrack, RoomError>>>,
}

/// A track bound into the current publisher PC.
pub(crate) struct Publication {
    pub(crate) track: LocalTrack,
    pub(crate) cid: String,
    /// What the server confirmed (`track_published`).
    pub(crate) confirmed: PublishedTrack,
    pub(crate) sender: Arc<dyn RtpSender>,
    rtcp: JoinHandle<()>,
}

impl Publication {
    /// Stops the keyframe-request reader and unbinds the track (samples are dropped from
    /// now on). The sender is removed from the PC by the caller.
    pub(crate) async fn unbind(self) -> Arc<dyn RtpSender> {
        self.rtcp.abort();
        let _ = self.rtcp.await;
        self.track.set_binding(None);
        self.track.set_info(None);
        self.sender
    }
}

/// A fresh client track id (the msid track id in our SDP, LiveKit's `cid`).
pub(crate) fn new_cid() -> String {
    format!("convene-{:016x}", fastrand::u64(..))
}

/// Checks that we can send `options.mime_type`.
pub(crate) fn check_codec(options: &LocalTrackOptions) -> Result<(), RoomError> {
    match codec_for_mime(&options.mime_type) {
        Some((_, _, kind)) if kind == options.kind => Ok(()),
        _ => Err(RoomError::UnsupportedCodec(options.mime_type.clone())),
    }
}

/// Adds a sending transceiver for `track` to the publisher PC (the caller renegotiates).
pub(crate) async fn bind(
    pc: &Arc<dyn PeerConnection>,
    track: LocalTrack,
    cid: String,
    confirmed: PublishedTrack,
    stream_id: &str,
) -> Result<Publication, RoomError> {
    let options = track.options().clone();
    let (codec, default_pt, kind) = codec_for_mime(&options.mime_type)
        .ok_or_else(|| RoomError::UnsupportedCodec(options.mime_type.clone()))?;
    let ssrc = fastrand::u32(1..);
    let local = Arc::new(TrackLocalStaticSample::new(
        Instant::now(),
        single_encoding_track(stream_id, &cid, &options.name, kind, codec.clone(), ssrc),
    )?);
    let transceiver = pc
        .add_transceiver_from_track(
            Arc::clone(&local) as Arc<dyn TrackLocal>,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                streams: Vec::new(),
                send_encodings: Vec::new(),
            }),
        )
        .await?;
    let sender = transceiver
        .sender()
        .await?
        .ok_or_else(|| RoomError::PublishFailed("the transceiver has no sender".into()))?;
    let payload_type = negotiated_payload_type(&sender, &codec.mime_type, default_pt).await;
    track.set_binding(Some(Arc::new(SendBinding {
        track: Arc::clone(&local),
        ssrc,
        payload_type,
    })));
    let rtcp = tokio::spawn(read_feedback(local, track.clone()));
    Ok(Publication {
        track,
        cid,
        confirmed,
        sender,
        rtcp,
    })
}

/// Turns the receiver's PLI/FIR into keyframe requests for the encoder.
async fn read_feedback(local: Arc<TrackLocalStaticSample>, track: LocalTrack) {
    // The first frame a new receiver decodes must be a keyframe.
    track.request_keyframe();
    while let Some(event) = local.poll().await {
        let TrackLocalEvent::OnRtcpPacket(packets) = event else {
            continue;
        };
        if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
            track.request_keyframe();
        }
    }
}
