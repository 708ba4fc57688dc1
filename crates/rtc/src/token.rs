//! LiveKit access tokens: HS256 JWTs naming the room and the participant's identity.
//!
//! Three jobs, one module:
//! - [`AccessToken`] creates tokens (the local room and tests sign their own, like
//!   `livekit-server --dev` with key `devkey` / secret `secret`);
//! - [`TokenInfo::inspect`] reads a pasted token *without* the secret, so the join screen can
//!   show the room and identity and flag expiry before connecting (the server still checks
//!   the signature);
//! - [`TokenInfo::verify`] checks signature, key, time window and room grant, as a server must.
//!
//! Time is always an input (`now`, seconds since the Unix epoch) so expiry is testable.
//! A token is a secret: [`Token`] never prints its value.

use std::collections::BTreeMap;
use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp` and `nbf`, as LiveKit's verifier does.
pub const CLOCK_LEEWAY_SECS: u64 = 60;
/// Validity of a token created without an explicit TTL (the official SDKs' default).
pub const DEFAULT_TTL_SECS: u64 = 6 * 60 * 60;

/// An encoded access token. Its `Debug` and `Display` never show the value, so it can sit
/// in structs that get logged; call [`Token::expose`] only where the bytes go on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps an encoded JWT (whitespace around it is dropped).
    pub fn new(encoded: impl AsRef<str>) -> Self {
        Self(encoded.as_ref().trim().to_owned())
    }

    /// The encoded JWT, for the `access_token` query parameter or `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted token]")
    }
}

/// The `video` grant of a LiveKit token: which room, and what the participant may do there.
/// Absent permissions default as the server defaults them (publish and subscribe allowed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoGrant {
    /// May join the room named in `room`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub room_join: bool,
    /// The room this token admits to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub room: String,
    /// May publish tracks (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_publish: Option<bool>,
    /// May subscribe to others' tracks (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_subscribe: Option<bool>,
    /// May send data messages (default: same as `can_publish`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_publish_data: Option<bool>,
    /// Hidden from other participants.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

impl VideoGrant {
    /// A grant to join `room` with the default permissions.
    pub fn join(room: impl Into<String>) -> Self {
        Self {
            room_join: true,
            room: room.into(),
            ..Self::default()
        }
    }

    /// Whether publishing is allowed, with the server's default applied.
    pub fn may_publish(&self) -> bool {
        self.can_publish.unwrap_or(true)
    }

    /// Whether subscribing is allowed, with the server's default applied.
    pub fn may_subscribe(&self) -> bool {
        self.can_subscribe.unwrap_or(true)
    }

    /// Whether data messages are allowed, with the server's default applied.
    pub fn may_publish_data(&self) -> bool {
        self.can_publish_data.unwrap_or_else(|| self.may_publish())
    }
}

/// The JSON claims of a LiveKit token (registered claims plus LiveKit's own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    #[serde(default)]
    iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    sub: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    metadata: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    video: Option<VideoGrant>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Nothing was given.
    #[error("paste an access token")]
    Empty,
    /// Not three base64url parts separated by dots.
    #[error("this is not a JWT access token (expected three parts separated by dots)")]
    NotAJwt,
    /// A JWT, but its header or claims cannot be read.
    #[error("the token cannot be read: {0}")]
    Malformed(String),
    /// Signed with something other than HS256, which LiveKit rejects.
    #[error("the token uses {0}; LiveKit tokens are signed with HS256")]
    UnsupportedAlgorithm(String),
    /// The token names an API key the server does not know.
    #[error("invalid API key")]
    UnknownApiKey,
    /// The signature does not match the secret.
    #[error("invalid authorization token: signature mismatch")]
    BadSignature,
    /// `exp` lies in the past (beyond the leeway).
    #[error("the token expired at {expired_at} (Unix time)")]
    Expired {
        /// The token's `exp` claim.
        expired_at: u64,
    },
    /// `nbf` lies in the future (beyond the leeway).
    #[error("the token is not valid before {not_before} (Unix time)")]
    NotYetValid {
        /// The token's `nbf` claim.
        not_before: u64,
    },
    /// No `exp` claim; current servers require one.
    #[error("the token has no expiry (exp); create one with a TTL")]
    MissingExpiry,
    /// No `video` grant with `roomJoin`, so it admits to no room.
    #[error("the token does not grant joining a room (video.roomJoin)")]
    NoRoomJoinGrant,
    /// `roomJoin` is granted but no room is named.
    #[error("the token names no room (video.room)")]
    NoRoom,
    /// Neither `sub` nor `jti` gives an identity.
    #[error("the token names no participant identity (sub)")]
    NoIdentity,
}

/// What a token says, as shown on the join screen and checked by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The API key that signed it (`iss`); not a secret.
    pub api_key: String,
    /// The participant identity (`sub`, or `jti` when `sub` is empty).
    pub identity: String,
    /// The display name, if any.
    pub name: String,
    /// The room it admits to.
    pub room: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: Option<u64>,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: Option<u64>,
    /// The room grant.
    pub grant: VideoGrant,
}

impl TokenInfo {
    /// Reads a token without checking its signature: for showing what a pasted token says.
    /// Refuses text that is not a JWT or does not name a room and an identity.
    pub fn inspect(token: &Token) -> Result<Self, TokenError> {
        let encoded = shape_checked(token)?;
        let data = jsonwebtoken::dangerous::insecure_decode::<Claims>(encoded)
            .map_err(|e| TokenError::Malformed(e.to_string()))?;
        if data.header.alg != Algorithm::HS256 {
            return Err(TokenError::UnsupportedAlgorithm(format!(
                "{:?}",
                data.header.alg
            )));
        }
        Self::from_claims(data.claims)
    }

    /// Verifies a token as a LiveKit server does: HS256 only, `iss` must be `api_key`, the
    /// signature must match `api_secret`, `now` must lie in `[nbf, exp]` (with
    /// [`CLOCK_LEEWAY_SECS`]), and the `video` grant must admit to a named room.
    pub fn verify(
        token: &Token,
        api_key: &str,
        api_secret: &str,
        now: u64,
    ) -> Result<Self, TokenError> {
        let unverified = Self::inspect(token)?;
        if unverified.api_key != api_key {
            return Err(TokenError::UnknownApiKey);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Time claims are checked below against the caller's clock, not the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        let key = DecodingKey::from_secret(api_secret.as_bytes());
        jsonwebtoken::decode::<Claims>(token.expose(), &key, &validation).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed(e.to_string()),
            }
        })?;
        unverified.check_time(now)?;
        Ok(unverified)
    }

    /// Checks the validity window at `now` (seconds since the Unix epoch).
    pub fn check_time(&self, now: u64) -> Result<(), TokenError> {
        let expires_at = self.expires_at.ok_or(TokenError::MissingExpiry)?;
        if now > expires_at.saturating_add(CLOCK_LEEWAY_SECS) {
            return Err(TokenError::Expired {
                expired_at: expires_at,
            });
        }
        if let Some(not_before) = self.not_before
            && now.saturating_add(CLOCK_LEEWAY_SECS) < not_before
        {
            return Err(TokenError::NotYetValid { not_before });
        }
        Ok(())
    }

    /// True when the token has expired at `now` (no leeway: the UI warns early).
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|exp| now >= exp)
    }

    fn from_claims(claims: Claims) -> Result<Self, TokenError> {
        let grant = claims.video.ok_or(TokenError::NoRoomJoinGrant)?;
        if !grant.room_join {
            return Err(TokenError::NoRoomJoinGrant);
        }
        if grant.room.is_empty() {
            return Err(TokenError::NoRoom);
        }
        let identity = if claims.sub.is_empty() {
            claims.jti
        } else {
            claims.sub
        };
        if identity.is_empty() {
            return Err(TokenError::NoIdentity);
        }
        Ok(Self {
            api_key: claims.iss,
            identity,
            name: claims.name,
            room: grant.room.clone(),
            expires_at: claims.exp,
            not_before: claims.nbf,
            grant,
        })
    }
}

fn shape_checked(token: &Token) -> Result<&str, TokenError> {
    let encoded = token.expose();
    if encoded.is_empty() {
        return Err(TokenError::Empty);
    }
    let parts: Vec<&str> = encoded.split('.').collect();
    let is_base64url = |part: &&str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
    };
    if parts.len() != 3 || !parts.iter().all(is_base64url) {
        return Err(TokenError::NotAJwt);
    }
    Ok(encoded)
}

/// Builds and signs a LiveKit access token, e.g. for the local room or a test participant.
///
/// ```
/// use convene_rtc::token::{AccessToken, Token, TokenInfo};
/// let now = 1_700_000_000;
/// let jwt = AccessToken::new("devkey", "secret")
///     .identity("alice")
///     .room_join("standup")
///     .sign(now)
///     .unwrap();
/// let info = TokenInfo::verify(&jwt, "devkey", "secret", now).unwrap();
/// assert_eq!((info.identity.as_str(), info.room.as_str()), ("alice", "standup"));
/// ```
#[derive(Debug, Clone)]
pub struct AccessToken {
    api_key: String,
    api_secret: Token,
    claims: Claims,
    ttl_secs: u64,
}

impl AccessToken {
    /// Starts a token signed by `api_key` / `api_secret`, valid for [`DEFAULT_TTL_SECS`].
    pub fn new(api_key: impl Into<String>, api_secret: impl AsRef<str>) -> Self {
        Self {
            api_key: api_key.into(),
            api_secret: Token::new(api_secret),
            claims: Claims::default(),
            ttl_secs: DEFAULT_TTL_SECS,
        }
    }

    /// Sets the participant identity (`sub`).
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.claims.sub = identity.into();
        self
    }

    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.claims.name = name.into();
        self
    }

    /// Grants joining `room` with default permissions.
    pub fn room_join(mut self, room: impl Into<String>) -> Self {
        self.claims.video = Some(VideoGrant::join(room));
        self
    }

    /// Replaces the whole room grant.
    pub fn grant(mut self, grant: VideoGrant) -> Self {
        self.claims.video = Some(grant);
        self
    }

    /// Sets how long the token stays valid from the moment it is signed.
    pub fn ttl_secs(mut self, ttl_secs: u64) -> Self {
        self.ttl_secs = ttl_secs;
        self
    }

    /// Signs the token at `now` (seconds since the Unix epoch): `nbf = iat = now`,
    /// `exp = now + ttl`.
    pub fn sign(self, now: u64) -> Result<Token, TokenError> {
        let mut claims = self.claims;
        claims.iss = self.api_key;
        claims.nbf = Some(now);
        claims.iat = Some(now);
        claims.exp = Some(now.saturating_add(self.ttl_secs));
        let key = EncodingKey::from_secret(self.api_secret.expose().as_bytes());
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
            .map(Token)
            .map_err(|e| TokenError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn alice_token(ttl: u64) -> Token {
        AccessToken::new("devkey", "secret")
            .identity("alice")
            .name("Alice")
            .room_join("standup")
            .ttl_secs(ttl)
            .sign(NOW)
            .unwrap()
    }

    #[test]
    fn inspect_reads_room_identity_and_expiry_without_the_secret() {
        let info = TokenInfo::inspect(&alice_token(600)).unwrap();
        assert_eq!(info.identity, "alice");
        assert_eq!(info.name, "Alice");
        assert_eq!(info.room, "standup");
        assert_eq!(info.api_key, "devkey");
        assert_eq!(info.expires_at, Some(NOW + 600));
        assert!(!info.is_expired(NOW + 599));
        assert!(info.is_expired(NOW + 600));
    }

    #[test]
    fn verify_accepts_the_right_secret_and_refuses_others() {
        let token = alice_token(600);
        assert!(TokenInfo::verify(&token, "devkey", "secret", NOW).is_ok());
        assert_eq!(
            TokenInfo::verify(&token, "devkey", "wrong", NOW),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            TokenInfo::verify(&token, "otherkey", "secret", NOW),
            Err(TokenError::UnknownApiKey)
        );
    }

    #[test]
    fn verify_enforces_the_time_window_with_leeway() {
        let token = alice_token(600);
        let expiry = NOW + 600;
        assert!(TokenInfo::verify(&token, "devkey", "secret", expiry + CLOCK_LEEWAY_SECS).is_ok());
        assert_eq!(
            TokenInfo::verify(&token, "devkey", "secret", expiry + CLOCK_LEEWAY_SECS + 1),
            Err(TokenError::Expired { expired_at: expiry })
        );
        assert_eq!(
            TokenInfo::verify(&token, "devkey", "secret", NOW - CLOCK_LEEWAY_SECS - 1),
            Err(TokenError::NotYetValid { not_before: NOW })
        );
    }

    #[test]
    fn text_that_is_not_a_jwt_is_refused_by_shape() {
        for text in ["", "hello", "a.b", "a.b.c.d", "a b.c.d", "abc..def"] {
            let err = TokenInfo::inspect(&Token::new(text)).unwrap_err();
            let expected = if text.is_empty() {
                TokenError::Empty
            } else {
                TokenError::NotAJwt
            };
            assert_eq!(err, expected, "for {text:?}");
        }
        assert!(matches!(
            TokenInfo::inspect(&Token::new("abc.def.ghi")),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn tokens_without_room_or_identity_are_refused() {
        let no_grant = AccessToken::new("k", "s")
            .identity("bob")
            .sign(NOW)
            .unwrap();
        assert_eq!(
            TokenInfo::inspect(&no_grant),
            Err(TokenError::NoRoomJoinGrant)
        );
        let no_identity = AccessToken::new("k", "s").room_join("r").sign(NOW).unwrap();
        assert_eq!(
            TokenInfo::inspect(&no_identity),
            Err(TokenError::NoIdentity)
        );
        let no_room = AccessToken::new("k", "s")
            .identity("bob")
            .grant(VideoGrant {
                room_join: true,
                ..VideoGrant::default()
            })
            .sign(NOW)
            .unwrap();
        assert_eq!(TokenInfo::inspect(&no_room), Err(TokenError::NoRoom));
    }

    #[test]
    fn permissions_default_like_the_server() {
        let grant = VideoGrant::join("r");
        assert!(grant.may_publish() && grant.may_subscribe() && grant.may_publish_data());
        let listener = VideoGrant {
            can_publish: Some(false),
            ..VideoGrant::join("r")
        };
        assert!(!listener.may_publish_data());
    }

    #[test]
    fn token_never_prints_its_value() {
        let token = alice_token(600);
        let shown = format!("{token} {token:?}");
        assert!(!shown.contains(token.expose()));
        assert!(shown.contains("redacted"));
    }
}
