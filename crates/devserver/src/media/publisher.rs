//! The publisher PC: the client offers, we answer and receive its tracks and data channels.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::RTCRtpReceiverId;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sdp::extmap::AUDIO_LEVEL_URI;
use tokio::sync::{Mutex, Notify, mpsc};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};

use super::audio_level::{AudioLevelId, AudioLevelMeter, read_audio_level};
use super::config::MediaConfig;
use super::error::MediaError;
use super::events::{MediaEvent, MediaKind, PcTarget};
use super::forward::PublishedTrack;
use super::pc::{Outbox, PcSide, TrackSink};
use crate::quality::{LossWindow, QUALITY_WINDOW};
use convene_rtc::webrtc_kit::sdp::sending_track_ids;

/// Minimum spacing of upstream PLIs for one track; requests in between are coalesced.
const KEYFRAME_MIN_INTERVAL: Duration = Duration::from_millis(500);

/// The simulcast layer we prefer to forward (LiveKit's lowest quality, always present).
const PREFERRED_RID: &str = "q";

/// Stop signals of the remote tracks being read, by msid track id.
type LiveTracks = Arc<std::sync::Mutex<HashMap<String, Arc<Notify>>>>;

/// The publisher PC, for the track readers to look up negotiated parameters. Set right after
/// the PC is built (before any remote description, so before any track); weak, because the
/// PC owns the handler that owns the track sink that holds this.
type PcSlot = Arc<OnceLock<Weak<dyn PeerConnection>>>;

/// What every remote-track reader gets.
#[derive(Clone)]
struct TrackContext {
    outbox: Outbox,
    /// The session's channel, for [`MediaEvent::AudioLevel`] (`try_send`).
    events: mpsc::Sender<MediaEvent>,
    live: LiveTracks,
    pc: PcSlot,
}

/// The client's publisher PC.
pub(crate) struct Publisher {
    side: PcSide,
    /// Serializes offer/answer rounds (the client may send a new offer right after our answer).
    negotiation: Mutex<()>,
    live: LiveTracks,
}

impl Publisher {
    /// Builds the PC; every remote track is handed to [`run_remote_track`] in its own task.
    pub(crate) async fn new(
        config: &MediaConfig,
        outbox: Outbox,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<Self, MediaError> {
        let live = LiveTracks::default();
        let pc_slot = PcSlot::default();
        let context = TrackContext {
            outbox: outbox.clone(),
            events: events.clone(),
            live: Arc::clone(&live),
            pc: Arc::clone(&pc_slot),
        };
        let sink: TrackSink = Arc::new(move |track| {
            tokio::spawn(run_remote_track(track, context.clone()));
        });
        let side = PcSide::build(config, PcTarget::Publisher, outbox, events, Some(sink)).await?;
        let _ = pc_slot.set(Arc::downgrade(&side.pc));
        Ok(Self {
            side,
            negotiation: Mutex::new(()),
            live,
        })
    }

    /// Applies the client's offer and returns our answer SDP. Tracks the offer no longer
    /// sends (LiveKit unpublishes by removing the sender and renegotiating) are ended.
    pub(crate) async fn answer(&self, offer_sdp: String) -> Result<String, MediaError> {
        let _round = self.negotiation.lock().await;
        let sending = sending_track_ids(&offer_sdp);
        self.side
            .set_remote(RTCSessionDescription::offer(offer_sdp)?)
            .await?;
        for (track_id, stop) in self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            if !sending.contains(track_id) {
                tracing::debug!(%track_id, "client stopped sending the track");
                stop.notify_one();
            }
        }
        let answer = self.side.pc.create_answer(None).await?;
        let sdp = answer.sdp.clone();
        self.side.set_local(answer).await?;
        Ok(sdp)
    }

    /// Adds (or queues) a client candidate.
    pub(crate) async fn add_candidate(&self, json: &str) -> Result<(), MediaError> {
        self.side.add_candidate(json).await
    }

    /// Closes the PC; the remote tracks end, which emits their `TrackEnded` events.
    pub(crate) async fn close(&self) {
        self.side.close().await;
    }
}

/// Which simulcast layer (SSRC) is forwarded.
struct LayerChoice {
    ssrc: Arc<AtomicU32>,
    rid: Option<String>,
    chosen: bool,
}

impl LayerChoice {
    /// Takes the first layer that opens; switches once to `q` if it opens later. Returns
    /// whether the forwarded layer changed.
    fn offer(&mut self, ssrc: u32, rid: Option<String>) -> bool {
        let better =
            rid.as_deref() == Some(PREFERRED_RID) && self.rid.as_deref() != Some(PREFERRED_RID);
        if self.chosen && !better {
            return false;
        }
        self.chosen = true;
        self.ssrc.store(ssrc, Ordering::Relaxed);
        self.rid = rid;
        true
    }
}

/// Reads one remote track until it ends (the PC closes, or [`Publisher::answer`] sees an
/// offer that no longer sends it): announces it ([`MediaEvent::TrackReceived`]) when
/// its first layer opens, feeds the chosen layer's packets to the fan-out, runs the PLI
/// sender, and reports [`MediaEvent::TrackEnded`] at the end.
///
/// Audio: the forwarded packets' audio-level extension (id looked up once, when the track
/// opens) feeds an [`AudioLevelMeter`], whose level is sent as [`MediaEvent::AudioLevel`]
/// every 500 ms with `try_send` (dropped if the session's channel is full).
///
/// Simulcast: webrtc-rs gives one `TrackRemote` per m-line and an `OnOpen` per rid; one
/// layer is forwarded (see [`LayerChoice`]), the others are read and dropped.
async fn run_remote_track(track: Arc<dyn TrackRemote>, context: TrackContext) {
    let TrackContext {
        outbox,
        events,
        live,
        pc,
    } = context;
    let track_id = track.track_id().await;
    let stop = Arc::new(Notify::new());
    live.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(track_id.clone(), Arc::clone(&stop));
    let stream_id = track.stream_id().await;
    let kind = match track.kind().await {
        RtpCodecKind::Audio => MediaKind::Audio,
        _ => MediaKind::Video,
    };
    let mut layer = LayerChoice {
        ssrc: Arc::new(AtomicU32::new(0)),
        rid: None,
        chosen: false,
    };
    let mut fanout = None;
    let mut pli_task = None;
    let mut audio_level_id: AudioLevelId = None;
    let mut meter = AudioLevelMeter::default();
    let mut loss = LossWindow::default();
    let mut loss_report = tokio::time::interval(QUALITY_WINDOW);

    loop {
        let event = tokio::select! {
            event = track.poll() => event,
            () = stop.notified() => None,
            _ = loss_report.tick() => {
                if let Some(loss) = loss.take() {
                    // Never wait on the media path; a dropped report is replaced soon.
                    let _ = events.try_send(MediaEvent::PacketLoss {
                        track_id: track_id.clone(),
                        loss,
                    });
                }
                continue;
            }
        };
        let Some(event) = event else {
            break;
        };
        match event {
            TrackRemoteEvent::OnOpen(init) => {
                tracing::debug!(%track_id, ssrc = init.ssrc, rid = ?init.rid, "remote layer opened");
                let switched = layer.offer(init.ssrc, init.rid.clone());
                if fanout.is_none() {
                    let codec = track.codec(init.ssrc).await.unwrap_or_default();
                    let (source, feeder) = PublishedTrack::new(
                        kind,
                        codec.mime_type,
                        codec.clock_rate,
                        track_id.clone(),
                    );
                    if kind == MediaKind::Video {
                        pli_task = Some(tokio::spawn(send_plis(
                            Arc::clone(&track),
                            source.clone(),
                            Arc::clone(&layer.ssrc),
                        )));
                    } else {
                        audio_level_id = negotiated_audio_level_id(&pc, init.receiver_id).await;
                        tracing::debug!(%track_id, ?audio_level_id, "audio-level extension");
                    }
                    let _ = outbox.send(MediaEvent::TrackReceived {
                        track_id: track_id.clone(),
                        stream_id: stream_id.clone(),
                        kind,
                        source: source.clone(),
                    });
                    fanout = Some((source, feeder));
                } else if switched && let Some((source, _)) = &fanout {
                    source.request_keyframe();
                }
            }
            TrackRemoteEvent::OnRtpPacket(packet) => {
                if let Some((_, feeder)) = &fanout
                    && packet.header.ssrc == layer.ssrc.load(Ordering::Relaxed)
                {
                    loss.observe(packet.header.sequence_number);
                    if let Some(id) = audio_level_id
                        && let Some((level_dbov, _voice)) = read_audio_level(&packet.header, id)
                        && let Some(level) = meter.observe(level_dbov, Instant::now())
                    {
                        // Never wait on the media path; a dropped level is harmless.
                        let _ = events.try_send(MediaEvent::AudioLevel {
                            track_id: track_id.clone(),
                            level,
                        });
                    }
                    feeder.send(packet);
                }
            }
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }

    live.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&track_id);
    if let Some(task) = pli_task {
        task.abort();
    }
    if fanout.take().is_some() {
        let _ = outbox.send(MediaEvent::TrackEnded { track_id });
    }
}

/// The id the client's offer gave the audio-level extension, from the negotiated parameters
/// of the receiver `receiver_id` of the publisher PC; `None` if it was not negotiated (or the
/// PC is gone). Called once per audio track, when it opens (after negotiation).
async fn negotiated_audio_level_id(pc: &PcSlot, receiver_id: RTCRtpReceiverId) -> AudioLevelId {
    let pc = pc.get()?.upgrade()?;
    let receiver = pc
        .get_receivers()
        .await
        .into_iter()
        .find(|receiver| receiver.id() == receiver_id)?;
    let parameters = receiver.get_parameters().await.ok()?;
    parameters
        .rtp_parameters
        .header_extensions
        .iter()
        .find(|ext| ext.uri == AUDIO_LEVEL_URI)
        .and_then(|ext| u8::try_from(ext.id).ok())
}

/// Turns keyframe requests into upstream PLIs for the currently forwarded layer, at most one
/// per [`KEYFRAME_MIN_INTERVAL`].
async fn send_plis(track: Arc<dyn TrackRemote>, source: PublishedTrack, ssrc: Arc<AtomicU32>) {
    loop {
        source.keyframe_requested().await;
        let media_ssrc = ssrc.load(Ordering::Relaxed);
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc,
        };
        if let Err(err) = track.write_rtcp(vec![Box::new(pli)]).await {
            tracing::debug!(%err, "cannot send PLI upstream, stopping");
            return;
        }
        tokio::time::sleep(KEYFRAME_MIN_INTERVAL).await;
    }
}
