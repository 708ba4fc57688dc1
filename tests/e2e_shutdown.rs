//! The one shutdown path, end to end on the real app binary under a virtual display:
//! SIGTERM and a window-manager close both run the cleanup, and a cleanup that hangs cannot
//! keep the app alive beyond the 2 s bound.

mod support;

use std::time::Duration;

use support::{RunningApp, close_window_like_a_window_manager, display_available, send_signal};

/// The bound the app promises (src-tauri/src/shutdown.rs: SHUTDOWN_BOUND).
const BOUND: Duration = Duration::from_secs(2);
/// Scheduling slack on a loaded 2-core CI machine; the lower bound below is exact.
const SLACK: Duration = Duration::from_millis(1500);
const STARTUP: Duration = Duration::from_secs(60);

#[tokio::test]
async fn sigterm_runs_the_cleanup_and_exits_promptly() {
    if !display_available("sigterm_runs_the_cleanup_and_exits_promptly") {
        return;
    }
    let mut app = RunningApp::start(&[]);
    app.wait_for_log("convene ready", STARTUP).await;
    send_signal(app.pid(), "TERM");
    let took = app.wait_for_exit(BOUND + SLACK).await;
    assert!(app.logged("cleanup completed").await, "{:#?}", app.log);
    assert!(
        app.log.iter().any(|l| l.contains("SIGTERM")),
        "{:#?}",
        app.log
    );
    assert!(took < BOUND, "a quick cleanup took {took:?}");
}

#[tokio::test]
async fn sigterm_with_a_hung_cleanup_exits_at_the_bound() {
    if !display_available("sigterm_with_a_hung_cleanup_exits_at_the_bound") {
        return;
    }
    let mut app = RunningApp::start(&[("CONVENE_TEST_HANG_CLEANUP", "1")]);
    app.wait_for_log("convene ready", STARTUP).await;
    send_signal(app.pid(), "TERM");
    let took = app.wait_for_exit(BOUND + SLACK).await;
    assert!(
        took >= BOUND,
        "exited after {took:?}: the cleanup was not awaited"
    );
    assert!(app.logged("cleanup timed out").await, "{:#?}", app.log);
}

#[tokio::test]
async fn window_close_with_a_hung_cleanup_exits_at_the_bound() {
    if !display_available("window_close_with_a_hung_cleanup_exits_at_the_bound") {
        return;
    }
    let mut app = RunningApp::start(&[("CONVENE_TEST_HANG_CLEANUP", "1")]);
    app.wait_for_log("convene ready", STARTUP).await;
    let pid = app.pid();
    tokio::task::spawn_blocking(move || close_window_like_a_window_manager(pid))
        .await
        .expect("close the window");
    let took = app.wait_for_exit(BOUND + SLACK).await;
    assert!(
        took >= BOUND - Duration::from_millis(200),
        "exited after {took:?}"
    );
    assert!(app.logged("cleanup timed out").await, "{:#?}", app.log);
    assert!(
        app.log.iter().any(|l| l.contains("WindowClose")),
        "{:#?}",
        app.log
    );
}
