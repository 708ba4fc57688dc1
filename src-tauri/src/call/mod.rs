//! The call controller: at most one [`CallSession`] at a time, joined from the join screen
//! or a `convene://join` deep link, left from the Leave button or the shutdown path.
//!
//! Everything a session reports goes to the webview as `call-event` events
//! ([`convene_call::CallEvent`]); the commands in [`commands`] only delegate here.

pub mod commands;
pub mod deep_link;

use std::sync::{Arc, PoisonError};

use convene_call::{
    CallEventSink, CallOptions, CallSession, ChatMessage, VideoLookup, VideoRegistry,
};
use convene_room::RoomOptions;
use convene_room::room::{RemoteParticipant, TrackInfo};
use convene_room::webrtc_kit::MediaKind;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::error::UiError;
use crate::join::prepare_join;
use crate::settings::SettingsStore;

/// Environment switch for the synthetic devices (test pattern camera, test tone
/// microphone) instead of real ones; also `--fake-media` on the command line.
pub const FAKE_MEDIA_ENV: &str = "CONVENE_FAKE_MEDIA";

/// What the call screen starts from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinedCall {
    /// Room name.
    pub room: String,
    /// Our identity.
    pub identity: String,
    /// Everyone else present at join time.
    pub participants: Vec<RemoteParticipant>,
    /// Our published tracks (microphone, camera), for the mute buttons.
    pub local_tracks: Vec<TrackInfo>,
}

/// The one call of this window.
pub struct CallController {
    session: Mutex<Option<CallSession>>,
    /// The current call's decoded pictures, for the frame server (a std mutex: read from
    /// the server's tasks without awaiting).
    videos: std::sync::Mutex<Option<VideoRegistry>>,
    fake_media: bool,
    settings: Arc<SettingsStore>,
}

impl CallController {
    /// A controller; `fake_media` publishes the synthetic devices instead of real ones;
    /// servers joined are remembered in `settings`.
    pub fn new(fake_media: bool, settings: Arc<SettingsStore>) -> Self {
        Self {
            session: Mutex::new(None),
            videos: std::sync::Mutex::new(None),
            fake_media,
            settings,
        }
    }

    /// Whether `--fake-media` or [`FAKE_MEDIA_ENV`] asks for the synthetic devices.
    pub fn fake_media_requested(args: &[String]) -> bool {
        args.iter().any(|arg| arg == "--fake-media")
            || std::env::var(FAKE_MEDIA_ENV).is_ok_and(|value| value == "1")
    }

    /// Joins (leaving a previous call first) and reports to `sink`.
    pub async fn join(
        &self,
        url: &str,
        token: &str,
        now: u64,
        sink: CallEventSink,
    ) -> Result<JoinedCall, UiError> {
        let (url, _summary) = prepare_join(url, token, now)?;
        let mut current = self.session.lock().await;
        if let Some(previous) = current.take() {
            previous.leave().await;
        }
        let options = CallOptions {
            fake_media: self.fake_media,
            ..CallOptions::default()
        };
        let session = CallSession::join(&url, token, options, room_options(&url), sink)
            .await
            .map_err(|error| UiError::JoinFailed {
                message: error.to_string(),
            })?;
        let joined = snapshot(&session);
        self.settings.remember_server(&url);
        *self.videos.lock().unwrap_or_else(PoisonError::into_inner) = Some(session.videos());
        *current = Some(session);
        Ok(joined)
    }

    /// Finds a subscribed video track's newest picture in the current call (for the frame
    /// server).
    pub fn video_lookup(self: &Arc<Self>) -> VideoLookup {
        let calls = Arc::clone(self);
        Arc::new(move |sid: &str| {
            let videos = calls.videos.lock().unwrap_or_else(PoisonError::into_inner);
            let registry = videos.as_ref()?;
            let pictures = registry.lock().unwrap_or_else(PoisonError::into_inner);
            pictures.get(sid).cloned()
        })
    }

    /// The call in progress, if any (the UI asks when it loads, e.g. after a deep link).
    pub async fn current(&self) -> Option<JoinedCall> {
        self.session.lock().await.as_ref().map(snapshot)
    }

    /// Mutes or unmutes our microphone or camera; `Ok(false)` when not in a call or not
    /// publishing that device.
    pub async fn set_muted(&self, kind: MediaKind, muted: bool) -> Result<bool, UiError> {
        let muting = match self.session.lock().await.as_ref() {
            Some(session) => session.set_muted(kind, muted),
            None => return Ok(false),
        };
        muting.await.map_err(|error| UiError::JoinFailed {
            message: error.to_string(),
        })
    }

    /// Sends a chat message to everyone in the call; returns it as sent.
    pub async fn send_chat(&self, text: &str, now_ms: u64) -> Result<ChatMessage, UiError> {
        let sending = match self.session.lock().await.as_ref() {
            Some(session) => session.send_chat(text, now_ms),
            None => {
                return Err(UiError::JoinFailed {
                    message: "Not in a call.".to_owned(),
                });
            }
        };
        sending.await.map_err(|error| UiError::JoinFailed {
            message: format!("The message was not sent: {error}"),
        })
    }

    /// Leaves the call if there is one; bounded by [`convene_call::LEAVE_BOUND`].
    pub async fn leave(&self) {
        let session = self.session.lock().await.take();
        *self.videos.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if let Some(session) = session {
            session.leave().await;
        }
    }
}

/// Room options for `url`: a server on this computer (the local room) is reached over
/// loopback, which works even with no network at all; anything else from every interface.
fn room_options(url: &str) -> RoomOptions {
    let loopback = url::Url::parse(url)
        .ok()
        .is_some_and(|url| match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        });
    if loopback {
        RoomOptions {
            bind_addrs: vec![std::net::SocketAddr::from(([127, 0, 0, 1], 0))],
            ..RoomOptions::default()
        }
    } else {
        RoomOptions::default()
    }
}

fn snapshot(session: &CallSession) -> JoinedCall {
    let room = session.room();
    JoinedCall {
        room: room.name(),
        identity: room.local_participant().identity,
        participants: room.remote_participants(),
        local_tracks: room.local_participant().tracks,
    }
}

/// A sink that emits every event to the webview as `call-event`.
pub fn webview_sink<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> CallEventSink {
    use tauri::Emitter;
    Arc::new(move |event| {
        if let Err(error) = app.emit("call-event", &event) {
            tracing::warn!(%error, "cannot send a call event to the window");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_this_computer_is_reached_over_loopback() {
        let local = room_options("ws://127.0.0.1:7880");
        assert!(local.bind_addrs.iter().all(|addr| addr.ip().is_loopback()));
        assert!(
            room_options("ws://localhost:7880").bind_addrs[0]
                .ip()
                .is_loopback()
        );
        let cloud = room_options("wss://demo.livekit.cloud");
        assert!(
            cloud
                .bind_addrs
                .iter()
                .all(|addr| addr.ip().is_unspecified())
        );
    }
}
