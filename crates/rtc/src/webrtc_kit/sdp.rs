//! The little SDP reading Convene needs beyond webrtc-rs.

use std::collections::HashSet;

/// The msid track ids of the m-sections of `sdp` that send media (direction `sendrecv` or
/// `sendonly`, port not 0).
///
/// webrtc-rs 0.21.1 never ends a remote track when the remote stops sending on its m-line
/// (the core emits no track-close event), so the receiving side compares each new offer
/// against this set: the SFU to notice unpublished tracks, the client to notice ended
/// subscriptions. Reads both `a=msid:<stream> <track>` and
/// the legacy `a=ssrc:<n> msid:<stream> <track>` forms.
pub fn sending_track_ids(sdp: &str) -> HashSet<String> {
    let mut sending = HashSet::new();
    let mut section: Option<Section> = None;
    for line in sdp.lines().map(str::trim_end) {
        if let Some(media) = line.strip_prefix("m=") {
            if let Some(done) = section.take() {
                done.finish(&mut sending);
            }
            let port = media.split_whitespace().nth(1).unwrap_or("0");
            section = Some(Section {
                rejected: port == "0",
                sending: true,
                track_ids: Vec::new(),
            });
            continue;
        }
        let Some(current) = section.as_mut() else {
            continue;
        };
        match line {
            "a=sendrecv" | "a=sendonly" => current.sending = true,
            "a=recvonly" | "a=inactive" => current.sending = false,
            _ => {
                let msid = line.strip_prefix("a=msid:").or_else(|| {
                    line.strip_prefix("a=ssrc:")
                        .and_then(|rest| rest.split_once(" msid:"))
                        .map(|(_, msid)| msid)
                });
                if let Some(track) = msid.and_then(|m| m.split_whitespace().nth(1)) {
                    current.track_ids.push(track.to_owned());
                }
            }
        }
    }
    if let Some(done) = section {
        done.finish(&mut sending);
    }
    sending
}

struct Section {
    rejected: bool,
    sending: bool,
    track_ids: Vec<String>,
}

impl Section {
    fn finish(self, sending: &mut HashSet<String>) {
        if self.sending && !self.rejected {
            sending.extend(self.track_ids);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sending_sections_count() {
        let sdp = "v=0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=msid:s1 audio1\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=inactive\r\na=msid:s1 video1\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=ssrc:5 msid:s2 video2\r\n\
            m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:3\r\na=sendonly\r\na=msid:s3 video3\r\n\
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:4\r\n";
        let ids = sending_track_ids(sdp);
        let mut ids: Vec<_> = ids.into_iter().collect();
        ids.sort();
        assert_eq!(ids, ["audio1", "video2"]);
    }
}
