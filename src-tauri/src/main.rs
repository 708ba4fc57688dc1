//! Convene's desktop shell: the composition root that wires the room, media and local
//! server crates to the Tauri window. Logic lives in the crates; this binary only connects
//! pieces, translates events and errors for the UI, and owns the shutdown path.

// Prevents an extra console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod app;
mod call;
mod command_line;
mod contract;
mod error;
mod join;
mod local_room;
mod logging;
mod settings;
mod shutdown;
mod support;

fn main() -> std::process::ExitCode {
    prefer_software_compositing();
    let log_file = logging::init();
    app::run(log_file)
}

/// On Linux, asks WebKitGTK to paint without its GL compositor unless the user decided
/// (`WEBKIT_DISABLE_COMPOSITING_MODE` set, or `CONVENE_WEBKIT_COMPOSITING=1`). Video tiles
/// redraw 30 times a second each and every redraw is a full composite: measured on a
/// 2-core machine without a GPU, one 640x360 tile drew 17 pictures/s with the compositor
/// and 30 without (docs/BENCHMARKS.md). Also avoids the blank windows some GPU drivers give
/// WebKitGTK.
fn prefer_software_compositing() {
    #[cfg(target_os = "linux")]
    {
        const KNOB: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
        let user_decided = std::env::var_os(KNOB).is_some()
            || std::env::var("CONVENE_WEBKIT_COMPOSITING").is_ok_and(|value| value == "1");
        if !user_decided {
            // SAFETY: first thing in `main`, before any other thread exists, so nothing
            // reads the environment concurrently.
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var(KNOB, "1");
            }
        }
    }
}
