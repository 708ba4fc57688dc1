//! Convene's desktop shell: the composition root that wires the room, media and local
//! server crates to the Tauri window. Logic lives in the crates; this binary only connects
//! pieces, translates events and errors for the UI, and owns the shutdown path.

// Prevents an extra console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod app;
mod call;
mod error;
mod join;
mod local_room;
mod logging;
mod settings;
mod shutdown;

fn main() -> std::process::ExitCode {
    logging::init();
    app::run()
}
