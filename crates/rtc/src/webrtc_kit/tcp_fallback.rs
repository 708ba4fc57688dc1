//! Paths over TCP only when UDP does not connect ("happy eyeballs" for ICE), in LiveKit's
//! order: ICE over UDP, TURN over UDP, then ICE over TCP and TURN over TCP/TLS.
//!
//! The client gathers active TCP candidates alongside its UDP ones, but pairs can only form
//! with the server's passive TCP candidates, so those are held back: taken out of the remote
//! description and off the trickle. If the PC's ICE has not connected within the fallback
//! wait ([`fallback_wait`]: [`TCP_FALLBACK_AFTER`], plus the time a UDP pair may wait for
//! its nomination: a relay pair, or a peer-reflexive pair the server nominates) after a
//! remote description with new credentials, they are handed to the PC
//! and ICE/TCP competes; the [`TcpFallback::gate`] opens at the same moment, which lets the
//! TURN over TCP/TLS tunnels connect (`super::turn_tunnel`). When a UDP path works it has
//! already won by then, so a TCP pair is never nominated over it (with every candidate at
//! once, a TCP check that happens to succeed first under load can be nominated), and no
//! TCP/TLS connection to a TURN server is made for nothing.
//!
//! Each ICE restart (new remote `ice-ufrag`) starts over: a network that blocked UDP may have
//! been left for one that does not.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use webrtc::peer_connection::RTCIceCandidateInit;

/// How long UDP (host, server-reflexive and TURN/UDP pairs) has to connect before the
/// server's TCP candidates are added. A UDP path that works connects within a few round
/// trips; this is the extra join time on a network that blocks UDP.
pub const TCP_FALLBACK_AFTER: Duration = Duration::from_secs(1);

/// How long webrtc-rs waits before nominating a relay pair (its default relay acceptance
/// wait): with TURN over UDP configured, the TCP paths wait this much longer so a working
/// TURN/UDP relay is nominated first.
pub const RELAY_NOMINATION_WAIT: Duration = Duration::from_secs(2);

/// How long a controlling ICE agent in webrtc-rs (and pion) waits before nominating a pair
/// with a peer-reflexive candidate: the server, which controls our subscriber PC, often
/// learns our address from our checks before our trickled candidate arrives.
pub const PEER_REFLEXIVE_NOMINATION_WAIT: Duration = Duration::from_secs(1);

/// The fallback wait for a PC: longer when TURN over UDP may still connect, or when the
/// server nominates (`server_controls`: our subscriber PC) and may wait for a
/// peer-reflexive UDP pair.
pub fn fallback_wait(turn_over_udp: bool, server_controls: bool) -> Duration {
    let relay = if turn_over_udp {
        RELAY_NOMINATION_WAIT
    } else {
        Duration::ZERO
    };
    let peer_reflexive = if server_controls {
        PEER_REFLEXIVE_NOMINATION_WAIT
    } else {
        Duration::ZERO
    };
    TCP_FALLBACK_AFTER + relay.max(peer_reflexive)
}

/// The held TCP candidates of one PC. A std mutex, never held across an await.
#[derive(Debug)]
pub struct TcpFallback {
    state: Mutex<FallbackState>,
    /// True while TCP paths may be used (after the wait, until the next ICE restart).
    gate: watch::Sender<bool>,
}

impl Default for TcpFallback {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            gate: watch::channel(false).0,
        }
    }
}

#[derive(Debug, Default)]
struct FallbackState {
    /// Bumped for every new remote `ice-ufrag` (first description or ICE restart).
    generation: u64,
    remote_ufrag: Option<String>,
    /// TCP candidates pass straight to the PC (UDP did not connect in time).
    released: bool,
    held: Vec<RTCIceCandidateInit>,
}

/// Which hold period a remote description opened, to release exactly that one later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

/// A remote description with its TCP candidates taken out.
#[derive(Debug)]
pub struct FilteredDescription {
    /// The SDP to apply.
    pub sdp: String,
    /// Set when the description carries new ICE credentials: the wait for UDP starts over,
    /// and [`TcpFallback::release`] with this generation ends it.
    pub new_generation: Option<Generation>,
}

impl TcpFallback {
    /// Takes the TCP candidates out of a remote SDP (unless they are released for its ICE
    /// credentials) and notes whether the credentials are new.
    pub fn filter_description(&self, sdp: &str) -> FilteredDescription {
        let mut state = self.lock();
        let ufrag = sdp
            .lines()
            .find_map(|line| line.trim_end().strip_prefix("a=ice-ufrag:"))
            .map(str::to_owned);
        let mut new_generation = None;
        if ufrag.is_some() && ufrag != state.remote_ufrag {
            state.generation += 1;
            state.remote_ufrag = ufrag;
            state.released = false;
            state.held.clear();
            self.gate.send_replace(false);
            new_generation = Some(Generation(state.generation));
        }
        if state.released {
            return FilteredDescription {
                sdp: sdp.to_owned(),
                new_generation,
            };
        }
        let mut kept = String::with_capacity(sdp.len());
        let mut mid: Option<String> = None;
        let mut mline_index: Option<u16> = None;
        for line in sdp.split_inclusive('\n') {
            let content = line.trim_end();
            if content.starts_with("m=") {
                mline_index = Some(mline_index.map_or(0, |index| index + 1));
                mid = None;
            } else if let Some(value) = content.strip_prefix("a=mid:") {
                mid = Some(value.to_owned());
            } else if let Some(candidate) = content.strip_prefix("a=")
                && is_tcp_candidate(candidate)
            {
                state.held.push(RTCIceCandidateInit {
                    candidate: candidate.to_owned(),
                    sdp_mid: mid.clone(),
                    sdp_mline_index: mline_index,
                    ..RTCIceCandidateInit::default()
                });
                continue;
            }
            kept.push_str(line);
        }
        FilteredDescription {
            sdp: kept,
            new_generation,
        }
    }

    /// Holds a trickled TCP candidate (returns `None`) until released; hands back anything
    /// else to be added now.
    pub fn hold_or_pass(&self, candidate: RTCIceCandidateInit) -> Option<RTCIceCandidateInit> {
        if !is_tcp_candidate(&candidate.candidate) {
            return Some(candidate);
        }
        let mut state = self.lock();
        if state.released {
            return Some(candidate);
        }
        state.held.push(candidate);
        None
    }

    /// UDP did not connect in time for `generation`: from now on TCP candidates pass, and
    /// the held ones are returned to be added. Empty if a newer generation started meanwhile.
    pub fn release(&self, generation: Generation) -> Vec<RTCIceCandidateInit> {
        let mut state = self.lock();
        if state.generation != generation.0 {
            return Vec::new();
        }
        state.released = true;
        self.gate.send_replace(true);
        std::mem::take(&mut state.held)
    }

    /// Opens (true) when TCP paths may be used: TURN tunnels wait for it before connecting.
    /// Ends (the sender is gone) with the PC.
    pub fn gate(&self) -> watch::Receiver<bool> {
        self.gate.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FallbackState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether one of our own candidates is sent to the server: not the ICE-TCP ones. webrtc-rs
/// gathers a passive and an active one per TCP address. A server that connects actively (our
/// local server does) would reach a passive one over TCP at once, ahead of every UDP path (and
/// a client behind NAT could not accept it anyway); an active one tells the server nothing it
/// needs (it learns our address from the check on the connection we open) but gives its ICE
/// agent pairs it can never check, which held up its UDP checks in the lab. UDP candidates,
/// and relay ones, are sent.
pub fn is_sent_to_the_server(candidate: &str) -> bool {
    !is_tcp_candidate(candidate)
}

/// Whether `candidate` (`candidate:<foundation> <component> <transport> ...`, with or
/// without the `a=` of an SDP line) is an ICE-TCP candidate.
pub fn is_tcp_candidate(candidate: &str) -> bool {
    const PREFIX: &str = "candidate:";
    let candidate = candidate.trim();
    let Some(fields) = candidate
        .get(..PREFIX.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(PREFIX))
        .map(|_| &candidate[PREFIX.len()..])
    else {
        return false;
    };
    fields
        .split_whitespace()
        .nth(2)
        .is_some_and(|transport| transport.eq_ignore_ascii_case("tcp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UDP: &str = "candidate:1 1 udp 2130706431 10.0.0.1 50000 typ host";
    const TCP: &str = "candidate:2 1 tcp 1671430143 10.0.0.1 7881 typ host tcptype passive";

    fn offer(ufrag: &str) -> String {
        format!(
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:{ufrag}\r\na=mid:0\r\n\
             a={UDP}\r\na={TCP}\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n"
        )
    }

    fn trickled(candidate: &str) -> RTCIceCandidateInit {
        RTCIceCandidateInit {
            candidate: candidate.to_owned(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
            ..RTCIceCandidateInit::default()
        }
    }

    #[test]
    fn tcp_candidates_are_held_until_released_then_pass() {
        let fallback = TcpFallback::default();
        let filtered = fallback.filter_description(&offer("a"));
        assert!(filtered.sdp.contains(UDP));
        assert!(!filtered.sdp.contains(TCP));
        assert!(filtered.sdp.contains("m=video"));
        let generation = filtered.new_generation.expect("first credentials");

        assert!(fallback.hold_or_pass(trickled(UDP)).is_some());
        let late_tcp = TCP.replace("7881", "7882");
        assert!(fallback.hold_or_pass(trickled(&late_tcp)).is_none());

        let gate = fallback.gate();
        assert!(!*gate.borrow());
        let released = fallback.release(generation);
        assert!(*gate.borrow(), "TCP paths allowed now");
        assert_eq!(released.len(), 2);
        assert_eq!(released[0].candidate, TCP);
        assert_eq!(released[0].sdp_mid.as_deref(), Some("0"));
        assert_eq!(released[0].sdp_mline_index, Some(0));
        assert!(fallback.hold_or_pass(trickled(TCP)).is_some());

        // A renegotiation with the same credentials keeps TCP as it is.
        let again = fallback.filter_description(&offer("a"));
        assert!(again.new_generation.is_none());
        assert!(again.sdp.contains(TCP));
    }

    #[test]
    fn an_ice_restart_holds_tcp_again_and_a_stale_release_does_nothing() {
        let fallback = TcpFallback::default();
        let first = fallback
            .filter_description(&offer("a"))
            .new_generation
            .expect("first");
        let restart = fallback.filter_description(&offer("b"));
        let second = restart.new_generation.expect("new credentials");
        assert_ne!(first, second);
        assert!(fallback.release(first).is_empty());
        assert!(!*fallback.gate().borrow(), "a stale release opens nothing");
        assert!(fallback.hold_or_pass(trickled(TCP)).is_none());
        assert_eq!(fallback.release(second).len(), 2);
    }

    #[test]
    fn udp_paths_get_the_time_their_nomination_needs() {
        assert_eq!(fallback_wait(false, false), Duration::from_secs(1));
        assert_eq!(fallback_wait(false, true), Duration::from_secs(2));
        assert_eq!(fallback_wait(true, false), Duration::from_secs(3));
        assert_eq!(fallback_wait(true, true), Duration::from_secs(3));
    }

    #[test]
    fn our_tcp_candidates_stay_with_us() {
        assert!(!is_sent_to_the_server(TCP));
        let active = "candidate:3 1 tcp 1671430143 10.0.0.1 9 typ host tcptype active";
        assert!(!is_sent_to_the_server(active));
        assert!(is_sent_to_the_server(UDP));
    }

    #[test]
    fn only_the_transport_field_decides() {
        assert!(is_tcp_candidate(TCP));
        assert!(is_tcp_candidate(&format!("  {}", TCP.to_uppercase())));
        assert!(!is_tcp_candidate(UDP));
        assert!(!is_tcp_candidate("candidate:tcp 1 udp 1 tcp 9 typ host"));
        assert!(!is_tcp_candidate("not a candidate"));
    }
}
