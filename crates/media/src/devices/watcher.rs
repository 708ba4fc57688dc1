//! Hot-plug: noticing microphones, speakers and cameras come and go by polling the device
//! lists (neither cpal nor nokhwa has device notifications), plus the `Lost` events running
//! captures/playbacks send.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::host::{list_on, preferred_host};
use super::{AudioDeviceId, AudioDeviceInfo, DeviceError, Direction};
use crate::video::camera::{CameraInfo, list_cameras};

/// Cameras plugged in and unplugged between two listings (matched by id).
fn camera_changes(before: &[CameraInfo], after: &[CameraInfo]) -> Vec<DeviceEvent> {
    let added = after
        .iter()
        .filter(|camera| before.iter().all(|old| old.id != camera.id))
        .map(|camera| DeviceEvent::CameraAdded(camera.clone()));
    let removed = before
        .iter()
        .filter(|camera| after.iter().all(|new| new.id != camera.id))
        .map(|camera| DeviceEvent::CameraRemoved(camera.id.clone()));
    added.chain(removed).collect()
}

/// The polling interval apps should use unless they have a reason not to.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Something changed about the audio devices.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceEvent {
    /// A device appeared (one event per direction it supports).
    Added(AudioDeviceInfo),
    /// A device disappeared from the list (no longer listed in any direction).
    Removed(AudioDeviceId),
    /// The system default for `direction` is now `id` (`None`: no default any more).
    DefaultChanged {
        /// Input or output.
        direction: Direction,
        /// The new default.
        id: Option<AudioDeviceId>,
    },
    /// A running capture or playback lost its device and stopped (sent by them, not by the
    /// poller). Call `switch_to` to resume on another device.
    Lost(AudioDeviceId),
    /// A camera was plugged in.
    CameraAdded(CameraInfo),
    /// A camera was unplugged (its id, as in [`CameraInfo::id`]).
    CameraRemoved(String),
}

/// Polls the device list on a thread until dropped.
pub struct DeviceWatcher {
    events: Sender<DeviceEvent>,
    stop: Sender<()>,
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceWatcher {
    /// Takes the current list as the baseline (no events for it) and reports changes every
    /// `interval` ([`DEFAULT_WATCH_INTERVAL`] suits a settings screen and call UI).
    pub fn start(
        interval: Duration,
    ) -> Result<(DeviceWatcher, Receiver<DeviceEvent>), DeviceError> {
        let host = preferred_host();
        let baseline = Snapshot::from(list_on(&host)?);
        let mut cameras = list_cameras().unwrap_or_default();
        let (events, receiver) = mpsc::channel();
        let (stop, stop_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let sender = events.clone();
        let thread = std::thread::Builder::new()
            .name("convene-device-watch".into())
            .spawn(move || {
                let mut snapshot = baseline;
                // Ends on stop or when the watcher is dropped (stop sender gone).
                while let Err(RecvTimeoutError::Timeout) = stop_rx.recv_timeout(interval) {
                    match list_on(&host) {
                        Ok(list) => {
                            let next = Snapshot::from(list);
                            for event in snapshot.changes_to(&next) {
                                if sender.send(event).is_err() {
                                    return;
                                }
                            }
                            snapshot = next;
                        }
                        Err(e) => tracing::debug!("device poll failed: {e}"),
                    }
                    if let Ok(now) = list_cameras() {
                        for event in camera_changes(&cameras, &now) {
                            if sender.send(event).is_err() {
                                return;
                            }
                        }
                        cameras = now;
                    }
                }
                let _ = done_tx.send(());
            })
            .map_err(|e| DeviceError::Backend {
                detail: format!("cannot start the device watcher: {e}"),
            })?;
        let watcher = DeviceWatcher {
            events,
            stop,
            done,
            thread: Some(thread),
        };
        Ok((watcher, receiver))
    }

    /// A sender into this watcher's event channel, for
    /// `MicrophoneCapture::open_with_events` / `SpeakerPlayback::open_with_events`, so
    /// that `Lost` arrives with the hot-plug events.
    pub fn event_sender(&self) -> Sender<DeviceEvent> {
        self.events.clone()
    }
}

impl Drop for DeviceWatcher {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        match self.done.recv_timeout(Duration::from_secs(5)) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
            }
            Err(RecvTimeoutError::Timeout) => tracing::warn!("device watcher did not stop in time"),
        }
    }
}

/// One listing, indexed.
struct Snapshot {
    devices: HashMap<(AudioDeviceId, Direction), AudioDeviceInfo>,
    defaults: [Option<AudioDeviceId>; 2],
}

impl From<Vec<AudioDeviceInfo>> for Snapshot {
    fn from(list: Vec<AudioDeviceInfo>) -> Self {
        let mut defaults = [None, None];
        for info in list.iter().filter(|i| i.is_default) {
            defaults[slot(info.direction)] = Some(info.id.clone());
        }
        let devices = list
            .into_iter()
            .map(|info| ((info.id.clone(), info.direction), info))
            .collect();
        Self { devices, defaults }
    }
}

fn slot(direction: Direction) -> usize {
    match direction {
        Direction::Input => 0,
        Direction::Output => 1,
    }
}

impl Snapshot {
    /// Events turning `self` into `next`: additions, then removals, then default changes.
    fn changes_to(&self, next: &Snapshot) -> Vec<DeviceEvent> {
        let mut events: Vec<DeviceEvent> = next
            .devices
            .iter()
            .filter(|(key, _)| !self.devices.contains_key(*key))
            .map(|(_, info)| DeviceEvent::Added(info.clone()))
            .collect();
        let still: HashSet<&AudioDeviceId> = next.devices.keys().map(|(id, _)| id).collect();
        let mut removed: Vec<&AudioDeviceId> = self
            .devices
            .keys()
            .map(|(id, _)| id)
            .filter(|id| !still.contains(id))
            .collect();
        removed.sort();
        removed.dedup();
        events.extend(removed.into_iter().cloned().map(DeviceEvent::Removed));
        for direction in [Direction::Input, Direction::Output] {
            let (old, new) = (
                &self.defaults[slot(direction)],
                &next.defaults[slot(direction)],
            );
            if old != new {
                events.push(DeviceEvent::DefaultChanged {
                    direction,
                    id: new.clone(),
                });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cameras_plugged_and_unplugged_are_reported_by_id() {
        let camera = |id: &str| CameraInfo {
            id: id.to_owned(),
            name: format!("Camera {id}"),
        };
        let before = [camera("/dev/video0"), camera("/dev/video2")];
        let after = [camera("/dev/video2"), camera("/dev/video4")];
        assert_eq!(
            camera_changes(&before, &after),
            vec![
                DeviceEvent::CameraAdded(camera("/dev/video4")),
                DeviceEvent::CameraRemoved("/dev/video0".to_owned()),
            ]
        );
        assert!(camera_changes(&after, &after).is_empty());
    }

    fn info(id: &str, direction: Direction, is_default: bool) -> AudioDeviceInfo {
        AudioDeviceInfo {
            id: id.parse().expect("id"),
            name: id.into(),
            direction,
            is_default,
        }
    }

    #[test]
    fn snapshots_differ_by_added_removed_and_default_events() {
        let before = Snapshot::from(vec![
            info("p:mic", Direction::Input, true),
            info("p:old", Direction::Output, true),
        ]);
        let after = Snapshot::from(vec![
            info("p:mic", Direction::Input, true),
            info("p:new", Direction::Output, true),
        ]);
        let events = before.changes_to(&after);
        assert_eq!(
            events,
            vec![
                DeviceEvent::Added(info("p:new", Direction::Output, true)),
                DeviceEvent::Removed("p:old".parse().expect("id")),
                DeviceEvent::DefaultChanged {
                    direction: Direction::Output,
                    id: Some("p:new".parse().expect("id")),
                },
            ]
        );
        assert!(after.changes_to(&after).is_empty());
    }
}
