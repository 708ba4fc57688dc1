//! Mixes every remote audio stream into the one signal the speaker plays, and keeps each
//! participant's level for the active-speaker highlight.
//!
//! [`Mixer`] is plain data. [`SharedMixer`] shares it between the network side (streams
//! added and removed, packets pushed) and the speaker's real-time callback without a lock:
//! the network side only enqueues into lock-free queues, and the callback that plays owns
//! the mixer for the length of one fill (it is passed like a baton through a one-slot
//! queue, so an old and a new speaker overlapping during a switch never wait on each
//! other: the one without the baton plays silence for that block).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use crossbeam_queue::{ArrayQueue, SegQueue};

use super::buffer::{PlayoutBuffer, PlayoutConfig, PlayoutStats};
use super::level::LevelMeter;
use crate::codec::CodecError;

/// Where the mixed signal starts to be compressed rather than passed through.
const SOFT_CLIP_KNEE: f32 = 0.8;

struct Stream {
    buffer: PlayoutBuffer,
    level: LevelMeter,
    /// Where the level is published for readers outside the callback (f32 bits).
    published_level: Option<Arc<AtomicU32>>,
}

/// The streams being played, keyed by the caller's name for them (a track sid).
pub struct Mixer {
    config: PlayoutConfig,
    streams: HashMap<String, Stream>,
    scratch: Vec<f32>,
}

impl Mixer {
    /// A mixer whose streams use `config`.
    pub fn new(config: PlayoutConfig) -> Self {
        Self {
            config,
            streams: HashMap::new(),
            scratch: Vec::new(),
        }
    }

    /// Starts playing a stream (when a remote audio track is subscribed). Replaces a
    /// stream of the same key, which starts over (e.g. after a full reconnect).
    pub fn add_stream(&mut self, key: impl Into<String>) -> Result<(), CodecError> {
        let buffer = PlayoutBuffer::new(self.config)?;
        self.insert_stream(key.into(), buffer, None);
        Ok(())
    }

    /// Starts playing a stream whose buffer was made elsewhere (off the real-time thread),
    /// publishing its level to `published_level` as well.
    fn insert_stream(
        &mut self,
        key: String,
        buffer: PlayoutBuffer,
        published_level: Option<Arc<AtomicU32>>,
    ) {
        let stream = Stream {
            buffer,
            level: LevelMeter::default(),
            published_level,
        };
        self.streams.insert(key, stream);
    }

    /// Stops playing a stream (unsubscribed, participant left).
    pub fn remove_stream(&mut self, key: &str) {
        self.streams.remove(key);
    }

    /// Hands one RTP packet to its stream's playout buffer; unknown keys are ignored (a
    /// packet racing the stream's removal).
    pub fn push(&mut self, key: &str, sequence: u16, timestamp: u32, payload: &[u8]) {
        self.push_arrived(key, sequence, timestamp, payload, Instant::now());
    }

    /// [`Mixer::push`] for a packet that arrived at `arrival` (queued before it got here).
    pub fn push_arrived(
        &mut self,
        key: &str,
        sequence: u16,
        timestamp: u32,
        payload: &[u8],
        arrival: Instant,
    ) {
        if let Some(stream) = self.streams.get_mut(key) {
            stream.buffer.push(sequence, timestamp, payload, arrival);
        }
    }

    /// Fills `out` (48 kHz mono) with the sum of all streams, soft-clipped, and updates
    /// their levels. Called from the speaker's callback.
    pub fn fill(&mut self, out: &mut [f32]) {
        out.fill(0.0);
        self.scratch.resize(out.len(), 0.0);
        for stream in self.streams.values_mut() {
            stream.buffer.pull(&mut self.scratch);
            stream.level.update(&self.scratch);
            if let Some(published) = &stream.published_level {
                published.store(stream.level.level().to_bits(), Ordering::Relaxed);
            }
            for (mixed, sample) in out.iter_mut().zip(&self.scratch) {
                *mixed += sample;
            }
        }
        out.iter_mut()
            .for_each(|sample| *sample = soft_clip(*sample));
    }

    /// Each stream's current level (0.0..=1.0), for level meters and speaker highlight.
    pub fn levels(&self) -> Vec<(String, f32)> {
        self.streams
            .iter()
            .map(|(key, stream)| (key.clone(), stream.level.level()))
            .collect()
    }

    /// A stream's playout counters, for diagnostics.
    pub fn stats(&self, key: &str) -> Option<PlayoutStats> {
        self.streams.get(key).map(|stream| stream.buffer.stats())
    }
}

/// Packets waiting for the speaker callback, at most (about 1 s for 50 streams, or 20 s of
/// one): with no speaker running, newer packets are dropped and counted.
const PACKET_QUEUE: usize = 2_048;

/// What the network side asks of the mixer, applied by the callback that holds it.
enum Change {
    Add {
        key: String,
        /// Made off the real-time thread (it holds an Opus decoder).
        buffer: Box<PlayoutBuffer>,
        level: Arc<AtomicU32>,
    },
    Remove {
        key: String,
    },
}

/// One RTP packet for a stream, stamped when it arrived.
struct QueuedPacket {
    key: Arc<str>,
    sequence: u16,
    timestamp: u32,
    payload: Bytes,
    arrival: Instant,
}

struct Shared {
    config: PlayoutConfig,
    /// The mixer, held by at most one fill at a time (a one-slot queue).
    baton: ArrayQueue<Box<Mixer>>,
    /// Stream additions and removals, in order. Unbounded but small: two per subscribed
    /// track, and never dropped (a lost removal would play a dead stream forever).
    changes: SegQueue<Change>,
    packets: ArrayQueue<QueuedPacket>,
    dropped_packets: AtomicU64,
    /// Each stream's published level. Locked by the network and UI side only, never by
    /// the callback (which writes the atomics).
    levels: Mutex<HashMap<String, Arc<AtomicU32>>>,
}

/// A mixer shared between the network side ([`SharedMixer::add_stream`],
/// [`SharedMixer::push`], [`SharedMixer::remove_stream`]) and the speaker callback
/// ([`SharedMixer::fill`]), which never takes a lock (see the module doc). Clones share it.
#[derive(Clone)]
pub struct SharedMixer {
    shared: Arc<Shared>,
}

impl SharedMixer {
    /// A shared mixer whose streams use `config`.
    pub fn new(config: PlayoutConfig) -> Self {
        let baton = ArrayQueue::new(1);
        // A fresh one-slot queue has room.
        let _ = baton.push(Box::new(Mixer::new(config)));
        Self {
            shared: Arc::new(Shared {
                config,
                baton,
                changes: SegQueue::new(),
                packets: ArrayQueue::new(PACKET_QUEUE),
                dropped_packets: AtomicU64::new(0),
                levels: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Starts playing a stream (a remote audio track was subscribed); a stream of the same
    /// key starts over. Its decoder is made here, on the caller's thread.
    pub fn add_stream(&self, key: impl Into<String>) -> Result<(), CodecError> {
        let key = key.into();
        let buffer = Box::new(PlayoutBuffer::new(self.shared.config)?);
        let level = Arc::new(AtomicU32::new(0));
        self.shared
            .levels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), level.clone());
        self.shared.changes.push(Change::Add { key, buffer, level });
        Ok(())
    }

    /// Stops playing a stream (unsubscribed, participant left).
    pub fn remove_stream(&self, key: &str) {
        self.shared
            .levels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        self.shared.changes.push(Change::Remove {
            key: key.to_owned(),
        });
    }

    /// Queues one RTP packet for its stream, stamped now. Never blocks: when the queue is
    /// full (no speaker is playing) the packet is dropped and counted.
    pub fn push(&self, key: &Arc<str>, sequence: u16, timestamp: u32, payload: Bytes) {
        let packet = QueuedPacket {
            key: key.clone(),
            sequence,
            timestamp,
            payload,
            arrival: Instant::now(),
        };
        if self.shared.packets.push(packet).is_err() {
            self.shared.dropped_packets.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Fills `out` with the mix (see [`Mixer::fill`]) after applying the changes and
    /// packets queued since the last fill. Lock-free: called from the speaker's callback.
    /// Silence when another fill holds the mixer (two speakers overlapping in a switch).
    pub fn fill(&self, out: &mut [f32]) {
        let Some(mut mixer) = self.shared.baton.pop() else {
            out.fill(0.0);
            return;
        };
        while let Some(change) = self.shared.changes.pop() {
            match change {
                Change::Add { key, buffer, level } => {
                    mixer.insert_stream(key, *buffer, Some(level));
                }
                Change::Remove { key } => mixer.remove_stream(&key),
            }
        }
        while let Some(packet) = self.shared.packets.pop() {
            mixer.push_arrived(
                &packet.key,
                packet.sequence,
                packet.timestamp,
                &packet.payload,
                packet.arrival,
            );
        }
        mixer.fill(out);
        // We took the only mixer out of the one slot, so the slot is free.
        let _ = self.shared.baton.push(mixer);
    }

    /// Each stream's level as of the last fill (0.0..=1.0).
    pub fn levels(&self) -> Vec<(String, f32)> {
        self.shared
            .levels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(key, level)| (key.clone(), f32::from_bits(level.load(Ordering::Relaxed))))
            .collect()
    }

    /// Packets dropped because nobody played them in time (no speaker open).
    pub fn dropped_packets(&self) -> u64 {
        self.shared.dropped_packets.load(Ordering::Relaxed)
    }
}

/// Like [`playback_source`], and also hands every block played to `far_end`, the echo
/// canceller's reference for the microphone pipeline.
pub fn playback_source_with_echo_reference(
    mixer: SharedMixer,
    far_end: crate::far_end::FarEnd,
) -> impl FnMut(&mut [f32]) + Send + 'static {
    let mut play = playback_source(mixer);
    move |out: &mut [f32]| {
        play(out);
        far_end.push(out);
    }
}

/// The speaker callback for a shared mixer: fills each buffer the device asks for, taking
/// no lock.
pub fn playback_source(mixer: SharedMixer) -> impl FnMut(&mut [f32]) + Send + 'static {
    move |out: &mut [f32]| mixer.fill(out)
}

/// Passes quiet signals unchanged and bends peaks above the knee smoothly toward 1.0, so
/// several loud talkers do not wrap around or click.
fn soft_clip(sample: f32) -> f32 {
    let magnitude = sample.abs();
    if magnitude <= SOFT_CLIP_KNEE {
        return sample;
    }
    let headroom = 1.0 - SOFT_CLIP_KNEE;
    let bent = SOFT_CLIP_KNEE + headroom * ((magnitude - SOFT_CLIP_KNEE) / headroom).tanh();
    bent.copysign(sample)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;
    use crate::codec::opus::{OpusEncoder, OpusSettings};
    use crate::synthetic::SineTone;

    fn tone_packets(hz: f32, amplitude: f32, count: usize) -> Vec<bytes::Bytes> {
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        let mut tone = SineTone::new(hz, 48_000, amplitude);
        let mut frame = vec![0.0; 960];
        (0..count)
            .map(|_| {
                tone.fill(&mut frame);
                encoder.encode(&frame).expect("encode")
            })
            .collect()
    }

    #[test]
    fn two_talkers_are_mixed_and_each_has_its_own_level() {
        let mut mixer = Mixer::new(PlayoutConfig::default());
        mixer.add_stream("loud").expect("stream");
        mixer.add_stream("quiet").expect("stream");
        mixer.add_stream("silent").expect("stream");
        let loud = tone_packets(440.0, 0.5, 50);
        let quiet = tone_packets(440.0, 0.05, 50);
        for (k, (a, b)) in loud.iter().zip(&quiet).enumerate() {
            mixer.push("loud", k as u16, k as u32 * 960, a);
            mixer.push("quiet", k as u16, k as u32 * 960, b);
        }
        mixer.push("gone", 0, 0, &loud[0]);
        let mut out = vec![0.0; 48_000 / 2];
        mixer.fill(&mut out);
        let hz = dominant_frequency(&out[4_800..], 48_000);
        assert!((hz - 440.0).abs() < 5.0, "{hz}");
        let levels: HashMap<_, _> = mixer.levels().into_iter().collect();
        assert!(levels["loud"] > 0.3, "{levels:?}");
        assert!(
            levels["quiet"] > 0.02 && levels["quiet"] < 0.1,
            "{levels:?}"
        );
        assert!(levels["silent"] < 0.001, "{levels:?}");
        mixer.remove_stream("loud");
        assert!(mixer.stats("loud").is_none());
        // 25 frames played; the one-second backlog also made it drop some.
        let quiet_stats = mixer.stats("quiet").expect("stats");
        assert!(quiet_stats.decoded >= 25 && quiet_stats.accelerated > 0);
    }

    #[test]
    fn the_shared_mixer_plays_what_other_threads_queue_and_overlapping_fills_never_wait() {
        let mixer = SharedMixer::new(PlayoutConfig::default());
        let key: Arc<str> = Arc::from("talker");
        mixer.add_stream("talker").expect("stream");
        let packets = tone_packets(440.0, 0.5, 50);
        // The network side runs on its own thread.
        let network = {
            let mixer = mixer.clone();
            let key = key.clone();
            std::thread::spawn(move || {
                for (k, packet) in packets.into_iter().enumerate() {
                    mixer.push(&key, k as u16, k as u32 * 960, packet);
                }
            })
        };
        network.join().expect("the network thread");
        // Two speakers at once (a switch): both return; the one without the mixer plays
        // silence, the other the tone.
        let mut blocks = [vec![1.0; 48_000 / 2], vec![1.0; 48_000 / 2]];
        std::thread::scope(|scope| {
            for block in &mut blocks {
                let mixer = mixer.clone();
                scope.spawn(move || mixer.fill(block));
            }
        });
        let played: Vec<&Vec<f32>> = blocks
            .iter()
            .filter(|block| block.iter().any(|sample| sample.abs() > 0.01))
            .collect();
        assert!(!played.is_empty(), "nobody played the tone");
        let hz = dominant_frequency(&played[0][4_800..], 48_000);
        assert!((hz - 440.0).abs() < 5.0, "{hz}");
        let levels: HashMap<_, _> = mixer.levels().into_iter().collect();
        assert!(levels["talker"] > 0.3, "{levels:?}");

        mixer.remove_stream("talker");
        let mut after = vec![1.0; 960];
        mixer.fill(&mut after);
        assert!(
            after.iter().all(|sample| *sample == 0.0),
            "a removed stream plays on"
        );
        assert!(mixer.levels().is_empty());
    }

    #[test]
    fn with_no_speaker_the_packet_queue_stays_bounded() {
        let mixer = SharedMixer::new(PlayoutConfig::default());
        let key: Arc<str> = Arc::from("talker");
        mixer.add_stream("talker").expect("stream");
        for k in 0..PACKET_QUEUE + 10 {
            mixer.push(&key, k as u16, k as u32 * 960, Bytes::from_static(&[0xf8]));
        }
        assert_eq!(mixer.dropped_packets(), 10);
    }

    #[test]
    fn peaks_are_bent_below_full_scale_and_quiet_samples_pass() {
        assert_eq!(soft_clip(0.5), 0.5);
        assert_eq!(soft_clip(-0.8), -0.8);
        assert!(soft_clip(3.0) <= 1.0 && soft_clip(3.0) > 0.99);
        assert!(soft_clip(-1.2) > -1.0);
        assert!(soft_clip(0.9) > soft_clip(0.85));
    }
}
