//! Tauri commands of the local room: one-line delegations to [`super::LocalRoom`].

use std::sync::Arc;

use super::{LocalRoom, LocalRoomInfo};
use crate::error::UiError;

/// Starts the embedded room server (once) and returns its URL and a token to join it.
#[tauri::command]
#[specta::specta]
pub async fn start_local_room(
    local_room: tauri::State<'_, Arc<LocalRoom>>,
) -> Result<LocalRoomInfo, UiError> {
    local_room.start().await
}

/// Adds a headless test participant (test pattern + tone) to the local room; returns its
/// identity.
#[tauri::command]
#[specta::specta]
pub async fn invite_test_participant(
    local_room: tauri::State<'_, Arc<LocalRoom>>,
) -> Result<String, UiError> {
    local_room.invite_test_participant().await
}
