//! The app's one call, as an actor: `Idle | Joining | InCall | Changing`, plus the join
//! screen's preview while idle.
//!
//! Everything the window asks for arrives as a [`Command`] over a bounded channel and is
//! answered on a oneshot; the actor owns the [`CallSession`] and the [`DevicePreview`], so
//! nothing is behind a lock and the order of what happens is the order of the messages.
//! Slow work never runs in the actor's loop: a join, a preview's devices opening and a
//! device change in the call (which can publish a track and wait for the server up to its
//! publish timeout) run on tasks whose results come back as messages. Meanwhile chat,
//! diagnostics and Leave are answered at once; a Leave cancels a join or a device change
//! under way, and the call it reached is left (the others see us go at once).
//!
//! What the frame server draws from (our own picture, the call's video tracks) is shared
//! through [`VideoSources`], written only by the actor.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use convene_media::devices::{DEFAULT_WATCH_INTERVAL, DeviceEvent, DeviceWatcher};
use convene_room::room::{RemoteParticipant, TrackInfo};
use convene_room::webrtc_kit::MediaKind;
use convene_room::{Room, RoomOptions};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::local_devices::DeviceLosses;
use crate::session::{CallOptions, CallReader};
use crate::video_registry::{PictureFeed, VideoRegistry, VideoSources};
use crate::{
    CallError, CallEventSink, CallSession, ChatMessage, DeviceChange, DeviceChoice, DevicePreview,
    Diagnostics, LOCAL_CAMERA_FEED, LevelSink, LocalPicture,
};

/// Commands waiting for the actor, at most (the window sends a handful at a time).
const COMMAND_CAPACITY: usize = 32;
/// Results of the actor's tasks waiting for it, at most (a few tasks run at once).
const DONE_CAPACITY: usize = 8;

/// What the call screen starts from.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
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

impl JoinedCall {
    fn of(room: &Room) -> Self {
        let local = room.local_participant();
        Self {
            room: room.name(),
            identity: local.identity,
            participants: room.remote_participants(),
            local_tracks: local.tracks,
        }
    }
}

/// What the join screen's preview could open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct PreviewStatus {
    /// The camera is previewed (its pictures are served as [`LOCAL_CAMERA_FEED`]).
    pub camera: bool,
    /// The microphone is metered (levels go to the preview's [`LevelSink`]).
    pub microphone: bool,
    /// Devices that could not open, for people.
    pub problems: Vec<String>,
}

impl PreviewStatus {
    /// During a call the call has the devices: a preview opens nothing.
    fn in_call() -> Self {
        Self {
            problems: vec!["A call is in progress: it is using the devices".to_owned()],
            ..Self::default()
        }
    }
}

/// Our devices in the call after a change: what to remember, and what the buttons show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicesInCall {
    /// The devices in use (or to be used when turned on).
    pub devices: DeviceChoice,
    /// The microphone is published and on.
    pub microphone: bool,
    /// The camera is published and on.
    pub camera: bool,
}

/// What the window hears about devices, as they change (not only during a call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum DeviceNotice {
    /// Devices were plugged in or out, or a system default changed: list them again.
    ListChanged,
    /// A microphone or speaker in use stopped working (unplugged mid-stream).
    Lost {
        /// The device's id (see [`crate::list_devices`]).
        id: String,
    },
}

/// Receives [`DeviceNotice`]s (e.g. emits them to the webview).
pub type DeviceNoticeSink = Arc<dyn Fn(DeviceNotice) + Send + Sync>;

/// A join: where, as whom, with what, and where its events go.
pub struct JoinRequest {
    /// Server URL (already checked).
    pub url: String,
    /// Access token.
    pub token: String,
    /// Devices and whether each starts on.
    pub options: CallOptions,
    /// How to connect (e.g. loopback for a server on this computer).
    pub room_options: RoomOptions,
    /// Receives the call's UI events.
    pub sink: CallEventSink,
}

/// The join screen's preview: which devices, which of them on, where the level goes.
pub struct PreviewRequest {
    /// Which devices.
    pub devices: DeviceChoice,
    /// Show the camera.
    pub camera: bool,
    /// Meter the microphone.
    pub microphone: bool,
    /// Receives the microphone's level.
    pub level: LevelSink,
}

type JoinReply = oneshot::Sender<Result<JoinedCall, CallError>>;

enum Command {
    Join(JoinRequest, JoinReply),
    Leave(oneshot::Sender<()>),
    Current(oneshot::Sender<Option<JoinedCall>>),
    StartPreview(PreviewRequest, oneshot::Sender<PreviewStatus>),
    StopPreview(oneshot::Sender<()>),
    Change(
        DeviceChange,
        oneshot::Sender<Result<DevicesInCall, CallError>>,
    ),
    Chat(String, u64, oneshot::Sender<Result<ChatMessage, CallError>>),
    Diagnostics(oneshot::Sender<Result<Diagnostics, CallError>>),
    WatchDevices(DeviceNoticeSink, oneshot::Sender<Result<(), CallError>>),
}

/// What the actor's tasks report.
enum Done {
    Joined {
        attempt: u64,
        result: Result<CallSession, CallError>,
    },
    PreviewOpened {
        attempt: u64,
        preview: DevicePreview,
        status: PreviewStatus,
        reply: oneshot::Sender<PreviewStatus>,
    },
    Changed {
        session: CallSession,
        result: Option<Result<(), CallError>>,
        reply: oneshot::Sender<Result<DevicesInCall, CallError>>,
    },
    Watching {
        result: Result<(DeviceWatcher, std::sync::mpsc::Receiver<DeviceEvent>), CallError>,
        sink: DeviceNoticeSink,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// What the device watcher saw since the last batch.
    Devices(Vec<DeviceEvent>),
}

enum CallState {
    Idle,
    Joining {
        attempt: u64,
        cancel: Option<oneshot::Sender<()>>,
        reply: Option<JoinReply>,
        /// Leaves waiting for the join to wind down.
        leaves: Vec<oneshot::Sender<()>>,
        /// "Which call?" asked meanwhile: answered when the join ends.
        asked: Vec<oneshot::Sender<Option<JoinedCall>>>,
    },
    InCall {
        /// Boxed: a session is large, and the state moves between variants.
        session: Box<CallSession>,
    },
    /// The session is on a task carrying out a device change.
    Changing {
        reader: CallReader,
        cancel: Option<oneshot::Sender<()>>,
        /// Leaves waiting for the change to give the session back.
        leaves: Vec<oneshot::Sender<()>>,
    },
}

/// The frame server's view: written by the actor, read by the server's tasks.
#[derive(Default)]
struct Sources {
    /// Our own camera's pictures: the preview's before joining, the call's during it.
    local_picture: Mutex<Option<LocalPicture>>,
    /// The current call's decoded pictures.
    videos: Mutex<Option<VideoRegistry>>,
    /// Bumped when either changes.
    added: Arc<watch::Sender<u64>>,
}

impl Sources {
    fn show_local_picture(&self, picture: Option<LocalPicture>) {
        *self
            .local_picture
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = picture;
        self.bump();
    }

    fn serve_videos(&self, videos: Option<VideoRegistry>) {
        if let Some(videos) = &videos {
            let mut added = videos.additions();
            let signal = self.added.clone();
            // Ends when the call's registry is dropped.
            tokio::spawn(async move {
                while added.changed().await.is_ok() {
                    signal.send_modify(|count| *count = count.wrapping_add(1));
                }
            });
        }
        *self.videos.lock().unwrap_or_else(PoisonError::into_inner) = videos;
        self.bump();
    }

    fn bump(&self) {
        self.added
            .send_modify(|count| *count = count.wrapping_add(1));
    }
}

/// The handle to the call actor. Clones talk to the same actor; it ends when the last
/// handle is dropped (leave first: dropping a call does not say goodbye).
#[derive(Clone)]
pub struct CallController {
    commands: mpsc::Sender<Command>,
    sources: Arc<Sources>,
}

impl CallController {
    /// Starts the actor on the current tokio runtime.
    pub fn start() -> Self {
        let (commands, inbox) = mpsc::channel(COMMAND_CAPACITY);
        let (done, results) = mpsc::channel(DONE_CAPACITY);
        let sources = Arc::new(Sources {
            added: Arc::new(watch::channel(0).0),
            ..Sources::default()
        });
        let actor = Actor {
            state: CallState::Idle,
            preview: None,
            preview_attempt: 0,
            join_attempt: 0,
            pending_join: None,
            watcher: None,
            device_sink: None,
            deferred: VecDeque::new(),
            sources: sources.clone(),
            done,
        };
        tokio::spawn(actor.run(inbox, results));
        Self { commands, sources }
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, CallError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| CallError::Stopped)?;
        answer.await.map_err(|_| CallError::Stopped)
    }

    /// Joins (leaving a call in progress first, stopping the preview so the call can open
    /// the camera). [`CallError::Cancelled`] when a [`CallController::leave`] came first.
    pub async fn join(&self, request: JoinRequest) -> Result<JoinedCall, CallError> {
        self.ask(|reply| Command::Join(request, reply)).await?
    }

    /// Leaves the call, or gives up the join under way (a room it reached is left too);
    /// returns once the others have been told, bounded by [`crate::LEAVE_BOUND`].
    pub async fn leave(&self) {
        let _ = self.ask(Command::Leave).await;
    }

    /// The call in progress; a join under way is waited for.
    pub async fn current(&self) -> Option<JoinedCall> {
        self.ask(Command::Current).await.ok().flatten()
    }

    /// Previews `request`'s devices (replacing a running preview); during a call nothing
    /// opens. Devices that fail are listed, never an error.
    pub async fn start_preview(&self, request: PreviewRequest) -> PreviewStatus {
        self.ask(|reply| Command::StartPreview(request, reply))
            .await
            .unwrap_or_default()
    }

    /// Stops the preview and releases its devices (the join screen went away).
    pub async fn stop_preview(&self) {
        let _ = self.ask(Command::StopPreview).await;
    }

    /// Turns a device on or off, or switches to another, in the call.
    /// [`CallError::NotInCall`] without a call.
    pub async fn change_device(&self, change: DeviceChange) -> Result<DevicesInCall, CallError> {
        self.ask(|reply| Command::Change(change, reply)).await?
    }

    /// Sends a chat message to everyone in the call; returns it as sent.
    pub async fn send_chat(&self, text: &str, now_ms: u64) -> Result<ChatMessage, CallError> {
        self.ask(|reply| Command::Chat(text.to_owned(), now_ms, reply))
            .await?
    }

    /// The connection now and every room event of the call (the diagnostics panel).
    pub async fn diagnostics(&self) -> Result<Diagnostics, CallError> {
        self.ask(Command::Diagnostics).await?
    }

    /// Starts watching the devices (polled every [`DEFAULT_WATCH_INTERVAL`]: neither cpal
    /// nor nokhwa notifies); hot-plug and a call's microphone or speaker losing its device
    /// go to `sink` from now on. Asked again, only the sink changes.
    pub async fn watch_devices(&self, sink: DeviceNoticeSink) -> Result<(), CallError> {
        self.ask(|reply| Command::WatchDevices(sink, reply)).await?
    }
}

impl VideoSources for CallController {
    fn find(&self, sid: &str) -> Option<PictureFeed> {
        if sid == LOCAL_CAMERA_FEED {
            return self
                .sources
                .local_picture
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
        }
        let videos = self
            .sources
            .videos
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        videos.as_ref()?.find(sid)
    }

    fn additions(&self) -> watch::Receiver<u64> {
        self.sources.added.subscribe()
    }
}

struct Actor {
    state: CallState,
    preview: Option<DevicePreview>,
    /// Bumped by every preview start and stop: an older opening is released on arrival.
    preview_attempt: u64,
    join_attempt: u64,
    /// A join waiting for the previous call to wind down.
    pending_join: Option<(JoinRequest, JoinReply)>,
    /// Polls for hot-plug while somebody listens ([`CallController::watch_devices`]).
    watcher: Option<DeviceWatcher>,
    device_sink: Option<DeviceNoticeSink>,
    /// Device changes that arrived while another was carried out, in order.
    deferred: VecDeque<(
        DeviceChange,
        oneshot::Sender<Result<DevicesInCall, CallError>>,
    )>,
    sources: Arc<Sources>,
    done: mpsc::Sender<Done>,
}

impl Actor {
    async fn run(mut self, mut inbox: mpsc::Receiver<Command>, mut results: mpsc::Receiver<Done>) {
        loop {
            tokio::select! {
                // Results first: a Leave right after a join's end must find the call.
                biased;
                Some(done) = results.recv() => self.on_done(done),
                command = inbox.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
            }
            self.start_pending_join();
        }
        // Every handle is gone: leave what is left.
        self.take_call(Vec::new());
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Join(request, reply) => self.join(request, reply),
            Command::Leave(reply) => self.leave(reply),
            Command::Current(reply) => match &mut self.state {
                CallState::Idle => {
                    let _ = reply.send(None);
                }
                CallState::Joining { asked, .. } => asked.push(reply),
                CallState::InCall { session } => {
                    let _ = reply.send(Some(JoinedCall::of(session.room())));
                }
                CallState::Changing { reader, .. } => {
                    let _ = reply.send(Some(JoinedCall::of(reader.room())));
                }
            },
            Command::StartPreview(request, reply) => self.start_preview(request, reply),
            Command::StopPreview(reply) => {
                self.preview_attempt += 1;
                if self.preview.take().is_some() {
                    let call_view = match &self.state {
                        CallState::InCall { session } => Some(session.self_view()),
                        CallState::Changing { reader, .. } => Some(reader.self_view()),
                        _ => None,
                    };
                    self.sources.show_local_picture(call_view);
                }
                let _ = reply.send(());
            }
            Command::Change(change, reply) => match &self.state {
                CallState::InCall { .. } => self.change(change, reply),
                CallState::Changing { .. } => self.deferred.push_back((change, reply)),
                _ => {
                    let _ = reply.send(Err(CallError::NotInCall));
                }
            },
            Command::Chat(text, now_ms, reply) => match self.reader() {
                Some(reader) => {
                    let sending = reader.send_chat(&text, now_ms);
                    tokio::spawn(async move {
                        let _ = reply.send(sending.await);
                    });
                }
                None => {
                    let _ = reply.send(Err(CallError::NotInCall));
                }
            },
            Command::WatchDevices(sink, reply) => {
                if self.watcher.is_some() {
                    self.device_sink = Some(sink);
                    let _ = reply.send(Ok(()));
                    return;
                }
                let done = self.done.clone();
                tokio::spawn(async move {
                    let started = tokio::task::spawn_blocking(|| {
                        DeviceWatcher::start(DEFAULT_WATCH_INTERVAL)
                    })
                    .await;
                    let result = match started {
                        Ok(started) => started.map_err(CallError::from),
                        Err(error) => Err(CallError::DeviceThread(error.to_string())),
                    };
                    let _ = done
                        .send(Done::Watching {
                            result,
                            sink,
                            reply,
                        })
                        .await;
                });
            }
            Command::Diagnostics(reply) => match self.reader() {
                Some(reader) => {
                    let reading = reader.diagnostics();
                    tokio::spawn(async move {
                        let _ = reply.send(Ok(reading.await));
                    });
                }
                None => {
                    let _ = reply.send(Err(CallError::NotInCall));
                }
            },
        }
    }

    /// What chat and diagnostics need of the call, if there is one.
    fn reader(&self) -> Option<CallReader> {
        match &self.state {
            CallState::InCall { session } => Some(session.reader()),
            CallState::Changing { reader, .. } => Some(reader.clone()),
            _ => None,
        }
    }

    fn join(&mut self, request: JoinRequest, reply: JoinReply) {
        // The preview's devices are released so the call can open them.
        self.preview_attempt += 1;
        if self.preview.take().is_some() {
            self.sources.show_local_picture(None);
        }
        match &self.state {
            CallState::Idle => self.start_join(request, reply),
            // One call at a time: the one in progress is left first (on a task).
            CallState::InCall { .. } => {
                self.take_call(Vec::new());
                self.start_join(request, reply);
            }
            // A join or device change under way is cancelled; this join starts once it
            // has wound down (a newer join replaces a waiting one).
            CallState::Joining { .. } | CallState::Changing { .. } => {
                let (left, _) = oneshot::channel();
                self.leave(left);
                if let Some((_, earlier)) = self.pending_join.replace((request, reply)) {
                    let _ = earlier.send(Err(CallError::Cancelled));
                }
            }
        }
    }

    /// Starts the join that waited for the previous call to wind down, once it has.
    fn start_pending_join(&mut self) {
        if matches!(self.state, CallState::Idle)
            && let Some((request, reply)) = self.pending_join.take()
        {
            self.start_join(request, reply);
        }
    }

    fn start_join(&mut self, mut request: JoinRequest, reply: JoinReply) {
        if let Some(watcher) = &self.watcher {
            request.options.device_losses = Some(DeviceLosses(watcher.event_sender()));
        }
        self.join_attempt += 1;
        let attempt = self.join_attempt;
        let (cancel, cancelled) = oneshot::channel::<()>();
        let done = self.done.clone();
        tokio::spawn(async move {
            let cancelled = async {
                // A dropped sender (the actor ended) also cancels.
                let _ = cancelled.await;
            };
            let result = CallSession::join_unless(
                &request.url,
                &request.token,
                request.options,
                request.room_options,
                request.sink,
                cancelled,
            )
            .await;
            let _ = done.send(Done::Joined { attempt, result }).await;
        });
        self.state = CallState::Joining {
            attempt,
            cancel: Some(cancel),
            reply: Some(reply),
            leaves: Vec::new(),
            asked: Vec::new(),
        };
    }

    /// Leaves the call (on a task, answering `reply` once the others were told), or
    /// cancels the join or change under way (answered when it has wound down).
    fn leave(&mut self, reply: oneshot::Sender<()>) {
        if let Some((_, waiting)) = self.pending_join.take() {
            let _ = waiting.send(Err(CallError::Cancelled));
        }
        match &mut self.state {
            CallState::Idle => {
                let _ = reply.send(());
            }
            CallState::Joining { cancel, leaves, .. }
            | CallState::Changing { cancel, leaves, .. } => {
                if let Some(cancel) = cancel.take() {
                    let _ = cancel.send(());
                }
                leaves.push(reply);
            }
            CallState::InCall { .. } => self.take_call(vec![reply]),
        }
    }

    /// Takes the call out (Idle again) and leaves it on a task; `replies` are answered
    /// once the others were told.
    fn take_call(&mut self, replies: Vec<oneshot::Sender<()>>) {
        let state = std::mem::replace(&mut self.state, CallState::Idle);
        let session = match state {
            CallState::InCall { session } => Some(session),
            other => {
                self.state = other;
                None
            }
        };
        self.sources.serve_videos(None);
        if self.preview.is_none() {
            self.sources.show_local_picture(None);
        }
        for deferred in self.deferred.drain(..) {
            let _ = deferred.1.send(Err(CallError::NotInCall));
        }
        let Some(session) = session else {
            for reply in replies {
                let _ = reply.send(());
            }
            return;
        };
        tokio::spawn(async move {
            (*session).leave().await;
            for reply in replies {
                let _ = reply.send(());
            }
        });
    }

    fn start_preview(&mut self, request: PreviewRequest, reply: oneshot::Sender<PreviewStatus>) {
        if !matches!(self.state, CallState::Idle) {
            let _ = reply.send(PreviewStatus::in_call());
            return;
        }
        // The running preview lets go of its devices before they open again.
        self.preview = None;
        self.preview_attempt += 1;
        let attempt = self.preview_attempt;
        let done = self.done.clone();
        tokio::spawn(async move {
            let (preview, problems) = DevicePreview::start(
                &request.devices,
                request.camera,
                request.microphone,
                request.level,
            )
            .await;
            let status = PreviewStatus {
                camera: preview.has_camera(),
                microphone: preview.has_microphone(),
                problems: problems
                    .into_iter()
                    .map(|(kind, error)| format!("{}: {error}", kind.name()))
                    .collect(),
            };
            let _ = done
                .send(Done::PreviewOpened {
                    attempt,
                    preview,
                    status,
                    reply,
                })
                .await;
        });
    }

    /// Lends the session to a task that carries out `change`.
    fn change(
        &mut self,
        change: DeviceChange,
        reply: oneshot::Sender<Result<DevicesInCall, CallError>>,
    ) {
        let CallState::InCall { session } = std::mem::replace(&mut self.state, CallState::Idle)
        else {
            let _ = reply.send(Err(CallError::NotInCall));
            return;
        };
        let reader = session.reader();
        let (cancel, cancelled) = oneshot::channel::<()>();
        let done = self.done.clone();
        tokio::spawn(async move {
            let mut session = *session;
            let result = tokio::select! {
                result = session.apply(change, None) => Some(result),
                _ = cancelled => None,
            };
            let _ = done
                .send(Done::Changed {
                    session,
                    result,
                    reply,
                })
                .await;
        });
        self.state = CallState::Changing {
            reader,
            cancel: Some(cancel),
            leaves: Vec::new(),
        };
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Watching {
                result,
                sink,
                reply,
            } => match result {
                Ok((watcher, events)) => {
                    self.forward_device_events(events);
                    self.watcher = Some(watcher);
                    self.device_sink = Some(sink);
                    let _ = reply.send(Ok(()));
                }
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
            Done::Devices(events) => {
                let Some(sink) = &self.device_sink else {
                    return;
                };
                let mut list_changed = false;
                for event in events {
                    match event {
                        DeviceEvent::Lost(id) => sink(DeviceNotice::Lost { id: id.to_string() }),
                        _ => list_changed = true,
                    }
                }
                if list_changed {
                    sink(DeviceNotice::ListChanged);
                }
            }
            Done::Joined { attempt, result } => self.joined(attempt, result),
            Done::PreviewOpened {
                attempt,
                preview,
                status,
                reply,
            } => {
                if attempt != self.preview_attempt || !matches!(self.state, CallState::Idle) {
                    // Stopped, replaced or a call began meanwhile: released here.
                    drop(preview);
                    let status = if matches!(self.state, CallState::Idle) {
                        status
                    } else {
                        PreviewStatus::in_call()
                    };
                    let _ = reply.send(status);
                    return;
                }
                self.sources.show_local_picture(Some(preview.picture()));
                self.preview = Some(preview);
                let _ = reply.send(status);
            }
            Done::Changed {
                session,
                result,
                reply,
            } => {
                let CallState::Changing { leaves, .. } = std::mem::replace(
                    &mut self.state,
                    CallState::InCall {
                        session: Box::new(session),
                    },
                ) else {
                    return;
                };
                let answer = match (result, &self.state) {
                    (Some(Ok(())), CallState::InCall { session }) => Ok(DevicesInCall {
                        devices: session.devices().clone(),
                        microphone: session.is_enabled(MediaKind::Audio),
                        camera: session.is_enabled(MediaKind::Video),
                    }),
                    (Some(Err(error)), _) => Err(error),
                    _ => Err(CallError::Cancelled),
                };
                let _ = reply.send(answer);
                if !leaves.is_empty() {
                    self.take_call(leaves);
                    return;
                }
                if let Some((change, reply)) = self.deferred.pop_front() {
                    self.change(change, reply);
                }
            }
        }
    }

    /// Forwards the watcher's events to the actor in batches (one poll's changes at once),
    /// from a thread of its own: the watcher's channel is a blocking one. The thread ends
    /// when the actor is gone.
    fn forward_device_events(&self, events: std::sync::mpsc::Receiver<DeviceEvent>) {
        let done = self.done.clone();
        let spawned = std::thread::Builder::new()
            .name("convene-device-events".into())
            .spawn(move || {
                while let Ok(first) = events.recv() {
                    let mut batch = vec![first];
                    batch.extend(events.try_iter());
                    if done.blocking_send(Done::Devices(batch)).is_err() {
                        return;
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "device changes will not be reported");
        }
    }

    fn joined(&mut self, attempt: u64, result: Result<CallSession, CallError>) {
        let current =
            matches!(self.state, CallState::Joining { attempt: current, .. } if current == attempt);
        if !current {
            // A join given up and replaced: what it reached is left.
            if let Ok(session) = result {
                tokio::spawn(session.leave());
            }
            return;
        }
        let CallState::Joining {
            reply,
            leaves,
            asked,
            ..
        } = std::mem::replace(&mut self.state, CallState::Idle)
        else {
            return;
        };
        match result {
            Ok(session) if leaves.is_empty() => {
                let joined = JoinedCall::of(session.room());
                self.sources.serve_videos(Some(session.videos()));
                self.sources.show_local_picture(Some(session.self_view()));
                self.state = CallState::InCall {
                    session: Box::new(session),
                };
                for asked in asked {
                    let _ = asked.send(Some(joined.clone()));
                }
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(joined));
                }
            }
            Ok(session) => {
                // Joined just as a Leave came: leave it, the join counts as given up.
                self.state = CallState::InCall {
                    session: Box::new(session),
                };
                self.take_call(leaves);
                for asked in asked {
                    let _ = asked.send(None);
                }
                if let Some(reply) = reply {
                    let _ = reply.send(Err(CallError::Cancelled));
                }
            }
            Err(error) => {
                for leave in leaves {
                    let _ = leave.send(());
                }
                for asked in asked {
                    let _ = asked.send(None);
                }
                if let Some(reply) = reply {
                    let _ = reply.send(Err(error));
                }
            }
        }
    }
}
