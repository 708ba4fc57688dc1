//! Fan-out of one published track to its subscribers.
//!
//! The publisher side ([`super::publisher`]) pushes the RTP packets of the one layer it
//! forwards into a `tokio::sync::broadcast` channel; each subscription runs
//! [`run_forward`], which rewrites SSRC, payload type, sequence numbers and timestamps for
//! its subscriber and writes to a `TrackLocalStaticRTP` on the subscriber PC. Keyframe
//! requests travel the other way through a `Notify` that the publisher side turns into an
//! upstream PLI.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use rtc::rtp;
use tokio::sync::{Notify, broadcast, watch};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

use super::events::MediaKind;
use convene_rtc::webrtc_kit::keyframe::is_keyframe_request;

/// Packets buffered per subscriber before it starts losing them (a subscriber that lags
/// further skips ahead and asks for a keyframe). About 1 s of 720p video.
const FANOUT_CAPACITY: usize = 1024;

struct Shared {
    kind: MediaKind,
    mime_type: String,
    clock_rate: u32,
    track_id: String,
    /// `None` once the publisher side has ended: no new subscriber can attach.
    packets: Mutex<Option<broadcast::Sender<rtp::Packet>>>,
    keyframe: Notify,
}

/// A published remote track that can be forwarded to many subscribers.
///
/// Cheap to clone (an `Arc`). Obtained from [`super::MediaEvent::TrackReceived`] and passed
/// to [`super::ParticipantMedia::subscribe`] of every participant that should receive it.
/// It stays valid after the track ends, but subscribing then fails with
/// [`super::MediaError::TrackEnded`].
#[derive(Clone)]
pub struct PublishedTrack {
    shared: Arc<Shared>,
}

impl fmt::Debug for PublishedTrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishedTrack")
            .field("track_id", &self.shared.track_id)
            .field("kind", &self.shared.kind)
            .field("mime_type", &self.shared.mime_type)
            .field("ended", &self.is_ended())
            .finish()
    }
}

impl PublishedTrack {
    /// Creates the handle and the publisher-side feeder that owns the fan-out.
    pub(crate) fn new(
        kind: MediaKind,
        mime_type: String,
        clock_rate: u32,
        track_id: String,
    ) -> (Self, Feeder) {
        let (sender, _) = broadcast::channel(FANOUT_CAPACITY);
        let shared = Arc::new(Shared {
            kind,
            mime_type,
            clock_rate,
            track_id,
            packets: Mutex::new(Some(sender.clone())),
            keyframe: Notify::new(),
        });
        let feeder = Feeder {
            sender,
            shared: Arc::clone(&shared),
        };
        (Self { shared }, feeder)
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        self.shared.kind
    }

    /// The codec MIME type as negotiated with the publisher, e.g. `video/VP8` (for
    /// `TrackInfo.mime_type`).
    pub fn mime_type(&self) -> &str {
        &self.shared.mime_type
    }

    /// The publisher's msid track id (its `cid`).
    pub fn track_id(&self) -> &str {
        &self.shared.track_id
    }

    /// Whether the publisher side has ended (no more packets will come).
    pub fn is_ended(&self) -> bool {
        self.shared
            .packets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Asks the publisher for a keyframe. Requests are coalesced and sent upstream as a PLI
    /// at most every 500 ms; a no-op for audio.
    pub fn request_keyframe(&self) {
        self.shared.keyframe.notify_one();
    }

    /// Waits for the next keyframe request (publisher side).
    pub(crate) async fn keyframe_requested(&self) {
        self.shared.keyframe.notified().await;
    }

    /// A new receiver of the forwarded packets, or `None` once the track has ended.
    pub(crate) fn subscribe_packets(&self) -> Option<broadcast::Receiver<rtp::Packet>> {
        self.shared
            .packets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(broadcast::Sender::subscribe)
    }

    /// The RTP clock rate of the codec.
    pub(crate) fn clock_rate(&self) -> u32 {
        self.shared.clock_rate
    }
}

/// The publisher side's end of the fan-out. Dropping it ends the track for every subscriber.
pub(crate) struct Feeder {
    sender: broadcast::Sender<rtp::Packet>,
    shared: Arc<Shared>,
}

impl Feeder {
    /// Hands one packet to every current subscriber (none is fine).
    pub(crate) fn send(&self, packet: rtp::Packet) {
        let _ = self.sender.send(packet);
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        // Both senders gone -> every subscriber's receiver reports `Closed`.
        self.shared
            .packets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Maps the source's sequence numbers and timestamps onto one continuous output stream.
///
/// The publisher side forwards one simulcast layer but may switch layer once (to `q` when it
/// shows up after another one); on a source-SSRC change the output continues at the next
/// sequence number and one frame interval later, so the subscriber sees neither a gap nor a
/// jump back in time.
#[derive(Debug, Default)]
pub(crate) struct Rewriter {
    source_ssrc: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    last_seq: u16,
    last_ts: u32,
}

impl Rewriter {
    /// Rewrites `header` for output SSRC `ssrc`; `ts_gap` is the timestamp step inserted at a
    /// source switch.
    pub(crate) fn rewrite(&mut self, header: &mut rtp::header::Header, ssrc: u32, ts_gap: u32) {
        if self.source_ssrc != Some(header.ssrc) {
            if self.source_ssrc.is_some() {
                self.seq_offset = self
                    .last_seq
                    .wrapping_add(1)
                    .wrapping_sub(header.sequence_number);
                self.ts_offset = self
                    .last_ts
                    .wrapping_add(ts_gap)
                    .wrapping_sub(header.timestamp);
            }
            self.source_ssrc = Some(header.ssrc);
            self.last_seq = header.sequence_number.wrapping_add(self.seq_offset);
            self.last_ts = header.timestamp.wrapping_add(self.ts_offset);
        }
        let seq = header.sequence_number.wrapping_add(self.seq_offset);
        let ts = header.timestamp.wrapping_add(self.ts_offset);
        // Only move forward (a reordered packet keeps its place, not the stream's end).
        if seq.wrapping_sub(self.last_seq) < 0x8000 {
            self.last_seq = seq;
            self.last_ts = ts;
        }
        header.sequence_number = seq;
        header.timestamp = ts;
        header.ssrc = ssrc;
    }
}

/// Everything one subscription's forwarding task needs.
pub(crate) struct Forward {
    pub(crate) source: PublishedTrack,
    pub(crate) packets: broadcast::Receiver<rtp::Packet>,
    pub(crate) local: Arc<TrackLocalStaticRTP>,
    pub(crate) ssrc: u32,
    pub(crate) payload_type: u8,
    /// `true` while the subscriber PC is connected; packets are dropped otherwise.
    pub(crate) connected: watch::Receiver<bool>,
}

/// Forwards packets to one subscriber until the source ends or the subscriber PC goes away,
/// and relays the subscriber's PLI/FIR upstream.
///
/// Per packet: SSRC and payload type are set to the subscriber's, sequence number and
/// timestamp go through a [`Rewriter`], header extensions are stripped (their ids were
/// negotiated with the publisher, not the subscriber, and webrtc-rs rejects ids this sender
/// did not negotiate). A keyframe is requested when forwarding (re)starts: on the first
/// packet after the subscriber PC connects and after losing packets to lag.
pub(crate) async fn run_forward(mut forward: Forward) {
    let mut rewriter = Rewriter::default();
    let ts_gap = (forward.source.clock_rate() / 30).max(1);
    let mut polling_rtcp = true;
    let mut need_keyframe = true;
    loop {
        tokio::select! {
            received = forward.packets.recv() => match received {
                Ok(mut packet) => {
                    if !*forward.connected.borrow() {
                        need_keyframe = true;
                        continue;
                    }
                    if need_keyframe {
                        forward.source.request_keyframe();
                        need_keyframe = false;
                    }
                    rewriter.rewrite(&mut packet.header, forward.ssrc, ts_gap);
                    packet.header.payload_type = forward.payload_type;
                    packet.header.extension = false;
                    packet.header.extension_profile = 0;
                    packet.header.extensions.clear();
                    packet.header.extensions_padding = 0;
                    if let Err(err) = forward.local.write_rtp(packet).await {
                        tracing::debug!(%err, "subscriber track gone, stopping forwarding");
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "subscriber lagging behind, skipped packets");
                    need_keyframe = true;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            event = forward.local.poll(), if polling_rtcp => match event {
                Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                    if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                        forward.source.request_keyframe();
                    }
                }
                Some(_) => {}
                None => polling_rtcp = false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ssrc: u32, seq: u16, ts: u32) -> rtp::header::Header {
        rtp::header::Header {
            ssrc,
            sequence_number: seq,
            timestamp: ts,
            ..Default::default()
        }
    }

    #[test]
    fn single_source_keeps_numbers_and_sets_ssrc() {
        let mut rewriter = Rewriter::default();
        let mut h = header(1, 100, 5000);
        rewriter.rewrite(&mut h, 77, 3000);
        assert_eq!((h.ssrc, h.sequence_number, h.timestamp), (77, 100, 5000));
        let mut h = header(1, 101, 8000);
        rewriter.rewrite(&mut h, 77, 3000);
        assert_eq!((h.sequence_number, h.timestamp), (101, 8000));
    }

    #[test]
    fn source_switch_continues_the_stream() {
        let mut rewriter = Rewriter::default();
        let mut h = header(1, 65535, 10);
        rewriter.rewrite(&mut h, 9, 3000);
        let mut h = header(2, 40, 999_999);
        rewriter.rewrite(&mut h, 9, 3000);
        assert_eq!((h.ssrc, h.sequence_number, h.timestamp), (9, 0, 3010));
        let mut h = header(2, 41, 1_002_999);
        rewriter.rewrite(&mut h, 9, 3000);
        assert_eq!((h.sequence_number, h.timestamp), (1, 6010));
    }

    #[test]
    fn reordered_packet_does_not_move_the_end() {
        let mut rewriter = Rewriter::default();
        for (seq, ts) in [(10u16, 100u32), (12, 300), (11, 200)] {
            let mut h = header(1, seq, ts);
            rewriter.rewrite(&mut h, 5, 30);
        }
        let mut h = header(2, 500, 0);
        rewriter.rewrite(&mut h, 5, 30);
        assert_eq!((h.sequence_number, h.timestamp), (13, 330));
    }

    #[test]
    fn ended_track_refuses_subscribers() {
        let (track, feeder) =
            PublishedTrack::new(MediaKind::Audio, "audio/opus".into(), 48_000, "t".into());
        assert!(track.subscribe_packets().is_some());
        drop(feeder);
        assert!(track.is_ended());
        assert!(track.subscribe_packets().is_none());
    }
}
