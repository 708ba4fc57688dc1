//! A subscribed audio track into the speaker's mixer.

use std::sync::Arc;

use convene_media::playout::SharedMixer;
use convene_room::room::RemoteTrack;

/// Feeds `track`'s Opus packets to its own playout buffer in `mixer` (keyed by the track
/// sid) until the track ends, then removes the stream. Must be called inside a tokio
/// runtime; abort the task to stop early. Never waits on the speaker: packets are queued
/// lock-free for its callback.
pub fn play_remote_audio(
    mut track: RemoteTrack,
    mixer: SharedMixer,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let key: Arc<str> = Arc::from(track.info.sid.as_str());
        if let Err(error) = mixer.add_stream(key.as_ref()) {
            tracing::warn!(%error, track = %key, "cannot play audio track");
            return;
        }
        while let Some(packet) = track.recv().await {
            mixer.push(&key, packet.sequence, packet.timestamp, packet.payload);
        }
        mixer.remove_stream(&key);
    })
}
