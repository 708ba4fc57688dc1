//! The real cpal device paths against a private PulseAudio (see `support/pulse.rs`): listing,
//! capture, playback, errors, hot-plug and switching. Every wait is on data or events, with a
//! bounded timeout.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene_media::analysis::dominant_frequency;
use convene_media::codec::opus::{OpusDecoder, OpusEncoder, OpusSettings};
use convene_media::devices::{
    AudioDeviceId, AudioFrame, DeviceError, DeviceEvent, DeviceWatcher, Direction,
    MicrophoneCapture, SpeakerPlayback, list_audio_devices,
};
use convene_media::synthetic::SineTone;
use support::pulse::{load_module, load_tone_source, pulse, unload_module, unload_tone_source};

const RATE: u32 = 48_000;

fn id(text: &str) -> AudioDeviceId {
    text.parse().expect("device id")
}

/// The next `count` frames, each checked to be 10 ms at 48 kHz.
fn frames(rx: &Receiver<AudioFrame>, count: usize) -> Vec<AudioFrame> {
    (0..count)
        .map(|i| {
            let frame = rx
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("frame {i} of {count}: {e}"));
            assert_eq!(frame.samples.len(), 480, "10 ms at 48 kHz");
            frame
        })
        .collect()
}

fn samples(frames: &[AudioFrame]) -> Vec<f32> {
    frames
        .iter()
        .flat_map(|f| f.samples.iter().copied())
        .collect()
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

fn assert_hz(samples: &[f32], expected: f32, what: &str) {
    let hz = dominant_frequency(samples, RATE);
    assert!(
        (hz - expected).abs() <= 5.0,
        "{what}: measured {hz} Hz, expected {expected}"
    );
}

/// Waits (bounded) for an event matching `want`, skipping others.
fn wait_event(rx: &Receiver<DeviceEvent>, what: &str, mut want: impl FnMut(&DeviceEvent) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(event) if want(&event) => return,
            Ok(_) => {}
            Err(e) => panic!("no {what} event: {e}"),
        }
    }
}

#[test]
fn listing_shows_fake_mic_and_fake_speaker_under_stable_ids() {
    let Some(_pulse) = pulse() else { return };
    let first = list_audio_devices().expect("list");
    let mic = first
        .iter()
        .find(|d| d.id == id("pulseaudio:fake_mic"))
        .unwrap_or_else(|| panic!("fake_mic not in {first:#?}"));
    assert_eq!(mic.direction, Direction::Input);
    assert!(mic.is_default);
    let speaker = first
        .iter()
        .find(|d| d.id == id("pulseaudio:fake_speaker"))
        .unwrap_or_else(|| panic!("fake_speaker not in {first:#?}"));
    assert_eq!(speaker.direction, Direction::Output);
    assert!(speaker.is_default);
    assert!(
        first
            .iter()
            .any(|d| d.id == id("pulseaudio:fake_speaker.monitor")
                && d.direction == Direction::Input)
    );

    let ids = |list: &[convene_media::devices::AudioDeviceInfo]| {
        let mut ids: Vec<String> = list.iter().map(|d| d.id.to_string()).collect();
        ids.sort();
        ids
    };
    let second = list_audio_devices().expect("list again");
    for wanted in ["pulseaudio:fake_mic", "pulseaudio:fake_speaker"] {
        assert!(
            ids(&second).contains(&wanted.to_owned()),
            "{wanted} listed twice"
        );
    }
    assert_eq!(
        mic.id.to_string().parse::<AudioDeviceId>().expect("parse"),
        mic.id
    );
}

#[test]
fn capture_from_fake_mic_is_440_hz_at_48_khz_before_and_after_opus() {
    let Some(_pulse) = pulse() else { return };
    let (capture, rx) = MicrophoneCapture::open(None).expect("open default mic");
    assert_eq!(capture.device(), Some(id("pulseaudio:fake_mic")));
    let captured = frames(&rx, 110);
    assert!(
        captured
            .iter()
            .all(|f| f.device == id("pulseaudio:fake_mic"))
    );
    let audio = samples(&captured[10..]); // Skip the resampler's start-up.
    assert!(
        rms(&audio) > 0.1,
        "the tone is audible (rms {})",
        rms(&audio)
    );
    assert_hz(&audio, 440.0, "captured");

    let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
    let mut decoder = OpusDecoder::new(1).expect("decoder");
    let mut decoded = Vec::new();
    for pair in audio.chunks_exact(960) {
        let packet = encoder.encode(pair).expect("encode");
        decoded.extend_from_slice(decoder.decode(&packet).expect("decode"));
    }
    assert_hz(&decoded[4_800..], 440.0, "after Opus");
}

#[test]
fn capture_delivers_frames_steadily_not_in_bursts() {
    // PulseAudio's default record buffer would deliver 2 s at a time; capture asks for 20 ms.
    let Some(_pulse) = pulse() else { return };
    let (_capture, rx) = MicrophoneCapture::open(None).expect("open default mic");
    frames(&rx, 20);
    let mut last = Instant::now();
    let mut worst = Duration::ZERO;
    for _ in 0..100 {
        frames(&rx, 1);
        worst = worst.max(last.elapsed());
        last = Instant::now();
    }
    assert!(
        worst < Duration::from_millis(300),
        "a {worst:?} gap between frames"
    );
}

#[test]
fn playback_into_fake_speaker_is_heard_at_880_hz_on_its_monitor() {
    let Some(_pulse) = pulse() else { return };
    let (_monitor, rx) =
        MicrophoneCapture::open(Some(&id("pulseaudio:fake_speaker.monitor"))).expect("monitor");
    let mut tone = SineTone::new(880.0, RATE, 0.5);
    let speaker = SpeakerPlayback::open(
        Some(&id("pulseaudio:fake_speaker")),
        Box::new(move |buf: &mut [f32]| tone.fill(buf)),
    )
    .expect("open speaker");
    assert_eq!(speaker.device(), Some(id("pulseaudio:fake_speaker")));
    // Wait for the tone to reach the monitor, then measure a second of it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while rms(&frames(&rx, 1)[0].samples) < 0.1 {
        assert!(
            Instant::now() < deadline,
            "the monitor never heard the tone"
        );
    }
    let heard = samples(&frames(&rx, 100)[5..]);
    assert!(rms(&heard) > 0.1, "still playing (rms {})", rms(&heard));
    assert_hz(&heard, 880.0, "monitor");
}

#[test]
fn playback_reaches_the_monitor_within_300_ms_of_the_source() {
    let Some(_pulse) = pulse() else { return };
    // A sink of its own: other tests play into fake_speaker at the same time.
    let sink = load_module("module-null-sink", &["sink_name=latency_speaker"]);
    let (monitor, rx) =
        MicrophoneCapture::open(Some(&id("pulseaudio:latency_speaker.monitor"))).expect("monitor");
    // Silence until `go`; then the tone, noting when its first samples were produced.
    let go = Arc::new(AtomicBool::new(false));
    let first_tone: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (source_go, source_first) = (go.clone(), first_tone.clone());
    let mut tone = SineTone::new(880.0, RATE, 0.5);
    let speaker = SpeakerPlayback::open(
        Some(&id("pulseaudio:latency_speaker")),
        Box::new(move |buf: &mut [f32]| {
            if source_go.load(Ordering::Relaxed) {
                if let Ok(mut first) = source_first.try_lock() {
                    first.get_or_insert_with(Instant::now);
                }
                tone.fill(buf);
            } else {
                buf.fill(0.0);
            }
        }),
    )
    .expect("open speaker");
    // Let playback settle (the server's first request is a whole buffer), then switch.
    let silent = frames(&rx, 30);
    assert!(
        rms(&samples(&silent)) < 0.01,
        "heard something before the tone"
    );
    go.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(5);
    let heard = loop {
        let frame = &frames(&rx, 1)[0];
        if rms(&frame.samples) > 0.1 {
            break Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "the monitor never heard the tone"
        );
    };
    let produced = first_tone
        .lock()
        .expect("first tone")
        .expect("the source produced the tone");
    let latency = heard.saturating_duration_since(produced);
    eprintln!("playback latency (source callback to sink monitor): {latency:?}");
    drop((speaker, monitor));
    unload_module(&sink);
    assert!(
        latency < Duration::from_millis(300),
        "playback is {latency:?} behind its source"
    );
}

#[test]
fn opening_a_missing_device_is_not_found() {
    let Some(_pulse) = pulse() else { return };
    let missing = id("pulseaudio:no_such_device");
    match MicrophoneCapture::open(Some(&missing)) {
        Err(DeviceError::NotFound { id }) => assert_eq!(id, missing),
        Err(other) => panic!("expected NotFound, got {other:?}"),
        Ok(_) => panic!("opened a missing microphone"),
    }
    match SpeakerPlayback::open(Some(&missing), Box::new(|b: &mut [f32]| b.fill(0.0))) {
        Err(DeviceError::NotFound { id }) => assert_eq!(id, missing),
        Err(other) => panic!("expected NotFound, got {other:?}"),
        Ok(_) => panic!("opened a missing speaker"),
    }
    let unknown_host = id("nosuchhost:mic");
    assert!(matches!(
        MicrophoneCapture::open(Some(&unknown_host)),
        Err(DeviceError::NotFound { .. })
    ));
    // A sink is not a microphone.
    assert!(matches!(
        MicrophoneCapture::open(Some(&id("pulseaudio:fake_speaker"))),
        Err(DeviceError::Unsupported { .. })
    ));
}

#[test]
fn watcher_reports_a_hotplugged_sink_added_default_changed_and_removed() {
    let Some(_pulse) = pulse() else { return };
    let (_watcher, events) = DeviceWatcher::start(Duration::from_millis(200)).expect("watch");
    let module = load_module("module-null-sink", &["sink_name=hotplug_test"]);
    let sink = id("pulseaudio:hotplug_test");
    let monitor = id("pulseaudio:hotplug_test.monitor");
    let (mut sink_added, mut monitor_added) = (false, false);
    while !(sink_added && monitor_added) {
        wait_event(&events, "Added sink and monitor", |e| match e {
            DeviceEvent::Added(d) if d.id == sink && d.direction == Direction::Output => {
                sink_added = true;
                true
            }
            DeviceEvent::Added(d) if d.id == monitor && d.direction == Direction::Input => {
                monitor_added = true;
                true
            }
            _ => false,
        });
    }
    // Only the default *sink* changes: no other test plays to the default output.
    support::pulse::pactl(&["set-default-sink", "hotplug_test"]);
    wait_event(&events, "DefaultChanged to the new sink", |e| {
        *e == DeviceEvent::DefaultChanged {
            direction: Direction::Output,
            id: Some(sink.clone()),
        }
    });
    support::pulse::pactl(&["set-default-sink", "fake_speaker"]);
    wait_event(&events, "DefaultChanged back", |e| {
        *e == DeviceEvent::DefaultChanged {
            direction: Direction::Output,
            id: Some(id("pulseaudio:fake_speaker")),
        }
    });
    unload_module(&module);
    let (mut sink_removed, mut monitor_removed) = (false, false);
    while !(sink_removed && monitor_removed) {
        wait_event(&events, "Removed sink and monitor", |e| match e {
            DeviceEvent::Removed(id) if *id == sink => {
                sink_removed = true;
                true
            }
            DeviceEvent::Removed(id) if *id == monitor => {
                monitor_removed = true;
                true
            }
            _ => false,
        });
    }
}

#[test]
fn switch_to_moves_capture_to_another_source_on_the_same_receiver() {
    let Some(_pulse) = pulse() else { return };
    let modules = load_tone_source("second_mic", 660);
    let (capture, rx) = MicrophoneCapture::open(Some(&id("pulseaudio:fake_mic"))).expect("open");
    assert_hz(&samples(&frames(&rx, 60)[10..]), 440.0, "before the switch");
    let second = id("pulseaudio:second_mic");
    assert_eq!(capture.switch_to(Some(&second)).expect("switch"), second);
    // Frames already queued may still come from fake_mic; the new device's follow.
    let deadline = Instant::now() + Duration::from_secs(5);
    while frames(&rx, 1)[0].device != second {
        assert!(Instant::now() < deadline, "no frames from the new device");
    }
    assert_hz(&samples(&frames(&rx, 60)[10..]), 660.0, "after the switch");
    assert_eq!(capture.device(), Some(second));
    drop(capture);
    unload_tone_source(&modules);
}

/// `pactl list short <kind>` rows as (index, name-or-owner columns).
fn short_list(kind: &str) -> Vec<Vec<String>> {
    support::pulse::pactl(&["list", "short", kind])
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn a_stream_killed_by_the_server_is_reported_lost_and_capture_stops() {
    let Some(_pulse) = pulse() else { return };
    let (watcher, events) = DeviceWatcher::start(Duration::from_secs(1)).expect("watch");
    let modules = load_tone_source("lost_mic", 550);
    let (capture, rx) = MicrophoneCapture::open_with_events(
        Some(&id("pulseaudio:lost_mic")),
        Some(watcher.event_sender()),
    )
    .expect("open");
    frames(&rx, 10);
    let source = short_list("sources")
        .into_iter()
        .find(|row| row.get(1).map(String::as_str) == Some("lost_mic"))
        .expect("lost_mic listed")[0]
        .clone();
    let ours = short_list("source-outputs")
        .into_iter()
        .find(|row| row.get(1) == Some(&source))
        .expect("our stream on lost_mic")[0]
        .clone();
    support::pulse::pacmd(&["kill-source-output", &ours]);
    wait_event(&events, "Lost", |e| {
        *e == DeviceEvent::Lost(id("pulseaudio:lost_mic"))
    });
    assert_eq!(capture.device(), None);
    // What was queued drains, then nothing more comes (but the receiver stays open).
    let deadline = Instant::now() + Duration::from_secs(3);
    while rx.recv_timeout(Duration::from_millis(300)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "frames kept coming after the loss"
        );
    }
    // switch_to resumes capture on the same receiver.
    capture
        .switch_to(Some(&id("pulseaudio:fake_mic")))
        .expect("resume");
    frames(&rx, 5);
    drop(capture);
    unload_tone_source(&modules);
}

#[test]
fn unloading_the_captured_source_moves_capture_to_the_default_source() {
    // PulseAudio rescues streams of a removed source by moving them to the default source
    // (cpal does not ask for DONT_MOVE), so the capture keeps delivering, from fake_mic,
    // and no error reaches cpal.
    let Some(_pulse) = pulse() else { return };
    let modules = load_tone_source("moved_mic", 770);
    let (events_watch, events) = DeviceWatcher::start(Duration::from_secs(1)).expect("watch");
    let (capture, rx) = MicrophoneCapture::open_with_events(
        Some(&id("pulseaudio:moved_mic")),
        Some(events_watch.event_sender()),
    )
    .expect("open");
    assert_hz(&samples(&frames(&rx, 60)[10..]), 770.0, "before unloading");
    unload_tone_source(&modules);
    // Audio buffered before the move still arrives first; then fake_mic's tone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let hz = dominant_frequency(&samples(&frames(&rx, 30)), RATE);
        if (hz - 440.0).abs() <= 5.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {hz} Hz, never moved to fake_mic"
        );
    }
    assert_eq!(capture.device(), Some(id("pulseaudio:moved_mic")));
    assert!(
        events
            .try_iter()
            .all(|e| !matches!(e, DeviceEvent::Lost(_))),
        "no Lost for a moved stream"
    );
}
