//! The synthetic participant: test pattern camera and test tone microphone, published
//! through the same pipelines as real devices (`--fake-media`, "Invite test participant").

use convene_media::codec::VideoEncoderSettings;
use convene_media::codec::vp8::Vp8Encoder;
use convene_media::devices::ToneMicrophone;
use convene_media::processing::ProcessingSettings;
use convene_media::video::source::{PatternCamera, VideoCapture, VideoSource};
use convene_room::Room;
use convene_room::room::{LocalTrack, LocalTrackOptions};

use crate::{AudioSender, CallError, VideoSender};

/// What the synthetic devices produce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FakeMediaSettings {
    /// Pattern width in pixels.
    pub width: u32,
    /// Pattern height in pixels.
    pub height: u32,
    /// Pattern frame rate.
    pub fps: u32,
    /// Tone frequency in Hz.
    pub tone_hz: f32,
}

impl Default for FakeMediaSettings {
    /// 640x360 at 30 fps and a 440 Hz tone.
    fn default() -> Self {
        Self {
            width: 640,
            height: 360,
            fps: 30,
            tone_hz: 440.0,
        }
    }
}

/// A published camera and microphone fed by the synthetic devices; dropping it stops them
/// (the tracks stay published until unpublished or the room disconnects).
pub struct FakeMedia {
    /// The published camera track.
    pub camera: LocalTrack,
    /// The published microphone track.
    pub microphone: LocalTrack,
    _video: VideoSender,
    _capture: VideoCapture,
    _audio: AudioSender,
    _tone: ToneMicrophone,
}

impl FakeMedia {
    /// Publishes the test pattern (VP8) and the test tone (Opus) in `room`.
    pub async fn publish(room: &Room, settings: FakeMediaSettings) -> Result<Self, CallError> {
        let camera = room
            .publish_track(LocalTrackOptions::camera(settings.width, settings.height))
            .await?;
        let microphone = room.publish_track(LocalTrackOptions::microphone()).await?;
        let (width, height, fps) = (
            settings.width as usize,
            settings.height as usize,
            settings.fps,
        );
        let (capture, frames) = VideoCapture::start(Box::new(move || {
            Ok(Box::new(PatternCamera::new(width, height, fps)) as Box<dyn VideoSource>)
        }))?;
        let encoder = Vp8Encoder::new(VideoEncoderSettings {
            fps: settings.fps,
            ..VideoEncoderSettings::for_size(settings.width, settings.height)
        })?;
        let video = VideoSender::start(camera.clone(), frames, Box::new(encoder));
        let (tone, samples) = ToneMicrophone::start(settings.tone_hz);
        // A test tone needs no echo cancellation or noise suppression (they would treat
        // a steady tone as noise).
        let audio =
            AudioSender::start(microphone.clone(), samples, ProcessingSettings::off(), None)?;
        Ok(Self {
            camera,
            microphone,
            _video: video,
            _capture: capture,
            _audio: audio,
            _tone: tone,
        })
    }
}
