//! A call on the real device path: a microphone captured through cpal (a private
//! PulseAudio's 660 Hz source), Opus over the room, a playout buffer and the mixer, and a
//! cpal speaker (PulseAudio's null sink), whose monitor must then carry the 660 Hz tone;
//! and a microphone switched during a call, heard by the other side at its new pitch.

// The media crate's PulseAudio harness (one private daemon per test binary).
#[path = "../../media/tests/support/pulse.rs"]
#[allow(dead_code)]
mod pulse;

use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_call::{
    AudioSender, CallOptions, CallSession, DeviceChoice, DeviceKind, play_remote_audio,
};
use convene_media::analysis::dominant_frequency;
use convene_media::devices::{AudioDeviceId, MicrophoneCapture, SpeakerPlayback};
use convene_media::playout::{PlayoutConfig, SharedMixer, playback_source};
use convene_media::processing::ProcessingSettings;
use convene_room::Room;
use convene_room::room::{LocalTrackOptions, RoomEvent};
use convene_testkit::{loopback_options, start_server, wait_event};

const WAIT: Duration = Duration::from_secs(30);
const TONE_HZ: u32 = 660;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_tone_is_played_on_the_other_side_through_real_devices() {
    let Some(_pulse) = pulse::pulse() else { return };
    let modules = pulse::load_tone_source("call_mic", TONE_HZ);
    let server = start_server(Duration::from_secs(15)).await;
    let talker_token = server.token("devices", "talker", 600).expect("token");
    let listener_token = server.token("devices", "listener", 600).expect("token");

    let (talker, _talker_events) =
        Room::connect(&server.url(), talker_token.expose(), loopback_options())
            .await
            .expect("talker joins");
    let microphone = talker
        .publish_track(LocalTrackOptions::microphone())
        .await
        .expect("publish");
    let mic_id: AudioDeviceId = "pulseaudio:call_mic".parse().expect("id");
    let (_capture, frames) = MicrophoneCapture::open(Some(&mic_id)).expect("open the microphone");
    // Processing off: noise suppression rightly treats a steady tone as noise.
    let _sender =
        AudioSender::start(microphone, frames, ProcessingSettings::off(), None).expect("sender");

    let (listener, mut events) =
        Room::connect(&server.url(), listener_token.expose(), loopback_options())
            .await
            .expect("listener joins");
    let mut seen = Vec::new();
    let track = wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::TrackSubscribed(track) => Some(track),
        _ => None,
    })
    .await;
    let mixer = SharedMixer::new(PlayoutConfig::default());
    let _playing = play_remote_audio(track, mixer.clone());
    let speaker: AudioDeviceId = "pulseaudio:fake_speaker".parse().expect("id");
    let _speaker = SpeakerPlayback::open(Some(&speaker), Box::new(playback_source(mixer)))
        .expect("open the speaker");

    // Record what the speaker played, until a second of it is the tone.
    let monitor: AudioDeviceId = "pulseaudio:fake_speaker.monitor".parse().expect("id");
    let (_recorder, recorded) = MicrophoneCapture::open(Some(&monitor)).expect("open monitor");
    let started = Instant::now();
    let mut heard = Vec::new();
    let hz = loop {
        let frame = recorded
            .recv_timeout(Duration::from_secs(5))
            .expect("the monitor delivers audio");
        let loud = frame.samples.iter().any(|sample| sample.abs() > 0.05);
        if loud {
            heard.extend(frame.samples);
        } else {
            heard.clear();
        }
        if heard.len() >= 48_000 {
            break dominant_frequency(&heard, 48_000);
        }
        assert!(
            started.elapsed() < WAIT,
            "the tone never reached the speaker"
        );
    };
    assert!(
        (hz - TONE_HZ as f32).abs() < 5.0,
        "the speaker played {hz} Hz"
    );

    listener.disconnect().await;
    talker.disconnect().await;
    server.shutdown().await;
    pulse::unload_tone_source(&modules);
}

/// Reads `monitor` until a quarter second of loud audio is at `hz` (within 5 Hz).
fn wait_for_tone(monitor: &std::sync::mpsc::Receiver<convene_media::devices::AudioFrame>, hz: f32) {
    let started = Instant::now();
    let mut heard = Vec::new();
    let mut last = 0.0;
    while started.elapsed() < WAIT {
        let frame = monitor
            .recv_timeout(Duration::from_secs(5))
            .expect("the monitor delivers audio");
        if frame.samples.iter().any(|sample| sample.abs() > 0.05) {
            heard.extend(frame.samples);
        } else {
            heard.clear();
        }
        if heard.len() >= 12_000 {
            last = dominant_frequency(&heard, 48_000);
            if (last - hz).abs() < 5.0 {
                return;
            }
            heard.clear();
        }
    }
    panic!("never heard {hz} Hz (last heard {last} Hz)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_the_microphone_in_a_call_changes_what_the_others_hear() {
    let Some(_pulse) = pulse::pulse() else { return };
    let first = pulse::load_tone_source("switch_mic_a", 440);
    let second = pulse::load_tone_source("switch_mic_b", 770);
    // Its own speaker, so the other test's tone does not mix in.
    let speaker = pulse::load_module("module-null-sink", &["sink_name=switch_speaker"]);
    let server = start_server(Duration::from_secs(15)).await;
    let talker_token = server.token("switch", "talker", 600).expect("token");
    let listener_token = server.token("switch", "listener", 600).expect("token");

    let mut talker = CallSession::join(
        &server.url(),
        talker_token.expose(),
        CallOptions {
            devices: DeviceChoice {
                microphone: Some("pulseaudio:switch_mic_a".to_owned()),
                ..DeviceChoice::default()
            },
            camera: false,
            speaker: false,
            // Noise suppression rightly treats a steady tone as noise.
            processing: ProcessingSettings::off(),
            ..CallOptions::default()
        },
        loopback_options(),
        Arc::new(|_| {}),
    )
    .await
    .expect("talker joins");
    let listener = CallSession::join(
        &server.url(),
        listener_token.expose(),
        CallOptions {
            devices: DeviceChoice {
                speaker: Some("pulseaudio:switch_speaker".to_owned()),
                ..DeviceChoice::default()
            },
            microphone: false,
            camera: false,
            ..CallOptions::default()
        },
        loopback_options(),
        Arc::new(|_| {}),
    )
    .await
    .expect("listener joins");
    let monitor: AudioDeviceId = "pulseaudio:switch_speaker.monitor".parse().expect("id");
    let (_recorder, recorded) = MicrophoneCapture::open(Some(&monitor)).expect("open monitor");
    wait_for_tone(&recorded, 440.0);

    talker
        .switch_device(
            DeviceKind::Microphone,
            Some("pulseaudio:switch_mic_b".to_owned()),
        )
        .await
        .expect("switch");
    wait_for_tone(&recorded, 770.0);

    // A device that is not there is refused, and the current one keeps going.
    let refused = talker
        .switch_device(
            DeviceKind::Microphone,
            Some("pulseaudio:unplugged".to_owned()),
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        talker.devices().microphone.as_deref(),
        Some("pulseaudio:switch_mic_b")
    );
    wait_for_tone(&recorded, 770.0);

    listener.leave().await;
    talker.leave().await;
    server.shutdown().await;
    pulse::unload_module(&speaker);
    pulse::unload_tone_source(&first);
    pulse::unload_tone_source(&second);
}

/// Hot-plug reaches whoever watches the call's devices: a microphone plugged in (a new
/// PulseAudio source) and pulled out again each become a "list again" notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugging_a_microphone_in_and_out_is_noticed() {
    let Some(_pulse) = pulse::pulse() else { return };
    let controller = convene_call::CallController::start();
    let (notices, mut heard) = tokio::sync::mpsc::unbounded_channel();
    controller
        .watch_devices(Arc::new(move |notice| {
            let _ = notices.send(notice);
        }))
        .await
        .expect("the devices are watched");
    let plugged = pulse::load_tone_source("hotplug_mic", 330);
    list_changed(&mut heard).await;
    pulse::unload_tone_source(&plugged);
    list_changed(&mut heard).await;
}

/// Waits for a "list again" notice among `heard`.
async fn list_changed(
    heard: &mut tokio::sync::mpsc::UnboundedReceiver<convene_call::DeviceNotice>,
) {
    tokio::time::timeout(WAIT, async {
        while let Some(notice) = heard.recv().await {
            if notice == convene_call::DeviceNotice::ListChanged {
                return;
            }
        }
        panic!("the watcher stopped");
    })
    .await
    .expect("a list change is noticed");
}
