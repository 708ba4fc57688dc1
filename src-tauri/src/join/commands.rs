//! Tauri commands of the join screen: one-line delegations to [`super`].

use convene_room::clock::unix_now_secs as unix_now;

use super::{TokenSummary, check_server_url as check, prepare_join, summarize_token};
use crate::error::UiError;

/// Validates the server URL field; returns the normalised URL.
#[tauri::command]
pub fn check_server_url(url: String) -> Result<String, UiError> {
    check(&url)
}

/// Decodes the token field (no signature check) for the room/identity/expiry line.
#[tauri::command]
pub fn inspect_token(token: String) -> Result<TokenSummary, UiError> {
    summarize_token(&token, unix_now())
}

/// Joins a room. The connection arrives with convene-room's connect (the room issue).
#[tauri::command]
pub fn join_room(url: String, token: String) -> Result<(), UiError> {
    prepare_join(&url, &token, unix_now()).and_then(|_| Err(UiError::not_yet("Joining a room")))
}
