//! What a tester attaches to a bug report: the connection now (path, RTT, loss, jitter,
//! bitrates; [`Room::stats`] read twice) and the timeline of every room event with its time.
//! The app's diagnostics panel and `convene-cli join` show the same JSON.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use convene_room::Room;
use convene_room::room::{
    Bitrates, ConnectionStats, DataKind, ReconnectKind, RoomEvent, TransportStats,
};
use serde::Serialize;
use serde_json::{Value, json};

/// The most events a timeline keeps (the oldest go first): hours of a call's events.
pub const TIMELINE_LIMIT: usize = 5_000;
/// The most characters of a data message's text shown in the timeline.
const DATA_PREVIEW_CHARS: usize = 200;

/// One room event and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// Milliseconds since the Unix epoch.
    #[cfg_attr(feature = "ui", specta(type = specta_typescript::Number))]
    pub at_ms: u64,
    /// The event (see [`describe_event`]): `{"event": name, …}`.
    #[cfg_attr(
        feature = "ui",
        specta(type = std::collections::HashMap<String, specta_typescript::Unknown>)
    )]
    pub event: Value,
}

/// Every room event of a call, with timestamps, newest last. Cloning shares.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    entries: Arc<Mutex<VecDeque<TimelineEntry>>>,
}

impl Timeline {
    /// Records `event` now.
    pub fn record(&self, event: Value) {
        let entry = TimelineEntry {
            at_ms: now_ms(),
            event,
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() == TIMELINE_LIMIT {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// Everything recorded so far, oldest first.
    pub fn entries(&self) -> Vec<TimelineEntry> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.iter().cloned().collect()
    }
}

/// The connection and the timeline at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ui", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Diagnostics {
    /// Both peer connections now.
    pub stats: ConnectionStats,
    /// The publisher connection's bitrates since the previous reading.
    pub publisher_bitrates: Option<Bitrates>,
    /// The subscriber connection's bitrates since the previous reading.
    pub subscriber_bitrates: Option<Bitrates>,
    /// Every room event so far.
    pub timeline: Vec<TimelineEntry>,
}

/// Reads a room's stats and works out bitrates from the previous reading.
#[derive(Debug, Default)]
pub struct StatsReader {
    previous: Mutex<Option<(Instant, ConnectionStats)>>,
}

impl StatsReader {
    /// The stats of `room` now, with bitrates since the last call (none the first time).
    pub async fn read(&self, room: &Room) -> (ConnectionStats, Option<Bitrates>, Option<Bitrates>) {
        let stats = room.stats().await;
        let now = Instant::now();
        let previous = self
            .previous
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace((now, stats.clone()));
        let rates = |current: &Option<TransportStats>, earlier: &Option<TransportStats>, at| {
            let seconds = now.duration_since(at).as_secs_f64();
            Some(current.as_ref()?.bitrates_since(earlier.as_ref()?, seconds))
        };
        let (publisher, subscriber) = match &previous {
            Some((at, earlier)) => (
                rates(&stats.publisher, &earlier.publisher, *at),
                rates(&stats.subscriber, &earlier.subscriber, *at),
            ),
            None => (None, None),
        };
        (stats, publisher, subscriber)
    }
}

fn now_ms() -> u64 {
    u64::try_from(convene_room::clock::unix_now_millis()).unwrap_or_default()
}

/// A room event as JSON (`{"event": "trackMuted", ...}`), for the timeline and the CLI.
/// Data messages show at most their first 200 characters.
pub fn describe_event(event: &RoomEvent) -> Value {
    match event {
        RoomEvent::ParticipantConnected(p) => {
            json!({"event": "participantConnected", "identity": p.identity, "sid": p.sid})
        }
        RoomEvent::ParticipantDisconnected(p) => {
            json!({"event": "participantDisconnected", "identity": p.identity, "sid": p.sid})
        }
        RoomEvent::TrackPublished {
            participant_identity,
            track,
        } => json!({"event": "trackPublished", "identity": participant_identity, "track": track}),
        RoomEvent::TrackUnpublished {
            participant_identity,
            track,
        } => json!({"event": "trackUnpublished", "identity": participant_identity, "track": track}),
        RoomEvent::TrackSubscribed(track) => json!({
            "event": "trackSubscribed",
            "identity": track.participant_identity,
            "track": track.info,
        }),
        RoomEvent::TrackUnsubscribed {
            participant_identity,
            track_sid,
        } => {
            json!({"event": "trackUnsubscribed", "identity": participant_identity, "sid": track_sid})
        }
        RoomEvent::TrackMuted {
            participant_identity,
            track_sid,
        } => json!({"event": "trackMuted", "identity": participant_identity, "sid": track_sid}),
        RoomEvent::TrackUnmuted {
            participant_identity,
            track_sid,
        } => json!({"event": "trackUnmuted", "identity": participant_identity, "sid": track_sid}),
        RoomEvent::LocalTrackPublished(track) => {
            json!({"event": "localTrackPublished", "track": track})
        }
        RoomEvent::LocalTrackUnpublished(track) => {
            json!({"event": "localTrackUnpublished", "track": track})
        }
        RoomEvent::ActiveSpeakersChanged(speakers) => {
            json!({"event": "activeSpeakers", "identities": speakers})
        }
        RoomEvent::ConnectionQualityChanged {
            participant_identity,
            quality,
        } => {
            json!({"event": "connectionQuality", "identity": participant_identity, "quality": quality})
        }
        RoomEvent::DataReceived(message) => json!({
            "event": "data",
            "from": message.from_identity,
            "topic": message.topic,
            "reliable": message.kind == DataKind::Reliable,
            "text": String::from_utf8_lossy(&message.payload)
                .chars()
                .take(DATA_PREVIEW_CHARS)
                .collect::<String>(),
        }),
        RoomEvent::ConnectionStateChanged(state) => {
            json!({"event": "connectionState", "state": state})
        }
        RoomEvent::Reconnecting(kind) => json!({
            "event": "reconnecting",
            "kind": match kind { ReconnectKind::Resume => "resume", ReconnectKind::Full => "full" },
        }),
        RoomEvent::Reconnected => json!({"event": "reconnected"}),
        RoomEvent::Disconnected(reason) => {
            json!({"event": "disconnected", "reason": reason, "message": reason.to_string()})
        }
        other => json!({"event": "other", "debug": format!("{other:?}")}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_keeps_the_newest_events_with_their_time() {
        let timeline = Timeline::default();
        for n in 0..TIMELINE_LIMIT + 3 {
            timeline.record(json!({"event": "test", "n": n}));
        }
        let entries = timeline.entries();
        assert_eq!(entries.len(), TIMELINE_LIMIT);
        assert_eq!(entries[0].event["n"], 3);
        assert!(
            entries
                .windows(2)
                .all(|pair| pair[0].at_ms <= pair[1].at_ms)
        );
        assert!(entries[0].at_ms > 1_700_000_000_000);
    }

    #[test]
    fn events_are_described_in_camel_case_json() {
        let reconnecting = describe_event(&RoomEvent::Reconnecting(ReconnectKind::Full));
        assert_eq!(
            reconnecting,
            json!({"event": "reconnecting", "kind": "full"})
        );
        assert_eq!(
            describe_event(&RoomEvent::Reconnected)["event"],
            "reconnected"
        );
    }
}
