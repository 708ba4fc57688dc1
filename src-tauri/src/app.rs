//! Composition root: builds the Tauri app, registers commands and managed state, and routes
//! every way of ending the app into [`crate::shutdown`].

use std::process::ExitCode;
use std::sync::Arc;

use tauri::{Manager, RunEvent, WindowEvent};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::call::Calls;
use crate::join::deep_link::{self, LinkInbox};
use crate::local_room::LocalRoom;
use crate::logging::LogFile;
use crate::settings::SettingsStore;
use crate::shutdown::{self, Cleanup, SHUTDOWN_BOUND, Shutdown, ShutdownTrigger};

/// Test hook: when set, the cleanup never finishes, so tests can prove the shutdown bound
/// holds against a hung `disconnect`. Never set in normal use.
const HANG_CLEANUP_ENV: &str = "CONVENE_TEST_HANG_CLEANUP";

/// What runs before exit: leave the call (so the others see us go at once), then stop the
/// local room server if it runs.
fn exit_cleanup(calls: Arc<Calls>, local_room: Arc<LocalRoom>) -> Cleanup {
    let hang = std::env::var_os(HANG_CLEANUP_ENV).is_some();
    Arc::new(move || {
        let calls = Arc::clone(&calls);
        let local_room = Arc::clone(&local_room);
        Box::pin(async move {
            if hang {
                tracing::warn!("{HANG_CLEANUP_ENV} is set: the cleanup hangs on purpose");
                std::future::pending::<()>().await;
            }
            calls.controller.leave().await;
            local_room.stop().await;
        })
    })
}

/// Stages the join link among `args` (a command line: ours at start, or a second
/// instance's) for the join screen, tells the window, and brings the window to the front;
/// nothing joins (see [`deep_link`]). A second instance without a link only raises the
/// window, as meeting apps do when launched again.
fn receive_command_line(app: &tauri::AppHandle, args: &[String]) {
    use tauri::Emitter;
    let now = convene_room::clock::unix_now_secs();
    if app.state::<LinkInbox>().stage(args, now) {
        let _ = app.emit(deep_link::JOIN_LINK_EVENT, ());
    }
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Builds and runs the app until it exits; logs also go to `log_file`, opened in the OS
/// log directory at set-up.
pub fn run(log_file: LogFile) -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let local = Arc::new(LocalRoom::default());
    // In memory until set-up knows the OS config directory.
    let settings = Arc::new(SettingsStore::load(None));
    // The call actor runs on Tauri's runtime.
    let calls = Arc::new(tauri::async_runtime::block_on(async {
        Calls::start(Calls::fake_media_requested(&args), Arc::clone(&settings))
    }));
    let app = tauri::Builder::default()
        // First, so a second instance hands its command line over and exits before any
        // window or server of its own starts (the token leaves its command line with it).
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            receive_command_line(app, &args);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .manage(LinkInbox::default())
        .manage(Shutdown::new(
            exit_cleanup(Arc::clone(&calls), Arc::clone(&local)),
            SHUTDOWN_BOUND,
        ))
        .manage(local)
        .manage(calls)
        .manage(settings)
        .manage(log_file)
        .invoke_handler(crate::contract::builder().invoke_handler())
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let app = window.app_handle();
                if !app.state::<Shutdown>().is_finished() {
                    api.prevent_close();
                    shutdown::shutdown_then_exit(app, ShutdownTrigger::WindowClose, 0);
                }
            }
        })
        .setup(move |app| {
            shutdown::listen_for_signals(app.handle().clone());
            // CONVENE_CONFIG_DIR overrides the OS config directory (tests, portable use).
            let config_dir = std::env::var_os("CONVENE_CONFIG_DIR")
                .map(std::path::PathBuf::from)
                .or_else(|| app.path().app_config_dir().ok());
            if let Some(dir) = config_dir {
                app.state::<Arc<SettingsStore>>()
                    .open(dir.join("settings.json"));
            }
            // CONVENE_LOG_DIR overrides the OS log directory.
            let log_dir = std::env::var_os("CONVENE_LOG_DIR")
                .map(std::path::PathBuf::from)
                .or_else(|| app.path().app_log_dir().ok());
            if let Some(dir) = log_dir {
                match app.state::<LogFile>().open_in(&dir) {
                    Ok(path) => tracing::info!(path = %path.display(), "logging to a file"),
                    Err(error) => tracing::warn!(%error, dir = %dir.display(), "no log file"),
                }
            }
            let sources: Arc<dyn convene_call::VideoSources> =
                Arc::new(app.state::<Arc<Calls>>().controller.clone());
            let feed = tauri::async_runtime::block_on(convene_call::FrameServer::start(sources))?;
            app.manage(feed);
            // Hot-plug and lost devices reach the window as `device-notice` events.
            let calls = app.state::<Arc<Calls>>().inner().clone();
            let sink = crate::call::device_sink(app.handle().clone());
            tauri::async_runtime::spawn(async move {
                if let Err(error) = calls.controller.watch_devices(sink).await {
                    tracing::warn!(%error, "device changes will not be noticed");
                }
            });
            // We are the one instance (a second one exits in the plugin above): take the
            // link of our own command line, then blank its token there.
            receive_command_line(app.handle(), &args);
            match crate::command_line::hide_arguments_after(deep_link::PREFIX) {
                Ok(0) => {}
                Ok(_) => tracing::info!("the join link's token is hidden from the command line"),
                Err(error) => tracing::warn!(%error, "cannot hide the join link's token"),
            }
            // macOS hands links over as an open-URL event, not on the command line.
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                let urls: Vec<String> = event.urls().into_iter().map(String::from).collect();
                receive_command_line(&handle, &urls);
            });
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
