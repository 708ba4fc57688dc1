//! Tauri commands of the call: one-line delegations to [`super::CallController`].

use std::sync::Arc;

use convene_room::clock::unix_now_secs as unix_now;
use convene_room::webrtc_kit::MediaKind;
use tauri::{AppHandle, State};

use super::{CallController, JoinedCall, webview_sink};
use crate::error::UiError;

/// Joins the room the token names; events follow as `call-event`.
#[tauri::command]
pub async fn join_room(
    app: AppHandle,
    calls: State<'_, Arc<CallController>>,
    url: String,
    token: String,
) -> Result<JoinedCall, UiError> {
    calls
        .join(&url, &token, unix_now(), webview_sink(app))
        .await
}

/// The call in progress, if any.
#[tauri::command]
pub async fn current_call(
    calls: State<'_, Arc<CallController>>,
) -> Result<Option<JoinedCall>, UiError> {
    Ok(calls.current().await)
}

/// Leaves the call (the others see us go at once).
#[tauri::command]
pub async fn leave_call(calls: State<'_, Arc<CallController>>) -> Result<(), UiError> {
    calls.leave().await;
    Ok(())
}

/// Mutes (`muted: true`) or unmutes our microphone (`kind: "audio"`) or camera (`"video"`);
/// returns whether such a track is published.
#[tauri::command]
pub async fn set_muted(
    calls: State<'_, Arc<CallController>>,
    kind: MediaKind,
    muted: bool,
) -> Result<bool, UiError> {
    calls.set_muted(kind, muted).await
}

/// Where the call's video pictures are served (a token-protected 127.0.0.1 WebSocket).
#[tauri::command]
pub fn video_feed_url(feed: State<'_, convene_call::FrameServer>) -> String {
    feed.url()
}

/// Sends a chat message (LiveKit's chat format) to everyone in the call.
#[tauri::command]
pub async fn send_chat(
    calls: State<'_, Arc<CallController>>,
    text: String,
) -> Result<convene_call::ChatMessage, UiError> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    calls.send_chat(&text, now_ms).await
}
