//! The call, wired to the window: [`Calls`] puts the app's choices (devices remembered in
//! the settings, the synthetic devices with `--fake-media`, loopback for a local server)
//! around `convene_call::CallController`, the actor that owns the one call; the commands in
//! [`commands`] only delegate here. A `convene://join` link never joins: it fills the join
//! screen (`crate::join::deep_link`).
//!
//! Everything a call reports goes to the webview as `call-event` events
//! ([`convene_call::CallEvent`]).

pub mod commands;
pub mod diagnostics;
mod media;

pub use media::{MIC_LEVEL_EVENT, MediaChoice};

use std::sync::Arc;

use convene_call::{
    CallController, CallError, CallEventSink, CallOptions, ChatMessage, DeviceChange, DeviceKind,
    DeviceList, Diagnostics, JoinRequest, JoinedCall, LevelSink, PreviewRequest, PreviewStatus,
};
use convene_room::RoomOptions;
use convene_room::webrtc_kit::MediaKind;

use crate::error::UiError;
use crate::join::prepare_join;
use crate::settings::SettingsStore;

/// Environment switch for the synthetic devices (test pattern camera, test tone
/// microphone) instead of real ones; also `--fake-media` on the command line.
pub const FAKE_MEDIA_ENV: &str = "CONVENE_FAKE_MEDIA";

/// The window's call: the actor, and what the app remembers and chooses around it.
pub struct Calls {
    /// The actor (also the frame server's [`convene_call::VideoSources`]).
    pub controller: CallController,
    fake_media: bool,
    settings: Arc<SettingsStore>,
}

impl Calls {
    /// Starts the call actor (inside a tokio runtime); `fake_media` offers the synthetic
    /// devices; servers and devices joined with are remembered in `settings`.
    pub fn start(fake_media: bool, settings: Arc<SettingsStore>) -> Self {
        let controller = CallController::start();
        Self {
            controller,
            fake_media,
            settings,
        }
    }

    /// Whether `--fake-media` or [`FAKE_MEDIA_ENV`] asks for the synthetic devices.
    pub fn fake_media_requested(args: &[String]) -> bool {
        args.iter().any(|arg| arg == "--fake-media")
            || std::env::var(FAKE_MEDIA_ENV).is_ok_and(|value| value == "1")
    }

    /// Joins with `media` (`None`: the devices of the last call), checked at `now`;
    /// remembers the server and the devices once joined.
    pub async fn join(
        &self,
        url: &str,
        token: &str,
        media: Option<MediaChoice>,
        now: u64,
        sink: CallEventSink,
    ) -> Result<JoinedCall, UiError> {
        let (url, _summary) = prepare_join(url, token, now)?;
        let media = media.unwrap_or_else(|| self.settings.media());
        let options = CallOptions {
            devices: media::resolve_devices(media.devices.clone(), self.fake_media),
            microphone: media.microphone,
            camera: media.camera,
            ..CallOptions::default()
        };
        let request = JoinRequest {
            room_options: RoomOptions::for_server(&url),
            url: url.clone(),
            token: token.to_owned(),
            options,
            sink,
        };
        let joined = self
            .controller
            .join(request)
            .await
            .map_err(UiError::from_call)?;
        self.settings.remember_server(&url);
        self.settings.remember_media(&media);
        Ok(joined)
    }

    /// The microphones, cameras and speakers present now (the synthetic ones too with
    /// `--fake-media`).
    pub async fn devices(&self) -> DeviceList {
        let synthetic = self.fake_media;
        tokio::task::spawn_blocking(move || convene_call::list_devices(synthetic))
            .await
            .unwrap_or_default()
    }

    /// The devices of the last call, for the join screen's pickers and toggles.
    pub fn remembered_media(&self) -> MediaChoice {
        self.settings.media()
    }

    /// Previews the chosen devices on the join screen (nothing opens during a call).
    pub async fn start_preview(&self, media: &MediaChoice, level: LevelSink) -> PreviewStatus {
        let request = PreviewRequest {
            devices: media::resolve_devices(media.devices.clone(), self.fake_media),
            camera: media.camera,
            microphone: media.microphone,
            level,
        };
        let status = self.controller.start_preview(request).await;
        tracing::info!(
            camera = status.camera,
            microphone = status.microphone,
            "preview started"
        );
        status
    }

    /// Turns our microphone or camera on (publishing it if we joined without it) or off;
    /// returns whether it is on now (`false` without a call).
    pub async fn set_muted(&self, kind: MediaKind, muted: bool) -> Result<bool, UiError> {
        let enabled = !muted;
        match self
            .controller
            .change_device(DeviceChange::Enable { kind, enabled })
            .await
        {
            Ok(now) => Ok(if kind == MediaKind::Audio {
                now.microphone
            } else {
                now.camera
            }),
            Err(CallError::NotInCall) => Ok(false),
            Err(error) => Err(UiError::from_device_change(error)),
        }
    }

    /// Uses another device of `kind` in the call (`None`: the default), and remembers it.
    pub async fn switch_device(&self, kind: DeviceKind, id: Option<String>) -> Result<(), UiError> {
        let now = self
            .controller
            .change_device(DeviceChange::Switch { kind, id })
            .await
            .map_err(UiError::from_device_change)?;
        let mut media = self.settings.media();
        media.devices = now.devices;
        self.settings.remember_media(&media);
        Ok(())
    }

    /// The connection now and every room event of the call.
    pub async fn diagnostics(&self) -> Result<Diagnostics, UiError> {
        self.controller
            .diagnostics()
            .await
            .map_err(UiError::from_call)
    }

    /// Saves [`Calls::diagnostics`] as a JSON file in `dir`; returns its path.
    pub async fn export_diagnostics(
        &self,
        dir: &std::path::Path,
        now_secs: u64,
    ) -> Result<std::path::PathBuf, UiError> {
        diagnostics::export(&self.diagnostics().await?, dir, now_secs)
    }

    /// Sends a chat message to everyone in the call; returns it as sent.
    pub async fn send_chat(&self, text: &str, now_ms: u64) -> Result<ChatMessage, UiError> {
        let sent = self.controller.send_chat(text, now_ms).await;
        sent.map_err(UiError::from_chat)
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

/// A sink that emits device changes (hot-plug, a device lost) to the webview as
/// `device-notice`.
pub fn device_sink<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> convene_call::DeviceNoticeSink {
    use tauri::Emitter;
    Arc::new(move |notice| {
        let _ = app.emit("device-notice", &notice);
    })
}

/// A sink that emits the previewed microphone's level to the webview as `mic-level`.
pub fn level_sink<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> LevelSink {
    use tauri::Emitter;
    Arc::new(move |level| {
        let _ = app.emit(MIC_LEVEL_EVENT, level);
    })
}
