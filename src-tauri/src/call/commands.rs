//! Tauri commands of the call: one-line delegations to [`super::Calls`].

use std::sync::Arc;

use convene_room::clock::unix_now_secs as unix_now;
use convene_room::webrtc_kit::MediaKind;
use tauri::{AppHandle, State};

use convene_call::{DeviceKind, DeviceList};

use super::{Calls, MediaChoice, level_sink, webview_sink};
use crate::error::UiError;
use convene_call::{JoinedCall, PreviewStatus};

/// Joins the room the token names with the chosen devices (absent: those of the last
/// call); events follow as `call-event`.
#[tauri::command]
#[specta::specta]
pub async fn join_room(
    app: AppHandle,
    calls: State<'_, Arc<Calls>>,
    url: String,
    token: String,
    media: Option<MediaChoice>,
) -> Result<JoinedCall, UiError> {
    calls
        .join(&url, &token, media, unix_now(), webview_sink(app))
        .await
}

/// The microphones, cameras and speakers present now.
#[tauri::command]
#[specta::specta]
pub async fn list_devices(calls: State<'_, Arc<Calls>>) -> Result<DeviceList, UiError> {
    Ok(calls.devices().await)
}

/// The devices (and on/off) of the last call, for the join screen.
#[tauri::command]
#[specta::specta]
pub fn remembered_media(calls: State<'_, Arc<Calls>>) -> MediaChoice {
    calls.remembered_media()
}

/// Previews the chosen camera and microphone on the join screen; the level follows as
/// `mic-level` events.
#[tauri::command]
#[specta::specta]
pub async fn start_preview(
    app: AppHandle,
    calls: State<'_, Arc<Calls>>,
    media: MediaChoice,
) -> Result<PreviewStatus, UiError> {
    Ok(calls.start_preview(&media, level_sink(app)).await)
}

/// Stops the preview (the join screen went away).
#[tauri::command]
#[specta::specta]
pub async fn stop_preview(calls: State<'_, Arc<Calls>>) -> Result<(), UiError> {
    calls.controller.stop_preview().await;
    Ok(())
}

/// Uses another microphone, camera or speaker in the call (`id` absent: the default).
#[tauri::command]
#[specta::specta]
pub async fn switch_device(
    calls: State<'_, Arc<Calls>>,
    kind: DeviceKind,
    id: Option<String>,
) -> Result<(), UiError> {
    calls.switch_device(kind, id).await
}

/// The call in progress, if any.
#[tauri::command]
#[specta::specta]
pub async fn current_call(calls: State<'_, Arc<Calls>>) -> Result<Option<JoinedCall>, UiError> {
    Ok(calls.controller.current().await)
}

/// Leaves the call (the others see us go at once).
#[tauri::command]
#[specta::specta]
pub async fn leave_call(calls: State<'_, Arc<Calls>>) -> Result<(), UiError> {
    calls.controller.leave().await;
    Ok(())
}

/// Turns our microphone (`kind: "audio"`) or camera (`"video"`) off (`muted: true`) or on
/// (publishing it if we joined without it); returns whether it is on now.
#[tauri::command]
#[specta::specta]
pub async fn set_muted(
    calls: State<'_, Arc<Calls>>,
    kind: MediaKind,
    muted: bool,
) -> Result<bool, UiError> {
    calls.set_muted(kind, muted).await
}

/// Where the call's video pictures are served (a token-protected 127.0.0.1 WebSocket).
#[tauri::command]
#[specta::specta]
pub fn video_feed_url(feed: State<'_, convene_call::FrameServer>) -> String {
    feed.url()
}

/// How the window should draw video: `"canvas"` when WebKitGTK paints without its GL
/// compositor (see `prefer_software_compositing` in main.rs: a WebGL picture would be read
/// back from the GPU for every paint), else `"auto"` (WebGL unless it runs on the CPU).
#[tauri::command]
#[specta::specta]
pub fn preferred_renderer() -> &'static str {
    let software_painting = cfg!(target_os = "linux")
        && std::env::var("WEBKIT_DISABLE_COMPOSITING_MODE").is_ok_and(|value| value == "1");
    if software_painting { "canvas" } else { "auto" }
}

/// The diagnostics panel's reading: the candidate pair in use, RTT, loss, jitter,
/// bitrates since the previous reading, and the event timeline.
#[tauri::command]
#[specta::specta]
pub async fn diagnostics(
    calls: State<'_, Arc<Calls>>,
) -> Result<convene_call::Diagnostics, UiError> {
    calls.diagnostics().await
}

/// Saves the diagnostics as a JSON file (in `CONVENE_EXPORT_DIR`, the Downloads folder or
/// the log folder); returns where.
#[tauri::command]
#[specta::specta]
pub async fn export_diagnostics(
    app: AppHandle,
    calls: State<'_, Arc<Calls>>,
) -> Result<String, UiError> {
    use tauri::Manager;
    let dir = super::diagnostics::export_folder([
        app.path().download_dir().ok(),
        app.path().app_log_dir().ok(),
    ])?;
    let path = calls.export_diagnostics(&dir, unix_now()).await?;
    Ok(path.display().to_string())
}

/// Sends a chat message (LiveKit's chat format) to everyone in the call.
#[tauri::command]
#[specta::specta]
pub async fn send_chat(
    calls: State<'_, Arc<Calls>>,
    text: String,
) -> Result<convene_call::ChatMessage, UiError> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    calls.send_chat(&text, now_ms).await
}
