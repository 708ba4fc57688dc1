//! The playout buffer of one remote Opus stream: RTP packets in as they arrive, 48 kHz mono
//! samples out at the speaker's pace.
//!
//! It holds packets for an adaptive delay (one frame plus four times the measured jitter),
//! plays them in sequence order, recovers a single lost packet from the next one's FEC,
//! conceals longer losses, stretches an underrun by concealing without moving on (the late
//! packet then still plays: that is how a sender whose clock runs slow is absorbed), and
//! drops a frame, quiet ones first and cross-faded, when the buffer runs deeper than needed
//! (a sender whose clock runs fast). After a long silence it starts over, so an outage never
//! leaves the call with extra delay.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::jitter::JitterEstimator;
use super::sequence::SequenceUnwrapper;
use crate::codec::opus::{FRAME_SAMPLES, OpusDecoder, SAMPLE_RATE};

/// Packets this far ahead of the one due next mean the sender started over (new stream).
const RESTART_GAP: u64 = 1_000;
/// Samples cross-faded when a frame is dropped (2.5 ms).
const FADE_SAMPLES: usize = 120;
/// A frame below this RMS is quiet enough to drop unnoticed.
const QUIET_RMS: f32 = 0.02;

/// Tunables of a [`PlayoutBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayoutConfig {
    /// The least delay held, even on a perfect network.
    pub min_delay: Duration,
    /// The most delay held, however bad the jitter.
    pub max_delay: Duration,
    /// After this much concealment in a row the stream is treated as paused and the next
    /// packet starts a new buffering phase.
    pub rebuffer_after: Duration,
    /// Packets held at most; older ones are dropped beyond it (a stalled consumer).
    pub max_packets: usize,
}

impl Default for PlayoutConfig {
    /// 40 ms to 400 ms of delay, a new start after 200 ms without packets, 5 s of packets.
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(400),
            rebuffer_after: Duration::from_millis(200),
            max_packets: 250,
        }
    }
}

/// What happened to a stream's packets and frames, for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlayoutStats {
    /// Packets given to [`PlayoutBuffer::push`].
    pub received: u64,
    /// Packets that came after their turn had passed and were discarded.
    pub late: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Frames decoded from their own packet.
    pub decoded: u64,
    /// Lost frames rebuilt from the next packet's forward error correction.
    pub fec_recovered: u64,
    /// Lost frames concealed by the decoder (no packet, no FEC).
    pub concealed: u64,
    /// Frames concealed because nothing had arrived yet (the buffer ran dry).
    pub underrun_frames: u64,
    /// Frames dropped to bring the delay back to the target.
    pub accelerated: u64,
    /// Times the stream went quiet long enough to start buffering again.
    pub rebuffers: u64,
    /// Packets the decoder rejected (concealed instead).
    pub decode_errors: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
}

/// One remote audio stream's jitter/playout buffer (see the module documentation).
pub struct PlayoutBuffer {
    config: PlayoutConfig,
    decoder: OpusDecoder,
    sequence: SequenceUnwrapper,
    jitter: JitterEstimator,
    packets: BTreeMap<u64, Bytes>,
    /// The packet due next; `None` while buffering.
    next: Option<u64>,
    /// Everything before this has been played or skipped.
    played_up_to: u64,
    /// Frames concealed in the current underrun, not yet accounted to sequence numbers.
    owed_frames: u64,
    decoded: VecDeque<f32>,
    /// The start of a dropped frame, faded into whatever plays next.
    fade_from: Option<Vec<f32>>,
    frames_since_drop: u32,
    stats: PlayoutStats,
}

impl PlayoutBuffer {
    /// An empty buffer with its own mono Opus decoder.
    pub fn new(config: PlayoutConfig) -> Result<Self, crate::codec::CodecError> {
        Ok(Self {
            config,
            decoder: OpusDecoder::new(1)?,
            sequence: SequenceUnwrapper::default(),
            jitter: JitterEstimator::default(),
            packets: BTreeMap::new(),
            next: None,
            played_up_to: 0,
            owed_frames: 0,
            decoded: VecDeque::with_capacity(4 * FRAME_SAMPLES),
            fade_from: None,
            frames_since_drop: 0,
            stats: PlayoutStats::default(),
        })
    }

    /// Takes one RTP packet (sequence number, RTP timestamp, Opus payload) that arrived at
    /// `arrival`. Late, duplicate and excess packets are counted and dropped.
    pub fn push(&mut self, sequence: u16, rtp_timestamp: u32, payload: &[u8], arrival: Instant) {
        self.stats.received += 1;
        let extended = self.sequence.extend(sequence);
        let jumped_ahead = self.next.is_some_and(|next| extended > next + RESTART_GAP);
        if jumped_ahead || extended + RESTART_GAP < self.played_up_to {
            // The sender started a new stream (e.g. after a reconnect).
            self.start_over();
            self.played_up_to = extended;
        }
        if extended < self.played_up_to {
            self.stats.late += 1;
            return;
        }
        if self.packets.contains_key(&extended) {
            self.stats.duplicates += 1;
            return;
        }
        self.jitter.observe(rtp_timestamp, arrival);
        self.packets
            .insert(extended, Bytes::copy_from_slice(payload));
        while self.packets.len() > self.config.max_packets {
            if let Some((dropped, _)) = self.packets.pop_first() {
                self.stats.overflow += 1;
                self.played_up_to = self.played_up_to.max(dropped + 1);
                self.next = self.next.map(|next| next.max(dropped + 1));
            }
        }
    }

    /// Fills `out` with the next samples (48 kHz mono); silence while buffering.
    pub fn pull(&mut self, out: &mut [f32]) {
        while self.decoded.len() < out.len() {
            self.produce_frame();
        }
        let wanted = out.len();
        for (sample, decoded) in out.iter_mut().zip(self.decoded.drain(..wanted)) {
            *sample = decoded;
        }
    }

    /// The delay the buffer aims for, from the jitter measured so far.
    pub fn target_delay(&self) -> Duration {
        self.jitter.target_delay(
            frame_duration(),
            self.config.min_delay,
            self.config.max_delay,
        )
    }

    /// Audio held right now: decoded samples plus the packets up to the newest one.
    pub fn buffered(&self) -> Duration {
        let decoded = samples_duration(self.decoded.len());
        let from = self.next.or_else(|| self.packets.keys().next().copied());
        let frames = match (from, self.packets.keys().next_back()) {
            (Some(from), Some(&newest)) if newest >= from => newest - from + 1,
            _ => 0,
        };
        decoded + frame_duration() * u32::try_from(frames).unwrap_or(u32::MAX)
    }

    /// Counters since the buffer was created.
    pub fn stats(&self) -> PlayoutStats {
        self.stats
    }

    fn start_over(&mut self) {
        self.packets.clear();
        self.next = None;
        self.owed_frames = 0;
        self.jitter = JitterEstimator::default();
    }

    /// Appends one frame (about 20 ms) of output.
    fn produce_frame(&mut self) {
        let Some(next) = self.next.or_else(|| self.start_playing()) else {
            self.append(&[0.0; FRAME_SAMPLES]);
            return;
        };
        if let Some(payload) = self.packets.remove(&next) {
            self.owed_frames = 0;
            self.advance(next);
            self.play_packet(&payload);
        } else if let Some(&later) = self.packets.keys().next() {
            // The packet due is missing and a later one is here: it is lost. Frames already
            // concealed while the buffer was dry stand in for the first missing ones.
            let skip = self.owed_frames.min(later - next);
            self.owed_frames = 0;
            if skip > 0 {
                self.advance(next + skip - 1);
                return self.produce_frame();
            }
            self.advance(next);
            if later == next + 1 {
                let fec = self.packets.get(&later).cloned().unwrap_or_default();
                self.stats.fec_recovered += 1;
                let samples = self.decoder.decode_fec(&fec).map(<[f32]>::to_vec);
                self.append_decoded(samples);
            } else {
                self.conceal();
            }
        } else {
            self.underrun();
        }
    }

    /// Leaves the buffering phase once enough audio is held for the target delay.
    fn start_playing(&mut self) -> Option<u64> {
        let first = *self.packets.keys().next()?;
        if self.buffered() < self.target_delay() {
            return None;
        }
        self.next = Some(first);
        Some(first)
    }

    fn advance(&mut self, played: u64) {
        self.next = Some(played + 1);
        self.played_up_to = played + 1;
    }

    fn play_packet(&mut self, payload: &[u8]) {
        let samples = match self.decoder.decode(payload) {
            Ok(samples) => samples.to_vec(),
            Err(error) => {
                tracing::debug!(%error, "undecodable audio packet, concealed");
                self.stats.decode_errors += 1;
                return self.conceal();
            }
        };
        self.stats.decoded += 1;
        self.frames_since_drop = self.frames_since_drop.saturating_add(1);
        if self.should_drop(&samples) {
            self.stats.accelerated += 1;
            self.frames_since_drop = 0;
            self.fade_from = Some(samples[..FADE_SAMPLES.min(samples.len())].to_vec());
            return;
        }
        self.append(&samples);
    }

    /// Drops a frame when the buffer holds well over the target: a quiet frame at 40 ms
    /// over, any frame at 80 ms over, never two within 200 ms.
    fn should_drop(&self, frame: &[f32]) -> bool {
        if self.frames_since_drop < 10 {
            return false;
        }
        let excess = self.buffered().saturating_sub(self.target_delay());
        let quiet = rms(frame) < QUIET_RMS;
        excess > Duration::from_millis(80) || (quiet && excess > Duration::from_millis(40))
    }

    fn conceal(&mut self) {
        self.stats.concealed += 1;
        let samples = self.decoder.decode(&[]).map(<[f32]>::to_vec);
        self.append_decoded(samples);
    }

    /// Nothing to play: conceal without moving on, so a packet that is merely late still
    /// plays; after `rebuffer_after` of this the stream counts as paused.
    fn underrun(&mut self) {
        self.stats.underrun_frames += 1;
        self.owed_frames += 1;
        let concealed = frame_duration() * u32::try_from(self.owed_frames).unwrap_or(u32::MAX);
        if concealed >= self.config.rebuffer_after {
            self.stats.rebuffers += 1;
            self.next = None;
            self.owed_frames = 0;
            self.append(&[0.0; FRAME_SAMPLES]);
            return;
        }
        // Concealment fades out by itself; past 100 ms it is silence anyway.
        let samples = self.decoder.decode(&[]).map(<[f32]>::to_vec);
        self.append_decoded(samples);
    }

    fn append_decoded(&mut self, samples: Result<Vec<f32>, crate::codec::CodecError>) {
        match samples {
            Ok(samples) if !samples.is_empty() => self.append(&samples),
            _ => self.append(&[0.0; FRAME_SAMPLES]),
        }
    }

    /// Appends samples, cross-fading their start with a dropped frame's start if any.
    fn append(&mut self, samples: &[f32]) {
        let Some(fade_from) = self.fade_from.take() else {
            self.decoded.extend(samples);
            return;
        };
        let fade_len = fade_from.len().min(samples.len());
        for (i, (&new, &old)) in samples.iter().zip(&fade_from).enumerate() {
            let weight = i as f32 / fade_len as f32;
            self.decoded.push_back(old * (1.0 - weight) + new * weight);
        }
        self.decoded.extend(&samples[fade_len..]);
    }
}

fn frame_duration() -> Duration {
    samples_duration(FRAME_SAMPLES)
}

fn samples_duration(samples: usize) -> Duration {
    Duration::from_secs_f64(samples as f64 / f64::from(SAMPLE_RATE))
}

fn rms(samples: &[f32]) -> f32 {
    let sum: f32 = samples.iter().map(|s| s * s).sum();
    (sum / samples.len().max(1) as f32).sqrt()
}

#[cfg(test)]
#[path = "buffer_tests.rs"]
mod tests;
