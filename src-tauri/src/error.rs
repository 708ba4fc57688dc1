//! The error type every command returns: tagged, serialisable, and stable for the UI to
//! switch on (`kind`), with a human sentence (`message`) ready to show inline.

use serde::Serialize;

/// An error the UI can act on. `kind` is the contract; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
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
        /// Which device and why.
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
                message: error.to_string(),
            },
        }
    }

    /// A device change in the call that failed (the call goes on with what it had).
    pub fn from_device_change(error: convene_call::CallError) -> Self {
        match error {
            convene_call::CallError::NotInCall => Self::not_in_call(),
            error => Self::DeviceFailed {
                message: error.to_string(),
            },
        }
    }

    /// A chat message that was not sent.
    pub fn from_chat(error: convene_call::CallError) -> Self {
        match error {
            convene_call::CallError::NotInCall => Self::not_in_call(),
            error => Self::JoinFailed {
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
}
