//! The one shutdown path. Window close, app exit, SIGTERM/SIGINT/SIGHUP and (as a last
//! resort) the final `Exit` event all end here, so leaving the call happens exactly once and
//! never takes longer than [`SHUTDOWN_BOUND`].
//!
//! Why bounded: a LiveKit `leave` makes the others see us go at once, but a server that does
//! not answer must not keep a closed window on screen; the SFU drops a vanished participant by
//! itself after ~15 s. Why prevent-then-exit: `CloseRequested`/`ExitRequested` must be
//! prevented synchronously, so the cleanup runs on a task and calls `exit` when it is done,
//! and a `finished` flag lets that second exit through (without it prevent/exit loops forever).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

/// The longest the app waits for its cleanup (leave the call, stop devices) before exiting.
pub const SHUTDOWN_BOUND: Duration = Duration::from_secs(2);

/// What started the shutdown; logged so a bug report shows which path ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownTrigger {
    /// The user closed the window (or the UI called `close()`).
    WindowClose,
    /// The app was asked to exit (last window gone, `exit()` called, a Quit menu item).
    ExitRequested,
    /// The process got a termination signal.
    Signal(&'static str),
    /// The event loop is already ending (macOS Cmd+Q reaches only `Exit`).
    LastResort,
}

/// How the bounded cleanup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupOutcome {
    /// Everything was released within the bound.
    Completed,
    /// The cleanup hung and was abandoned at the bound.
    TimedOut,
}

/// The work to do before exiting, e.g. the call controller's `disconnect`.
pub type Cleanup = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Runs `cleanup` for at most `bound`.
pub async fn run_bounded(cleanup: impl Future<Output = ()>, bound: Duration) -> CleanupOutcome {
    match tokio::time::timeout(bound, cleanup).await {
        Ok(()) => CleanupOutcome::Completed,
        Err(_) => CleanupOutcome::TimedOut,
    }
}

/// Shared shutdown state, managed by Tauri so every trigger finds it.
pub struct Shutdown {
    started: AtomicBool,
    finished: AtomicBool,
    cleanup: Cleanup,
    bound: Duration,
}

impl Shutdown {
    /// A shutdown that will run `cleanup` for at most `bound`.
    pub fn new(cleanup: Cleanup, bound: Duration) -> Self {
        Self {
            started: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            cleanup,
            bound,
        }
    }

    /// True once the cleanup has ended (or was abandoned): exits may now proceed.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    /// Claims the shutdown; only the first caller gets `true`.
    fn claim(&self) -> bool {
        !self.started.swap(true, Ordering::SeqCst)
    }

    /// Runs the bounded cleanup and marks the shutdown finished, whatever the outcome.
    pub async fn run_cleanup(&self, trigger: ShutdownTrigger) -> CleanupOutcome {
        tracing::info!(?trigger, "shutting down: leaving the call");
        let outcome = run_bounded((self.cleanup)(), self.bound).await;
        match outcome {
            CleanupOutcome::Completed => tracing::info!("cleanup completed"),
            CleanupOutcome::TimedOut => {
                tracing::warn!(bound = ?self.bound, "cleanup timed out; exiting anyway")
            }
        }
        self.finished.store(true, Ordering::SeqCst);
        outcome
    }
}

/// Starts the shutdown once: cleanup on a task, then `exit(code)`. Later calls do nothing.
pub fn shutdown_then_exit<R: Runtime>(app: &AppHandle<R>, trigger: ShutdownTrigger, code: i32) {
    if !app.state::<Shutdown>().claim() {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        app.state::<Shutdown>().run_cleanup(trigger).await;
        app.exit(code);
    });
}

/// Last resort when the event loop ends without our shutdown having run: block for at most
/// the bound. Does nothing if a shutdown already started (it has its own bound).
pub fn cleanup_on_exit<R: Runtime>(app: &AppHandle<R>) {
    let shutdown = app.state::<Shutdown>();
    if shutdown.claim() {
        tauri::async_runtime::block_on(shutdown.run_cleanup(ShutdownTrigger::LastResort));
    }
}

/// Turns SIGTERM, SIGINT and SIGHUP into the shutdown path; a second signal exits at once.
#[cfg(unix)]
pub fn listen_for_signals<R: Runtime>(app: AppHandle<R>) {
    use tokio::signal::unix::{SignalKind, signal};
    // Installed before returning (not inside the task), so a signal that arrives right
    // after start-up already takes the shutdown path instead of killing the process.
    let runtime = tauri::async_runtime::handle();
    let installed = {
        let _entered = runtime.inner().enter();
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        )
    };
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = installed else {
        tracing::error!("cannot install signal handlers; signals will kill the app");
        return;
    };
    tauri::async_runtime::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => "SIGHUP",
        };
        shutdown_then_exit(&app, ShutdownTrigger::Signal(name), 0);
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
            _ = hup.recv() => {},
        }
        tracing::warn!("second signal: exiting without waiting for cleanup");
        std::process::exit(130);
    });
}

/// Turns Ctrl+C (the console's termination request) into the shutdown path.
#[cfg(not(unix))]
pub fn listen_for_signals<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            shutdown_then_exit(&app, ShutdownTrigger::Signal("ctrl-c"), 0);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting_cleanup(counter: Arc<std::sync::atomic::AtomicUsize>) -> Cleanup {
        Arc::new(move || {
            let counter = counter.clone();
            Box::pin(async move {
                counter.fetch_add(1, Ordering::SeqCst);
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_cleanup_is_abandoned_exactly_at_the_bound() {
        let started = tokio::time::Instant::now();
        let outcome = run_bounded(std::future::pending(), SHUTDOWN_BOUND).await;
        assert_eq!(outcome, CleanupOutcome::TimedOut);
        assert_eq!(started.elapsed(), SHUTDOWN_BOUND);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quick_cleanup_completes_without_waiting_for_the_bound() {
        let started = tokio::time::Instant::now();
        let outcome = run_bounded(
            tokio::time::sleep(Duration::from_millis(300)),
            SHUTDOWN_BOUND,
        )
        .await;
        assert_eq!(outcome, CleanupOutcome::Completed);
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn the_shutdown_is_claimed_once_and_finishes_even_when_hung() {
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let shutdown = Shutdown::new(counting_cleanup(counter.clone()), SHUTDOWN_BOUND);
        assert!(shutdown.claim());
        assert!(
            !shutdown.claim(),
            "a second trigger must not run cleanup again"
        );
        assert!(!shutdown.is_finished());
        shutdown.run_cleanup(ShutdownTrigger::WindowClose).await;
        assert!(shutdown.is_finished());
        assert_eq!(counter.load(Ordering::SeqCst), 1);

        let hung: Cleanup = Arc::new(|| Box::pin(std::future::pending()));
        let shutdown = Shutdown::new(hung, SHUTDOWN_BOUND);
        let outcome = shutdown
            .run_cleanup(ShutdownTrigger::Signal("SIGTERM"))
            .await;
        assert_eq!(outcome, CleanupOutcome::TimedOut);
        assert!(shutdown.is_finished());
    }
}
