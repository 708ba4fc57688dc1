//! One call as the app runs it: join, publish the devices, play and decode what others
//! send, tell the UI what happens, and leave.
//!
//! The UI side is a sink of [`CallEvent`]s (serialisable, for the webview); the app's
//! commands only delegate here. Device problems never fail the join: a missing microphone,
//! camera or speaker becomes a [`CallEvent::DeviceProblem`] and the call goes on without it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use convene_media::codec::VideoEncoderSettings;
use convene_media::codec::vp8::Vp8Encoder;
use convene_media::devices::{MicrophoneCapture, SpeakerPlayback};
use convene_media::far_end::FarEnd;
use convene_media::playout::{
    Mixer, PlayoutConfig, SharedMixer, playback_source_with_echo_reference,
};
use convene_media::processing::ProcessingSettings;
use convene_media::video::camera::{NokhwaCamera, list_cameras};
use convene_media::video::source::{CameraError, VideoCapture, VideoSource};
use convene_room::room::{
    ConnectionQuality, DataKind, DataSendOptions, DisconnectReason, LocalTrack, LocalTrackOptions,
    ReconnectKind, RemoteParticipant, RoomEvent, TrackInfo,
};
use convene_room::webrtc_kit::MediaKind;
use convene_room::{Room, RoomEvents, RoomOptions};
use serde::Serialize;

use crate::chat::{CHAT_TOPIC, ChatMessage};
use crate::{
    AudioSender, CallError, DecodedVideo, FakeMedia, FakeMediaSettings, RemoteVideo, VideoSender,
    play_remote_audio,
};

/// The longest [`CallSession::leave`] waits for the server to acknowledge.
pub const LEAVE_BOUND: Duration = Duration::from_millis(1_500);

/// What to publish and play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    /// Publish the default microphone.
    pub microphone: bool,
    /// Publish the first camera.
    pub camera: bool,
    /// Play others through the default speaker.
    pub speaker: bool,
    /// Publish the test pattern and test tone instead of real devices.
    pub fake_media: bool,
}

impl Default for CallOptions {
    /// Microphone, camera and speaker on, real devices.
    fn default() -> Self {
        Self {
            microphone: true,
            camera: true,
            speaker: true,
            fake_media: false,
        }
    }
}

/// Everything the UI is told, as JSON (`{"type": "participantJoined", …}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// The newest decoded picture of every subscribed video track, by track sid (for the
/// frame server that feeds the webview's tiles).
pub type VideoRegistry =
    Arc<Mutex<HashMap<String, tokio::sync::watch::Receiver<Option<Arc<DecodedVideo>>>>>>;

/// A joined call. Dropping it stops media but does not say goodbye: call
/// [`CallSession::leave`] so the others see us go at once.
pub struct CallSession {
    room: Room,
    media: LocalMedia,
    videos: VideoRegistry,
    events_task: tokio::task::JoinHandle<()>,
}

/// The local devices' pipelines, kept alive for the call.
#[derive(Default)]
struct LocalMedia {
    fake: Option<FakeMedia>,
    microphone: Option<(MicrophoneCapture, AudioSender, LocalTrack)>,
    camera: Option<(VideoCapture, VideoSender, LocalTrack)>,
    speaker: Option<SpeakerPlayback>,
}

impl LocalMedia {
    /// Our published track of `kind`, if any.
    fn track(&self, kind: MediaKind) -> Option<&LocalTrack> {
        match (kind, &self.fake, &self.microphone) {
            (MediaKind::Video, Some(fake), _) => Some(&fake.camera),
            (MediaKind::Audio, Some(fake), _) => Some(&fake.microphone),
            (MediaKind::Audio, None, Some((_, _, track))) => Some(track),
            (MediaKind::Video, None, _) => self.camera.as_ref().map(|(_, _, track)| track),
            _ => None,
        }
    }
}

impl CallSession {
    /// Joins `url` with `token`, publishes what `options` asks for, and reports to `sink`.
    pub async fn join(
        url: &str,
        token: &str,
        options: CallOptions,
        room_options: RoomOptions,
        sink: CallEventSink,
    ) -> Result<Self, CallError> {
        let (room, events) = Room::connect(url, token, room_options).await?;
        sink(CallEvent::Joined {
            room: room.name(),
            identity: room.local_participant().identity,
            participants: room.remote_participants(),
        });
        let mixer: SharedMixer = Arc::new(Mutex::new(Mixer::new(PlayoutConfig::default())));
        let far_end = FarEnd::default();
        let mut media = LocalMedia::default();
        if options.speaker {
            let source = playback_source_with_echo_reference(mixer.clone(), far_end.clone());
            match SpeakerPlayback::open(None, Box::new(source)) {
                Ok(speaker) => media.speaker = Some(speaker),
                Err(error) => problem(&sink, "speaker", &error),
            }
        }
        if options.fake_media {
            match FakeMedia::publish(&room, FakeMediaSettings::default()).await {
                Ok(fake) => media.fake = Some(fake),
                Err(error) => problem(&sink, "camera", &error),
            }
        } else {
            if options.microphone {
                match publish_microphone(&room, far_end).await {
                    Ok(microphone) => media.microphone = Some(microphone),
                    Err(error) => problem(&sink, "microphone", &error),
                }
            }
            if options.camera {
                match publish_camera(&room).await {
                    Ok(camera) => media.camera = Some(camera),
                    Err(error) => problem(&sink, "camera", &error),
                }
            }
        }
        let videos = VideoRegistry::default();
        let events_task = tokio::spawn(forward_events(events, mixer, videos.clone(), sink));
        Ok(Self {
            room,
            media,
            videos,
            events_task,
        })
    }

    /// The decoded pictures of the subscribed video tracks.
    pub fn videos(&self) -> VideoRegistry {
        self.videos.clone()
    }

    /// The room (for data, devices).
    pub fn room(&self) -> &Room {
        &self.room
    }

    /// Mutes or unmutes our microphone (`Audio`) or camera (`Video`); the others see the
    /// change. Returns `false` when we publish no such track. The returned future does not
    /// borrow the session (devices are not `Sync`), so it can run on any task.
    pub fn set_muted(
        &self,
        kind: MediaKind,
        muted: bool,
    ) -> impl Future<Output = Result<bool, CallError>> + Send + 'static {
        let room = self.room.clone();
        let track = self.media.track(kind).cloned();
        async move {
            let Some(track) = track else {
                return Ok(false);
            };
            room.set_muted(&track, muted).await?;
            Ok(true)
        }
    }

    /// Sends a chat message to everyone (LiveKit's chat format); returns what was sent.
    /// Like [`CallSession::set_muted`], the future does not borrow the session.
    pub fn send_chat(
        &self,
        text: &str,
        timestamp_ms: u64,
    ) -> impl Future<Output = Result<ChatMessage, CallError>> + Send + 'static {
        let room = self.room.clone();
        let message = ChatMessage::new(text, timestamp_ms);
        async move {
            let options = DataSendOptions {
                kind: DataKind::Reliable,
                topic: Some(CHAT_TOPIC.to_owned()),
                destination_identities: Vec::new(),
            };
            room.send_data(&message.encode(), options).await?;
            Ok(message)
        }
    }

    /// Leaves: tells the server (the others see us go at once) within [`LEAVE_BOUND`],
    /// then stops every pipeline.
    pub async fn leave(self) {
        let _ = tokio::time::timeout(LEAVE_BOUND, self.room.disconnect()).await;
        // Let the Disconnected event reach the UI, briefly.
        let _ = tokio::time::timeout(Duration::from_millis(200), self.events_task).await;
    }
}

async fn publish_microphone(
    room: &Room,
    far_end: FarEnd,
) -> Result<(MicrophoneCapture, AudioSender, LocalTrack), CallError> {
    let (capture, frames) = MicrophoneCapture::open(None)?;
    let track = room.publish_track(LocalTrackOptions::microphone()).await?;
    let sender = AudioSender::start(
        track.clone(),
        frames,
        ProcessingSettings::default(),
        Some(far_end),
    )?;
    Ok((capture, sender, track))
}

/// The camera resolution asked for (the closest the camera offers is used).
const CAMERA_SIZE: (u32, u32) = (1280, 720);

async fn publish_camera(room: &Room) -> Result<(VideoCapture, VideoSender, LocalTrack), CallError> {
    let camera = list_cameras()?
        .into_iter()
        .next()
        .ok_or_else(|| CameraError::NotFound {
            id: "(no camera connected)".to_owned(),
        })?;
    let (width, height) = CAMERA_SIZE;
    let id = camera.id;
    let (capture, frames) = VideoCapture::start(Box::new(move || {
        Ok(Box::new(NokhwaCamera::open(&id, width, height, 30)?) as Box<dyn VideoSource>)
    }))?;
    let track = room
        .publish_track(LocalTrackOptions::camera(width, height))
        .await?;
    let encoder = Vp8Encoder::new(VideoEncoderSettings::for_size(width, height))?;
    let sender = VideoSender::start(track.clone(), frames, Box::new(encoder));
    Ok((capture, sender, track))
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
    sink: CallEventSink,
) {
    let mut videos: HashMap<String, RemoteVideo> = HashMap::new();
    let mut players: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    while let Some(event) = events.recv().await {
        match event {
            RoomEvent::TrackSubscribed(track) => {
                let sid = track.info.sid.clone();
                match track.info.kind {
                    MediaKind::Audio => {
                        players.insert(sid, play_remote_audio(track, mixer.clone()));
                    }
                    MediaKind::Video => match RemoteVideo::start(track) {
                        Ok(video) => {
                            registry
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .insert(sid.clone(), video.latest());
                            videos.insert(sid, video);
                        }
                        Err(error) => problem(&sink, "video decoder", &error),
                    },
                }
            }
            RoomEvent::TrackUnsubscribed { track_sid, .. } => {
                videos.remove(&track_sid);
                registry
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&track_sid);
                if let Some(player) = players.remove(&track_sid) {
                    player.abort();
                    mixer
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove_stream(&track_sid);
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
