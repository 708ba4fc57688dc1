//! The Rust <-> UI contract, generated: every command the window may call and every type it
//! sends or receives, exported as TypeScript to `ui/src/bindings.gen.ts` (tauri-specta).
//! The UI's `ipc.ts` takes its types from there, and a test fails when the file and the
//! Rust types disagree (run it with `CONVENE_WRITE_BINDINGS=1` to rewrite the file).

use crate::call::commands as call;
use crate::join::commands as join;
use crate::local_room::commands as local_room;
use crate::support;

/// Where the generated bindings live, from the repository root.
#[cfg(test)]
const BINDINGS_PATH: &str = "ui/src/bindings.gen.ts";

/// The commands (what `invoke` may call) and the event payload types.
pub fn builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            join::check_server_url,
            join::inspect_token,
            join::recent_servers,
            join::take_join_link,
            call::join_room,
            call::current_call,
            call::leave_call,
            call::set_muted,
            call::video_feed_url,
            call::preferred_renderer,
            call::send_chat,
            call::list_devices,
            call::remembered_media,
            call::start_preview,
            call::stop_preview,
            call::switch_device,
            call::diagnostics,
            call::export_diagnostics,
            local_room::start_local_room,
            local_room::invite_test_participant,
            support::support_report,
        ])
        // Payloads of the events the window listens to (`call-event`, `device-notice`).
        .typ::<convene_call::CallEvent>()
        .typ::<convene_call::DeviceNotice>()
}

/// The bindings as TypeScript text (written by the test below).
#[cfg(test)]
fn typescript() -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("convene-bindings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
    let path = dir.join("bindings.ts");
    let exported = builder()
        .export(
            specta_typescript::Typescript::default().header(
                "// Generated from the Rust types by src-tauri/src/contract.rs: do not edit.\n",
            ),
            &path,
        )
        .map_err(|error| error.to_string());
    let text = exported.and_then(|()| std::fs::read_to_string(&path).map_err(|e| e.to_string()));
    let _ = std::fs::remove_dir_all(&dir);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed bindings are what the Rust types say; `CONVENE_WRITE_BINDINGS=1`
    /// rewrites them.
    #[test]
    fn the_ui_bindings_match_the_rust_types() {
        let generated = typescript().expect("export the bindings");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_PATH);
        if std::env::var_os("CONVENE_WRITE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).expect("write the bindings");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{BINDINGS_PATH} differs from the Rust types: run \
             `CONVENE_WRITE_BINDINGS=1 cargo test -p convene --bin convene the_ui_bindings` \
             and commit the file"
        );
    }
}
