//! Loopback tests of `convene_devserver::media`: server-side participants A (publishes) and
//! B (subscribes) plus plain webrtc-rs clients 1 (publishes to A) and 2 (subscribes from B),
//! all in one process on 127.0.0.1, signaling wired by hand through the `MediaEvent`
//! channels (trickle in both directions).
//!
//! `audio_and_data`: client 1's offer (Opus + `_reliable`) is answered by A; A reports the
//! track (TrackReceived), its level every 500 ms (AudioLevel, from the RFC 6464 extension
//! client 1 sets at -20 dBov on every packet: 0.1) and client 1's message (DataReceived);
//! A trickles UDP and passive
//! ICE-TCP candidates with a real `sdpMid`; B offers `_reliable`/`_lossy` (offer id 1);
//! `B.subscribe` renegotiates (id 2) and client 2 receives RTP, SSRC rewritten, on a track
//! with stream id `PA_x|TR_y` and track id `TR_y`; `B.send_data` arrives on both of client
//! 2's channels; `B.unsubscribe` renegotiates (id 3); client 1 removing its track and
//! renegotiating ends it (TrackEnded).
//!
//! `video_keyframe_requests`: the same with VP8; client 2's PLIs reach client 1 as PLIs
//! (subscriber PLI -> B's interceptor -> A's publisher PC -> client 1); closing A ends the
//! track (TrackEnded). No AudioLevel is reported for video.
//!
//! `subscriber_ice_restart_replaces_an_unanswered_offer`: what a signaling resume does to
//! B's subscriber PC: the restart offer has fresh ICE credentials and a new id, the answer
//! to the replaced offer is refused as stale, the answer to the restart offer connects.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use convene_devserver::media::{
    EVENT_CHANNEL_CAPACITY, MediaConfig, MediaError, MediaEvent, MediaKind, ParticipantMedia,
    PcTarget, PublishedTrack,
};
use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media::Sample;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::Packet as RtpPacket;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability,
    RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::sdp::extmap::AUDIO_LEVEL_URI;
use tokio::sync::mpsc;
use tokio::time::timeout;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceCandidateInit,
    RTCPeerConnectionIceEvent, RTCSessionDescription,
};
use webrtc::rtp_transceiver::RtpSender;

const WAIT: Duration = Duration::from_secs(20);
const CLIENT_SSRC: u32 = 0x1234_5678;
/// The audio level client 1 puts in every audio packet, in -dBov (linear 10^(-20/20) = 0.1).
const CLIENT_LEVEL_DBOV: u8 = 20;

/// A test client's callbacks, forwarded into channels.
struct ClientHandler {
    candidates: mpsc::UnboundedSender<String>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
    channels: mpsc::UnboundedSender<Arc<dyn DataChannel>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for ClientHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json()
            && let Ok(json) = serde_json::to_string(&init)
        {
            let _ = self.candidates.send(json);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(track);
    }

    async fn on_data_channel(&self, data_channel: Arc<dyn DataChannel>) {
        let _ = self.channels.send(data_channel);
    }
}

/// Lets client 1 see the PLIs it receives (inbound RTCP otherwise stops in the chain).
#[derive(Default)]
struct DeliverRtcp {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for DeliverRtcp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if matches!(msg.message.packet, Packet::Rtcp(_)) {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for DeliverRtcp {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

struct Client {
    pc: Arc<dyn PeerConnection>,
    candidates: Option<mpsc::UnboundedReceiver<String>>,
    tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
    channels: mpsc::UnboundedReceiver<Arc<dyn DataChannel>>,
}

async fn client() -> Client {
    let mut engine = MediaEngine::default();
    engine.register_default_codecs().expect("codecs");
    // Like a browser, offer the RFC 6464 audio-level extension for audio.
    engine
        .register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: AUDIO_LEVEL_URI.to_owned(),
            },
            RtpCodecKind::Audio,
            None,
        )
        .expect("audio-level extension");
    let registry = register_default_interceptors(Registry::new(), &mut engine)
        .expect("registry")
        .with(Slot::from(14_000), DeliverRtcp::default());
    let (candidates_tx, candidates) = mpsc::unbounded_channel();
    let (tracks_tx, tracks) = mpsc::unbounded_channel();
    let (channels_tx, channels) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(ClientHandler {
            candidates: candidates_tx,
            tracks: tracks_tx,
            channels: channels_tx,
        }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .expect("client pc");
    Client {
        pc: Arc::new(pc),
        candidates: Some(candidates),
        tracks,
        channels,
    }
}

/// Applies a server candidate to a client PC, checking the JSON shape LiveKit clients need.
async fn add_server_candidate(pc: &Arc<dyn PeerConnection>, json: &str) {
    let value: serde_json::Value = serde_json::from_str(json).expect("candidate json");
    assert!(
        value["sdpMid"].as_str().is_some_and(|mid| !mid.is_empty()),
        "{json}"
    );
    assert_eq!(value["sdpMLineIndex"].as_u64(), Some(0), "{json}");
    let init: RTCIceCandidateInit = serde_json::from_str(json).expect("candidate init");
    pc.add_ice_candidate(init)
        .await
        .expect("add server candidate");
}

/// Client trickle -> server, in a task.
fn trickle_to_server(client: &mut Client, server: &Arc<ParticipantMedia>, target: PcTarget) {
    let mut candidates = client.candidates.take().expect("candidates taken once");
    let server = Arc::clone(server);
    tokio::spawn(async move {
        while let Some(json) = candidates.recv().await {
            server
                .add_remote_candidate(target, &json)
                .await
                .expect("server adds candidate");
        }
    });
}

/// What the test reads from publisher A.
struct Publisher {
    a: Arc<ParticipantMedia>,
    client: Client,
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    source: PublishedTrack,
    data: mpsc::UnboundedReceiver<(bool, bytes::Bytes)>,
    /// `AudioLevel` events: track id, level, arrival time.
    levels: mpsc::UnboundedReceiver<(String, f32, Instant)>,
    ended: mpsc::UnboundedReceiver<String>,
    candidates: mpsc::UnboundedReceiver<String>,
    reliable: Arc<dyn DataChannel>,
    writer: tokio::task::JoinHandle<()>,
}

/// Client 1 publishes one track (Opus or VP8, synthetic payload) and `_reliable` to A.
async fn publish(kind: MediaKind) -> Publisher {
    let (a_tx, mut a_events) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let a = Arc::new(
        ParticipantMedia::new(&MediaConfig::default(), a_tx)
            .await
            .expect("A"),
    );
    let mut client = client().await;

    let (codec, codec_kind, frame) = match kind {
        MediaKind::Audio => (
            RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
            RtpCodecKind::Audio,
            Duration::from_millis(20),
        ),
        MediaKind::Video => (
            RTCRtpCodec {
                mime_type: MIME_TYPE_VP8.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
            RtpCodecKind::Video,
            Duration::from_millis(33),
        ),
    };
    let track = Arc::new(
        TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                "client1-stream".to_owned(),
                "cid-1".to_owned(),
                "label".to_owned(),
                codec_kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(CLIENT_SSRC),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ),
        )
        .expect("sample track"),
    );
    let sender = client
        .pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
        .expect("add track");
    let payload_type = sender
        .get_parameters()
        .await
        .expect("parameters")
        .rtp_parameters
        .codecs
        .first()
        .map(|c| c.payload_type)
        .expect("a codec");
    let reliable = client
        .pc
        .create_data_channel("_reliable", None)
        .await
        .expect("client dc");

    let offer = client.pc.create_offer(None).await.expect("offer");
    client
        .pc
        .set_local_description(offer.clone())
        .await
        .expect("client1 local");
    // Some of these reach A before its remote description: exercises the queue.
    trickle_to_server(&mut client, &a, PcTarget::Publisher);
    let answer = a
        .answer_publisher_offer(offer.sdp)
        .await
        .expect("A answers");
    // A accepts the audio-level extension client 1 offers (for audio only).
    assert_eq!(
        answer.contains(AUDIO_LEVEL_URI),
        kind == MediaKind::Audio,
        "{answer}"
    );
    client
        .pc
        .set_remote_description(RTCSessionDescription::answer(answer).expect("answer sdp"))
        .await
        .expect("client1 remote");

    let (published_tx, mut published) = mpsc::unbounded_channel();
    let (data_tx, data) = mpsc::unbounded_channel();
    let (ended_tx, ended) = mpsc::unbounded_channel();
    let (levels_tx, levels) = mpsc::unbounded_channel();
    let (candidates_tx, candidates) = mpsc::unbounded_channel();
    let pc = Arc::clone(&client.pc);
    tokio::spawn(async move {
        while let Some(event) = a_events.recv().await {
            match event {
                MediaEvent::LocalCandidate {
                    target,
                    candidate_init_json,
                } => {
                    assert_eq!(target, PcTarget::Publisher);
                    add_server_candidate(&pc, &candidate_init_json).await;
                    let _ = candidates_tx.send(candidate_init_json);
                }
                MediaEvent::TrackReceived {
                    track_id,
                    kind,
                    source,
                    ..
                } => {
                    let _ = published_tx.send((track_id, kind, source));
                }
                MediaEvent::TrackEnded { track_id } => {
                    let _ = ended_tx.send(track_id);
                }
                MediaEvent::AudioLevel { track_id, level } => {
                    let _ = levels_tx.send((track_id, level, Instant::now()));
                }
                MediaEvent::DataReceived { reliable, payload } => {
                    let _ = data_tx.send((reliable, payload));
                }
                MediaEvent::SubscriberOffer { .. } => panic!("A never started its subscriber"),
                _ => {}
            }
        }
    });

    let writer = {
        let track = Arc::clone(&track);
        let sender = Arc::clone(&sender);
        tokio::spawn(async move {
            // Audio is written as raw RTP carrying the audio-level extension (with the id
            // negotiated for it); `write_sample` could attach it too, but its `HeaderExtension`
            // list is not `Send`, so it cannot be held across an await in a spawned task.
            let level_id = match kind {
                MediaKind::Audio => Some(negotiated_audio_level_id(sender.as_ref()).await),
                MediaKind::Video => None,
            };
            let mut tick = tokio::time::interval(frame);
            let mut sequence_number: u16 = 1;
            let mut timestamp: u32 = 0;
            loop {
                tick.tick().await;
                if let Some(id) = level_id {
                    let _ = track
                        .write_rtp(audio_packet(payload_type, sequence_number, timestamp, id))
                        .await;
                    sequence_number = sequence_number.wrapping_add(1);
                    timestamp = timestamp.wrapping_add(960);
                    continue;
                }
                let sample = Sample {
                    data: bytes::Bytes::from_static(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x03]),
                    duration: frame,
                    ..Sample::new(Instant::now())
                };
                let _ = track
                    .write_sample(CLIENT_SSRC, payload_type, &sample, &[])
                    .await;
            }
        })
    };

    let (track_id, got_kind, source) = timeout(WAIT, published.recv())
        .await
        .expect("TrackReceived in time")
        .expect("A event stream open");
    assert_eq!(track_id, "cid-1");
    assert_eq!(got_kind, kind);
    assert_eq!(source.kind(), kind);
    Publisher {
        a,
        client,
        track,
        sender,
        source,
        data,
        levels,
        ended,
        candidates,
        reliable,
        writer,
    }
}

/// The id client 1's audio sender negotiated for the audio-level extension.
async fn negotiated_audio_level_id(sender: &dyn RtpSender) -> u8 {
    let parameters = sender.get_parameters().await.expect("sender parameters");
    let id = parameters
        .rtp_parameters
        .header_extensions
        .iter()
        .find(|ext| ext.uri == AUDIO_LEVEL_URI)
        .map(|ext| ext.id)
        .expect("audio-level extension negotiated");
    u8::try_from(id).expect("one-byte extension id")
}

/// One 20 ms Opus-sized RTP packet from client 1 with the RFC 6464 audio-level extension
/// (`V` set, level [`CLIENT_LEVEL_DBOV`]) under extension id `level_id`.
fn audio_packet(payload_type: u8, sequence_number: u16, timestamp: u32, level_id: u8) -> RtpPacket {
    let mut packet = RtpPacket {
        header: rtc::rtp::Header {
            version: 2,
            payload_type,
            sequence_number,
            timestamp,
            ssrc: CLIENT_SSRC,
            ..Default::default()
        },
        payload: bytes::Bytes::from_static(&[0xfc, 0xff, 0xfe]),
    };
    packet
        .header
        .set_extension(level_id, bytes::Bytes::from(vec![0x80 | CLIENT_LEVEL_DBOV]))
        .expect("audio-level extension");
    packet
}

/// Participant B with client 2 answering its offers; offer ids are reported in order.
async fn subscriber() -> (Arc<ParticipantMedia>, Client, mpsc::UnboundedReceiver<u32>) {
    let (b_tx, mut b_events) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let b = Arc::new(
        ParticipantMedia::new(&MediaConfig::default(), b_tx)
            .await
            .expect("B"),
    );
    let mut client = client().await;
    trickle_to_server(&mut client, &b, PcTarget::Subscriber);
    let (offer_ids_tx, offer_ids) = mpsc::unbounded_channel();
    let server = Arc::clone(&b);
    let pc = Arc::clone(&client.pc);
    tokio::spawn(async move {
        while let Some(event) = b_events.recv().await {
            match event {
                MediaEvent::SubscriberOffer { sdp, id } => {
                    // Forwarded packets carry no header extensions: none is offered for them.
                    assert!(!sdp.contains(AUDIO_LEVEL_URI), "{sdp}");
                    pc.set_remote_description(RTCSessionDescription::offer(sdp).expect("offer"))
                        .await
                        .expect("client2 remote");
                    let answer = pc.create_answer(None).await.expect("client2 answer");
                    pc.set_local_description(answer.clone())
                        .await
                        .expect("client2 local");
                    server
                        .apply_subscriber_answer(answer.sdp)
                        .await
                        .expect("B applies answer");
                    let _ = offer_ids_tx.send(id);
                }
                // Offers travel the same ordered queue, so the remote description is set.
                MediaEvent::LocalCandidate {
                    target,
                    candidate_init_json,
                } => {
                    assert_eq!(target, PcTarget::Subscriber);
                    add_server_candidate(&pc, &candidate_init_json).await;
                }
                _ => {}
            }
        }
    });
    b.start_subscriber().await.expect("start subscriber");
    (b, client, offer_ids)
}

async fn next_offer(offer_ids: &mut mpsc::UnboundedReceiver<u32>) -> u32 {
    timeout(WAIT, offer_ids.recv())
        .await
        .expect("offer in time")
        .expect("offer stream")
}

/// Subscribes B to `source` and returns client 2's remote track after checking its ids.
async fn subscribe_and_get_track(
    b: &ParticipantMedia,
    client: &mut Client,
    source: &PublishedTrack,
) -> Arc<dyn TrackRemote> {
    b.subscribe(source, "TR_y", "PA_x|TR_y")
        .await
        .expect("subscribe");
    let remote = timeout(WAIT, client.tracks.recv())
        .await
        .expect("client 2 track in time")
        .expect("track stream");
    assert_eq!(remote.stream_id().await, "PA_x|TR_y");
    assert_eq!(remote.track_id().await, "TR_y");
    remote
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_and_data() {
    let mut publisher = publish(MediaKind::Audio).await;
    assert_eq!(
        publisher.source.mime_type().to_ascii_lowercase(),
        "audio/opus"
    );

    // A reports client 1's audio level (-20 dBov -> 0.1) about every 500 ms.
    let mut arrivals = Vec::new();
    while arrivals.len() < 3 {
        let (track_id, level, at) = timeout(WAIT, publisher.levels.recv())
            .await
            .expect("AudioLevel in time")
            .expect("A event stream open");
        assert_eq!(track_id, "cid-1");
        assert!((level - 0.1).abs() < 1e-3, "level {level}");
        arrivals.push(at);
    }
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(300) && gap <= Duration::from_millis(1500),
            "levels {gap:?} apart"
        );
    }

    // Client 1 -> A data on `_reliable`.
    let got = timeout(WAIT, async {
        loop {
            if publisher
                .reliable
                .send(bytes::BytesMut::from(&b"from client 1"[..]))
                .await
                .is_ok()
                && let Ok(Some(got)) =
                    timeout(Duration::from_millis(500), publisher.data.recv()).await
            {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("DataReceived in time");
    assert_eq!((got.0, &got.1[..]), (true, &b"from client 1"[..]));

    // A trickled a UDP and a passive TCP host candidate.
    let mut seen = Vec::new();
    while let Ok(json) = publisher.candidates.try_recv() {
        seen.push(json);
    }
    assert!(
        seen.iter()
            .any(|c| c.contains(" udp ") || c.contains(" UDP ")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|c| c.contains("tcptype passive")),
        "{seen:?}"
    );

    let (b, mut client2, mut offer_ids) = subscriber().await;
    assert_eq!(next_offer(&mut offer_ids).await, 1);

    // B's data channels reach client 2.
    let (messages_tx, mut messages) = mpsc::unbounded_channel();
    let mut labels = Vec::new();
    while labels.len() < 2 {
        let channel = timeout(WAIT, client2.channels.recv())
            .await
            .expect("data channel in time")
            .expect("channel stream");
        labels.push(channel.label().await.expect("label"));
        let out = messages_tx.clone();
        tokio::spawn(async move {
            let label = channel.label().await.unwrap_or_default();
            while let Some(event) = channel.poll().await {
                if let DataChannelEvent::OnMessage(message) = event {
                    let _ = out.send((label.clone(), message.data.to_vec()));
                }
            }
        });
    }
    labels.sort();
    assert_eq!(labels, ["_lossy", "_reliable"]);

    let remote = subscribe_and_get_track(&b, &mut client2, &publisher.source).await;
    assert_eq!(next_offer(&mut offer_ids).await, 2);
    let received = timeout(WAIT, async {
        let mut count = 0usize;
        while let Some(event) = remote.poll().await {
            if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                assert_ne!(packet.header.ssrc, CLIENT_SSRC, "SSRC is rewritten");
                count += 1;
                if count >= 25 {
                    break;
                }
            }
        }
        count
    })
    .await
    .expect("RTP forwarded in time");
    assert!(received >= 25, "got {received} packets");

    // B -> client 2 data on both channels.
    for (reliable, label, text) in [
        (true, "_reliable", "hello reliable"),
        (false, "_lossy", "hello lossy"),
    ] {
        let got = timeout(WAIT, async {
            loop {
                if b.send_data(reliable, bytes::Bytes::from(text.as_bytes().to_vec()))
                    .await
                    .is_ok()
                    && let Ok(Some(got)) =
                        timeout(Duration::from_millis(500), messages.recv()).await
                {
                    return got;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("data to client 2 in time");
        assert_eq!(got, (label.to_owned(), text.as_bytes().to_vec()));
    }

    b.unsubscribe("TR_y").await.expect("unsubscribe");
    assert_eq!(next_offer(&mut offer_ids).await, 3);

    // Client 1 unpublishes (remove the sender, renegotiate): A ends the track.
    publisher.writer.abort();
    let pc = &publisher.client.pc;
    pc.remove_track(&publisher.sender)
        .await
        .expect("remove track");
    let offer = pc.create_offer(None).await.expect("offer 2");
    pc.set_local_description(offer.clone())
        .await
        .expect("local 2");
    let answer = publisher
        .a
        .answer_publisher_offer(offer.sdp)
        .await
        .expect("answer 2");
    pc.set_remote_description(RTCSessionDescription::answer(answer).expect("sdp"))
        .await
        .expect("remote 2");
    let ended = timeout(WAIT, publisher.ended.recv())
        .await
        .expect("TrackEnded in time");
    assert_eq!(ended.as_deref(), Some("cid-1"));
    assert!(publisher.source.is_ended());

    b.close().await;
    publisher.a.close().await;
    let _ = publisher.client.pc.close().await;
    let _ = client2.pc.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_keyframe_requests() {
    let publisher = publish(MediaKind::Video).await;
    assert_eq!(
        publisher.source.mime_type().to_ascii_lowercase(),
        "video/vp8"
    );

    // Count the PLIs client 1 receives about its track.
    let plis = Arc::new(AtomicUsize::new(0));
    {
        let plis = Arc::clone(&plis);
        let track = Arc::clone(&publisher.track);
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackLocalEvent::OnRtcpPacket(packets) = event {
                    let n = packets
                        .iter()
                        .filter(|p| p.as_any().is::<PictureLossIndication>())
                        .count();
                    plis.fetch_add(n, Ordering::SeqCst);
                }
            }
        });
    }

    let (b, mut client2, mut offer_ids) = subscriber().await;
    assert_eq!(next_offer(&mut offer_ids).await, 1);
    let remote = subscribe_and_get_track(&b, &mut client2, &publisher.source).await;

    // Client 2 reads video and sends a PLI every 600 ms (the server coalesces to >= 500 ms).
    let (media_ssrc_tx, mut media_ssrc_rx) = mpsc::unbounded_channel();
    let packets = Arc::new(AtomicUsize::new(0));
    {
        let packets = Arc::clone(&packets);
        let remote = Arc::clone(&remote);
        tokio::spawn(async move {
            while let Some(event) = remote.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event
                    && packets.fetch_add(1, Ordering::SeqCst) == 0
                {
                    let _ = media_ssrc_tx.send(packet.header.ssrc);
                }
            }
        });
    }
    let media_ssrc = timeout(WAIT, media_ssrc_rx.recv())
        .await
        .expect("video forwarded in time")
        .expect("ssrc");
    let before = plis.load(Ordering::SeqCst);
    let relayed = timeout(WAIT, async {
        loop {
            remote
                .write_rtcp(vec![Box::new(PictureLossIndication {
                    sender_ssrc: 0,
                    media_ssrc,
                })])
                .await
                .expect("client 2 PLI");
            tokio::time::sleep(Duration::from_millis(600)).await;
            if plis.load(Ordering::SeqCst) >= before + 3 {
                return;
            }
        }
    })
    .await;
    assert!(
        relayed.is_ok(),
        "client 1 got {} PLIs ({before} before client 2 started asking)",
        plis.load(Ordering::SeqCst)
    );
    assert!(packets.load(Ordering::SeqCst) > 10);

    // Video packets carry no audio level.
    let mut levels = publisher.levels;
    assert!(levels.try_recv().is_err(), "no AudioLevel for video");

    // Closing A ends its published track.
    let mut ended = publisher.ended;
    publisher.writer.abort();
    b.close().await;
    publisher.a.close().await;
    let ended = timeout(WAIT, ended.recv())
        .await
        .expect("TrackEnded in time");
    assert_eq!(ended.as_deref(), Some("cid-1"));
    let _ = publisher.client.pc.close().await;
    let _ = client2.pc.close().await;
}

/// The next subscriber offer among `events` (earlier candidates are dropped).
async fn next_subscriber_offer(events: &mut mpsc::Receiver<MediaEvent>) -> (String, u32) {
    loop {
        match timeout(WAIT, events.recv())
            .await
            .expect("offer in time")
            .expect("event stream")
        {
            MediaEvent::SubscriberOffer { sdp, id } => return (sdp, id),
            _ => continue,
        }
    }
}

fn ice_ufrag(sdp: &str) -> &str {
    sdp.lines()
        .find_map(|line| line.strip_prefix("a=ice-ufrag:"))
        .unwrap_or_else(|| panic!("no ice-ufrag in {sdp}"))
        .trim()
}

/// Client 2 answers `offer_sdp`; returns the answer SDP.
async fn answer(pc: &Arc<dyn PeerConnection>, offer_sdp: String) -> String {
    pc.set_remote_description(RTCSessionDescription::offer(offer_sdp).expect("offer"))
        .await
        .expect("client2 remote");
    let answer = pc.create_answer(None).await.expect("client2 answer");
    pc.set_local_description(answer.clone())
        .await
        .expect("client2 local");
    answer.sdp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_ice_restart_replaces_an_unanswered_offer() {
    let (b_tx, mut b_events) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let b = Arc::new(
        ParticipantMedia::new(&MediaConfig::default(), b_tx)
            .await
            .expect("B"),
    );
    let mut client2 = client().await;
    trickle_to_server(&mut client2, &b, PcTarget::Subscriber);
    b.start_subscriber().await.expect("start subscriber");
    let (first, first_id) = next_subscriber_offer(&mut b_events).await;

    b.restart_subscriber_ice().await.expect("ICE restart");
    let (restart, restart_id) = next_subscriber_offer(&mut b_events).await;
    assert!(restart_id > first_id, "{first_id} then {restart_id}");
    assert_ne!(ice_ufrag(&restart), ice_ufrag(&first));

    // The client answered the first offer before it saw the restart: too late.
    let stale = answer(&client2.pc, first).await;
    let refused = b.apply_subscriber_answer_to(first_id, stale).await;
    assert!(
        matches!(refused, Err(MediaError::StaleAnswer { .. })),
        "{refused:?}"
    );

    let current = answer(&client2.pc, restart).await;
    b.apply_subscriber_answer_to(restart_id, current)
        .await
        .expect("the answer to the restart offer is applied");
    // Candidates follow the offer on the same queue, so the client has its description.
    timeout(WAIT, async {
        loop {
            match b_events.recv().await.expect("event stream") {
                MediaEvent::LocalCandidate {
                    candidate_init_json,
                    ..
                } => add_server_candidate(&client2.pc, &candidate_init_json).await,
                MediaEvent::ConnectionState {
                    target: PcTarget::Subscriber,
                    state,
                } if state == "connected" => return,
                _ => {}
            }
        }
    })
    .await
    .expect("the subscriber PC connects after the restart");
    b.close().await;
    let _ = client2.pc.close().await;
}
