//! The thread that owns a cpal stream. cpal streams may be `!Send` (and must be dropped on
//! the thread that made them on some hosts), so capture and playback keep theirs on a
//! dedicated thread and talk to it by channel: open/switch requests in, results out. Stream
//! errors come back to this thread too, where a fatal one drops the stream and becomes a
//! [`DeviceEvent::Lost`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::StreamTrait;

use super::{AudioDeviceId, DeviceError, DeviceEvent};

/// How long opening or switching may take before we give up on the sound server.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long dropping a capture/playback waits for its thread.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// Handed to a stream builder: report cpal errors through it, and check `active` in the
/// data callback (a stream being replaced must not deliver or take any more audio).
#[derive(Clone)]
pub(crate) struct StreamHooks {
    control: Sender<Control>,
    generation: u64,
    /// False once this stream has been replaced or stopped.
    pub active: Arc<AtomicBool>,
}

impl StreamHooks {
    /// For cpal's error callback.
    pub fn report(&self, error: cpal::Error) {
        let _ = self.control.send(Control::Failed {
            generation: self.generation,
            error,
        });
    }
}

/// Builds (but does not start) a stream on `id` or the default device; returns the stream
/// and the id of the device it actually opened.
pub(crate) type BuildStream = Box<
    dyn FnMut(
            Option<&AudioDeviceId>,
            StreamHooks,
        ) -> Result<(cpal::Stream, AudioDeviceId), DeviceError>
        + Send,
>;

type Reply = Sender<Result<AudioDeviceId, DeviceError>>;

enum Control {
    Switch(Option<AudioDeviceId>, Reply),
    Failed { generation: u64, error: cpal::Error },
    Stop,
}

/// A running stream on its own thread; dropping it stops the stream and joins the thread.
pub(crate) struct StreamWorker {
    control: Sender<Control>,
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
    current: Arc<Mutex<Option<AudioDeviceId>>>,
}

impl StreamWorker {
    /// Starts the thread and opens the first stream; fails (and ends the thread) if that fails.
    pub fn start(
        name: &str,
        id: Option<&AudioDeviceId>,
        events: Option<Sender<DeviceEvent>>,
        build: BuildStream,
    ) -> Result<Self, DeviceError> {
        let (control, control_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let current = Arc::new(Mutex::new(None));
        let state = WorkerState {
            control: control.clone(),
            build,
            events,
            current: current.clone(),
            running: None,
            generation: 0,
        };
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                state.run(control_rx);
                let _ = done_tx.send(());
            })
            .map_err(|e| DeviceError::Backend {
                detail: format!("cannot start the {name} thread: {e}"),
            })?;
        let worker = Self {
            control,
            done,
            thread: Some(thread),
            current,
        };
        worker.switch_to(id)?;
        Ok(worker)
    }

    /// Opens `id` (or the default device) and, once it runs, stops the previous stream. On
    /// failure the previous stream (if any) keeps running. Blocks until the stream thread
    /// answers (at most [`OPEN_TIMEOUT`]).
    pub fn switch_to(&self, id: Option<&AudioDeviceId>) -> Result<AudioDeviceId, DeviceError> {
        self.request_switch(id)?.wait()
    }

    /// Asks the stream thread to switch to `id` and returns at once; the answer is waited
    /// for with [`PendingSwitch::wait`] (e.g. on a blocking-task thread, not an async one).
    pub fn request_switch(&self, id: Option<&AudioDeviceId>) -> Result<PendingSwitch, DeviceError> {
        let (reply, result) = mpsc::channel();
        self.control
            .send(Control::Switch(id.cloned(), reply))
            .map_err(|_| thread_gone())?;
        Ok(PendingSwitch { result })
    }

    /// The device the stream runs on; `None` after it was lost.
    pub fn device(&self) -> Option<AudioDeviceId> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A switch the stream thread is carrying out (see [`StreamWorker::request_switch`]).
pub struct PendingSwitch {
    result: Receiver<Result<AudioDeviceId, DeviceError>>,
}

impl PendingSwitch {
    /// Blocks until the stream runs on the new device (its id) or the switch failed (the
    /// old stream keeps running), at most [`OPEN_TIMEOUT`].
    pub fn wait(self) -> Result<AudioDeviceId, DeviceError> {
        match self.result.recv_timeout(OPEN_TIMEOUT) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(DeviceError::Backend {
                detail: "opening the audio device timed out".into(),
            }),
            Err(RecvTimeoutError::Disconnected) => Err(thread_gone()),
        }
    }
}

fn thread_gone() -> DeviceError {
    DeviceError::Backend {
        detail: "the audio stream thread has ended".into(),
    }
}

impl Drop for StreamWorker {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
        match self.done.recv_timeout(STOP_TIMEOUT) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!("audio stream thread did not stop in time; leaving it behind");
            }
        }
    }
}

struct Running {
    stream: cpal::Stream,
    id: AudioDeviceId,
    generation: u64,
    active: Arc<AtomicBool>,
}

impl Running {
    fn stop(self) {
        self.active.store(false, Ordering::SeqCst);
        let _ = self.stream.pause();
        drop(self.stream);
    }
}

struct WorkerState {
    control: Sender<Control>,
    build: BuildStream,
    events: Option<Sender<DeviceEvent>>,
    current: Arc<Mutex<Option<AudioDeviceId>>>,
    running: Option<Running>,
    generation: u64,
}

impl WorkerState {
    fn run(mut self, control: Receiver<Control>) {
        while let Ok(message) = control.recv() {
            match message {
                Control::Switch(id, reply) => {
                    let _ = reply.send(self.open(id.as_ref()));
                }
                Control::Failed { generation, error } => self.failed(generation, &error),
                Control::Stop => break,
            }
        }
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }

    fn open(&mut self, id: Option<&AudioDeviceId>) -> Result<AudioDeviceId, DeviceError> {
        self.generation += 1;
        let hooks = StreamHooks {
            control: self.control.clone(),
            generation: self.generation,
            active: Arc::new(AtomicBool::new(true)),
        };
        let active = hooks.active.clone();
        let (stream, opened) = (self.build)(id, hooks).inspect_err(|_| {
            active.store(false, Ordering::SeqCst);
        })?;
        if let Err(e) = stream.play() {
            active.store(false, Ordering::SeqCst);
            return Err(DeviceError::from_cpal(&opened, &e, false));
        }
        if let Some(old) = self.running.take() {
            old.stop();
        }
        tracing::info!(device = %opened, "audio stream started");
        self.running = Some(Running {
            stream,
            id: opened.clone(),
            generation: self.generation,
            active,
        });
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(opened.clone());
        Ok(opened)
    }

    fn failed(&mut self, generation: u64, error: &cpal::Error) {
        let Some(running) = self.running.take_if(|r| r.generation == generation) else {
            return; // An error from a stream already replaced.
        };
        if !DeviceError::is_fatal(error) {
            tracing::debug!(device = %running.id, "audio stream glitch: {error}");
            self.running = Some(running);
            return;
        }
        tracing::warn!(device = %running.id, "audio stream lost: {error}");
        let id = running.id.clone();
        running.stop();
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if let Some(events) = &self.events {
            let _ = events.send(DeviceEvent::Lost(id));
        }
    }
}
