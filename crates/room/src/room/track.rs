//! Tracks: what a publication looks like ([`TrackInfo`]), the local tracks we publish
//! ([`LocalTrack`], encoded frames in) and the remote tracks we receive ([`RemoteTrack`],
//! encoded frames, or for audio the packets, out).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use livekit_protocol as lk;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use tokio::sync::{mpsc, oneshot, watch};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use super::depacketize::{EncodedFrame, FrameAssembler, RtpPacket};
use super::error::RoomError;
use crate::webrtc_kit::MediaKind;

/// Where a track comes from, as LiveKit names it (`TrackSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum TrackSource {
    /// Not said.
    Unknown,
    /// A camera.
    Camera,
    /// A microphone.
    Microphone,
    /// A shared screen or window.
    ScreenShare,
    /// The audio of a shared screen.
    ScreenShareAudio,
}

impl TrackSource {
    /// The protobuf value.
    pub fn to_proto(self) -> lk::TrackSource {
        match self {
            Self::Unknown => lk::TrackSource::Unknown,
            Self::Camera => lk::TrackSource::Camera,
            Self::Microphone => lk::TrackSource::Microphone,
            Self::ScreenShare => lk::TrackSource::ScreenShare,
            Self::ScreenShareAudio => lk::TrackSource::ScreenShareAudio,
        }
    }

    /// From the protobuf value (unknown numbers map to `Unknown`).
    pub fn from_proto(value: i32) -> Self {
        match lk::TrackSource::try_from(value) {
            Ok(lk::TrackSource::Camera) => Self::Camera,
            Ok(lk::TrackSource::Microphone) => Self::Microphone,
            Ok(lk::TrackSource::ScreenShare) => Self::ScreenShare,
            Ok(lk::TrackSource::ScreenShareAudio) => Self::ScreenShareAudio,
            _ => Self::Unknown,
        }
    }
}

/// A published track as the server describes it (ours or someone else's).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TrackInfo {
    /// Server id (`TR_…`).
    pub sid: String,
    /// The publisher's name for it.
    pub name: String,
    /// Audio or video.
    pub kind: MediaKind,
    /// Camera, microphone, screen…
    pub source: TrackSource,
    /// Muted by its publisher (or by the server).
    pub muted: bool,
    /// Codec, e.g. `video/VP8`, once the server knows it (may be empty).
    pub mime_type: String,
    /// Video width in pixels (0 for audio or unknown).
    pub width: u32,
    /// Video height in pixels (0 for audio or unknown).
    pub height: u32,
}

impl TrackInfo {
    /// From the protobuf; `None` for data tracks or unknown kinds.
    pub fn from_proto(info: &lk::TrackInfo) -> Option<Self> {
        let kind = match lk::TrackType::try_from(info.r#type) {
            Ok(lk::TrackType::Audio) => MediaKind::Audio,
            Ok(lk::TrackType::Video) => MediaKind::Video,
            _ => return None,
        };
        Some(Self {
            sid: info.sid.clone(),
            name: info.name.clone(),
            kind,
            source: TrackSource::from_proto(info.source),
            muted: info.muted,
            mime_type: info.mime_type.clone(),
            width: info.width,
            height: info.height,
        })
    }
}

/// What to publish: the description sent in the `AddTrackRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTrackOptions {
    /// A name other participants see.
    pub name: String,
    /// Audio or video.
    pub kind: MediaKind,
    /// Camera, microphone, screen…
    pub source: TrackSource,
    /// Codec of the samples that will be written: `audio/opus`, `video/VP8` or `video/H264`.
    pub mime_type: String,
    /// Video width (0 for audio).
    pub width: u32,
    /// Video height (0 for audio).
    pub height: u32,
}

impl LocalTrackOptions {
    /// An Opus microphone track.
    pub fn microphone() -> Self {
        Self {
            name: "microphone".into(),
            kind: MediaKind::Audio,
            source: TrackSource::Microphone,
            mime_type: "audio/opus".into(),
            width: 0,
            height: 0,
        }
    }

    /// A VP8 camera track of the given size.
    pub fn camera(width: u32, height: u32) -> Self {
        Self {
            name: "camera".into(),
            kind: MediaKind::Video,
            source: TrackSource::Camera,
            mime_type: "video/VP8".into(),
            width,
            height,
        }
    }
}

/// Where a local track's samples currently go: the sending track of the current publisher
/// PC. Replaced on every (re)publish; absent while unpublished or reconnecting.
pub(crate) struct SendBinding {
    pub(crate) track: Arc<TrackLocalStaticSample>,
    pub(crate) ssrc: u32,
    pub(crate) payload_type: u8,
}

pub(crate) struct LocalTrackInner {
    pub(crate) options: LocalTrackOptions,
    pub(crate) binding: Mutex<Option<Arc<SendBinding>>>,
    pub(crate) info: Mutex<Option<TrackInfo>>,
    pub(crate) muted: std::sync::atomic::AtomicBool,
    keyframe_requests: watch::Sender<u64>,
}

/// A track we publish. Cheap to clone; the handle stays valid across reconnects (samples
/// written while the room is reconnecting are dropped, and flow again once the track is
/// republished).
#[derive(Clone)]
pub struct LocalTrack {
    pub(crate) inner: Arc<LocalTrackInner>,
}

impl LocalTrack {
    pub(crate) fn new(options: LocalTrackOptions) -> Self {
        Self {
            inner: Arc::new(LocalTrackInner {
                options,
                binding: Mutex::new(None),
                info: Mutex::new(None),
                muted: std::sync::atomic::AtomicBool::new(false),
                keyframe_requests: watch::channel(0).0,
            }),
        }
    }

    /// What was asked for when publishing.
    pub fn options(&self) -> &LocalTrackOptions {
        &self.inner.options
    }

    /// The publication as the server knows it; `None` while not (re)published.
    pub fn info(&self) -> Option<TrackInfo> {
        self.inner
            .info
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The server id (`TR_…`) while published.
    pub fn sid(&self) -> Option<String> {
        self.info().map(|info| info.sid)
    }

    /// Whether the track is muted.
    pub fn is_muted(&self) -> bool {
        self.inner.muted.load(Ordering::Acquire)
    }

    /// A counter that increases whenever the receiving side asks for a keyframe (PLI/FIR) or
    /// the track is (re)published; a video encoder watches it and forces a keyframe.
    pub fn keyframe_requests(&self) -> watch::Receiver<u64> {
        self.inner.keyframe_requests.subscribe()
    }

    pub(crate) fn request_keyframe(&self) {
        self.inner.keyframe_requests.send_modify(|n| *n += 1);
    }

    pub(crate) fn same_as(&self, other: &LocalTrack) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn set_binding(&self, binding: Option<Arc<SendBinding>>) {
        *self
            .inner
            .binding
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = binding;
    }

    pub(crate) fn set_info(&self, info: Option<TrackInfo>) {
        *self
            .inner
            .info
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = info;
    }

    /// Sends one encoded frame (an Opus packet, a VP8 frame, an H.264 access unit in Annex B)
    /// lasting `duration`. Returns `false` when the frame was dropped because the track is not
    /// currently published (reconnecting, unpublished) or is muted.
    pub async fn write_frame(
        &self,
        data: Bytes,
        duration: Duration,
    ) -> Result<bool, webrtc::error::Error> {
        if self.is_muted() {
            return Ok(false);
        }
        let binding = self
            .inner
            .binding
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(binding) = binding else {
            return Ok(false);
        };
        let sample = rtc::media::Sample {
            data,
            timestamp: Instant::now(),
            duration,
            packet_timestamp: 0,
            prev_dropped_packets: 0,
            prev_padding_packets: 0,
        };
        binding
            .track
            .write_sample(binding.ssrc, binding.payload_type, &sample, &[])
            .await?;
        Ok(true)
    }
}

impl std::fmt::Debug for LocalTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTrack")
            .field("options", &self.inner.options)
            .field("info", &self.info())
            .finish()
    }
}

/// How many RTP packets of one remote track may wait for the application before new ones are
/// dropped (and counted): about 1.5 s of 720p video.
const REMOTE_PACKET_QUEUE: usize = 512;

/// A subscribed remote track: encoded frames ([`RemoteTrack::recv_frame`]) or, for audio,
/// packets ([`RemoteTrack::recv`]) out; keyframe requests in.
pub struct RemoteTrack {
    /// The publication.
    pub info: TrackInfo,
    /// The publisher's identity.
    pub participant_identity: String,
    packets: mpsc::Receiver<rtc::rtp::Packet>,
    /// Made at the first [`RemoteTrack::recv_frame`], by the track's codec (boxed: a
    /// reassembler is large and most events carrying a track never read frames).
    frames: Option<Box<(FrameAssembler, std::collections::VecDeque<EncodedFrame>)>>,
    remote: Arc<dyn TrackRemote>,
    ssrc: Arc<AtomicU64>,
    dropped: Arc<AtomicUsize>,
}

impl RemoteTrack {
    /// Starts reading `remote`; dropping (or firing) the returned sender ends the track for
    /// the application (unsubscribed or unpublished), while the read loop keeps draining the
    /// webrtc track until it really ends.
    pub(crate) fn start(
        info: TrackInfo,
        participant_identity: String,
        remote: Arc<dyn TrackRemote>,
    ) -> (Self, oneshot::Sender<()>) {
        let (tx, packets) = mpsc::channel(REMOTE_PACKET_QUEUE);
        let (stop_tx, stop) = oneshot::channel();
        let ssrc = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        tokio::spawn(read_remote_track(
            Arc::clone(&remote),
            tx,
            stop,
            Arc::clone(&ssrc),
            Arc::clone(&dropped),
        ));
        (
            Self {
                info,
                participant_identity,
                packets,
                frames: None,
                remote,
                ssrc,
                dropped,
            },
            stop_tx,
        )
    }

    /// The next RTP packet; `None` once the track ended (unsubscribed, unpublished, or the
    /// connection closed). Audio reads these (its playout buffer wants every packet's
    /// sequence number); read either packets or frames from one track, not both.
    pub async fn recv(&mut self) -> Option<RtpPacket> {
        self.packets.recv().await.map(RtpPacket::from)
    }

    /// The next whole encoded frame (reassembled from RTP by the track's codec: VP8, H.264
    /// or Opus); `None` once the track ended.
    pub async fn recv_frame(&mut self) -> Option<EncodedFrame> {
        let mime = &self.info.mime_type;
        let frames = self
            .frames
            .get_or_insert_with(|| Box::new((FrameAssembler::for_mime(mime), Default::default())));
        loop {
            let (assembler, ready) = &mut **frames;
            if let Some(frame) = ready.pop_front() {
                return Some(frame);
            }
            let packet = self.packets.recv().await?;
            assembler.push(Instant::now(), packet, ready);
        }
    }

    /// Packets dropped because the application did not read them fast enough.
    pub fn dropped_packets(&self) -> usize {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Asks the publisher for a keyframe (sends a PLI), e.g. after a decoder error.
    pub async fn request_keyframe(&self) -> Result<(), RoomError> {
        let media_ssrc = u32::try_from(self.ssrc.load(Ordering::Acquire)).unwrap_or(0);
        self.remote
            .write_rtcp(vec![Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            })])
            .await?;
        Ok(())
    }
}

impl std::fmt::Debug for RemoteTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTrack")
            .field("info", &self.info)
            .field("participant_identity", &self.participant_identity)
            .finish()
    }
}

async fn read_remote_track(
    remote: Arc<dyn TrackRemote>,
    packets: mpsc::Sender<rtc::rtp::Packet>,
    mut stop: oneshot::Receiver<()>,
    ssrc: Arc<AtomicU64>,
    dropped: Arc<AtomicUsize>,
) {
    let mut packets = Some(packets);
    loop {
        let event = tokio::select! {
            event = remote.poll() => event,
            _ = &mut stop, if packets.is_some() => {
                // Ended for the application; keep draining what webrtc still delivers.
                packets = None;
                continue;
            }
        };
        let Some(event) = event else { break };
        match event {
            TrackRemoteEvent::OnOpen(init) => {
                ssrc.store(u64::from(init.ssrc), Ordering::Release);
            }
            TrackRemoteEvent::OnRtpPacket(packet) => {
                if ssrc.load(Ordering::Acquire) == 0 {
                    ssrc.store(u64::from(packet.header.ssrc), Ordering::Release);
                }
                if let Some(packets) = &packets
                    && packets.try_send(packet).is_err()
                {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }
}
