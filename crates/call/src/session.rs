//! One call as the app runs it: join, publish the devices, play and decode what others
//! send, tell the UI what happens, and leave.
//!
//! The UI side is a sink of [`CallEvent`]s (serialisable, for the webview); the app's
//! commands only delegate here. Device problems never fail the join: a missing microphone,
//! camera or speaker becomes a [`CallEvent::DeviceProblem`] and the call goes on without it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use convene_media::codec::VideoEncoderSettings;
use convene_media::codec::vp8::Vp8Encoder;
use convene_media::devices::{AudioFrame, SpeakerPlayback};
use convene_media::far_end::FarEnd;
use convene_media::playout::{PlayoutConfig, SharedMixer, playback_source_with_echo_reference};
use convene_media::processing::ProcessingSettings;
use convene_media::video::source::VideoCapture;
use convene_room::room::{
    ConnectionQuality, DisconnectReason, LocalTrack, LocalTrackOptions, ReconnectKind,
    RemoteParticipant, RoomEvent, TrackInfo,
};
use convene_room::webrtc_kit::MediaKind;
use convene_room::{Room, RoomEvents, RoomOptions};
use serde::Serialize;
use tokio::sync::watch;

use crate::chat::{CHAT_TOPIC, ChatMessage};
use crate::device_change::{DeviceChange, DeviceOpening, Opened, OpenedDevice};
use crate::diagnostics::{Diagnostics, StatsReader, Timeline, describe_event};
use crate::local_devices::{
    DeviceChoice, DeviceKind, DeviceLosses, MicrophoneSource, OpenCamera, blocking, open_camera,
    open_microphone_reporting, open_speaker_reporting, parse_audio_id,
};
use crate::preview::{LocalPicture, LocalPictures};
use crate::video_registry::VideoRegistry;
use crate::{AudioSender, CallError, RemoteVideo, VideoSender, play_remote_audio};

/// The longest [`CallSession::leave`] waits for the server to acknowledge.
pub const LEAVE_BOUND: Duration = Duration::from_millis(1_500);

/// What to publish and play when joining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOptions {
    /// Which microphone, camera and speaker.
    pub devices: DeviceChoice,
    /// Join with the microphone on (off: it is published when first turned on).
    pub microphone: bool,
    /// Join with the camera on (off: it is not opened until turned on).
    pub camera: bool,
    /// Play the others.
    pub speaker: bool,
    /// Echo cancellation, noise suppression and gain control for a real microphone (the
    /// test tone never gets them).
    pub processing: ProcessingSettings,
    /// Where the call's microphone and speaker report losing their device (`None`: not
    /// reported).
    pub device_losses: Option<DeviceLosses>,
}

impl Default for CallOptions {
    /// The default microphone, camera and speaker, all on.
    fn default() -> Self {
        Self {
            devices: DeviceChoice::default(),
            microphone: true,
            camera: true,
            speaker: true,
            processing: ProcessingSettings::default(),
            device_losses: None,
        }
    }
}

impl CallOptions {
    /// The test tone and test pattern instead of real devices, and the default speaker.
    pub fn synthetic() -> Self {
        Self {
            devices: DeviceChoice::synthetic(),
            ..Self::default()
        }
    }
}

/// Everything the UI is told, as JSON (`{"type": "participantJoined", …}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum CallEvent {
    /// The call is up: who we are and who is here.
    Joined {
        /// Room name.
        room: String,
        /// Our identity.
        identity: String,
        /// Everyone else present.
        participants: Vec<RemoteParticipant>,
    },
    /// Someone joined (or re-appeared after a full reconnect).
    ParticipantJoined {
        /// Who.
        participant: RemoteParticipant,
    },
    /// Someone left.
    ParticipantLeft {
        /// Their identity.
        identity: String,
    },
    /// A participant published a track (camera, microphone, …).
    TrackPublished {
        /// Whose track.
        identity: String,
        /// The track.
        track: TrackInfo,
    },
    /// A participant stopped publishing a track.
    TrackUnpublished {
        /// Whose track.
        identity: String,
        /// Which track.
        track_sid: String,
    },
    /// One of our tracks was published (after joining, or again after a full reconnect).
    LocalTrackPublished {
        /// The track.
        track: TrackInfo,
    },
    /// One of our tracks was unpublished (e.g. during a full reconnect).
    LocalTrackUnpublished {
        /// The track.
        track: TrackInfo,
    },
    /// A participant muted or unmuted a track.
    TrackMuted {
        /// Whose track.
        identity: String,
        /// Which track.
        track_sid: String,
        /// Muted now.
        muted: bool,
    },
    /// Who is speaking, loudest first.
    ActiveSpeakers {
        /// Identities.
        identities: Vec<String>,
    },
    /// A participant's connection quality changed.
    ConnectionQuality {
        /// Whose.
        identity: String,
        /// How good.
        quality: ConnectionQuality,
    },
    /// The connection dropped; the banner shows "Reconnecting…".
    Reconnecting {
        /// Resume (quick) or full reconnect.
        kind: ReconnectKind,
    },
    /// The connection is back; the banner shows "Reconnected" briefly.
    Reconnected,
    /// The call ended; the banner shows the reason and offers to rejoin.
    Disconnected {
        /// Why, machine-readable.
        reason: DisconnectReason,
        /// Why, for people.
        message: String,
    },
    /// A chat message from someone (or from us, echoed after sending).
    Chat {
        /// Sender identity (`None`: the server).
        from: Option<String>,
        /// The message.
        message: ChatMessage,
    },
    /// A device could not be used; the call continues without it.
    DeviceProblem {
        /// `microphone`, `camera` or `speaker`.
        device: String,
        /// What went wrong.
        message: String,
    },
}

/// Receives the UI events (e.g. emits them to the webview). Called from a tokio task.
pub type CallEventSink = Arc<dyn Fn(CallEvent) + Send + Sync>;

/// A joined call. Dropping it stops media but does not say goodbye: call
/// [`CallSession::leave`] so the others see us go at once.
pub struct CallSession {
    room: Room,
    devices: DeviceChoice,
    processing: ProcessingSettings,
    device_losses: Option<DeviceLosses>,
    mixer: SharedMixer,
    far_end: FarEnd,
    microphone: Option<Published<(MicrophoneSource, AudioSender)>>,
    camera: Option<Published<(VideoCapture, VideoSender)>>,
    speaker: Option<SpeakerPlayback>,
    self_view: LocalPictures,
    videos: VideoRegistry,
    timeline: Timeline,
    stats: Arc<StatsReader>,
    events_task: tokio::task::JoinHandle<()>,
}

/// The parts of a call that chat, diagnostics and the self view need; clones share them.
#[derive(Clone)]
pub struct CallReader {
    room: Room,
    timeline: Timeline,
    stats: Arc<StatsReader>,
    self_view: LocalPictures,
}

impl CallReader {
    /// The room.
    pub fn room(&self) -> &Room {
        &self.room
    }

    /// Our own camera's newest picture (`None` while it is off).
    pub fn self_view(&self) -> LocalPicture {
        self.self_view.subscribe()
    }

    /// See [`CallSession::diagnostics`].
    pub fn diagnostics(&self) -> impl Future<Output = Diagnostics> + Send + 'static + use<> {
        let (room, timeline, stats) =
            (self.room.clone(), self.timeline.clone(), self.stats.clone());
        async move {
            let (stats, publisher_bitrates, subscriber_bitrates) = stats.read(&room).await;
            Diagnostics {
                stats,
                publisher_bitrates,
                subscriber_bitrates,
                timeline: timeline.entries(),
            }
        }
    }

    /// See [`CallSession::send_chat`].
    pub fn send_chat(
        &self,
        text: &str,
        timestamp_ms: u64,
    ) -> impl Future<Output = Result<ChatMessage, CallError>> + Send + 'static + use<> {
        let room = self.room.clone();
        let message = ChatMessage::new(text, timestamp_ms);
        async move {
            let options = ChatMessage::send_options();
            room.send_data(&message.encode(), options).await?;
            Ok(message)
        }
    }
}

/// One of our published tracks and the pipeline feeding it (`None` while a camera is off).
struct Published<Pipeline> {
    track: LocalTrack,
    pipeline: Option<Pipeline>,
}

impl CallSession {
    /// Joins `url` with `token`, publishes what `options` asks for, and reports to `sink`.
    /// A device that cannot open becomes a [`CallEvent::DeviceProblem`], not a failure.
    pub async fn join(
        url: &str,
        token: &str,
        options: CallOptions,
        room_options: RoomOptions,
        sink: CallEventSink,
    ) -> Result<Self, CallError> {
        Self::join_unless(
            url,
            token,
            options,
            room_options,
            sink,
            std::future::pending(),
        )
        .await
    }

    /// [`CallSession::join`], given up when `cancelled` completes first (the app is
    /// closing, or Leave was pressed while joining): a room already joined is left (the
    /// others see us go at once) before [`CallError::Cancelled`] is returned.
    pub async fn join_unless(
        url: &str,
        token: &str,
        options: CallOptions,
        room_options: RoomOptions,
        sink: CallEventSink,
        cancelled: impl Future<Output = ()>,
    ) -> Result<Self, CallError> {
        let mut cancelled = std::pin::pin!(cancelled);
        let (room, events) = tokio::select! {
            connected = Room::connect(url, token, room_options) => connected?,
            () = &mut cancelled => return Err(CallError::Cancelled),
        };
        sink(CallEvent::Joined {
            room: room.name(),
            identity: room.local_participant().identity,
            participants: room.remote_participants(),
        });
        let mixer = SharedMixer::new(PlayoutConfig::default());
        let videos = VideoRegistry::default();
        let timeline = Timeline::default();
        timeline.record(serde_json::json!({
            "event": "connected",
            "room": room.name(),
            "identity": room.local_participant().identity,
        }));
        let events_task = tokio::spawn(forward_events(
            events,
            mixer.clone(),
            videos.clone(),
            timeline.clone(),
            sink.clone(),
        ));
        let mut session = Self {
            room,
            devices: options.devices,
            processing: options.processing,
            device_losses: options.device_losses,
            mixer,
            far_end: FarEnd::default(),
            microphone: None,
            camera: None,
            speaker: None,
            self_view: Arc::new(watch::channel(None).0),
            videos,
            timeline,
            stats: Arc::default(),
            events_task,
        };
        let wanted = [
            (DeviceKind::Speaker, options.speaker),
            (DeviceKind::Microphone, options.microphone),
            (DeviceKind::Camera, options.camera),
        ];
        let gave_up = tokio::select! {
            () = session.start_devices(wanted, &sink) => false,
            () = &mut cancelled => true,
        };
        if gave_up {
            session.leave().await;
            return Err(CallError::Cancelled);
        }
        Ok(session)
    }

    /// Opens and publishes the `wanted` devices; one that fails is reported to `sink`.
    async fn start_devices(&mut self, wanted: [(DeviceKind, bool); 3], sink: &CallEventSink) {
        for (kind, wanted) in wanted {
            if !wanted {
                continue;
            }
            let started = match kind {
                DeviceKind::Speaker => self.open_speaker().await,
                DeviceKind::Microphone => self.set_enabled(MediaKind::Audio, true).await,
                DeviceKind::Camera => self.set_enabled(MediaKind::Video, true).await,
            };
            if let Err(error) = started {
                problem(sink, kind.name(), &error);
            }
        }
    }

    /// The decoded pictures of the subscribed video tracks.
    pub fn videos(&self) -> VideoRegistry {
        self.videos.clone()
    }

    /// Our own camera's newest picture, for the self-view tile (`None` while it is off).
    pub fn self_view(&self) -> LocalPicture {
        self.self_view.subscribe()
    }

    /// The room (for data, devices).
    pub fn room(&self) -> &Room {
        &self.room
    }

    /// The devices in use (or to be used when turned on), to remember for next time.
    pub fn devices(&self) -> &DeviceChoice {
        &self.devices
    }

    /// Turns our microphone (`Audio`) or camera (`Video`) on or off; the others see the
    /// change. Turning on a device we joined without publishes it; a camera turned off is
    /// released (its light goes off) and opened again when turned back on.
    pub async fn set_enabled(&mut self, kind: MediaKind, enabled: bool) -> Result<(), CallError> {
        self.apply(DeviceChange::Enable { kind, enabled }, None)
            .await
    }

    /// Whether our microphone (`Audio`) or camera (`Video`) is published and on.
    pub fn is_enabled(&self, kind: MediaKind) -> bool {
        let track = match kind {
            MediaKind::Audio => self.microphone.as_ref().map(|m| &m.track),
            MediaKind::Video => self.camera.as_ref().map(|c| &c.track),
        };
        track.is_some_and(|track| !track.is_muted())
    }

    /// Uses another device of `kind` (`None`: the default) from now on. A running device
    /// is replaced without a gap on the published track; if the new one cannot open, the
    /// old one keeps running and the error is returned.
    pub async fn switch_device(
        &mut self,
        kind: DeviceKind,
        id: Option<String>,
    ) -> Result<(), CallError> {
        self.apply(DeviceChange::Switch { kind, id }, None).await
    }

    /// What `change` needs opened first, as a future that does not borrow the session
    /// (`None`: nothing to open). Run it without holding the session's lock, then give
    /// the result to [`CallSession::apply`].
    pub fn opening_for(&self, change: &DeviceChange) -> Option<DeviceOpening> {
        match change {
            DeviceChange::Enable { enabled: false, .. } => None,
            DeviceChange::Enable {
                kind: MediaKind::Audio,
                ..
            } => self.microphone.is_none().then(|| {
                open_microphone_for(self.devices.microphone.clone(), self.device_losses.clone())
            }),
            DeviceChange::Enable {
                kind: MediaKind::Video,
                ..
            } => (!self.camera_running()).then(|| open_camera_for(self.devices.camera.clone())),
            DeviceChange::Switch { kind, id } if self.devices.get(*kind) == id.as_deref() => None,
            DeviceChange::Switch { kind, id } => match kind {
                DeviceKind::Microphone => self
                    .microphone
                    .is_some()
                    .then(|| open_microphone_for(id.clone(), self.device_losses.clone())),
                DeviceKind::Camera => self.camera_running().then(|| open_camera_for(id.clone())),
                DeviceKind::Speaker => Some(self.speaker_opening(id.clone())),
            },
        }
    }

    /// Carries out `change` with the device `opened` for it ([`CallSession::opening_for`]);
    /// anything still to open (`opened` is `None`, or the call changed meanwhile) is opened
    /// here. A device opened but no longer needed is released.
    pub async fn apply(
        &mut self,
        change: DeviceChange,
        opened: Option<OpenedDevice>,
    ) -> Result<(), CallError> {
        let opened = match opened {
            Some(opened) => Some(opened),
            None => match self.opening_for(&change) {
                Some(opening) => Some(opening.await?),
                None => None,
            },
        };
        match change {
            DeviceChange::Enable { kind, enabled } => self.enable(kind, enabled, opened).await,
            DeviceChange::Switch { kind, id } => {
                self.devices.set(kind, id);
                match opened.map(|opened| opened.device) {
                    // Turned off meanwhile: it opens on the new device when turned on.
                    Some(Opened::Camera(_)) if !self.camera_running() => Ok(()),
                    Some(device) => self.put_in(device).await,
                    None => Ok(()),
                }
            }
        }
    }

    async fn enable(
        &mut self,
        kind: MediaKind,
        enabled: bool,
        opened: Option<OpenedDevice>,
    ) -> Result<(), CallError> {
        let mut newly_published = false;
        if let Some(opened) = opened.filter(|_| enabled) {
            newly_published = match kind {
                MediaKind::Audio => self.microphone.is_none(),
                MediaKind::Video => self.camera.is_none(),
            };
            self.put_in(opened.device).await?;
        }
        let track = match kind {
            MediaKind::Audio => self.microphone.as_ref().map(|m| m.track.clone()),
            MediaKind::Video => self.camera.as_ref().map(|c| c.track.clone()),
        };
        let Some(track) = track else {
            return Ok(());
        };
        if !newly_published {
            self.room.set_muted(&track, !enabled).await?;
        }
        if kind == MediaKind::Video && !enabled {
            if let Some(camera) = &mut self.camera {
                camera.pipeline = None;
            }
            self.self_view.send_replace(None);
        }
        Ok(())
    }

    /// Whether the camera is open and sending.
    fn camera_running(&self) -> bool {
        self.camera.as_ref().is_some_and(|c| c.pipeline.is_some())
    }

    /// Opens the chosen speaker playing the call's mix (at join).
    async fn open_speaker(&mut self) -> Result<(), CallError> {
        let opened = self.speaker_opening(self.devices.speaker.clone()).await?;
        self.put_in(opened.device).await
    }

    /// Moves the running speaker to `id`, or opens one there playing the call's mix (and
    /// feeding the echo canceller).
    fn speaker_opening(&self, id: Option<String>) -> DeviceOpening {
        let Some(speaker) = &self.speaker else {
            let source =
                playback_source_with_echo_reference(self.mixer.clone(), self.far_end.clone());
            let losses = self.device_losses.clone();
            return Box::pin(async move {
                let playback = blocking(move || {
                    open_speaker_reporting(id.as_deref(), Box::new(source), losses)
                })
                .await?;
                Ok(OpenedDevice {
                    device: Opened::Speaker(playback),
                })
            });
        };
        let pending = id
            .as_deref()
            .map(parse_audio_id)
            .transpose()
            .map_err(CallError::from)
            .and_then(|device| Ok(speaker.request_switch(device.as_ref())?));
        Box::pin(async move {
            let pending = pending?;
            blocking(move || Ok(pending.wait()?)).await?;
            Ok(OpenedDevice {
                device: Opened::SpeakerMoved,
            })
        })
    }

    /// Puts an opened device into the call: a microphone or camera sends on our track
    /// (published now if it is the first time; the previous pipeline stops once the new
    /// one runs), a speaker plays the mix.
    async fn put_in(&mut self, device: Opened) -> Result<(), CallError> {
        match device {
            Opened::Microphone(source, frames) => self.put_in_microphone(source, frames).await,
            Opened::Camera(camera) => self.put_in_camera(camera).await,
            Opened::Speaker(playback) => {
                self.speaker = Some(playback);
                Ok(())
            }
            Opened::SpeakerMoved => Ok(()),
        }
    }

    /// The connection now (path, RTT, loss, jitter; bitrates since the previous call) and
    /// every room event so far. The future does not borrow the session.
    pub fn diagnostics(&self) -> impl Future<Output = Diagnostics> + Send + 'static {
        self.reader().diagnostics()
    }

    /// Sends a chat message to everyone (LiveKit's chat format); returns what was sent.
    /// The future does not borrow the session, so it can run on any task.
    pub fn send_chat(
        &self,
        text: &str,
        timestamp_ms: u64,
    ) -> impl Future<Output = Result<ChatMessage, CallError>> + Send + 'static {
        self.reader().send_chat(text, timestamp_ms)
    }

    /// What chat, diagnostics and the self view need of the call, without the session
    /// (which may be busy with a device change meanwhile).
    pub fn reader(&self) -> CallReader {
        CallReader {
            room: self.room.clone(),
            timeline: self.timeline.clone(),
            stats: self.stats.clone(),
            self_view: self.self_view.clone(),
        }
    }

    /// Leaves: tells the server (the others see us go at once) within [`LEAVE_BOUND`],
    /// then stops every pipeline.
    pub async fn leave(self) {
        let _ = tokio::time::timeout(LEAVE_BOUND, self.room.disconnect()).await;
        // Let the Disconnected event reach the UI, briefly.
        let _ = tokio::time::timeout(Duration::from_millis(200), self.events_task).await;
    }

    async fn put_in_microphone(
        &mut self,
        source: MicrophoneSource,
        frames: Receiver<AudioFrame>,
    ) -> Result<(), CallError> {
        let track = match &self.microphone {
            Some(published) => published.track.clone(),
            None => {
                self.room
                    .publish_track(LocalTrackOptions::microphone())
                    .await?
            }
        };
        let (processing, far_end) = if source.is_synthetic() {
            // A test tone needs no echo cancellation or noise suppression (they would
            // treat a steady tone as noise).
            (ProcessingSettings::off(), None)
        } else {
            (self.processing, Some(self.far_end.clone()))
        };
        let sender = AudioSender::start(track.clone(), frames, processing, far_end)?;
        self.microphone = Some(Published {
            track,
            pipeline: Some((source, sender)),
        });
        Ok(())
    }

    async fn put_in_camera(&mut self, camera: OpenCamera) -> Result<(), CallError> {
        let (width, height) = camera.size;
        let track = match &self.camera {
            Some(published) => published.track.clone(),
            None => {
                self.room
                    .publish_track(LocalTrackOptions::camera(width, height))
                    .await?
            }
        };
        let encoder = Vp8Encoder::new(VideoEncoderSettings::for_size(width, height))?;
        let sender = VideoSender::start_with_self_view(
            track.clone(),
            camera.frames,
            Box::new(encoder),
            Some(self.self_view.clone()),
        );
        self.camera = Some(Published {
            track,
            pipeline: Some((camera.capture, sender)),
        });
        Ok(())
    }
}

/// Opens microphone `id` off the async threads.
fn open_microphone_for(id: Option<String>, losses: Option<DeviceLosses>) -> DeviceOpening {
    Box::pin(async move {
        let (source, frames) =
            blocking(move || open_microphone_reporting(id.as_deref(), losses)).await?;
        Ok(OpenedDevice {
            device: Opened::Microphone(source, frames),
        })
    })
}

/// Opens camera `id` off the async threads.
fn open_camera_for(id: Option<String>) -> DeviceOpening {
    Box::pin(async move {
        let camera = blocking(move || open_camera(id.as_deref())).await?;
        Ok(OpenedDevice {
            device: Opened::Camera(camera),
        })
    })
}

fn problem(sink: &CallEventSink, device: &str, error: &dyn std::fmt::Display) {
    tracing::warn!(device, %error, "device unavailable; continuing without it");
    sink(CallEvent::DeviceProblem {
        device: device.to_owned(),
        message: error.to_string(),
    });
}

/// Turns room events into UI events and starts playing/decoding subscribed tracks.
async fn forward_events(
    mut events: RoomEvents,
    mixer: SharedMixer,
    registry: VideoRegistry,
    timeline: Timeline,
    sink: CallEventSink,
) {
    let mut videos: HashMap<String, RemoteVideo> = HashMap::new();
    let mut players: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    while let Some(event) = events.recv().await {
        timeline.record(describe_event(&event));
        match event {
            RoomEvent::TrackSubscribed(track) => {
                let sid = track.info.sid.clone();
                match track.info.kind {
                    MediaKind::Audio => {
                        players.insert(sid, play_remote_audio(track, mixer.clone()));
                    }
                    MediaKind::Video => match RemoteVideo::start(track) {
                        Ok(video) => {
                            registry.insert(&sid, video.latest());
                            videos.insert(sid, video);
                        }
                        Err(error) => problem(&sink, "video decoder", &error),
                    },
                }
            }
            RoomEvent::TrackUnsubscribed { track_sid, .. } => {
                videos.remove(&track_sid);
                registry.remove(&track_sid);
                if let Some(player) = players.remove(&track_sid) {
                    player.abort();
                    mixer.remove_stream(&track_sid);
                }
            }
            other => {
                if let Some(ui_event) = to_ui_event(other) {
                    let ended = matches!(ui_event, CallEvent::Disconnected { .. });
                    sink(ui_event);
                    if ended {
                        break;
                    }
                }
            }
        }
    }
    players.values().for_each(tokio::task::JoinHandle::abort);
}

/// The UI's view of a room event; `None` for events the UI does not show.
fn to_ui_event(event: RoomEvent) -> Option<CallEvent> {
    Some(match event {
        RoomEvent::ParticipantConnected(participant) => {
            CallEvent::ParticipantJoined { participant }
        }
        RoomEvent::ParticipantDisconnected(participant) => CallEvent::ParticipantLeft {
            identity: participant.identity,
        },
        RoomEvent::TrackPublished {
            participant_identity,
            track,
        } => CallEvent::TrackPublished {
            identity: participant_identity,
            track,
        },
        RoomEvent::TrackUnpublished {
            participant_identity,
            track,
        } => CallEvent::TrackUnpublished {
            identity: participant_identity,
            track_sid: track.sid,
        },
        RoomEvent::LocalTrackPublished(track) => CallEvent::LocalTrackPublished { track },
        RoomEvent::LocalTrackUnpublished(track) => CallEvent::LocalTrackUnpublished { track },
        RoomEvent::TrackMuted {
            participant_identity,
            track_sid,
        } => CallEvent::TrackMuted {
            identity: participant_identity,
            track_sid,
            muted: true,
        },
        RoomEvent::TrackUnmuted {
            participant_identity,
            track_sid,
        } => CallEvent::TrackMuted {
            identity: participant_identity,
            track_sid,
            muted: false,
        },
        RoomEvent::ActiveSpeakersChanged(identities) => CallEvent::ActiveSpeakers { identities },
        RoomEvent::ConnectionQualityChanged {
            participant_identity,
            quality,
        } => CallEvent::ConnectionQuality {
            identity: participant_identity,
            quality,
        },
        RoomEvent::Reconnecting(kind) => CallEvent::Reconnecting { kind },
        RoomEvent::Reconnected => CallEvent::Reconnected,
        RoomEvent::DataReceived(data) if data.topic.as_deref() == Some(CHAT_TOPIC) => {
            CallEvent::Chat {
                message: ChatMessage::decode(&data.payload)?,
                from: data.from_identity,
            }
        }
        RoomEvent::Disconnected(reason) => CallEvent::Disconnected {
            message: reason.to_string(),
            reason,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_events_serialise_with_a_type_tag_in_camel_case() {
        let event = to_ui_event(RoomEvent::TrackMuted {
            participant_identity: "alice".into(),
            track_sid: "TR_1".into(),
        })
        .expect("shown");
        let json = serde_json::to_value(&event).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"type": "trackMuted", "identity": "alice", "trackSid": "TR_1", "muted": true})
        );
        let ended = to_ui_event(RoomEvent::Disconnected(DisconnectReason::DuplicateIdentity))
            .expect("shown");
        let json = serde_json::to_value(&ended).expect("json");
        assert_eq!(json["type"], "disconnected");
        assert_eq!(json["reason"]["kind"], "duplicateIdentity");
        assert_eq!(json["message"], "you joined this room from somewhere else");
        assert!(
            to_ui_event(RoomEvent::ConnectionStateChanged(
                convene_room::room::ConnectionState::Connected
            ))
            .is_none()
        );
    }
}
