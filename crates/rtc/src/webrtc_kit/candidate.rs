//! `RTCIceCandidateInit` JSON in and out, as LiveKit's `TrickleRequest.candidateInit` has it.

use rtc::statistics::stats::ice_candidate::RTCIceCandidateStats;
use webrtc::peer_connection::{
    RTCIceCandidate, RTCIceCandidateInit, RTCStatsReport, RTCStatsReportEntry,
};

/// Serializes a local candidate for trickling.
///
/// Emits exactly `{"candidate": "candidate:...", "sdpMid": <mid>, "sdpMLineIndex": 0}`.
/// webrtc-rs's own `to_json` gives `sdpMid: ""`; LiveKit's Rust SDK requires a string and
/// browsers match candidates by mid, so `first_mid` (the mid of the first m-section of our
/// local description; with BUNDLE one transport serves all of them) is filled in. Returns
/// `None` if webrtc-rs cannot render the candidate.
pub fn local_candidate_json(candidate: &RTCIceCandidate, first_mid: &str) -> Option<String> {
    let init = candidate.to_json().ok()?;
    let value = serde_json::json!({
        "candidate": init.candidate,
        "sdpMid": first_mid,
        "sdpMLineIndex": 0,
    });
    Some(value.to_string())
}

/// Parses a candidate trickled by the other side.
///
/// Accepts the browser/SDK JSON (`candidate`, `sdpMid`, `sdpMLineIndex`, optional
/// `usernameFragment`; missing or null fields are tolerated). Returns `Ok(None)` for an
/// empty `candidate` string (an end-of-candidates marker, nothing to add).
pub fn parse_remote_candidate(
    json: &str,
) -> Result<Option<RTCIceCandidateInit>, serde_json::Error> {
    let init: RTCIceCandidateInit = serde_json::from_str(json)?;
    if init.candidate.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(init))
}

/// The mid of the first m-section of an SDP (`a=mid:` line), or `"0"` if it has none.
pub fn first_mid(sdp: &str) -> String {
    sdp.lines()
        .find_map(|line| line.trim_end().strip_prefix("a=mid:"))
        .map(str::to_owned)
        .unwrap_or_else(|| "0".to_owned())
}

/// A candidate of a stats report by the id its pair names. webrtc-rs 0.21.1 names the
/// candidates in a pair "candidate:…" but files them as "RTCLocalIceCandidate_candidate:…" /
/// "RTCRemoteIceCandidate_candidate:…".
pub fn candidate_stats<'a>(
    report: &'a RTCStatsReport,
    id: &str,
) -> Option<&'a RTCIceCandidateStats> {
    let entry = report
        .get(id)
        .or_else(|| report.get(&format!("RTCLocalIceCandidate_{id}")))
        .or_else(|| report.get(&format!("RTCRemoteIceCandidate_{id}")))?;
    match entry {
        RTCStatsReportEntry::LocalCandidate(candidate)
        | RTCStatsReportEntry::RemoteCandidate(candidate) => Some(candidate),
        _ => None,
    }
}

/// Most remote candidates kept while the remote description is missing; a peer sends a
/// handful (one per interface and protocol), so more means something is wrong.
const MAX_EARLY_CANDIDATES: usize = 64;

/// Remote candidates that arrive before the remote description (LiveKit trickles without
/// waiting), held until it is set. A std mutex, never held across an await.
#[derive(Debug, Default)]
pub struct EarlyCandidates {
    state: std::sync::Mutex<(bool, Vec<RTCIceCandidateInit>)>,
}

impl EarlyCandidates {
    /// Holds `candidate` if no remote description is set yet (returns `None`), or hands it
    /// back to be added now.
    pub fn hold_or_pass(&self, candidate: RTCIceCandidateInit) -> Option<RTCIceCandidateInit> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.0 {
            return Some(candidate);
        }
        if state.1.len() < MAX_EARLY_CANDIDATES {
            state.1.push(candidate);
        } else {
            tracing::warn!("too many early candidates, dropping one");
        }
        None
    }

    /// The remote description is set: returns the held candidates, and passes later ones.
    pub fn remote_set(&self) -> Vec<RTCIceCandidateInit> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.0 = true;
        std::mem::take(&mut state.1)
    }

    /// Hold candidates again until the next remote description (around an ICE restart).
    pub fn hold_until_next_remote(&self) {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0 = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_browser_candidate_json() {
        let json = r#"{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}"#;
        let parsed = parse_remote_candidate(json).ok().flatten();
        let Some(init) = parsed else {
            panic!("candidate not parsed");
        };
        assert_eq!(init.sdp_mid.as_deref(), Some("0"));
        assert_eq!(init.sdp_mline_index, Some(0));
        assert_eq!(init.username_fragment.as_deref(), Some("abcd"));
    }

    #[test]
    fn tolerates_null_fields_and_empty_candidates() {
        let json = r#"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":null}"#;
        assert!(matches!(parse_remote_candidate(json), Ok(Some(_))));
        assert!(matches!(
            parse_remote_candidate(r#"{"candidate":"","sdpMid":"0","sdpMLineIndex":0}"#),
            Ok(None)
        ));
        assert!(parse_remote_candidate("not json").is_err());
    }

    #[test]
    fn finds_first_mid() {
        let sdp =
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a0\r\nm=video 9 x 96\r\na=mid:1\r\n";
        assert_eq!(first_mid(sdp), "a0");
        assert_eq!(first_mid("v=0\r\n"), "0");
    }
}
