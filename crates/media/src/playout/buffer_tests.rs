//! The playout buffer on virtual time: a sender encoding a 440 Hz tone, a network that
//! delays, reorders and loses packets, and a speaker pulling 10 ms every 10 ms.

use super::*;
use crate::analysis::dominant_frequency;
use crate::codec::opus::{OpusEncoder, OpusSettings};
use crate::synthetic::SineTone;

/// A tiny deterministic random source (xorshift), so every run sees the same network.
struct Random(u64);

impl Random {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the network does to the stream.
#[derive(Clone, Copy)]
struct Network {
    /// Sender clock rate relative to ours (1.005 = sends 0.5 % faster).
    sender_speed: f64,
    /// Uniform extra delay 0..jitter_ms on top of a 30 ms base.
    jitter_ms: f64,
    loss: f64,
    /// Every n-th packet swaps places with the next (0 = never).
    swap_every: u64,
    /// Packets sent during [start, end) seconds never arrive.
    outage: Option<(f64, f64)>,
    first_sequence: u16,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            sender_speed: 1.0,
            jitter_ms: 0.0,
            loss: 0.0,
            swap_every: 0,
            outage: None,
            first_sequence: 1_000,
        }
    }
}

struct Run {
    output: Vec<f32>,
    stats: PlayoutStats,
    /// Buffered audio after each pull, in ms, with the time of the pull in seconds.
    delays: Vec<(f64, f64)>,
    lost: u64,
}

fn simulate(seconds: f64, network: Network) -> Run {
    let start = Instant::now();
    let mut random = Random(0x5eed_1234_abcd_ef01);
    let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
    let mut tone = SineTone::new(440.0, SAMPLE_RATE, 0.5);
    let mut frame = vec![0.0; FRAME_SAMPLES];
    let mut arrivals = Vec::new();
    let mut lost = 0;
    let frames = (seconds * 50.0 * network.sender_speed) as u64;
    for k in 0..frames {
        tone.fill(&mut frame);
        let packet = encoder.encode(&frame).expect("encode");
        let sent = k as f64 * 0.020 / network.sender_speed;
        let in_outage = network.outage.is_some_and(|(a, b)| sent >= a && sent < b);
        if in_outage || random.unit() < network.loss {
            lost += 1;
            continue;
        }
        let mut arrival = sent + 0.030 + random.unit() * network.jitter_ms / 1_000.0;
        if network.swap_every > 0 && k % network.swap_every == 0 {
            arrival += 0.025;
        }
        let sequence = network.first_sequence.wrapping_add(k as u16);
        arrivals.push((arrival, sequence, (k * 960) as u32, packet));
    }
    arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));

    let mut buffer = PlayoutBuffer::new(PlayoutConfig::default()).expect("buffer");
    let mut output = Vec::new();
    let mut delays = Vec::new();
    let mut pending = arrivals.into_iter().peekable();
    let mut chunk = [0.0; 480];
    for step in 0..(seconds * 100.0) as u64 {
        let now = step as f64 * 0.010;
        while let Some((_, sequence, timestamp, packet)) =
            pending.next_if(|(arrival, ..)| *arrival <= now)
        {
            let at = start + Duration::from_secs_f64(now);
            buffer.push(sequence, timestamp, &packet, at);
        }
        buffer.pull(&mut chunk);
        output.extend_from_slice(&chunk);
        delays.push((now, buffer.buffered().as_secs_f64() * 1_000.0));
    }
    Run {
        output,
        stats: buffer.stats(),
        delays,
        lost,
    }
}

fn hz_after(run: &Run, from_seconds: f64) -> f32 {
    let from = (from_seconds * f64::from(SAMPLE_RATE)) as usize;
    dominant_frequency(&run.output[from..], SAMPLE_RATE)
}

fn max_delay_after(run: &Run, from_seconds: f64) -> f64 {
    run.delays
        .iter()
        .filter(|(t, _)| *t >= from_seconds)
        .map(|(_, d)| *d)
        .fold(0.0, f64::max)
}

#[test]
fn a_clean_stream_plays_every_packet_at_the_minimum_delay() {
    let run = simulate(5.0, Network::default());
    assert_eq!(
        run.stats.decoded,
        250 - 3,
        "all but the last in-flight frames"
    );
    assert_eq!(
        run.stats.concealed + run.stats.late + run.stats.underrun_frames,
        0
    );
    assert!((hz_after(&run, 0.5) - 440.0).abs() < 3.0);
    assert!(
        max_delay_after(&run, 0.5) <= 70.0,
        "{}",
        max_delay_after(&run, 0.5)
    );
}

#[test]
fn jitter_raises_the_delay_instead_of_losing_audio() {
    let network = Network {
        jitter_ms: 60.0,
        ..Network::default()
    };
    let run = simulate(20.0, network);
    let repaired = run.stats.concealed + run.stats.late + run.stats.underrun_frames;
    assert!(repaired < 20, "{:?}", run.stats);
    let delay = max_delay_after(&run, 5.0);
    assert!((60.0..=250.0).contains(&delay), "held {delay} ms");
    assert!((hz_after(&run, 1.0) - 440.0).abs() < 5.0);
}

#[test]
fn single_losses_are_rebuilt_from_fec_and_the_tone_survives_ten_percent_loss() {
    let network = Network {
        loss: 0.10,
        ..Network::default()
    };
    let run = simulate(10.0, network);
    assert!(run.lost > 30, "the network lost {}", run.lost);
    // A loss with nothing after it yet is first an underrun, then skipped.
    let repaired = run.stats.fec_recovered + run.stats.concealed + run.stats.underrun_frames;
    assert!(repaired.abs_diff(run.lost) <= 3, "{:?}", run.stats);
    assert!(
        run.stats.fec_recovered > run.stats.concealed,
        "{:?}",
        run.stats
    );
    assert!((hz_after(&run, 0.5) - 440.0).abs() < 5.0);
}

#[test]
fn reordered_packets_are_put_back_in_order() {
    let network = Network {
        swap_every: 7,
        ..Network::default()
    };
    let run = simulate(10.0, network);
    assert_eq!(run.stats.late, 0, "{:?}", run.stats);
    assert_eq!(run.stats.concealed + run.stats.fec_recovered, 0);
}

#[test]
fn a_sender_clock_running_fast_does_not_grow_the_delay() {
    let network = Network {
        sender_speed: 1.005,
        ..Network::default()
    };
    let run = simulate(60.0, network);
    // 0.5 % of 60 s is 300 ms that must be dropped to stay near the target.
    assert!(run.stats.accelerated >= 8, "{:?}", run.stats);
    assert!(
        max_delay_after(&run, 10.0) < 180.0,
        "{}",
        max_delay_after(&run, 10.0)
    );
    assert!((hz_after(&run, 1.0) - 440.0).abs() < 5.0);
}

#[test]
fn a_sender_clock_running_slow_is_absorbed_without_losing_packets() {
    let network = Network {
        sender_speed: 0.995,
        ..Network::default()
    };
    let run = simulate(60.0, network);
    assert_eq!(
        run.stats.late, 0,
        "late packets still play: {:?}",
        run.stats
    );
    assert!(run.stats.underrun_frames <= 20, "{:?}", run.stats);
    assert_eq!(run.stats.concealed, 0);
    assert!((hz_after(&run, 1.0) - 440.0).abs() < 5.0);
}

#[test]
fn after_an_outage_the_delay_goes_back_to_normal() {
    let network = Network {
        outage: Some((3.0, 4.0)),
        ..Network::default()
    };
    let run = simulate(8.0, network);
    assert_eq!(run.stats.rebuffers, 1, "{:?}", run.stats);
    assert!(max_delay_after(&run, 5.0) <= 70.0);
    let resumed = &run.output[(4.5 * 48_000.0) as usize..];
    assert!((dominant_frequency(resumed, SAMPLE_RATE) - 440.0).abs() < 3.0);
}

#[test]
fn sequence_numbers_wrapping_mid_call_change_nothing() {
    let network = Network {
        first_sequence: 65_500,
        ..Network::default()
    };
    let run = simulate(3.0, network);
    assert_eq!(
        run.stats.late + run.stats.concealed + run.stats.underrun_frames,
        0
    );
}

#[test]
fn garbage_payloads_are_concealed_not_fatal() {
    let start = Instant::now();
    let mut buffer = PlayoutBuffer::new(PlayoutConfig::default()).expect("buffer");
    for k in 0..10u16 {
        let at = start + Duration::from_millis(u64::from(k) * 20);
        buffer.push(k, u32::from(k) * 960, &[0xff, 0xff, 0xff, 0x00, 0x12], at);
    }
    let mut out = vec![0.0; 9_600];
    buffer.pull(&mut out);
    assert!(buffer.stats().decode_errors > 0);
    assert!(out.iter().all(|s| s.is_finite()));
}
