//! The SFU's codec setup: the shared table from `convene_rtc::webrtc_kit::codecs` (Opus
//! 111, VP8 96, H.264 108, explicit to avoid webrtc-rs's default-table answer bug), with the
//! per-PC choices of the SFU.

use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::media_engine::MediaEngine;

pub(crate) use convene_rtc::webrtc_kit::codecs::codec_for_mime;
use convene_rtc::webrtc_kit::codecs::{AudioLevels, ReceiverReports};

use super::error::MediaError;
use super::events::PcTarget;

/// The media engine and interceptors for one of a participant's PCs.
///
/// The publisher PC (the client's publishing side; we receive) negotiates the RFC 6464
/// audio-level extension, so [`super::audio_level`] can read speaking levels, and sends no
/// receiver reports (see [`ReceiverReports::Omit`]: simulcast layers must survive
/// renegotiation). The subscriber PC (we send forwarded packets, which carry no
/// extensions) leaves the extension out of its offers.
pub(crate) fn media_engine_and_registry(
    target: PcTarget,
) -> Result<(MediaEngine, Registry), MediaError> {
    let (levels, reports) = match target {
        PcTarget::Publisher => (AudioLevels::Negotiate, ReceiverReports::Omit),
        PcTarget::Subscriber => (AudioLevels::Omit, ReceiverReports::Send),
    };
    Ok(convene_rtc::webrtc_kit::codecs::media_engine_and_registry(
        levels, reports,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_build_for_both_pcs() {
        assert!(media_engine_and_registry(PcTarget::Publisher).is_ok());
        assert!(media_engine_and_registry(PcTarget::Subscriber).is_ok());
    }
}
