//! Tauri commands of the join screen: one-line delegations to [`super`].

use convene_room::clock::unix_now_secs as unix_now;

use super::{TokenSummary, check_server_url as check, summarize_token};
use crate::error::UiError;

/// Validates the server URL field; returns the normalised URL.
#[tauri::command]
#[specta::specta]
pub fn check_server_url(url: String) -> Result<String, UiError> {
    check(&url)
}

/// Decodes the token field (no signature check) for the room/identity/expiry line.
#[tauri::command]
#[specta::specta]
pub fn inspect_token(token: String) -> Result<TokenSummary, UiError> {
    summarize_token(&token, unix_now())
}

/// Servers joined recently, newest first (for the server field's suggestions).
#[tauri::command]
#[specta::specta]
pub fn recent_servers(
    settings: tauri::State<'_, std::sync::Arc<crate::settings::SettingsStore>>,
) -> Vec<String> {
    settings.recent_servers()
}

/// The `convene://join` link opened and not yet shown, once (`null`: none). The join screen
/// asks when it loads and on every `join-link` event; it fills its fields, nothing joins.
#[tauri::command]
#[specta::specta]
pub fn take_join_link(
    links: tauri::State<'_, super::deep_link::LinkInbox>,
) -> Result<Option<super::deep_link::LinkOffer>, UiError> {
    links.take()
}
