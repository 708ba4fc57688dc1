//! Server-side WebRTC for the SFU: one participant's two peer connections in LiveKit's
//! "v0 dual peer connection" mode, and the forwarding of published tracks to subscribers.
//!
//! The signaling session owns one [`ParticipantMedia`] per participant and relays SDP and
//! trickle between it and the client; [`MediaEvent`]s tell the session what to send. A track
//! published by one participant ([`MediaEvent::TrackReceived`]) is a [`PublishedTrack`] handle
//! that the session passes to [`ParticipantMedia::subscribe`] of the others.
//!
//! Built on webrtc-rs 0.21 (the async layer over the sans-IO `rtc` crate). Layout:
//! `codecs` (the shared codec table with the SFU's per-PC choices), `pc` (PC builder,
//! handler, candidate queue; trickle JSON and PLI/FIR surfacing come from
//! `convene_rtc::webrtc_kit`), `datachannel`, `publisher`,
//! `audio_level` (RFC 6464 levels for [`MediaEvent::AudioLevel`]), `subscriber`, `forward`
//! (fan-out + RTP rewriting), `participant` (the facade).
//!
//! Keyframes: subscribers' PLI/FIR are surfaced by an interceptor and relayed upstream as a
//! PLI (coalesced, at most one per 500 ms per track); a PLI is also sent when forwarding to a
//! subscriber starts. Simulcast: one layer per track is forwarded (the first to arrive, or
//! `q` once it arrives), with sequence numbers and timestamps rewritten so a switch is seamless.
//!
//! Audio levels: the publisher PC negotiates the RFC 6464 `ssrc-audio-level` header extension
//! and reports each audio track's level every 500 ms while it flows
//! ([`MediaEvent::AudioLevel`]), for LiveKit's `speakers_changed`.

mod audio_level;
mod codecs;
mod config;
mod datachannel;
mod error;
mod events;
mod forward;
mod participant;
mod pc;
mod publisher;
mod subscriber;

pub use config::MediaConfig;
pub use error::MediaError;
pub use events::{MediaEvent, MediaKind, PcTarget};
pub use forward::PublishedTrack;
pub use participant::ParticipantMedia;

/// A good capacity for the session's `MediaEvent` channel. Events other than
/// `DataReceived` are queued internally anyway, so this mainly bounds how many client data
/// messages can wait before the data-channel reader applies back-pressure.
pub const EVENT_CHANNEL_CAPACITY: usize = 256;
