//! LiveKit data packets: what `send_data` puts on the wire and what arrives as
//! [`DataMessage`]s.

use livekit_protocol as lk;
use prost::Message as _;

/// Which data channel carries a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum DataKind {
    /// `_reliable`: ordered, retransmitted (chat, control).
    Reliable,
    /// `_lossy`: unordered, never retransmitted (frequent state whose latest value matters).
    Lossy,
}

impl DataKind {
    /// The data channel label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Reliable => "_reliable",
            Self::Lossy => "_lossy",
        }
    }

    /// From a data channel label; `None` for other channels (e.g. `_data_track`).
    pub fn from_label(label: &str) -> Option<Self> {
        match label {
            "_reliable" => Some(Self::Reliable),
            "_lossy" => Some(Self::Lossy),
            _ => None,
        }
    }
}

/// How to send a data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSendOptions {
    /// Reliable or lossy.
    pub kind: DataKind,
    /// An application topic receivers can filter on.
    pub topic: Option<String>,
    /// Only these identities receive it; empty means everyone else in the room.
    pub destination_identities: Vec<String>,
}

impl Default for DataSendOptions {
    fn default() -> Self {
        Self {
            kind: DataKind::Reliable,
            topic: None,
            destination_identities: Vec::new(),
        }
    }
}

/// The most bytes one data message may carry (what LiveKit's JS client allows, below the
/// SCTP message size every peer accepts).
pub const MAX_DATA_PAYLOAD: usize = 64_000 - 1_000;

/// A user data message from another participant (or the server).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct DataMessage {
    /// The bytes sent.
    pub payload: Vec<u8>,
    /// The sender's topic, if any.
    pub topic: Option<String>,
    /// Which channel it came on.
    pub kind: DataKind,
    /// The sender's identity; `None` when sent by the server or a hidden participant.
    pub from_identity: Option<String>,
}

/// Encodes a user packet the way the official clients do (identity filled in both places,
/// destinations mirrored, a per-sender sequence on reliable packets).
pub(crate) fn encode_user_packet(
    identity: &str,
    sid: &str,
    sequence: u32,
    payload: &[u8],
    options: &DataSendOptions,
) -> Vec<u8> {
    #[allow(deprecated)]
    let user = lk::UserPacket {
        participant_sid: sid.to_owned(),
        participant_identity: identity.to_owned(),
        payload: payload.to_vec(),
        destination_identities: options.destination_identities.clone(),
        topic: options.topic.clone(),
        ..Default::default()
    };
    #[allow(deprecated)]
    let packet = lk::DataPacket {
        kind: match options.kind {
            DataKind::Reliable => lk::data_packet::Kind::Reliable as i32,
            DataKind::Lossy => lk::data_packet::Kind::Lossy as i32,
        },
        participant_identity: identity.to_owned(),
        participant_sid: sid.to_owned(),
        destination_identities: options.destination_identities.clone(),
        sequence: if options.kind == DataKind::Reliable {
            sequence
        } else {
            0
        },
        value: Some(lk::data_packet::Value::User(user)),
    };
    packet.encode_to_vec()
}

/// Why a received data-channel message was not a data packet.
#[derive(Debug, thiserror::Error)]
#[error("undecodable data packet: {0}")]
pub struct DataDecodeError(#[from] prost::DecodeError);

/// Decodes a received message; `Ok(None)` for packets that are not user data (chat, RPC,
/// streams and metrics are not surfaced yet).
pub(crate) fn decode_user_packet(
    bytes: &[u8],
    kind: DataKind,
) -> Result<Option<DataMessage>, DataDecodeError> {
    let packet = lk::DataPacket::decode(bytes)?;
    let Some(lk::data_packet::Value::User(user)) = packet.value else {
        return Ok(None);
    };
    #[allow(deprecated)]
    let identity = if packet.participant_identity.is_empty() {
        user.participant_identity
    } else {
        packet.participant_identity
    };
    Ok(Some(DataMessage {
        payload: user.payload,
        topic: user.topic,
        kind,
        from_identity: (!identity.is_empty()).then_some(identity),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_user_packet() {
        let options = DataSendOptions {
            kind: DataKind::Reliable,
            topic: Some("chat".into()),
            destination_identities: vec!["bob".into()],
        };
        let bytes = encode_user_packet("alice", "PA_1", 7, b"hi", &options);
        let decoded = decode_user_packet(&bytes, DataKind::Reliable)
            .ok()
            .flatten();
        assert_eq!(
            decoded,
            Some(DataMessage {
                payload: b"hi".to_vec(),
                topic: Some("chat".into()),
                kind: DataKind::Reliable,
                from_identity: Some("alice".into()),
            })
        );
        let packet = lk::DataPacket::decode(bytes.as_slice()).ok();
        assert_eq!(packet.map(|p| p.sequence), Some(7));
    }

    #[test]
    fn rejects_garbage_and_skips_other_packets() {
        assert!(decode_user_packet(&[0xff, 0xff, 0xff], DataKind::Lossy).is_err());
        let other = lk::DataPacket {
            value: Some(lk::data_packet::Value::ChatMessage(
                lk::ChatMessage::default(),
            )),
            ..Default::default()
        }
        .encode_to_vec();
        assert!(matches!(
            decode_user_packet(&other, DataKind::Reliable),
            Ok(None)
        ));
    }
}
