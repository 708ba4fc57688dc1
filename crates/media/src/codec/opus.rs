//! Opus at 48 kHz in 20 ms frames, as WebRTC and LiveKit use it (libopus 1.6 through the
//! `opus` crate, built from source with CMake, so every machine runs the same codec).

use std::time::Duration;

use bytes::Bytes;
use opus::{Application, Bitrate, Channels};

use super::CodecError;

/// The only sample rate WebRTC's Opus uses on the wire.
pub const SAMPLE_RATE: u32 = 48_000;
/// The frame length we encode.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);
/// Samples per channel in one frame.
pub const FRAME_SAMPLES: usize = 960;
/// Largest packet we accept from the encoder (Opus packets for 20 ms are far smaller).
const MAX_PACKET: usize = 4_000;

/// How to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// 1 (mono) or 2 (stereo).
    pub channels: u8,
    /// Target bitrate in bits per second.
    pub bitrate: i32,
    /// Send nothing (but keep-alives) during silence.
    pub dtx: bool,
    /// In-band forward error correction, for lossy networks.
    pub fec: bool,
}

impl Default for OpusSettings {
    /// Mono speech at 32 kbit/s with FEC and without DTX (LiveKit's defaults).
    fn default() -> Self {
        Self {
            channels: 1,
            bitrate: 32_000,
            dtx: false,
            fec: true,
        }
    }
}

fn channels(count: u8) -> Channels {
    if count >= 2 {
        Channels::Stereo
    } else {
        Channels::Mono
    }
}

/// Encodes 20 ms frames of interleaved `f32` samples into Opus packets.
pub struct OpusEncoder {
    encoder: opus::Encoder,
    channels: usize,
}

impl OpusEncoder {
    /// An encoder with `settings`.
    pub fn new(settings: OpusSettings) -> Result<Self, CodecError> {
        let mut encoder =
            opus::Encoder::new(SAMPLE_RATE, channels(settings.channels), Application::Voip)?;
        encoder.set_bitrate(Bitrate::Bits(settings.bitrate))?;
        encoder.set_inband_fec(settings.fec)?;
        encoder.set_dtx(settings.dtx)?;
        if settings.fec {
            encoder.set_packet_loss_perc(10)?;
        }
        Ok(Self {
            encoder,
            channels: usize::from(settings.channels.clamp(1, 2)),
        })
    }

    /// Samples (all channels) one call to [`OpusEncoder::encode`] takes.
    pub fn frame_len(&self) -> usize {
        FRAME_SAMPLES * self.channels
    }

    /// Changes the target bitrate while running (e.g. following the network estimate).
    pub fn set_bitrate(&mut self, bits_per_second: i32) -> Result<(), CodecError> {
        Ok(self.encoder.set_bitrate(Bitrate::Bits(bits_per_second))?)
    }

    /// Encodes exactly one frame ([`OpusEncoder::frame_len`] samples, interleaved).
    pub fn encode(&mut self, frame: &[f32]) -> Result<Bytes, CodecError> {
        if frame.len() != self.frame_len() {
            return Err(CodecError::FrameSize {
                expected: self.frame_len(),
                actual: frame.len(),
            });
        }
        Ok(Bytes::from(
            self.encoder.encode_vec_float(frame, MAX_PACKET)?,
        ))
    }
}

/// Decodes Opus packets into interleaved `f32` samples.
pub struct OpusDecoder {
    decoder: opus::Decoder,
    channels: usize,
    buffer: Vec<f32>,
}

impl OpusDecoder {
    /// A decoder producing `channels` (1 or 2) channels at 48 kHz.
    pub fn new(channel_count: u8) -> Result<Self, CodecError> {
        let channels_usize = usize::from(channel_count.clamp(1, 2));
        Ok(Self {
            decoder: opus::Decoder::new(SAMPLE_RATE, channels(channel_count))?,
            channels: channels_usize,
            // 120 ms is the longest Opus packet.
            buffer: vec![0.0; 5_760 * channels_usize],
        })
    }

    /// Decodes one packet; an empty `packet` conceals one lost 20 ms frame.
    pub fn decode(&mut self, packet: &[u8]) -> Result<&[f32], CodecError> {
        let samples = if packet.is_empty() {
            let frame = FRAME_SAMPLES * self.channels;
            self.decoder
                .decode_float(&[], &mut self.buffer[..frame], false)?
        } else {
            self.decoder.decode_float(packet, &mut self.buffer, false)?
        };
        Ok(&self.buffer[..samples * self.channels])
    }

    /// Recovers the frame *before* `next_packet` from the forward error correction that
    /// `next_packet` carries (falls back to concealment when it carries none). Used by the
    /// playout buffer when one packet is missing but the one after it has arrived.
    pub fn decode_fec(&mut self, next_packet: &[u8]) -> Result<&[f32], CodecError> {
        let frame = FRAME_SAMPLES * self.channels;
        let samples = self
            .decoder
            .decode_float(next_packet, &mut self.buffer[..frame], true)?;
        Ok(&self.buffer[..samples * self.channels])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;
    use crate::synthetic::{OPUS_SILENCE_FRAME, SineTone};

    #[test]
    fn a_tone_survives_encode_and_decode_at_its_frequency() {
        let mut tone = SineTone::new(440.0, SAMPLE_RATE, 0.5);
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        let mut decoder = OpusDecoder::new(1).expect("decoder");
        let mut frame = vec![0.0; encoder.frame_len()];
        let mut decoded = Vec::new();
        for _ in 0..50 {
            tone.fill(&mut frame);
            let packet = encoder.encode(&frame).expect("encode");
            assert!(packet.len() < 400, "20 ms at 32 kbit/s is about 80 bytes");
            decoded.extend_from_slice(decoder.decode(&packet).expect("decode"));
        }
        assert_eq!(decoded.len(), 50 * FRAME_SAMPLES);
        // Skip the codec's warm-up, then measure.
        let hz = dominant_frequency(&decoded[9_600..], SAMPLE_RATE);
        assert!((hz - 440.0).abs() < 5.0, "measured {hz} Hz");
    }

    #[test]
    fn the_silence_frame_decodes_to_silence_and_bad_input_is_an_error() {
        let mut decoder = OpusDecoder::new(1).expect("decoder");
        let samples = decoder.decode(&OPUS_SILENCE_FRAME).expect("decode");
        assert_eq!(samples.len(), FRAME_SAMPLES);
        assert!(samples.iter().all(|s| s.abs() < 1e-3));
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        assert!(matches!(
            encoder.encode(&[0.0; 100]),
            Err(CodecError::FrameSize { .. })
        ));
        assert_eq!(
            decoder.decode(&[]).expect("concealment").len(),
            FRAME_SAMPLES
        );
    }
}
