//! The reconnection state machine: resume first, then full reconnects, paced by a
//! [`ReconnectPolicy`], until the connection is back or the policy gives up.
//!
//! Sans-IO: every input carries `now`, every output is a [`Step`] for the engine to carry
//! out, and [`Reconnector::deadline`] says when to call [`Reconnector::poll`] next.

use std::time::{Duration, Instant};

use super::policy::ReconnectPolicy;
use crate::room::events::ReconnectKind;

/// What was noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossCause {
    /// The signaling WebSocket closed or failed.
    SignalClosed,
    /// Nothing arrived on the signaling connection for the server's ping timeout.
    PingTimeout,
    /// A peer connection we need reached `failed`.
    TransportFailed,
    /// The operating system reported a network change (interface or address).
    NetworkChanged,
    /// The server sent `leave{action: RESUME}`.
    ServerRequestedResume,
    /// The server sent `leave{action: RECONNECT}`.
    ServerRequestedReconnect,
}

/// Why an attempt did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptFailure {
    /// The server could not be reached (the network may still be down): try the same kind
    /// of attempt again after the next delay.
    Unreachable(String),
    /// The server would not resume this session (a `leave` instead of a `reconnect`
    /// answer), or media did not come back: continue with full reconnects.
    ResumeRejected(String),
    /// The server refuses the token: trying again cannot help.
    Permanent(String),
}

impl AttemptFailure {
    fn message(&self) -> &str {
        match self {
            Self::Unreachable(m) | Self::ResumeRejected(m) | Self::Permanent(m) => m,
        }
    }
}

/// What the engine must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Tell the application a resume is being attempted (`Reconnecting(Resume)`).
    AnnounceResume,
    /// Tear down the session and tell the application, in this order: every other participant
    /// disconnected, each own track unpublished, `Reconnecting(Full)`.
    AnnounceFull,
    /// Start an attempt now: open the signaling connection (resuming or joining afresh).
    Attempt {
        /// Resume or full.
        kind: ReconnectKind,
        /// 0-based attempt number.
        attempt: u32,
    },
    /// The connection is back: tell the application (`Reconnected`); after a full
    /// reconnect, announce the participants present and republish own tracks.
    Reconnected {
        /// How it came back.
        kind: ReconnectKind,
    },
    /// Stop: disconnect with this reason.
    GiveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last_error: String,
        /// The token was refused (not a network problem).
        token_rejected: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting before the attempt.
    Waiting { until: Instant },
    /// Signaling connection being opened.
    Connecting { deadline: Instant },
    /// Signaling is back; waiting for the peer connections.
    Settling { deadline: Instant },
}

#[derive(Debug, Clone)]
struct Recovery {
    kind: ReconnectKind,
    attempt: u32,
    phase: Phase,
    announced_full: bool,
}

/// Drives one connection's recovery. Idle while connected.
pub struct Reconnector {
    policy: Box<dyn ReconnectPolicy>,
    connect_timeout: Duration,
    media_timeout: Duration,
    recovery: Option<Recovery>,
}

impl Reconnector {
    /// A machine with `policy`. An attempt's signaling phase fails after `connect_timeout`,
    /// its media phase after `media_timeout` (the official clients wait 15 s for the PCs).
    pub fn new(
        policy: Box<dyn ReconnectPolicy>,
        connect_timeout: Duration,
        media_timeout: Duration,
    ) -> Self {
        Self {
            policy,
            connect_timeout,
            media_timeout,
            recovery: None,
        }
    }

    /// True while recovering.
    pub fn is_recovering(&self) -> bool {
        self.recovery.is_some()
    }

    /// The kind of the current attempt, while recovering.
    pub fn kind(&self) -> Option<ReconnectKind> {
        self.recovery.as_ref().map(|r| r.kind)
    }

    /// When [`Reconnector::poll`] must be called next, if at all.
    pub fn deadline(&self) -> Option<Instant> {
        self.recovery.as_ref().map(|r| match r.phase {
            Phase::Waiting { until } => until,
            Phase::Connecting { deadline } | Phase::Settling { deadline } => deadline,
        })
    }

    /// The connection was lost (or the server asked to reconnect).
    pub fn lost(&mut self, now: Instant, cause: LossCause) -> Vec<Step> {
        let Some(recovery) = self.recovery.as_mut() else {
            let kind = if cause == LossCause::ServerRequestedReconnect {
                ReconnectKind::Full
            } else {
                ReconnectKind::Resume
            };
            let announce = match kind {
                ReconnectKind::Resume => Step::AnnounceResume,
                ReconnectKind::Full => Step::AnnounceFull,
            };
            self.recovery = Some(Recovery {
                kind,
                attempt: 0,
                phase: Phase::Waiting { until: now },
                announced_full: kind == ReconnectKind::Full,
            });
            let mut steps = vec![announce];
            steps.extend(self.schedule(now, 0, Duration::ZERO));
            return steps;
        };
        match cause {
            LossCause::ServerRequestedReconnect => {
                let attempt = recovery.attempt + 1;
                let mut steps = Vec::new();
                if !recovery.announced_full {
                    recovery.announced_full = true;
                    steps.push(Step::AnnounceFull);
                }
                recovery.kind = ReconnectKind::Full;
                steps.extend(self.schedule(now, attempt, Duration::ZERO));
                steps
            }
            // The network is back (or different): no point waiting any longer, and an
            // attempt in flight was started on the old network (its SYNs or ICE checks may
            // be lost for seconds): start it again now, without counting it.
            LossCause::NetworkChanged => {
                let attempt = recovery.attempt;
                self.schedule(now, attempt, Duration::ZERO)
            }
            // Already recovering; the current attempt's own failure will follow.
            _ => Vec::new(),
        }
    }

    /// The attempt's signaling connection is up (resumed or joined); media is next.
    pub fn signal_connected(&mut self, now: Instant) {
        if let Some(recovery) = self.recovery.as_mut()
            && matches!(recovery.phase, Phase::Connecting { .. })
        {
            recovery.phase = Phase::Settling {
                deadline: now + self.media_timeout,
            };
        }
    }

    /// The peer connections we need are connected again.
    pub fn media_connected(&mut self, _now: Instant) -> Vec<Step> {
        match &self.recovery {
            Some(recovery) if matches!(recovery.phase, Phase::Settling { .. }) => {
                let kind = recovery.kind;
                self.recovery = None;
                vec![Step::Reconnected { kind }]
            }
            _ => Vec::new(),
        }
    }

    /// The current attempt failed.
    pub fn attempt_failed(&mut self, now: Instant, failure: AttemptFailure) -> Vec<Step> {
        let Some(recovery) = self.recovery.as_mut() else {
            return Vec::new();
        };
        let attempt = recovery.attempt + 1;
        if let AttemptFailure::Permanent(message) = failure {
            self.recovery = None;
            return vec![Step::GiveUp {
                attempts: attempt,
                last_error: message,
                token_rejected: true,
            }];
        }
        let mut steps = Vec::new();
        if recovery.kind == ReconnectKind::Resume
            && matches!(failure, AttemptFailure::ResumeRejected(_))
        {
            recovery.kind = ReconnectKind::Full;
            if !recovery.announced_full {
                recovery.announced_full = true;
                steps.push(Step::AnnounceFull);
            }
        }
        match self.policy.next_delay(attempt) {
            Some(delay) => steps.extend(self.schedule(now, attempt, delay)),
            None => {
                self.recovery = None;
                steps.push(Step::GiveUp {
                    attempts: attempt,
                    last_error: failure.message().to_owned(),
                    token_rejected: false,
                });
            }
        }
        steps
    }

    /// Time passed: start a due attempt, or fail one that ran out of time.
    pub fn poll(&mut self, now: Instant) -> Vec<Step> {
        let Some(recovery) = &self.recovery else {
            return Vec::new();
        };
        match recovery.phase {
            Phase::Waiting { until } if now >= until => {
                let attempt = recovery.attempt;
                self.schedule(now, attempt, Duration::ZERO)
            }
            Phase::Connecting { deadline } if now >= deadline => self.attempt_failed(
                now,
                AttemptFailure::Unreachable("the server did not answer in time".into()),
            ),
            Phase::Settling { deadline } if now >= deadline => self.attempt_failed(
                now,
                AttemptFailure::ResumeRejected("media did not reconnect in time".into()),
            ),
            _ => Vec::new(),
        }
    }

    /// Stop recovering (the application disconnected).
    pub fn cancel(&mut self) {
        self.recovery = None;
    }

    fn schedule(&mut self, now: Instant, attempt: u32, delay: Duration) -> Vec<Step> {
        let Some(recovery) = self.recovery.as_mut() else {
            return Vec::new();
        };
        recovery.attempt = attempt;
        if delay.is_zero() {
            recovery.phase = Phase::Connecting {
                deadline: now + self.connect_timeout,
            };
            vec![Step::Attempt {
                kind: recovery.kind,
                attempt,
            }]
        } else {
            recovery.phase = Phase::Waiting { until: now + delay };
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::reconnect::DefaultReconnectPolicy;

    const CONNECT: Duration = Duration::from_secs(10);
    const MEDIA: Duration = Duration::from_secs(15);

    fn machine() -> Reconnector {
        Reconnector::new(
            Box::new(DefaultReconnectPolicy::without_jitter()),
            CONNECT,
            MEDIA,
        )
    }

    /// Advances virtual time to each deadline in turn, failing every attempt with `failure`
    /// the moment it starts, and records the times attempts started.
    fn run_to_give_up(
        reconnector: &mut Reconnector,
        start: Instant,
        failure: &AttemptFailure,
    ) -> (Vec<Duration>, Vec<Step>) {
        let mut now = start;
        let mut starts = Vec::new();
        let mut steps = reconnector.lost(now, LossCause::SignalClosed);
        let mut all = steps.clone();
        for _ in 0..100 {
            if steps.iter().any(|s| matches!(s, Step::Attempt { .. })) {
                starts.push(now - start);
                steps = reconnector.attempt_failed(now, failure.clone());
                all.extend(steps.clone());
                continue;
            }
            if steps.iter().any(|s| matches!(s, Step::GiveUp { .. })) {
                break;
            }
            let Some(deadline) = reconnector.deadline() else {
                break;
            };
            now = deadline;
            steps = reconnector.poll(now);
            all.extend(steps.clone());
        }
        (starts, all)
    }

    #[test]
    fn resume_succeeds_first_time() {
        let mut r = machine();
        let t0 = Instant::now();
        assert_eq!(
            r.lost(t0, LossCause::PingTimeout),
            vec![
                Step::AnnounceResume,
                Step::Attempt {
                    kind: ReconnectKind::Resume,
                    attempt: 0
                }
            ]
        );
        r.signal_connected(t0 + Duration::from_millis(50));
        assert_eq!(r.deadline(), Some(t0 + Duration::from_millis(50) + MEDIA));
        assert_eq!(
            r.media_connected(t0 + Duration::from_secs(1)),
            vec![Step::Reconnected {
                kind: ReconnectKind::Resume
            }]
        );
        assert!(!r.is_recovering());
        assert_eq!(r.deadline(), None);
    }

    #[test]
    fn unreachable_server_is_retried_on_the_official_schedule_then_given_up() {
        let mut r = machine();
        let t0 = Instant::now();
        let (starts, steps) =
            run_to_give_up(&mut r, t0, &AttemptFailure::Unreachable("down".into()));
        let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
        // Delays 0, .3, 1.2, 2.7, 4.8, 7, 7, 7, 7, 7 s, cumulative.
        assert_eq!(
            ms,
            [
                0, 300, 1_500, 4_200, 9_000, 16_000, 23_000, 30_000, 37_000, 44_000
            ]
        );
        // Unreachable never escalates: every attempt is a resume.
        assert!(!steps.contains(&Step::AnnounceFull));
        assert_eq!(
            steps.last(),
            Some(&Step::GiveUp {
                attempts: 10,
                last_error: "down".into(),
                token_rejected: false
            })
        );
        assert!(!r.is_recovering());
    }

    #[test]
    fn rejected_resume_escalates_to_full_once_in_the_documented_order() {
        let mut r = machine();
        let t0 = Instant::now();
        r.lost(t0, LossCause::SignalClosed);
        let t1 = t0 + Duration::from_millis(20);
        assert_eq!(
            r.attempt_failed(t1, AttemptFailure::ResumeRejected("leave".into())),
            vec![Step::AnnounceFull]
        );
        // Attempt 1 waits 300 ms, then is a full reconnect.
        assert_eq!(r.deadline(), Some(t1 + Duration::from_millis(300)));
        assert_eq!(r.poll(t1 + Duration::from_millis(299)), vec![]);
        assert_eq!(
            r.poll(t1 + Duration::from_millis(300)),
            vec![Step::Attempt {
                kind: ReconnectKind::Full,
                attempt: 1
            }]
        );
        // A second failure does not announce again.
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(
            r.attempt_failed(t2, AttemptFailure::ResumeRejected("again".into())),
            vec![]
        );
        assert_eq!(
            r.poll(t2 + Duration::from_millis(1_200)),
            vec![Step::Attempt {
                kind: ReconnectKind::Full,
                attempt: 2
            }]
        );
        r.signal_connected(t2 + Duration::from_millis(1_300));
        assert_eq!(
            r.media_connected(t2 + Duration::from_millis(1_500)),
            vec![Step::Reconnected {
                kind: ReconnectKind::Full
            }]
        );
    }

    #[test]
    fn server_requested_reconnect_goes_straight_to_full_without_waiting() {
        let mut r = machine();
        let t0 = Instant::now();
        assert_eq!(
            r.lost(t0, LossCause::ServerRequestedReconnect),
            vec![
                Step::AnnounceFull,
                Step::Attempt {
                    kind: ReconnectKind::Full,
                    attempt: 0
                }
            ]
        );
        // And during a resume, a RECONNECT leave escalates at once.
        let mut r = machine();
        r.lost(t0, LossCause::SignalClosed);
        assert_eq!(
            r.lost(t0, LossCause::ServerRequestedReconnect),
            vec![
                Step::AnnounceFull,
                Step::Attempt {
                    kind: ReconnectKind::Full,
                    attempt: 1
                }
            ]
        );
    }

    #[test]
    fn media_that_never_returns_fails_the_attempt_and_escalates() {
        let mut r = machine();
        let t0 = Instant::now();
        r.lost(t0, LossCause::TransportFailed);
        r.signal_connected(t0);
        assert_eq!(r.poll(t0 + MEDIA - Duration::from_millis(1)), vec![]);
        assert_eq!(r.poll(t0 + MEDIA), vec![Step::AnnounceFull]);
        assert_eq!(r.kind(), Some(ReconnectKind::Full));
    }

    #[test]
    fn a_hung_signal_connect_times_out_and_is_retried() {
        let mut r = machine();
        let t0 = Instant::now();
        r.lost(t0, LossCause::SignalClosed);
        assert_eq!(r.deadline(), Some(t0 + CONNECT));
        assert_eq!(r.poll(t0 + CONNECT), vec![]);
        assert_eq!(r.kind(), Some(ReconnectKind::Resume));
        assert_eq!(
            r.deadline(),
            Some(t0 + CONNECT + Duration::from_millis(300))
        );
    }

    #[test]
    fn a_network_change_skips_the_wait() {
        let mut r = machine();
        let t0 = Instant::now();
        r.lost(t0, LossCause::SignalClosed);
        r.attempt_failed(t0, AttemptFailure::Unreachable("down".into()));
        r.attempt_failed(t0, AttemptFailure::Unreachable("down".into()));
        assert_eq!(r.deadline(), Some(t0 + Duration::from_millis(1_200)));
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(
            r.lost(t1, LossCause::NetworkChanged),
            vec![Step::Attempt {
                kind: ReconnectKind::Resume,
                attempt: 2
            }]
        );
    }

    #[test]
    fn a_network_change_restarts_an_attempt_in_flight() {
        let mut r = machine();
        let t0 = Instant::now();
        r.lost(t0, LossCause::NetworkChanged);
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(
            r.lost(t1, LossCause::NetworkChanged),
            vec![Step::Attempt {
                kind: ReconnectKind::Resume,
                attempt: 0
            }]
        );
        assert_eq!(r.deadline(), Some(t1 + CONNECT));
        // Also while media is settling: the ICE restart ran on the old network.
        r.signal_connected(t1);
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(
            r.lost(t2, LossCause::NetworkChanged),
            vec![Step::Attempt {
                kind: ReconnectKind::Resume,
                attempt: 0
            }]
        );
        assert_eq!(r.deadline(), Some(t2 + CONNECT));
    }

    #[test]
    fn a_refused_token_stops_at_once() {
        let mut r = machine();
        let t0 = Instant::now();
        r.lost(t0, LossCause::SignalClosed);
        assert_eq!(
            r.attempt_failed(t0, AttemptFailure::Permanent("expired".into())),
            vec![Step::GiveUp {
                attempts: 1,
                last_error: "expired".into(),
                token_rejected: true
            }]
        );
        assert!(!r.is_recovering());
    }

    #[test]
    fn a_custom_policy_decides_when_to_stop() {
        let mut r = Reconnector::new(
            Box::new(DefaultReconnectPolicy::with_delays(vec![
                Duration::ZERO,
                Duration::from_millis(100),
            ])),
            CONNECT,
            MEDIA,
        );
        let (starts, steps) = run_to_give_up(
            &mut r,
            Instant::now(),
            &AttemptFailure::Unreachable("x".into()),
        );
        assert_eq!(starts.len(), 2);
        assert!(matches!(
            steps.last(),
            Some(Step::GiveUp { attempts: 2, .. })
        ));
    }
}
