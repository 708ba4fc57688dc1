//! "Start a local room": the embedded LiveKit-compatible server (convene-devserver) and a
//! token to join it, so the app works with nothing else installed.
//!
//! The server starts on first use and lives until the app exits, where the shutdown path
//! stops it (participants get `leave` with `SERVER_SHUTDOWN`). It signs with a key and
//! secret from the OS random source, new at every start, and refuses web pages
//! (`DevServerConfig::private`): only this app hands out its tokens (docs/SECURITY.md).

pub mod commands;

use std::net::{Ipv4Addr, SocketAddr};

use convene_devserver::{DevServer, DevServerConfig};
use serde::Serialize;
use std::sync::Arc;

use convene_call::{CallOptions, CallSession};
use convene_room::RoomOptions;
use tokio::sync::{Mutex, OnceCell};

use crate::error::UiError;

/// The room the local server's token admits to.
pub const LOCAL_ROOM_NAME: &str = "local";
/// The identity of the person at this computer in the local room.
pub const LOCAL_IDENTITY: &str = "me";
/// Validity of the generated token.
const TOKEN_TTL_SECS: u64 = 12 * 60 * 60;

/// What the join screen needs to join the local room.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LocalRoomInfo {
    /// The server URL, e.g. `ws://127.0.0.1:7880`.
    pub url: String,
    /// A token for [`LOCAL_ROOM_NAME`] as [`LOCAL_IDENTITY`] (shown only in the token field).
    pub token: String,
    /// The room's name.
    pub room: String,
}

/// Identity prefix of invited test participants.
const GUEST_IDENTITY: &str = "test-participant";

/// The embedded server, started at most once, and the test participants invited into it.
#[derive(Default)]
pub struct LocalRoom {
    server: OnceCell<DevServer>,
    guests: Mutex<Vec<CallSession>>,
}

impl LocalRoom {
    /// Starts the server (on 127.0.0.1:7880 like `livekit-server --dev`, or a free port if
    /// that one is taken) unless it runs already, and returns how to join it.
    pub async fn start(&self) -> Result<LocalRoomInfo, UiError> {
        let server = self.server.get_or_try_init(start_server).await?;
        let token = server
            .token(LOCAL_ROOM_NAME, LOCAL_IDENTITY, TOKEN_TTL_SECS)
            .map_err(UiError::from)?;
        Ok(LocalRoomInfo {
            url: server.url(),
            token: token.expose().to_owned(),
            room: LOCAL_ROOM_NAME.to_owned(),
        })
    }

    /// "Invite test participant": a headless participant joins the local room and
    /// publishes the test pattern and test tone, so one person can see a real call.
    /// Returns its identity.
    pub async fn invite_test_participant(&self) -> Result<String, UiError> {
        let server = self.server.get().ok_or_else(|| UiError::LocalRoomFailed {
            message: "Start the local room first.".to_owned(),
        })?;
        let mut guests = self.guests.lock().await;
        let identity = match guests.len() {
            0 => GUEST_IDENTITY.to_owned(),
            n => format!("{GUEST_IDENTITY}-{}", n + 1),
        };
        let token = server
            .token(LOCAL_ROOM_NAME, &identity, TOKEN_TTL_SECS)
            .map_err(UiError::from)?;
        let options = CallOptions {
            speaker: false,
            ..CallOptions::synthetic()
        };
        let guest = CallSession::join(
            &server.url(),
            token.expose(),
            options,
            // A headless publisher: receiving (and decoding) everyone else would only
            // take CPU from the person at the screen.
            RoomOptions {
                auto_subscribe: false,
                ..RoomOptions::default()
            },
            Arc::new(|_| {}),
        )
        .await
        .map_err(|error| UiError::LocalRoomFailed {
            message: format!("The test participant could not join: {error}"),
        })?;
        guests.push(guest);
        Ok(identity)
    }

    /// Stops the server if it was started (part of the app's bounded shutdown). The test
    /// participants' media stops first; the server's shutdown tells everyone the room ended.
    pub async fn stop(&self) {
        self.guests.lock().await.clear();
        if let Some(server) = self.server.get() {
            server.shutdown().await;
        }
    }
}

/// Test hook: `key:secret` for the local room instead of fresh random ones, so a test can
/// sign tokens for other participants. Never set in normal use.
const LOCAL_ROOM_KEYS_ENV: &str = "CONVENE_LOCAL_ROOM_KEYS";

/// The local room's configuration: private (random credentials, no web pages), unless
/// [`LOCAL_ROOM_KEYS_ENV`] names the credentials.
fn local_room_config() -> Result<DevServerConfig, UiError> {
    let mut config = DevServerConfig::private().map_err(|error| UiError::LocalRoomFailed {
        message: format!("The local room needs the OS random source: {error}"),
    })?;
    if let Some((key, secret)) = std::env::var(LOCAL_ROOM_KEYS_ENV)
        .ok()
        .as_deref()
        .and_then(|keys| keys.split_once(':'))
        .filter(|(key, secret)| !key.trim().is_empty() && secret.trim().len() >= 32)
    {
        config.api_key = key.trim().to_owned();
        config.api_secret = secret.trim().to_owned();
    }
    Ok(config)
}

async fn start_server() -> Result<DevServer, UiError> {
    let preferred = local_room_config()?;
    match DevServer::start(preferred.clone()).await {
        Ok(server) => Ok(server),
        Err(error) => {
            tracing::info!(%error, bind = %preferred.bind, "local room port taken; using a free port");
            DevServer::start(DevServerConfig {
                bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                ..preferred
            })
            .await
            .map_err(|error| UiError::LocalRoomFailed {
                message: format!("The local room server could not start: {error}"),
            })
        }
    }
}
