//! The error type every command returns: tagged, serialisable, and stable for the UI to
//! switch on (`kind`), with a human sentence (`message`) ready to show inline.

use serde::Serialize;

/// An error the UI can act on. `kind` is the contract; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, specta::Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum UiError {
    /// The server URL field holds something that is not a LiveKit server address.
    #[error("{message}")]
    InvalidServerUrl {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The token field holds something that is not a usable LiveKit access token.
    #[error("{message}")]
    InvalidToken {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The embedded local room server could not start.
    #[error("{message}")]
    LocalRoomFailed {
        /// Why.
        message: String,
    },
    /// Joining failed after the input was accepted (server unreachable, token refused, …).
    #[error("{message}")]
    JoinFailed {
        /// Why, for the UI to choose its words and advice by.
        cause: JoinFailure,
        /// Why, as the room client explains it.
        message: String,
    },
    /// The join was given up: Leave was pressed, or the app closed, while it was under way.
    #[error("{message}")]
    JoinCancelled {
        /// For people.
        message: String,
    },
    /// A microphone, camera or speaker could not be turned on or switched to; the call
    /// goes on with what it had.
    #[error("{message}")]
    DeviceFailed {
        /// Why, for the UI to choose its words and advice by.
        cause: DeviceFailure,
        /// Which device and why.
        message: String,
    },
    /// A chat message was not sent (the call goes on; the text is kept to try again).
    #[error("{message}")]
    ChatFailed {
        /// Why.
        message: String,
    },
    /// The action needs a call and there is none (it ended meanwhile); see
    /// [`UiError::not_in_call`].
    #[error("{message}")]
    NotInCall {
        /// For people.
        message: String,
    },
    /// The diagnostics could not be written to a file.
    #[error("{message}")]
    ExportFailed {
        /// Where and why.
        message: String,
    },
}

/// Why a join failed, by kind: the join screen says what to do about each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum JoinFailure {
    /// The server cannot be reached (offline, wrong address, firewall).
    Unreachable,
    /// The server refused the token (wrong key, expired, revoked): ask for a new one.
    Unauthorized,
    /// The token does not allow this (e.g. no `roomJoin`).
    Forbidden,
    /// The room does not exist and this server does not create rooms on join.
    RoomNotFound,
    /// The address answers, but not as a compatible LiveKit server.
    VersionMismatch,
    /// The server did not answer in time.
    Timeout,
    /// Signaling worked but the media connection did not come up (UDP and TCP blocked?).
    MediaTimeout,
    /// The server refused the join (full room, …).
    Refused,
    /// Anything else; the message says what.
    Other,
}

impl JoinFailure {
    fn of(error: &convene_call::CallError) -> Self {
        use convene_room::RoomError;
        use convene_room::signal::ConnectError;
        let convene_call::CallError::Room(error) = error else {
            return Self::Other;
        };
        match error {
            RoomError::Connect(connect) => match connect {
                ConnectError::Unreachable(_) => Self::Unreachable,
                ConnectError::Unauthorized(_) => Self::Unauthorized,
                ConnectError::Forbidden(_) => Self::Forbidden,
                ConnectError::RoomNotFound => Self::RoomNotFound,
                ConnectError::VersionMismatch(_) => Self::VersionMismatch,
                ConnectError::Timeout(_) => Self::Timeout,
                ConnectError::Refused(_) => Self::Refused,
                _ => Self::Other,
            },
            RoomError::MediaTimeout(_) => Self::MediaTimeout,
            RoomError::NotAllowed(_) => Self::Forbidden,
            _ => Self::Other,
        }
    }
}

/// Why a device could not be used, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum DeviceFailure {
    /// Another program holds it.
    Busy,
    /// It is not there (unplugged, or never was).
    NotFound,
    /// The OS or the user refused access (camera or microphone permission).
    Denied,
    /// It stopped working while in use.
    Lost,
    /// It cannot give what a call needs (format, rate).
    Unsupported,
    /// Anything else; the message says what.
    Other,
}

impl DeviceFailure {
    fn of(error: &convene_call::CallError) -> Self {
        use convene_call::CallError;
        use convene_media::devices::DeviceError;
        use convene_media::video::source::CameraError;
        match error {
            CallError::Camera(CameraError::Busy { .. }) => Self::Busy,
            CallError::Camera(CameraError::NotFound { .. }) => Self::NotFound,
            CallError::Camera(CameraError::Denied { .. }) => Self::Denied,
            CallError::Camera(CameraError::Lost(_)) => Self::Lost,
            CallError::Camera(CameraError::Unsupported { .. }) => Self::Unsupported,
            CallError::Device(DeviceError::Busy { .. }) => Self::Busy,
            CallError::Device(DeviceError::NotFound { .. }) => Self::NotFound,
            CallError::Device(DeviceError::Lost { .. }) => Self::Lost,
            CallError::Device(DeviceError::Unsupported { .. }) => Self::Unsupported,
            _ => Self::Other,
        }
    }
}

impl UiError {
    /// The join under way was given up by a leave.
    pub fn join_cancelled() -> Self {
        Self::JoinCancelled {
            message: "Joining was cancelled.".to_owned(),
        }
    }

    /// The action needs a call and there is none.
    pub fn not_in_call() -> Self {
        Self::NotInCall {
            message: "Not in a call.".to_owned(),
        }
    }
}

impl UiError {
    /// A join (or a look at the call) that failed, as the window shows it.
    pub fn from_call(error: convene_call::CallError) -> Self {
        match error {
            convene_call::CallError::Cancelled => Self::join_cancelled(),
            convene_call::CallError::NotInCall => Self::not_in_call(),
            error => Self::JoinFailed {
                cause: JoinFailure::of(&error),
                message: error.to_string(),
            },
        }
    }

    /// A device change in the call that failed (the call goes on with what it had).
    pub fn from_device_change(error: convene_call::CallError) -> Self {
        match error {
            convene_call::CallError::NotInCall => Self::not_in_call(),
            error => Self::DeviceFailed {
                cause: DeviceFailure::of(&error),
                message: error.to_string(),
            },
        }
    }

    /// A chat message that was not sent.
    pub fn from_chat(error: convene_call::CallError) -> Self {
        match error {
            convene_call::CallError::NotInCall => Self::not_in_call(),
            error => Self::ChatFailed {
                message: format!("The message was not sent: {error}"),
            },
        }
    }
}

impl From<convene_room::ServerUrlError> for UiError {
    fn from(error: convene_room::ServerUrlError) -> Self {
        Self::InvalidServerUrl {
            message: error.to_string(),
        }
    }
}

impl From<convene_room::TokenError> for UiError {
    fn from(error: convene_room::TokenError) -> Self {
        Self::InvalidToken {
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_a_tagged_object() {
        let error = UiError::from(convene_room::ServerUrlError::MissingScheme);
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["kind"], "invalidServerUrl");
        assert!(json["message"].as_str().unwrap().contains("wss://"));
    }

    #[test]
    fn a_failed_join_says_why_by_kind() {
        use convene_room::RoomError;
        use convene_room::signal::ConnectError;
        let refused = UiError::from_call(convene_call::CallError::Room(RoomError::Connect(
            ConnectError::Unauthorized("invalid signature".into()),
        )));
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["kind"], "joinFailed");
        assert_eq!(json["cause"], "unauthorized");
        let down = UiError::from_call(convene_call::CallError::Room(RoomError::Connect(
            ConnectError::Unreachable("connection refused".into()),
        )));
        assert!(matches!(
            down,
            UiError::JoinFailed {
                cause: JoinFailure::Unreachable,
                ..
            }
        ));
        let busy = UiError::from_device_change(convene_call::CallError::Camera(
            convene_media::video::source::CameraError::Busy {
                id: "/dev/video0".into(),
            },
        ));
        assert_eq!(serde_json::to_value(&busy).unwrap()["cause"], "busy");
        assert_eq!(
            UiError::from_call(convene_call::CallError::Cancelled),
            UiError::join_cancelled()
        );
    }
}
