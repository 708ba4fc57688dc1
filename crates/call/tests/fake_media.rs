//! The synthetic participant end to end: our client publishes the test pattern (VP8, our
//! encoder) and the test tone (Opus); another of our clients decodes the pattern and reads
//! each frame's counter and colour back, and plays the tone through its playout buffer and
//! mixer at 440 Hz; a browser running livekit-client decodes both too.

use std::time::Duration;

use convene_call::{FakeMedia, FakeMediaSettings, RemoteVideo, play_remote_audio};
use convene_media::analysis::dominant_frequency;
use convene_media::playout::{PlayoutConfig, SharedMixer};
use convene_media::synthetic::TestPattern;
use convene_room::Room;
use convene_room::room::{RemoteTrack, RoomEvent};
use convene_room::webrtc_kit::MediaKind;
use convene_testkit::{BrowserPeers, loopback_options, start_server, wait_event};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Mean U and V below the stamp bars (the lower half), i.e. the background colour.
fn background_chroma(frame: &convene_media::video::I420Frame) -> (f32, f32) {
    let chroma_width = frame.width / 2;
    let lower_half = (frame.height / 4) * chroma_width..;
    let mean = |plane: &[u8]| {
        let part = &plane[lower_half.clone()];
        part.iter().map(|&p| f32::from(p)).sum::<f32>() / part.len() as f32
    };
    (mean(&frame.u), mean(&frame.v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_pattern_and_tone_are_decoded_by_our_client_and_a_browser() {
    convene_testkit::init_logging();
    let server = start_server(Duration::from_secs(15)).await;
    let sender_token = server.token("fake", "synthetic", 600).expect("token");
    let receiver_token = server.token("fake", "receiver", 600).expect("token");
    let web_token = server.token("fake", "web", 600).expect("token");
    let mut peers = BrowserPeers::start().await;
    peers
        .join_with("w", &server.url(), web_token.expose(), false)
        .await;

    let (sender, _sender_events) =
        Room::connect(&server.url(), sender_token.expose(), loopback_options())
            .await
            .expect("sender joins");
    let settings = FakeMediaSettings::default();
    let _media = FakeMedia::publish(&sender, settings)
        .await
        .expect("publish the synthetic devices");

    let (receiver, mut events) =
        Room::connect(&server.url(), receiver_token.expose(), loopback_options())
            .await
            .expect("receiver joins");
    let mut seen = Vec::new();
    let mut video_track: Option<RemoteTrack> = None;
    let mut audio_track: Option<RemoteTrack> = None;
    while video_track.is_none() || audio_track.is_none() {
        let track = wait_event(&mut events, &mut seen, WAIT, |event| match event {
            RoomEvent::TrackSubscribed(track) if track.participant_identity == "synthetic" => {
                Some(track)
            }
            _ => None,
        })
        .await;
        match track.info.kind {
            MediaKind::Video => video_track = Some(track),
            MediaKind::Audio => audio_track = Some(track),
        }
    }

    // Decoding starts at once (a track left unread drops packets, then waits for a keyframe).
    let video = RemoteVideo::start(video_track.expect("video")).expect("decoder");

    // Audio: through a playout buffer and the mixer, pulled in 10 ms blocks like a speaker.
    let mixer = SharedMixer::new(PlayoutConfig::default());
    let audio_track = audio_track.expect("audio");
    let audio_sid = audio_track.info.sid.clone();
    let _playing = play_remote_audio(audio_track, mixer.clone());
    let mut played = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for _ in 0..200 {
        tick.tick().await;
        let mut block = [0.0; 480];
        mixer.fill(&mut block);
        played.extend_from_slice(&block);
    }
    let hz = dominant_frequency(&played[48_000..], 48_000);
    assert!((hz - 440.0).abs() < 5.0, "played {hz} Hz");
    let levels = mixer.levels();
    assert!(
        levels
            .iter()
            .any(|(sid, level)| *sid == audio_sid && *level > 0.1),
        "{levels:?}"
    );

    // Video: each decoded picture carries its counter and capture time; counters only go
    // up, and the background colour is the one the pattern drew for that counter.
    let mut latest = video.latest();
    let pattern = TestPattern::new(settings.width as usize, settings.height as usize);
    let mut counters = Vec::new();
    while counters.len() < 30 {
        tokio::time::timeout(WAIT, latest.changed())
            .await
            .expect("pictures keep coming")
            .expect("decoder alive");
        let Some(decoded) = latest.borrow_and_update().clone() else {
            continue;
        };
        assert_eq!(
            (decoded.frame.width, decoded.frame.height),
            (settings.width as usize, settings.height as usize)
        );
        let stamp = pattern
            .read(&decoded.frame)
            .expect("the stamp survives VP8");
        let (u, v) = background_chroma(&decoded.frame);
        let (_, expected_u, expected_v) = TestPattern::background(stamp.counter);
        assert!(
            (u - f32::from(expected_u)).abs() < 6.0 && (v - f32::from(expected_v)).abs() < 6.0,
            "frame {} colour ({u}, {v}) vs ({expected_u}, {expected_v})",
            stamp.counter
        );
        counters.push(stamp.counter);
    }
    assert!(
        counters.windows(2).all(|pair| pair[1] > pair[0]),
        "{counters:?}"
    );
    assert_eq!(video.stats().decode_errors, 0, "{:?}", video.stats());

    // The browser decodes our encoder's VP8 and Opus as well.
    let decoded = peers
        .call(json!({"cmd": "wait_media", "id": "w", "from": "synthetic", "timeout_ms": 30000}))
        .await
        .expect("the browser decodes the synthetic participant");
    assert!(decoded["videoFrames"].as_u64() >= Some(15), "{decoded}");

    receiver.disconnect().await;
    sender.disconnect().await;
    peers.quit().await;
    server.shutdown().await;
}
