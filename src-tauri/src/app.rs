//! Composition root: builds the Tauri app, registers commands and managed state, and routes
//! every way of ending the app into [`crate::shutdown`].

use std::process::ExitCode;
use std::sync::Arc;

use tauri::{Manager, RunEvent, WindowEvent};

use crate::join::commands as join;
use crate::local_room::{LocalRoom, commands as local_room};
use crate::shutdown::{self, Cleanup, SHUTDOWN_BOUND, Shutdown, ShutdownTrigger};

/// Test hook: when set, the cleanup never finishes, so tests can prove the shutdown bound
/// holds against a hung `disconnect`. Never set in normal use.
const HANG_CLEANUP_ENV: &str = "CONVENE_TEST_HANG_CLEANUP";

/// What runs before exit: leave the call (the call controller's `disconnect` once the room
/// connection lands), then stop the local room server if it runs.
fn exit_cleanup(local_room: Arc<LocalRoom>) -> Cleanup {
    let hang = std::env::var_os(HANG_CLEANUP_ENV).is_some();
    Arc::new(move || {
        let local_room = Arc::clone(&local_room);
        Box::pin(async move {
            if hang {
                tracing::warn!("{HANG_CLEANUP_ENV} is set: the cleanup hangs on purpose");
                std::future::pending::<()>().await;
            }
            local_room.stop().await;
        })
    })
}

/// Builds and runs the app until it exits.
pub fn run() -> ExitCode {
    let local = Arc::new(LocalRoom::default());
    let app = tauri::Builder::default()
        .manage(Shutdown::new(
            exit_cleanup(Arc::clone(&local)),
            SHUTDOWN_BOUND,
        ))
        .manage(local)
        .invoke_handler(tauri::generate_handler![
            join::check_server_url,
            join::inspect_token,
            join::join_room,
            local_room::start_local_room,
        ])
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let app = window.app_handle();
                if !app.state::<Shutdown>().is_finished() {
                    api.prevent_close();
                    shutdown::shutdown_then_exit(app, ShutdownTrigger::WindowClose, 0);
                }
            }
        })
        .setup(|app| {
            shutdown::listen_for_signals(app.handle().clone());
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "convene ready");
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "cannot start the app");
            return ExitCode::FAILURE;
        }
    };
    app.run(|app, event| match event {
        RunEvent::ExitRequested { api, code, .. } if !app.state::<Shutdown>().is_finished() => {
            api.prevent_exit();
            shutdown::shutdown_then_exit(app, ShutdownTrigger::ExitRequested, code.unwrap_or(0));
        }
        RunEvent::Exit => shutdown::cleanup_on_exit(app),
        _ => {}
    });
    ExitCode::SUCCESS
}
