//! A subscribed audio track into the speaker's mixer.

use convene_media::playout::SharedMixer;
use convene_room::room::RemoteTrack;
use std::sync::PoisonError;

/// Feeds `track`'s Opus packets to its own playout buffer in `mixer` (keyed by the track
/// sid) until the track ends, then removes the stream. Must be called inside a tokio
/// runtime; abort the task to stop early.
pub fn play_remote_audio(
    mut track: RemoteTrack,
    mixer: SharedMixer,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let key = track.info.sid.clone();
        let added = mixer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add_stream(key.clone());
        if let Err(error) = added {
            tracing::warn!(%error, track = %key, "cannot play audio track");
            return;
        }
        while let Some(packet) = track.recv().await {
            mixer.lock().unwrap_or_else(PoisonError::into_inner).push(
                &key,
                packet.header.sequence_number,
                packet.header.timestamp,
                &packet.payload,
            );
        }
        mixer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove_stream(&key);
    })
}
