//! The join screen's backend: checking what the user typed before any connection is tried.
//!
//! Both checks run on every edit, so they are pure and cheap. The token is decoded with
//! jsonwebtoken without its signature (the client has no secret; the server verifies it).

pub mod commands;
pub mod deep_link;

use convene_room::{ServerUrl, Token, TokenInfo};
use serde::Serialize;

use crate::error::UiError;

/// What the join screen shows about a pasted token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TokenSummary {
    /// The room the token admits to.
    pub room: String,
    /// The participant identity.
    pub identity: String,
    /// The display name (may be empty).
    pub name: String,
    /// Expiry, seconds since the Unix epoch.
    #[specta(type = Option<specta_typescript::Number>)]
    pub expires_at: Option<u64>,
    /// True when the token has already expired: the UI flags it and refuses to join.
    pub expired: bool,
}

/// Normalises a typed server address (`https://` becomes `wss://`, trailing `/` dropped).
pub fn check_server_url(text: &str) -> Result<String, UiError> {
    Ok(ServerUrl::parse(text)?.to_string())
}

/// Reads a pasted token at `now` (seconds since the Unix epoch).
pub fn summarize_token(text: &str, now: u64) -> Result<TokenSummary, UiError> {
    let info = TokenInfo::inspect(&Token::new(text))?;
    Ok(TokenSummary {
        expired: info.is_expired(now),
        room: info.room,
        identity: info.identity,
        name: info.name,
        expires_at: info.expires_at,
    })
}

/// Checks both fields for a join at `now`: the URL must parse and the token must be
/// readable and unexpired. Returns the normalised URL and the token's summary.
pub fn prepare_join(url: &str, token: &str, now: u64) -> Result<(String, TokenSummary), UiError> {
    let url = check_server_url(url)?;
    let summary = summarize_token(token, now)?;
    if summary.expired {
        return Err(UiError::InvalidToken {
            message: "This token has expired: ask for a new one.".into(),
        });
    }
    Ok((url, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_room::AccessToken;

    #[test]
    fn summary_shows_room_identity_and_flags_expiry() {
        let token = AccessToken::new("devkey", "secret")
            .identity("alice")
            .room_join("standup")
            .ttl_secs(60)
            .sign(1_000)
            .unwrap();
        let fresh = summarize_token(token.expose(), 1_030).unwrap();
        assert_eq!(
            (fresh.room.as_str(), fresh.identity.as_str()),
            ("standup", "alice")
        );
        assert!(!fresh.expired);
        assert!(summarize_token(token.expose(), 1_061).unwrap().expired);
        assert!(prepare_join("ws://127.0.0.1:7880", token.expose(), 1_030).is_ok());
        assert!(matches!(
            prepare_join("ws://127.0.0.1:7880", token.expose(), 1_061),
            Err(UiError::InvalidToken { .. })
        ));
    }

    #[test]
    fn non_jwt_text_is_an_invalid_token_error() {
        assert!(matches!(
            summarize_token("not a token", 0),
            Err(UiError::InvalidToken { .. })
        ));
        assert!(matches!(
            check_server_url("example.com"),
            Err(UiError::InvalidServerUrl { .. })
        ));
    }
}
