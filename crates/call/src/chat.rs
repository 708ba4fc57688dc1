//! Chat over data messages, in the format of LiveKit's own components (`useChat` /
//! LiveKit Meet): a reliable data message on topic `lk-chat-topic` carrying JSON
//! `{"id": "...", "timestamp": <ms since epoch>, "message": "..."}`.

use convene_room::room::{DataKind, DataSendOptions};
use serde::{Deserialize, Serialize};

/// The topic LiveKit's chat components use.
pub const CHAT_TOPIC: &str = "lk-chat-topic";
/// The longest message we send (a reliable data message carries at most ~15 KiB).
pub const MAX_CHAT_CHARS: usize = 4_000;

/// One chat message as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
pub struct ChatMessage {
    /// Unique per message.
    pub id: String,
    /// When it was sent, milliseconds since the Unix epoch.
    #[cfg_attr(feature = "ui", specta(type = specta_typescript::Number))]
    pub timestamp: u64,
    /// The text.
    pub message: String,
}

impl ChatMessage {
    /// A new message with a fresh id, sent at `timestamp_ms`.
    pub fn new(text: &str, timestamp_ms: u64) -> Self {
        Self {
            id: format!("{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..)),
            timestamp: timestamp_ms,
            message: text.chars().take(MAX_CHAT_CHARS).collect(),
        }
    }

    /// The data message payload.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// How a chat message is sent: reliably, on [`CHAT_TOPIC`], to everyone.
    pub fn send_options() -> DataSendOptions {
        DataSendOptions {
            kind: DataKind::Reliable,
            topic: Some(CHAT_TOPIC.to_owned()),
            destination_identities: Vec::new(),
        }
    }

    /// Reads a payload; `None` for anything that is not a chat message (never an error: the
    /// network may send anything).
    pub fn decode(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice(payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_foreign_payloads_are_ignored() {
        let sent = ChatMessage::new("hello", 1_700_000_000_000);
        assert_eq!(ChatMessage::decode(&sent.encode()), Some(sent.clone()));
        let from_components = br#"{"id":"abc","timestamp":1,"message":"hi","ignored":true}"#;
        assert_eq!(
            ChatMessage::decode(from_components).map(|m| m.message),
            Some("hi".to_owned())
        );
        assert_eq!(ChatMessage::decode(b"not json"), None);
        assert_eq!(ChatMessage::decode(br#"{"message": 3}"#), None);
        assert_ne!(ChatMessage::new("a", 0).id, ChatMessage::new("a", 0).id);
        assert_eq!(
            ChatMessage::new(&"x".repeat(10_000), 0).message.len(),
            MAX_CHAT_CHARS
        );
    }
}
