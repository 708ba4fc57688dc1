//! Encoders and decoders: Opus today (VP8 and H.264 follow, see the media issue).

pub mod opus;

/// Why a codec operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// libopus refused an operation (bad frame size, corrupt packet, …).
    #[error("opus: {0}")]
    Opus(#[from] ::opus::Error),
    /// The input is not one whole frame of the configured size.
    #[error("expected {expected} samples per frame, got {actual}")]
    FrameSize {
        /// Samples (all channels) the encoder needs.
        expected: usize,
        /// Samples given.
        actual: usize,
    },
}
