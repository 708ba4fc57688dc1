//! Echo cancellation on the real device path: a speaker (a private PulseAudio's null sink)
//! plays noise, the microphone is that sink's monitor (the loudest echo there is), and the
//! microphone pipeline publishes what it captured. With the speaker's output handed to the
//! echo canceller, the other side hears the echo at least 10 dB quieter; without, it passes.

// The media crate's PulseAudio harness (one private daemon per test binary).
#[path = "../../media/tests/support/pulse.rs"]
#[allow(dead_code)]
mod pulse;

use std::time::Duration;

use convene_call::AudioSender;
use convene_media::codec::opus::OpusDecoder;
use convene_media::devices::{AudioDeviceId, MicrophoneCapture, SpeakerPlayback};
use convene_media::far_end::FarEnd;
use convene_media::processing::ProcessingSettings;
use convene_room::Room;
use convene_room::room::{LocalTrackOptions, RoomEvent};
use convene_testkit::{loopback_options, start_server, wait_event};

const WAIT: Duration = Duration::from_secs(30);
/// Noise amplitude the speaker plays (uniform in ±0.3).
const NOISE: f32 = 0.3;

fn energy_db(samples: &[f32]) -> f32 {
    let mean_square = samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32;
    10.0 * mean_square.max(1e-12).log10()
}

/// Runs the echo path with or without the echo reference; returns the energy the other
/// side hears in the last two of six seconds, relative to what the speaker played (dB).
async fn echo_heard_db(sink: &str, cancel_echo: bool) -> f32 {
    let server = start_server(Duration::from_secs(15)).await;
    let speaker_token = server.token("echo", "speaker", 600).expect("token");
    let far_token = server.token("echo", "far", 600).expect("token");
    let (room, _events) = Room::connect(&server.url(), speaker_token.expose(), loopback_options())
        .await
        .expect("join");
    let track = room
        .publish_track(LocalTrackOptions::microphone())
        .await
        .expect("publish");

    let far_end = FarEnd::default();
    let reference = far_end.clone();
    let mut seed: u32 = 0x1234_5678;
    let noise = move |out: &mut [f32]| {
        for sample in out.iter_mut() {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *sample = NOISE * ((seed >> 8) as f32 / (1 << 24) as f32 * 2.0 - 1.0);
        }
        reference.push(out);
    };
    let speaker_id: AudioDeviceId = format!("pulseaudio:{sink}").parse().expect("id");
    let _speaker = SpeakerPlayback::open(Some(&speaker_id), Box::new(noise)).expect("speaker");
    let monitor: AudioDeviceId = format!("pulseaudio:{sink}.monitor").parse().expect("id");
    let (_microphone, frames) = MicrophoneCapture::open(Some(&monitor)).expect("microphone");
    let settings = ProcessingSettings {
        echo_cancellation: cancel_echo,
        ..ProcessingSettings::off()
    };
    let _sender = AudioSender::start(track, frames, settings, cancel_echo.then_some(far_end))
        .expect("sender");

    let (far, mut events) = Room::connect(&server.url(), far_token.expose(), loopback_options())
        .await
        .expect("the far side joins");
    let mut seen = Vec::new();
    let mut heard = wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::TrackSubscribed(track) => Some(track),
        _ => None,
    })
    .await;
    let mut decoder = OpusDecoder::new(1).expect("decoder");
    let mut decoded = Vec::new();
    while decoded.len() < 6 * 48_000 {
        let packet = tokio::time::timeout(WAIT, heard.recv())
            .await
            .expect("audio arrives")
            .expect("track alive");
        decoded.extend_from_slice(decoder.decode(&packet.payload).expect("decode"));
    }
    far.disconnect().await;
    room.disconnect().await;
    server.shutdown().await;
    // Uniform noise in ±a has a mean square of a²/3.
    energy_db(&decoded[4 * 48_000..]) - 10.0 * (NOISE * NOISE / 3.0).log10()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_speakers_sound_is_removed_from_the_microphone() {
    let Some(_pulse) = pulse::pulse() else { return };
    let sink = pulse::load_module("module-null-sink", &["sink_name=echo_speaker"]);
    let without = echo_heard_db("echo_speaker", false).await;
    let with = echo_heard_db("echo_speaker", true).await;
    pulse::unload_module(&sink);
    println!("echo heard: {without:.1} dB without cancellation, {with:.1} dB with");
    assert!(
        without > -6.0,
        "without cancellation the echo passes: {without:.1} dB"
    );
    assert!(
        with < without - 10.0,
        "cancellation removes the echo: {with:.1} vs {without:.1} dB"
    );
}
