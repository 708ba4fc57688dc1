//! The LiveKit wire edge: decoding client requests and building server responses. Only this
//! module and the session touch `livekit_protocol` message plumbing.

use livekit_protocol as lk;
use prost::Message;

pub use lk::signal_request::Message as Request;
pub use lk::signal_response::Message as Response;

/// Why a client frame was refused (logged; the connection stays up).
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The bytes are not a `SignalRequest` protobuf.
    #[error("undecodable SignalRequest: {0}")]
    Undecodable(#[from] prost::DecodeError),
    /// A valid protobuf with no (or an unknown) message variant.
    #[error("SignalRequest without a known message")]
    Empty,
}

/// Decodes one binary WebSocket frame into the client's request.
pub fn decode_request(bytes: &[u8]) -> Result<Request, WireError> {
    lk::SignalRequest::decode(bytes)?
        .message
        .ok_or(WireError::Empty)
}

/// Encodes one server message as a binary WebSocket frame.
pub fn encode_response(message: Response) -> Vec<u8> {
    lk::SignalResponse {
        message: Some(message),
    }
    .encode_to_vec()
}

/// `leave` telling the client why it is being disconnected and what to do next.
pub fn leave(reason: lk::DisconnectReason, action: lk::leave_request::Action) -> Response {
    Response::Leave(lk::LeaveRequest {
        can_reconnect: action != lk::leave_request::Action::Disconnect,
        reason: reason as i32,
        action: action as i32,
        regions: None,
    })
}

/// A participant update carrying full snapshots of `participants`.
pub fn participant_update(participants: Vec<lk::ParticipantInfo>) -> Response {
    Response::Update(lk::ParticipantUpdate { participants })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_empty_frames_are_errors_not_panics() {
        assert!(matches!(
            decode_request(&[0xff, 0xff, 0xff]),
            Err(WireError::Undecodable(_))
        ));
        assert!(matches!(decode_request(&[]), Err(WireError::Empty)));
        let ping = lk::SignalRequest {
            message: Some(Request::Ping(42)),
        }
        .encode_to_vec();
        assert!(matches!(decode_request(&ping), Ok(Request::Ping(42))));
    }

    /// A bounded, seeded stand-in for the fuzz target (fuzz/fuzz_targets/signal_request.rs):
    /// random bytes and bit-flipped valid requests never panic the decoder.
    #[test]
    fn random_and_mutated_frames_never_panic() {
        let mut rng = fastrand::Rng::with_seed(0x00c0_ffee);
        let valid = lk::SignalRequest {
            message: Some(Request::AddTrack(lk::AddTrackRequest {
                cid: "camera".into(),
                name: "cam".into(),
                r#type: 99,
                source: 42,
                width: 640,
                ..Default::default()
            })),
        }
        .encode_to_vec();
        for round in 0..20_000 {
            let frame: Vec<u8> = if round % 2 == 0 {
                (0..rng.usize(0..256)).map(|_| rng.u8(..)).collect()
            } else {
                let mut mutated = valid.clone();
                for _ in 0..rng.usize(1..4) {
                    let at = rng.usize(..mutated.len());
                    mutated[at] ^= 1 << rng.u8(0..8);
                }
                mutated
            };
            let _ = decode_request(&frame);
        }
    }
}
