//! The call controller: at most one [`CallSession`] at a time, joined from the join screen
//! (a `convene://join` link only fills it in), left from the Leave button or the shutdown path.
//!
//! Everything a session reports goes to the webview as `call-event` events
//! ([`convene_call::CallEvent`]); the commands in [`commands`] only delegate here.

pub mod commands;
pub mod diagnostics;
mod media;

pub use media::{MIC_LEVEL_EVENT, MediaChoice, PreviewStatus};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use convene_call::{
    CallEventSink, CallOptions, CallSession, ChatMessage, DeviceChange, DeviceKind, DeviceList,
    DevicePreview, Diagnostics, LOCAL_CAMERA_FEED, LevelSink, LocalPicture, PictureFeed,
    VideoRegistry, VideoSources,
};
use convene_room::RoomOptions;
use convene_room::room::{RemoteParticipant, TrackInfo};
use convene_room::webrtc_kit::MediaKind;
use serde::Serialize;
use tokio::sync::{Mutex, watch};

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
    /// Our own camera's pictures: the preview's before joining, the call's during it.
    local_picture: std::sync::Mutex<Option<LocalPicture>>,
    preview: Mutex<Option<DevicePreview>>,
    /// Held for the whole of a join: a preview or a look at the current call asked for
    /// meanwhile waits and then finds the call (a `convene://` link joins while the window
    /// loads).
    joining: Mutex<()>,
    /// Bumped by every [`CallController::leave`]: a join that started before gives up.
    leaves: watch::Sender<u64>,
    /// Bumped when our own picture or the call's tracks change (see [`VideoSources`]).
    sources_added: Arc<watch::Sender<u64>>,
    /// Counts calls joined: a device opened for one call is not put into the next.
    joins: AtomicU64,
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
            local_picture: std::sync::Mutex::new(None),
            preview: Mutex::new(None),
            joining: Mutex::new(()),
            leaves: watch::channel(0).0,
            sources_added: Arc::new(watch::channel(0).0),
            joins: AtomicU64::new(0),
            fake_media,
            settings,
        }
    }

    /// Whether `--fake-media` or [`FAKE_MEDIA_ENV`] asks for the synthetic devices.
    pub fn fake_media_requested(args: &[String]) -> bool {
        args.iter().any(|arg| arg == "--fake-media")
            || std::env::var(FAKE_MEDIA_ENV).is_ok_and(|value| value == "1")
    }

    /// Joins (leaving a previous call first) with `media` (`None`: the devices of the last
    /// call) and reports to `sink`. The preview stops first, so the call can open the
    /// camera, and none starts until the call is in place.
    pub async fn join(
        &self,
        url: &str,
        token: &str,
        media: Option<MediaChoice>,
        now: u64,
        sink: CallEventSink,
    ) -> Result<JoinedCall, UiError> {
        let (url, _summary) = prepare_join(url, token, now)?;
        let left = self.leave_requested();
        let _joining = self.joining.lock().await;
        if self.preview.lock().await.take().is_some() {
            self.show_local_picture(None);
        }
        let previous = self.session.lock().await.take();
        if let Some(previous) = previous {
            previous.leave().await;
        }
        let media = media.unwrap_or_else(|| self.settings.media());
        let options = CallOptions {
            devices: media::resolve_devices(media.devices.clone(), self.fake_media),
            microphone: media.microphone,
            camera: media.camera,
            ..CallOptions::default()
        };
        let session =
            CallSession::join_unless(&url, token, options, room_options(&url), sink, left)
                .await
                .map_err(|error| match error {
                    convene_call::CallError::Cancelled => UiError::join_cancelled(),
                    error => UiError::JoinFailed {
                        message: error.to_string(),
                    },
                })?;
        let joined = snapshot(&session);
        self.settings.remember_server(&url);
        self.settings.remember_media(&media);
        self.serve_videos(Some(session.videos()));
        self.show_local_picture(Some(session.self_view()));
        self.joins.fetch_add(1, Ordering::SeqCst);
        // Joins run one at a time (`joining`) and the previous call was taken above.
        *self.session.lock().await = Some(session);
        Ok(joined)
    }

    /// Completes at the next [`CallController::leave`] after this call.
    fn leave_requested(&self) -> impl Future<Output = ()> + use<> {
        let mut leaves = self.leaves.subscribe();
        leaves.mark_unchanged();
        async move {
            // An error means the controller is gone: nobody is waiting for the join then.
            let _ = leaves.changed().await;
        }
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

    /// Shows the chosen camera (served as `local:camera`) and meters the chosen
    /// microphone (`level`), replacing a running preview. Devices that are off are not
    /// opened; devices that fail are listed, never an error. During a call nothing is
    /// opened (the call has the devices; a join screen shown briefly before a
    /// `convene://` call is found must not open the camera twice).
    pub async fn start_preview(&self, media: &MediaChoice, level: LevelSink) -> PreviewStatus {
        let _joining = self.joining.lock().await;
        let mut preview = self.preview.lock().await;
        if self.session.lock().await.is_some() {
            return PreviewStatus {
                problems: vec!["A call is in progress: it is using the devices".to_owned()],
                ..PreviewStatus::default()
            };
        }
        preview.take();
        let devices = media::resolve_devices(media.devices.clone(), self.fake_media);
        let (started, problems) =
            DevicePreview::start(&devices, media.camera, media.microphone, level).await;
        let status = PreviewStatus {
            camera: started.has_camera(),
            microphone: started.has_microphone(),
            problems: problems
                .into_iter()
                .map(|(kind, error)| format!("{}: {error}", kind.name()))
                .collect(),
        };
        tracing::info!(
            camera = status.camera,
            microphone = status.microphone,
            "preview started"
        );
        self.show_local_picture(Some(started.picture()));
        *preview = Some(started);
        status
    }

    /// Stops the preview and releases its devices; during a call our own tile goes on
    /// showing the call's camera.
    pub async fn stop_preview(&self) {
        if self.preview.lock().await.take().is_some() {
            let call_view = self
                .session
                .lock()
                .await
                .as_ref()
                .map(CallSession::self_view);
            self.show_local_picture(call_view);
        }
    }

    /// Uses another device of `kind` in the call (`None`: the default), and remembers it.
    pub async fn switch_device(&self, kind: DeviceKind, id: Option<String>) -> Result<(), UiError> {
        let devices = self
            .change_device(DeviceChange::Switch { kind, id }, |session| {
                session.devices().clone()
            })
            .await?;
        let mut media = self.settings.media();
        media.devices = devices;
        self.settings.remember_media(&media);
        Ok(())
    }

    /// Carries out `change`, opening the device without holding the call's lock (chat,
    /// mute and Leave go on meanwhile); returns what `after` reads from the call then.
    async fn change_device<T>(
        &self,
        change: DeviceChange,
        after: impl FnOnce(&CallSession) -> T,
    ) -> Result<T, UiError> {
        let device_failed = |error: convene_call::CallError| UiError::DeviceFailed {
            message: error.to_string(),
        };
        let (opening, joined) = {
            let current = self.session.lock().await;
            let session = current.as_ref().ok_or_else(UiError::not_in_call)?;
            (
                session.opening_for(&change),
                self.joins.load(Ordering::SeqCst),
            )
        };
        let opened = match opening {
            Some(opening) => Some(opening.await.map_err(device_failed)?),
            None => None,
        };
        let mut current = self.session.lock().await;
        // Left, or another call joined, while the device opened: it is released.
        let session = current
            .as_mut()
            .filter(|_| self.joins.load(Ordering::SeqCst) == joined)
            .ok_or_else(UiError::not_in_call)?;
        session.apply(change, opened).await.map_err(device_failed)?;
        Ok(after(session))
    }

    fn show_local_picture(&self, picture: Option<LocalPicture>) {
        *self
            .local_picture
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = picture;
        self.signal_sources_added();
    }

    /// Tells tiles waiting for a track to look again.
    fn signal_sources_added(&self) {
        self.sources_added
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Makes `videos` the call's tracks, and passes on its additions to the frame server
    /// (until the call's registry is dropped).
    fn serve_videos(&self, videos: Option<VideoRegistry>) {
        if let Some(videos) = &videos {
            let mut added = videos.additions();
            let signal = self.sources_added.clone();
            tokio::spawn(async move {
                while added.changed().await.is_ok() {
                    signal.send_modify(|count| *count = count.wrapping_add(1));
                }
            });
        }
        *self.videos.lock().unwrap_or_else(PoisonError::into_inner) = videos;
        self.signal_sources_added();
    }

    /// The call in progress, if any (the UI asks when it loads, e.g. after a deep link); a
    /// join under way is waited for.
    pub async fn current(&self) -> Option<JoinedCall> {
        let _joining = self.joining.lock().await;
        self.session.lock().await.as_ref().map(snapshot)
    }

    /// Turns our microphone or camera on (`muted: false`; publishing it if we joined
    /// without it) or off; returns whether it is on now. `Ok(false)` when not in a call.
    pub async fn set_muted(&self, kind: MediaKind, muted: bool) -> Result<bool, UiError> {
        let change = DeviceChange::Enable {
            kind,
            enabled: !muted,
        };
        match self
            .change_device(change, |session| session.is_enabled(kind))
            .await
        {
            Err(UiError::NotInCall { .. }) => Ok(false),
            other => other,
        }
    }

    /// The connection now and every room event of the call (for the diagnostics panel).
    pub async fn diagnostics(&self) -> Result<Diagnostics, UiError> {
        let reading = match self.session.lock().await.as_ref() {
            Some(session) => session.diagnostics(),
            None => return Err(UiError::not_in_call()),
        };
        Ok(reading.await)
    }

    /// Saves [`CallController::diagnostics`] as a JSON file in `dir`; returns its path.
    pub async fn export_diagnostics(
        &self,
        dir: &std::path::Path,
        now_secs: u64,
    ) -> Result<std::path::PathBuf, UiError> {
        let diagnostics = self.diagnostics().await?;
        diagnostics::export(&diagnostics, dir, now_secs)
    }

    /// Sends a chat message to everyone in the call; returns it as sent.
    pub async fn send_chat(&self, text: &str, now_ms: u64) -> Result<ChatMessage, UiError> {
        let sending = match self.session.lock().await.as_ref() {
            Some(session) => session.send_chat(text, now_ms),
            None => return Err(UiError::not_in_call()),
        };
        sending.await.map_err(|error| UiError::JoinFailed {
            message: format!("The message was not sent: {error}"),
        })
    }

    /// Leaves the call if there is one, and gives up a join under way (a room it already
    /// joined is left too); bounded by [`convene_call::LEAVE_BOUND`] per call.
    pub async fn leave(&self) {
        self.leaves
            .send_modify(|count| *count = count.wrapping_add(1));
        // The join under way sees the leave, leaves what it joined, and lets go.
        let _joined_or_given_up = self.joining.lock().await;
        let session = self.session.lock().await.take();
        self.serve_videos(None);
        self.show_local_picture(None);
        if let Some(session) = session {
            session.leave().await;
        }
    }
}

/// What the frame server draws from: our own camera (`local:camera`: the preview's
/// before joining, the call's during it) and the current call's video tracks.
impl VideoSources for CallController {
    fn find(&self, sid: &str) -> Option<PictureFeed> {
        if sid == LOCAL_CAMERA_FEED {
            return self
                .local_picture
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
        }
        let videos = self.videos.lock().unwrap_or_else(PoisonError::into_inner);
        videos.as_ref()?.find(sid)
    }

    fn additions(&self) -> watch::Receiver<u64> {
        self.sources_added.subscribe()
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

/// A sink that emits the previewed microphone's level to the webview as `mic-level`.
pub fn level_sink<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> LevelSink {
    use tauri::Emitter;
    Arc::new(move |level| {
        let _ = app.emit(MIC_LEVEL_EVENT, level);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    /// The picture the frame server would send for our own tile.
    fn own_tile(controller: &Arc<CallController>) -> Option<LocalPicture> {
        controller.find(LOCAL_CAMERA_FEED)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_preview_asked_for_during_a_call_opens_nothing_and_keeps_our_tile() {
        let server = convene_testkit::start_server(Duration::from_secs(15)).await;
        let token = server.token("controller", "app", 600).expect("token");
        let controller = Arc::new(CallController::new(
            true,
            Arc::new(SettingsStore::load(None)),
        ));
        let media = MediaChoice {
            microphone: false,
            ..MediaChoice::default()
        };
        let ignore_levels: LevelSink = Arc::new(|_| ());

        // Before the call the preview shows the test pattern as our tile.
        let status = controller
            .start_preview(&media, ignore_levels.clone())
            .await;
        assert!(status.camera, "{status:?}");
        let sink: CallEventSink = Arc::new(|_| ());
        controller
            .join(
                &server.url(),
                token.expose(),
                Some(media.clone()),
                convene_room::clock::unix_now_secs(),
                sink,
            )
            .await
            .expect("joins");
        let call_view = own_tile(&controller).expect("our tile during the call");

        // A join screen mounted for a moment (a `convene://` call) asks for a preview and
        // stops it again: nothing opens and our tile still shows the call's camera.
        let status = controller.start_preview(&media, ignore_levels).await;
        assert!(!status.camera && !status.microphone, "{status:?}");
        assert_eq!(status.problems.len(), 1);
        controller.stop_preview().await;
        let after = own_tile(&controller).expect("our tile still there");
        assert!(after.same_channel(&call_view));

        controller.leave().await;
        assert!(own_tile(&controller).is_none());
    }

    /// A window that loads while a `convene://` link is joining hears the call's first
    /// events before the join returns; asking for the current call then must give it, or
    /// the window stays on the join screen.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_current_call_asked_for_during_a_join_is_that_call() {
        let server = convene_testkit::start_server(Duration::from_secs(15)).await;
        let token = server.token("starting", "app", 600).expect("token");
        let controller = Arc::new(CallController::new(
            true,
            Arc::new(SettingsStore::load(None)),
        ));
        let (first_event, mut heard) = tokio::sync::mpsc::channel::<()>(1);
        let sink: CallEventSink = Arc::new(move |_| {
            let _ = first_event.try_send(());
        });
        let joining = {
            let controller = controller.clone();
            let url = server.url();
            tokio::spawn(async move {
                controller
                    .join(
                        &url,
                        token.expose(),
                        None,
                        convene_room::clock::unix_now_secs(),
                        sink,
                    )
                    .await
            })
        };
        heard.recv().await.expect("the call's first event");
        let current = controller.current().await.expect("the call being joined");
        assert_eq!(current.room, "starting");
        joining.await.expect("join task").expect("joins");
        controller.leave().await;
    }

    /// Starts `controller.join` on a task (the app's link join runs like this while the
    /// window can still be closed).
    fn join_in_background(
        controller: &Arc<CallController>,
        url: String,
        token: String,
        sink: CallEventSink,
    ) -> tokio::task::JoinHandle<Result<JoinedCall, UiError>> {
        let controller = controller.clone();
        tokio::spawn(async move {
            let now = convene_room::clock::unix_now_secs();
            controller.join(&url, &token, None, now, sink).await
        })
    }

    /// Closing the window while a link joins a server that does not answer: the join is
    /// given up at once, not after its connect timeout (10 s), and the app can exit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_leave_gives_up_a_join_to_a_server_that_does_not_answer() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let url = format!("ws://{}", silent.local_addr().expect("address"));
        let token = convene_room::token::AccessToken::new("key", "secret")
            .identity("app")
            .room_join("silent")
            .sign(convene_room::clock::unix_now_secs())
            .expect("token");
        let controller = Arc::new(CallController::new(
            true,
            Arc::new(SettingsStore::load(None)),
        ));
        let joining = join_in_background(
            &controller,
            url,
            token.expose().to_owned(),
            Arc::new(|_| ()),
        );
        // The join is under way once it has reached the server; the server never answers.
        let (_held, _) = silent.accept().await.expect("the join connects");

        let bound = Duration::from_secs(4);
        tokio::time::timeout(bound, controller.leave())
            .await
            .expect("leave does not wait for the connect timeout");
        let outcome = tokio::time::timeout(bound, joining)
            .await
            .expect("the join gives up")
            .expect("join task");
        assert_eq!(outcome.err(), Some(UiError::join_cancelled()));
        assert!(controller.current().await.is_none());
    }

    /// Closing the window just after a link's join reached the room (its devices still
    /// opening): the others see us leave at once, not after the server's 15 s timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_leave_as_the_join_reaches_the_room_leaves_it() {
        let server = convene_testkit::start_server(Duration::from_secs(15)).await;
        let watcher_token = server.token("closing", "watcher", 600).expect("token");
        let (_watcher, mut events) = convene_room::Room::connect(
            &server.url(),
            watcher_token.expose(),
            convene_testkit::loopback_options(),
        )
        .await
        .expect("watcher joins");
        let token = server.token("closing", "app", 600).expect("token");
        let controller = Arc::new(CallController::new(
            true,
            Arc::new(SettingsStore::load(None)),
        ));
        let (joined, mut heard) = tokio::sync::mpsc::channel::<()>(1);
        let sink: CallEventSink = Arc::new(move |event| {
            if matches!(event, convene_call::CallEvent::Joined { .. }) {
                let _ = joined.try_send(());
            }
        });
        let joining =
            join_in_background(&controller, server.url(), token.expose().to_owned(), sink);
        heard.recv().await.expect("the join reaches the room");
        controller.leave().await;

        let mut seen = Vec::new();
        convene_testkit::wait_event(&mut events, &mut seen, Duration::from_secs(5), |event| {
            match event {
                convene_room::RoomEvent::ParticipantDisconnected(p) if p.identity == "app" => {
                    Some(())
                }
                _ => None,
            }
        })
        .await;
        // Whether the join finished first (and the leave took the call) or was given up,
        // no call is left behind.
        let outcome = joining.await.expect("join task");
        assert!(
            matches!(outcome, Ok(_) | Err(UiError::JoinCancelled { .. })),
            "{outcome:?}"
        );
        assert!(controller.current().await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn devices_open_outside_the_call_and_changes_after_leaving_are_refused() {
        let server = convene_testkit::start_server(Duration::from_secs(15)).await;
        let token = server.token("devices", "app", 600).expect("token");
        let controller = Arc::new(CallController::new(
            true,
            Arc::new(SettingsStore::load(None)),
        ));
        let media = MediaChoice {
            microphone: false,
            camera: false,
            ..MediaChoice::default()
        };
        let sink: CallEventSink = Arc::new(|_| ());
        let now = convene_room::clock::unix_now_secs();
        controller
            .join(&server.url(), token.expose(), Some(media), now, sink)
            .await
            .expect("joins");

        // The camera joined off opens (outside the call's lock) and shows in our tile.
        assert!(
            controller
                .set_muted(MediaKind::Video, false)
                .await
                .expect("on")
        );
        let mut own = own_tile(&controller).expect("our tile");
        tokio::time::timeout(Duration::from_secs(10), own.wait_for(Option::is_some))
            .await
            .expect("a picture in time")
            .expect("pictures");

        // A camera that is not there is refused and the test pattern goes on.
        let refused = controller
            .switch_device(DeviceKind::Camera, Some("no-such-camera".to_owned()))
            .await;
        assert!(
            matches!(refused, Err(UiError::DeviceFailed { .. })),
            "{refused:?}"
        );
        assert_eq!(
            controller.remembered_media().devices.camera.as_deref(),
            None,
            "a refused device is not remembered"
        );
        assert!(controller.set_muted(MediaKind::Video, true).await.is_ok());

        controller.leave().await;
        assert!(
            !controller
                .set_muted(MediaKind::Video, false)
                .await
                .expect("no call")
        );
        let switched = controller.switch_device(DeviceKind::Camera, None).await;
        assert!(
            matches!(switched, Err(UiError::NotInCall { .. })),
            "{switched:?}"
        );
    }

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
