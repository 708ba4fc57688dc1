//! Audio levels of published audio tracks, from the RFC 6464 `ssrc-audio-level` RTP header
//! extension, for LiveKit's `speakers_changed`.
//!
//! The publisher PC negotiates the extension for audio (see [`super::codecs`]); the remote
//! track reader ([`super::publisher`]) hands every packet's extension byte to an
//! [`AudioLevelMeter`], which yields one level per [`LEVEL_INTERVAL`] while packets arrive.
//!
//! The extension byte (one-byte or two-byte header form alike; only the first byte counts):
//! bit 7 is the voice-activity flag `V`, bits 0-6 the level in -dBov, 0 the loudest and 127
//! silence. `V` is parsed but not used: Chromium only sets it when its VAD runs, and LiveKit's
//! SFU also goes by the level alone.
//!
//! The reported level is LiveKit's linear 0.0..=1.0 scale:
//!
//! ```text
//! level = mean over the interval's packets of 10^(-dBov / 20)
//! level = 0.0 if level < SILENCE_FLOOR (0.01, i.e. quieter than -40 dBov)
//! ```
//!
//! The mean (rather than the max) of the per-packet amplitudes smooths out single loud
//! packets (a click) and lowers the level of an interval that is half pauses, so 0.0 means
//! "not speaking" and larger values rank the speakers.

use std::time::{Duration, Instant};

use rtc::rtp::header::Header;

/// How often a level is reported per audio track while its packets arrive.
pub(crate) const LEVEL_INTERVAL: Duration = Duration::from_millis(500);

/// Levels below this (quieter than -40 dBov) are reported as 0.0 (silence / background noise).
pub(crate) const SILENCE_FLOOR: f32 = 0.01;

/// The negotiated id of the audio-level extension in one PC, if the client offered it.
pub(crate) type AudioLevelId = Option<u8>;

/// Reads the audio-level extension with id `id` from `header`: `(level_dbov, voice)`, with
/// `level_dbov` in 0..=127 (0 loudest, 127 silence). `None` if the packet does not carry it.
///
/// No allocation: scans the header's (few) parsed extensions in place.
pub(crate) fn read_audio_level(header: &Header, id: u8) -> Option<(u8, bool)> {
    if !header.extension {
        return None;
    }
    header
        .extensions
        .iter()
        .find(|ext| ext.id == id)
        .and_then(|ext| parse_audio_level(&ext.payload))
}

/// Parses an RFC 6464 payload: `(level_dbov, voice)` from its first byte, `None` if empty.
pub(crate) fn parse_audio_level(payload: &[u8]) -> Option<(u8, bool)> {
    let byte = *payload.first()?;
    Some((byte & 0x7f, byte & 0x80 != 0))
}

/// Linear amplitude of a level in -dBov: `10^(-dBov / 20)`, so 0 -> 1.0, 20 -> 0.1,
/// 40 -> 0.01, 127 -> ~4.5e-7. Values above 127 are clamped.
pub(crate) fn dbov_to_linear(level_dbov: u8) -> f32 {
    10f32.powf(-f32::from(level_dbov.min(127)) / 20.0)
}

/// Accumulates one track's per-packet levels and closes an interval every
/// [`LEVEL_INTERVAL`]; see the module docs for the formula.
#[derive(Debug, Default)]
pub(crate) struct AudioLevelMeter {
    /// When the current interval started (its first packet); `None` before any packet.
    started: Option<Instant>,
    sum: f32,
    packets: u32,
}

impl AudioLevelMeter {
    /// Records one packet's level (-dBov) received at `now`. Returns the interval's level
    /// when this packet completes an interval of at least [`LEVEL_INTERVAL`].
    ///
    /// An interval interrupted by a pause of more than one [`LEVEL_INTERVAL`] (the client
    /// muted, stopped sending) is discarded instead of reported late, and a new one starts.
    pub(crate) fn observe(&mut self, level_dbov: u8, now: Instant) -> Option<f32> {
        let started = match self.started {
            Some(started) if now.saturating_duration_since(started) <= 2 * LEVEL_INTERVAL => {
                started
            }
            _ => {
                self.started = Some(now);
                self.sum = 0.0;
                self.packets = 0;
                now
            }
        };
        self.sum += dbov_to_linear(level_dbov);
        self.packets += 1;
        if now.saturating_duration_since(started) < LEVEL_INTERVAL {
            return None;
        }
        let level = interval_level(self.sum, self.packets);
        self.started = Some(now);
        self.sum = 0.0;
        self.packets = 0;
        Some(level)
    }
}

/// The reported level of an interval: the mean linear amplitude, 0.0 under [`SILENCE_FLOOR`].
fn interval_level(sum: f32, packets: u32) -> f32 {
    if packets == 0 {
        return 0.0;
    }
    // Precision: `packets` is at most a few hundred per interval.
    #[allow(clippy::cast_precision_loss)]
    let mean = sum / packets as f32;
    if mean < SILENCE_FLOOR {
        0.0
    } else {
        mean.min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use rtc::rtp::header::Extension;

    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn dbov_converts_to_linear_amplitude() {
        assert!(close(dbov_to_linear(0), 1.0));
        assert!(close(dbov_to_linear(6), 0.501_187));
        assert!(close(dbov_to_linear(20), 0.1));
        assert!(close(dbov_to_linear(40), 0.01));
        assert!(dbov_to_linear(127) < 1e-6);
        assert!(close(dbov_to_linear(255), dbov_to_linear(127)));
    }

    #[test]
    fn payload_byte_splits_into_level_and_voice_flag() {
        assert_eq!(parse_audio_level(&[0x00]), Some((0, false)));
        assert_eq!(parse_audio_level(&[0x7f]), Some((127, false)));
        assert_eq!(parse_audio_level(&[0x80 | 30]), Some((30, true)));
        // Two-byte header form: level byte plus padding.
        assert_eq!(parse_audio_level(&[0x80 | 5, 0x00]), Some((5, true)));
        assert_eq!(parse_audio_level(&[]), None);
    }

    #[test]
    fn extension_is_found_by_negotiated_id() {
        let mut header = Header {
            extension: true,
            extensions: vec![
                Extension {
                    id: 3,
                    payload: Bytes::from_static(&[0x01, 0x02]),
                },
                Extension {
                    id: 1,
                    payload: Bytes::from_static(&[0x80 | 25]),
                },
            ],
            ..Default::default()
        };
        assert_eq!(read_audio_level(&header, 1), Some((25, true)));
        assert_eq!(read_audio_level(&header, 4), None);
        header.extension = false;
        assert_eq!(read_audio_level(&header, 1), None);
    }

    #[test]
    fn extension_survives_an_rtp_round_trip() {
        use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
        use rtc::rtp::packet::Packet;
        use rtc::shared::marshal::{Marshal, Unmarshal};

        let ext = AudioLevelExtension {
            level: 42,
            voice: true,
        };
        let mut packet = Packet {
            header: Header {
                version: 2,
                payload_type: 111,
                ..Default::default()
            },
            payload: Bytes::from_static(&[0xfc, 0xff, 0xfe]),
        };
        packet
            .header
            .set_extension(7, ext.marshal().expect("marshal").freeze())
            .expect("set extension");
        let wire = packet.marshal().expect("marshal packet");
        let parsed = Packet::unmarshal(&mut &wire[..]).expect("unmarshal packet");
        assert_eq!(read_audio_level(&parsed.header, 7), Some((42, true)));
        assert_eq!(read_audio_level(&parsed.header, 8), None);
    }

    #[test]
    fn meter_reports_mean_every_interval() {
        let t0 = Instant::now();
        let mut meter = AudioLevelMeter::default();
        let step = Duration::from_millis(20);
        let mut reports = Vec::new();
        // 1 s of packets alternating 0 dBov and 20 dBov -> mean (1.0 + 0.1) / 2.
        for i in 0..=50u32 {
            let level = if i % 2 == 0 { 0 } else { 20 };
            if let Some(reported) = meter.observe(level, t0 + step * i) {
                reports.push(reported);
            }
        }
        assert_eq!(reports.len(), 2, "{reports:?}");
        assert!(
            reports.iter().all(|r| (r - 0.55).abs() < 0.05),
            "{reports:?}"
        );
    }

    #[test]
    fn meter_floors_quiet_intervals_to_zero() {
        let t0 = Instant::now();
        let mut meter = AudioLevelMeter::default();
        let mut last = None;
        for i in 0..=25u32 {
            last = meter
                .observe(50, t0 + Duration::from_millis(20) * i)
                .or(last);
        }
        assert_eq!(last, Some(0.0));
        // A loud interval afterwards is reported as such.
        let t1 = t0 + Duration::from_millis(520);
        let mut loud = None;
        for i in 0..=25u32 {
            loud = meter
                .observe(0, t1 + Duration::from_millis(20) * i)
                .or(loud);
        }
        assert_eq!(loud, Some(1.0));
    }

    #[test]
    fn meter_discards_interval_interrupted_by_a_pause() {
        let t0 = Instant::now();
        let mut meter = AudioLevelMeter::default();
        assert_eq!(meter.observe(0, t0), None);
        // Silence on the wire for 3 s, then quiet packets: the loud one is not reported.
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(meter.observe(127, t1), None);
        assert_eq!(meter.observe(127, t1 + LEVEL_INTERVAL), Some(0.0));
    }

    #[test]
    fn empty_interval_is_silent() {
        assert!(close(interval_level(0.0, 0), 0.0));
    }
}
