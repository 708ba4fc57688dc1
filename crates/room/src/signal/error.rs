//! Why a connection attempt failed, each case distinguishable by the caller.

/// Why `connect` failed. The variants follow what LiveKit servers answer (and what the
/// official clients distinguish); messages are safe to show and never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// Nothing answered at that address (DNS failure, connection refused, network down).
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// The server answered 401: the token is invalid, expired or grants no room.
    #[error("the server refused the token: {0}")]
    Unauthorized(String),
    /// The server answered 403: the token is valid but lacks a permission.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The server answered 404 for the room (auto-create disabled).
    #[error("the room does not exist")]
    RoomNotFound,
    /// Something answered, but not a LiveKit server of a compatible version (404 on `/rtc`,
    /// 426, or a JoinResponse without a server version).
    #[error("this is not a compatible LiveKit server: {0}")]
    VersionMismatch(String),
    /// The server did not complete the handshake or send the JoinResponse in time.
    #[error("the server did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The server refused the join with a `leave` (e.g. a full room).
    #[error("the server refused the join (reason {0})")]
    Refused(i32),
    /// The server answered with another error status.
    #[error("the server failed ({status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's text.
        message: String,
    },
    /// The server broke the protocol (e.g. its first message was not a JoinResponse).
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl ConnectError {
    /// Maps an HTTP refusal (from the upgrade or from `/rtc/validate`) to its case.
    pub fn from_status(status: u16, body: &str) -> Self {
        let message = body.trim().to_owned();
        match status {
            401 => Self::Unauthorized(message),
            403 => Self::Forbidden(message),
            404 if message.contains("requested room does not exist") => Self::RoomNotFound,
            404 | 426 => Self::VersionMismatch(format!("HTTP {status} on /rtc")),
            _ => Self::Server { status, message },
        }
    }

    /// True when trying again cannot help without a new token or URL (stop reconnecting).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized(_)
                | Self::Forbidden(_)
                | Self::RoomNotFound
                | Self::VersionMismatch(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_like_the_official_clients() {
        assert!(
            matches!(ConnectError::from_status(401, "expired"), ConnectError::Unauthorized(m) if m == "expired")
        );
        assert!(matches!(
            ConnectError::from_status(403, "x"),
            ConnectError::Forbidden(_)
        ));
        assert_eq!(
            ConnectError::from_status(404, "requested room does not exist"),
            ConnectError::RoomNotFound
        );
        assert!(matches!(
            ConnectError::from_status(404, "404 page not found"),
            ConnectError::VersionMismatch(_)
        ));
        assert!(matches!(
            ConnectError::from_status(503, "busy"),
            ConnectError::Server { status: 503, .. }
        ));
        assert!(ConnectError::from_status(401, "").is_permanent());
        assert!(!ConnectError::Unreachable("refused".into()).is_permanent());
    }
}
