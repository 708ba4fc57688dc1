//! Join authorisation: the token from `access_token` or `Authorization: Bearer`, verified
//! like livekit-server, with its refusals mapped to the same HTTP statuses and texts.

use convene_rtc::token::TokenInfo;
use convene_rtc::token::{Token, TokenError};

use crate::config::DevServerConfig;

/// Why a join was refused; each maps to an HTTP status and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// `Authorization` present but not `Bearer <token>`.
    #[error("invalid authorization header. Must start with Bearer ")]
    BadHeader,
    /// No token at all.
    #[error("no permissions to access the room")]
    NoToken,
    /// The token failed verification.
    #[error("invalid authorization token: {0}")]
    InvalidToken(TokenError),
    /// The token's API key is not ours.
    #[error("invalid API key")]
    UnknownApiKey,
    /// The token grants no room join (or no room).
    #[error("no permissions to access the room")]
    NoPermission,
    /// The token names no identity.
    #[error("identity cannot be empty")]
    NoIdentity,
}

impl AuthError {
    /// The HTTP status livekit-server answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NoIdentity => 400,
            _ => 401,
        }
    }
}

/// Picks the token from the `Authorization` header (wins) or the `access_token` parameter.
pub fn token_from(header: Option<&str>, query: Option<&str>) -> Result<Token, AuthError> {
    match (header, query) {
        (Some(value), _) => value
            .strip_prefix("Bearer ")
            .map(Token::new)
            .ok_or(AuthError::BadHeader),
        (None, Some(value)) if !value.is_empty() => Ok(Token::new(value)),
        _ => Err(AuthError::NoToken),
    }
}

/// Verifies `token` at `now` (Unix seconds) against the server's key and secret.
pub fn authorize(
    token: &Token,
    config: &DevServerConfig,
    now: u64,
) -> Result<TokenInfo, AuthError> {
    TokenInfo::verify(token, &config.api_key, &config.api_secret, now).map_err(|e| match e {
        TokenError::UnknownApiKey => AuthError::UnknownApiKey,
        TokenError::NoRoomJoinGrant | TokenError::NoRoom => AuthError::NoPermission,
        TokenError::NoIdentity => AuthError::NoIdentity,
        other => AuthError::InvalidToken(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_rtc::token::AccessToken;

    #[test]
    fn header_wins_and_must_be_bearer() {
        assert_eq!(
            token_from(Some("Bearer abc"), Some("x")).unwrap().expose(),
            "abc"
        );
        assert_eq!(
            token_from(Some("Basic abc"), None),
            Err(AuthError::BadHeader)
        );
        assert_eq!(token_from(None, Some("q")).unwrap().expose(), "q");
        assert_eq!(token_from(None, None), Err(AuthError::NoToken));
    }

    #[test]
    fn refusals_map_to_livekit_statuses() {
        let config = DevServerConfig::default();
        let now = 1_800_000_000;
        let expired = AccessToken::new("devkey", "secret")
            .identity("a")
            .room_join("r")
            .ttl_secs(10)
            .sign(now - 3600)
            .unwrap();
        let error = authorize(&expired, &config, now).unwrap_err();
        assert!(matches!(
            error,
            AuthError::InvalidToken(TokenError::Expired { .. })
        ));
        assert_eq!(error.status(), 401);
        let foreign = AccessToken::new("other", "secret")
            .identity("a")
            .room_join("r")
            .sign(now)
            .unwrap();
        assert_eq!(
            authorize(&foreign, &config, now),
            Err(AuthError::UnknownApiKey)
        );
    }
}
