//! What a tester needs to see about the connection right now: which path each peer
//! connection uses (candidate types and protocols), round-trip time, and per RTP stream the
//! packets, loss and jitter. Read from the peer connections' W3C stats ([`Room::stats`]);
//! bitrates come from two readings (see [`TransportStats::bitrates_since`]).
//!
//! [`Room::stats`]: crate::Room::stats

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde::Serialize;
use webrtc::peer_connection::{RTCStatsReport, RTCStatsReportEntry};

use crate::webrtc_kit::candidate::candidate_stats;
use crate::webrtc_kit::turn_tunnel::TurnTunnels;

/// Both peer connections of a room (LiveKit's v0 "dual PC"); `None` while not connected.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStats {
    /// When read, milliseconds since the Unix epoch.
    #[cfg_attr(feature = "ui", specta(type = specta_typescript::Number))]
    pub taken_at_ms: u64,
    /// The connection we send on.
    pub publisher: Option<TransportStats>,
    /// The connection we receive on.
    pub subscriber: Option<TransportStats>,
}

/// One peer connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TransportStats {
    /// The candidate pair in use; `None` before ICE selects one.
    pub path: Option<CandidatePath>,
    /// Round-trip time of the pair in use (STUN consent checks), milliseconds.
    pub round_trip_ms: Option<f64>,
    /// Bytes sent on the pair in use.
    #[cfg_attr(feature = "ui", specta(type = specta_typescript::Number))]
    pub bytes_sent: u64,
    /// Bytes received on the pair in use.
    #[cfg_attr(feature = "ui", specta(type = specta_typescript::Number))]
    pub bytes_received: u64,
    /// Every RTP stream, sent and received.
    pub streams: Vec<StreamStats>,
}

/// The two ends of the candidate pair in use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct CandidatePath {
    /// Ours.
    pub local: Candidate,
    /// The server's; `None` when webrtc-rs does not list it (it often leaves out the remote
    /// candidate of the pair in use, e.g. one learned from a connectivity check).
    pub remote: Option<Candidate>,
}

/// One ICE candidate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// `host`, `srflx`, `prflx` or `relay`.
    pub kind: String,
    /// `udp` or `tcp` (between the two candidates).
    pub protocol: String,
    /// For a relay candidate, how we reach the TURN server: `udp`, `tcp` or `tls`.
    pub relay_protocol: Option<String>,
    /// IP address.
    pub address: String,
    /// Port.
    pub port: u16,
}

/// Sent or received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// We send it.
    Outbound,
    /// We receive it.
    Inbound,
}

/// One RTP stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct StreamStats {
    /// Sent or received.
    pub direction: Direction,
    /// `audio` or `video`.
    pub kind: String,
    /// The stream's SSRC.
    pub ssrc: u32,
    /// Packets sent or received.
    #[cfg_attr(feature = "ui", specta(type = specta_typescript::Number))]
    pub packets: u64,
    /// Payload bytes sent or received.
    #[cfg_attr(feature = "ui", specta(type = specta_typescript::Number))]
    pub bytes: u64,
    /// Received: packets lost (from sequence numbers). Sent: as the receiver reported.
    #[cfg_attr(feature = "ui", specta(type = Option<specta_typescript::Number>))]
    pub packets_lost: Option<i64>,
    /// Sent: the share of packets the receiver reported lost in its last report.
    pub fraction_lost: Option<f64>,
    /// Received: interarrival jitter, milliseconds.
    pub jitter_ms: Option<f64>,
    /// Sent: round-trip time from the receiver's reports, milliseconds.
    pub round_trip_ms: Option<f64>,
    /// Video: pictures per second.
    pub frames_per_second: Option<f64>,
}

/// Bits per second sent and received between two readings of the same connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Bitrates {
    /// Sent, bits per second.
    pub sent: f64,
    /// Received, bits per second.
    pub received: f64,
}

impl TransportStats {
    /// Reads a peer connection's report; a relay candidate gathered through one of `tunnels`'
    /// stand-ins reports the tunnel's protocol (`tcp` or `tls`), not the stand-in's `udp`.
    pub(crate) fn from_report(report: &RTCStatsReport, tunnels: Option<&TurnTunnels>) -> Self {
        let pair = report
            .transport()
            .and_then(|transport| report.get(&transport.selected_candidate_pair_id))
            .and_then(|entry| match entry {
                RTCStatsReportEntry::IceCandidatePair(pair) => Some(pair),
                _ => None,
            })
            .or_else(|| report.candidate_pairs().find(|pair| pair.nominated));
        let candidate = |id: &str| {
            candidate_stats(report, id).map(|candidate| Candidate {
                kind: candidate.candidate_type.to_string(),
                protocol: candidate.protocol.to_lowercase(),
                relay_protocol: tunnels
                    .and_then(|tunnels| tunnels.transport_of_url(&candidate.url))
                    .map(|transport| transport.name().to_owned())
                    .or_else(|| relay_protocol(&candidate.relay_protocol)),
                address: candidate.address.clone().unwrap_or_default(),
                port: candidate.port,
            })
        };
        let path = pair.and_then(|pair| {
            Some(CandidatePath {
                local: candidate(&pair.local_candidate_id)?,
                remote: candidate(&pair.remote_candidate_id),
            })
        });
        let mut streams = Vec::new();
        for entry in report.iter() {
            match entry {
                RTCStatsReportEntry::OutboundRtp(out) => {
                    let sent = &out.sent_rtp_stream_stats;
                    let stream = &sent.rtp_stream_stats;
                    let remote = report.get(&out.remote_id).and_then(|entry| match entry {
                        RTCStatsReportEntry::RemoteInboundRtp(remote) => Some(remote),
                        _ => None,
                    });
                    streams.push(StreamStats {
                        direction: Direction::Outbound,
                        kind: stream.kind.to_string(),
                        ssrc: stream.ssrc,
                        packets: sent.packets_sent,
                        bytes: sent.bytes_sent,
                        packets_lost: remote.map(|r| r.received_rtp_stream_stats.packets_lost),
                        fraction_lost: remote.map(|r| r.fraction_lost),
                        jitter_ms: None,
                        round_trip_ms: remote
                            .filter(|r| r.round_trip_time_measurements > 0)
                            .map(|r| r.round_trip_time * 1000.0),
                        frames_per_second: video_rate(stream.kind, out.frames_per_second),
                    });
                }
                RTCStatsReportEntry::InboundRtp(inbound) => {
                    let received = &inbound.received_rtp_stream_stats;
                    let stream = &received.rtp_stream_stats;
                    streams.push(StreamStats {
                        direction: Direction::Inbound,
                        kind: stream.kind.to_string(),
                        ssrc: stream.ssrc,
                        packets: received.packets_received,
                        bytes: inbound.bytes_received,
                        packets_lost: Some(received.packets_lost),
                        fraction_lost: None,
                        jitter_ms: Some(jitter_ms(stream.kind, received.jitter)),
                        round_trip_ms: None,
                        frames_per_second: video_rate(stream.kind, inbound.frames_per_second),
                    });
                }
                _ => {}
            }
        }
        streams.sort_by_key(|s| (s.direction == Direction::Inbound, s.kind.clone(), s.ssrc));
        Self {
            path,
            round_trip_ms: pair
                .filter(|pair| pair.current_round_trip_time > 0.0)
                .map(|pair| pair.current_round_trip_time * 1000.0),
            bytes_sent: pair.map_or(0, |pair| pair.bytes_sent),
            bytes_received: pair.map_or(0, |pair| pair.bytes_received),
            streams,
        }
    }

    /// The bitrates since `earlier`, a reading `seconds` before this one.
    pub fn bitrates_since(&self, earlier: &TransportStats, seconds: f64) -> Bitrates {
        if seconds <= 0.0 {
            return Bitrates::default();
        }
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 * 8.0 / seconds;
        Bitrates {
            sent: rate(self.bytes_sent, earlier.bytes_sent),
            received: rate(self.bytes_received, earlier.bytes_received),
        }
    }
}

fn relay_protocol(
    protocol: &rtc::peer_connection::transport::RTCIceServerTransportProtocol,
) -> Option<String> {
    let name = serde_json::to_value(protocol).ok()?;
    name.as_str()
        .filter(|name| !name.is_empty() && !name.eq_ignore_ascii_case("unspecified"))
        .map(str::to_owned)
}

/// webrtc-rs 0.21 reports jitter in RTP timestamp units although the W3C says seconds:
/// divide by the clock rate (Opus 48 kHz, video 90 kHz).
fn jitter_ms(kind: RtpCodecKind, jitter: f64) -> f64 {
    let clock_rate = if kind == RtpCodecKind::Video {
        90_000.0
    } else {
        48_000.0
    };
    jitter / clock_rate * 1000.0
}

fn video_rate(kind: RtpCodecKind, rate: f64) -> Option<f64> {
    (kind == RtpCodecKind::Video).then_some(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_converted_from_clock_units_to_milliseconds() {
        assert!((jitter_ms(RtpCodecKind::Video, 180.0) - 2.0).abs() < 1e-9);
        assert!((jitter_ms(RtpCodecKind::Audio, 96.0) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn bitrates_come_from_two_readings() {
        let earlier = TransportStats {
            bytes_sent: 1_000,
            bytes_received: 10_000,
            ..TransportStats::default()
        };
        let later = TransportStats {
            bytes_sent: 126_000,
            bytes_received: 260_000,
            ..TransportStats::default()
        };
        let rates = later.bitrates_since(&earlier, 2.0);
        assert_eq!(rates.sent, 500_000.0);
        assert_eq!(rates.received, 1_000_000.0);
        assert_eq!(later.bitrates_since(&earlier, 0.0), Bitrates::default());
    }
}
