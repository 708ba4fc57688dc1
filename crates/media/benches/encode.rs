//! What the call's encoders cost on this machine: `cargo bench -p convene-media --bench encode`.
//!
//! Each encoder runs on one thread, so the wall time of a tight loop is its CPU time (on
//! an otherwise idle machine). Per row: 30 warm-up frames, then the median of 5 runs of
//! 150 frames. The test pattern is flat apart from its stamp bars, so the video rows are a
//! lower bound for real camera pictures.

use std::time::{Duration, Instant};

use convene_media::codec::h264::H264Encoder;
use convene_media::codec::opus::{OpusEncoder, OpusSettings, SAMPLE_RATE};
use convene_media::codec::vp8::Vp8Encoder;
use convene_media::codec::{CodecError, VideoEncoder, VideoEncoderSettings};
use convene_media::synthetic::{SineTone, TestPattern};

const WARM_UP: usize = 30;
const RUNS: usize = 5;
const FRAMES: usize = 150;

/// Calls `encode(i)` (which returns the bytes it produced) for the warm-up and the runs;
/// returns the median milliseconds per frame and the output rate in kbit/s.
fn measure(fps: f64, mut encode: impl FnMut(usize) -> usize) -> (f64, f64) {
    (0..WARM_UP).for_each(|i| {
        encode(i);
    });
    let mut bytes = 0;
    let mut per_frame_ms: Vec<f64> = (0..RUNS)
        .map(|run| {
            let start = Instant::now();
            for i in 0..FRAMES {
                bytes += encode(WARM_UP + run * FRAMES + i);
            }
            start.elapsed().as_secs_f64() * 1e3 / FRAMES as f64
        })
        .collect();
    per_frame_ms.sort_by(f64::total_cmp);
    let seconds = (RUNS * FRAMES) as f64 / fps;
    (per_frame_ms[RUNS / 2], bytes as f64 * 8.0 / seconds / 1e3)
}

fn video<E: VideoEncoder>(
    new: fn(VideoEncoderSettings) -> Result<E, CodecError>,
    (width, height): (u32, u32),
) -> (f64, f64) {
    let settings = VideoEncoderSettings::for_size(width, height);
    let mut encoder = new(settings).expect("encoder");
    let mut pattern = TestPattern::new(width as usize, height as usize);
    // One second of frames, reused in a cycle (pattern drawing stays out of the timing).
    let frames: Vec<_> = (0..30).map(|n| pattern.next_frame(n * 33)).collect();
    measure(f64::from(settings.fps), |i| {
        let pts = Duration::from_millis(i as u64 * 33);
        let encoded = encoder.encode(&frames[i % frames.len()], pts);
        encoded.expect("encode").map_or(0, |frame| frame.data.len())
    })
}

fn opus() -> (f64, f64) {
    let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
    let mut tone = SineTone::new(440.0, SAMPLE_RATE, 0.5);
    let mut samples = vec![0.0; encoder.frame_len()];
    measure(50.0, |_| {
        tone.fill(&mut samples);
        encoder.encode(&samples).expect("encode").len()
    })
}

fn main() {
    println!(
        "{:<6} {:<18} {:>9} {:>11} {:>8}",
        "codec", "format", "ms/frame", "core share", "kbit/s"
    );
    let row = |codec: &str, format: &str, fps: f64, (ms, kbps): (f64, f64)| {
        let share = ms * fps / 1e3 * 100.0;
        println!("{codec:<6} {format:<18} {ms:>9.3} {share:>10.1}% {kbps:>8.0}");
    };
    for size in [(640, 360), (1280, 720)] {
        let format = format!("{}x{}@30", size.0, size.1);
        row("VP8", &format, 30.0, video(Vp8Encoder::new, size));
        row("H.264", &format, 30.0, video(H264Encoder::new, size));
    }
    row("Opus", "48k mono 20ms", 50.0, opus());
}
