//! Starting and stopping a devserver: bind, serve, and a shutdown that tells every
//! participant the server is going away (`leave` with `SERVER_SHUTDOWN`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use convene_rtc::token::{AccessToken, Token, TokenError};
use livekit_protocol as lk;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::DevServerConfig;
use crate::http::{self, AppState};
use crate::rooms::Rooms;

/// A running devserver. Dropping it without [`DevServer::shutdown`] aborts the server task.
pub struct DevServer {
    address: SocketAddr,
    config: Arc<DevServerConfig>,
    rooms: Arc<Rooms>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Closes rooms left empty at their deadlines; aborted with the server.
    closer: JoinHandle<()>,
}

impl DevServer {
    /// Binds `config.bind` (port 0 picks a free port) and starts serving.
    pub async fn start(config: DevServerConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let address = listener.local_addr()?;
        let config = Arc::new(config);
        let rooms = Rooms::new(config.empty_timeout);
        let closer = tokio::spawn(Rooms::close_empty_rooms(Arc::downgrade(&rooms)));
        let app = http::router(AppState {
            config: Arc::clone(&config),
            rooms: Arc::clone(&rooms),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serving.await {
                tracing::error!(%error, "devserver stopped with an error");
            }
        });
        tracing::info!(%address, "devserver listening");
        Ok(Self {
            address,
            config,
            rooms,
            stop: Mutex::new(Some(stop)),
            task: Mutex::new(Some(task)),
            closer,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The URL clients connect to, e.g. `ws://127.0.0.1:7880`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.address)
    }

    /// A token for this server, valid for `ttl_secs`, joining `room` as `identity`.
    pub fn token(&self, room: &str, identity: &str, ttl_secs: u64) -> Result<Token, TokenError> {
        let now = convene_rtc::clock::unix_now_secs();
        AccessToken::new(&self.config.api_key, &self.config.api_secret)
            .identity(identity)
            .name(identity)
            .room_join(room)
            .ttl_secs(ttl_secs)
            .sign(now)
    }

    /// Open rooms and their participants' identities.
    pub fn rooms(&self) -> Vec<(String, Vec<String>)> {
        self.rooms.snapshot()
    }

    /// Tells every participant the server is shutting down, then stops serving. Later calls
    /// do nothing.
    pub async fn shutdown(&self) {
        self.rooms.evict_all(lk::DisconnectReason::ServerShutdown);
        if let Some(stop) = take(&self.stop) {
            let _ = stop.send(());
        }
        if let Some(task) = take(&self.task) {
            // Open WebSockets keep graceful shutdown waiting; sessions end on their evict.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
        }
    }
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take()
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if let Some(task) = take(&self.task) {
            task.abort();
        }
        self.closer.abort();
    }
}
