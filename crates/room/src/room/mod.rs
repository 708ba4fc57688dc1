//! A LiveKit room connection: [`Room::connect`] joins, then a background actor (see
//! `engine`) keeps the session alive, reconnects when the network changes, and reports
//! everything as [`RoomEvent`]s.
//!
//! Layout: `session` (signaling link + the two PCs), `engine` (the actor), `roster`
//! (remote participants and update diffing), `publishing` (our tracks), `reconnect` (policy
//! and state machine), `netwatch` (interface changes), plus the public model types.

mod core;
pub mod data;
mod depacketize;
mod engine;
pub mod error;
pub mod events;
mod netwatch;
pub mod options;
pub mod participant;
mod publishing;
pub mod reconnect;
mod roster;
mod session;
pub mod stats;
pub mod track;

use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::{mpsc, oneshot};

pub use data::{DataKind, DataMessage, DataSendOptions, MAX_DATA_PAYLOAD};
pub use depacketize::{EncodedFrame, RtpPacket};
pub use error::RoomError;
pub use events::{ConnectionQuality, ConnectionState, DisconnectReason, ReconnectKind, RoomEvent};
pub use options::RoomOptions;
pub use participant::{LocalParticipant, RemoteParticipant};
pub use stats::{Bitrates, ConnectionStats, TransportStats};
pub use track::{LocalTrack, LocalTrackOptions, RemoteTrack, TrackInfo, TrackSource};

use engine::{Command, Endpoint, Engine, SharedSnapshot, Snapshot};
use reconnect::Reconnector;
use session::Session;

use crate::signal::{self, SignalOptions};
use crate::{ServerUrl, Token};

/// How many commands may wait for the actor.
const COMMAND_CAPACITY: usize = 64;
/// How many events may wait for the application before the actor waits for it.
const EVENT_CAPACITY: usize = 1_024;
/// How long [`Room::send_data`] waits for data channels that are still opening.
pub const DATA_CHANNEL_OPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The stream of a room's events. Read it continuously: when it is full the room waits.
pub struct RoomEvents {
    rx: mpsc::Receiver<RoomEvent>,
}

impl RoomEvents {
    /// The next event; `None` after [`RoomEvent::Disconnected`] once the room is gone.
    pub async fn recv(&mut self) -> Option<RoomEvent> {
        self.rx.recv().await
    }
}

/// A joined room. Cheap to clone; all clones drive the same connection.
#[derive(Clone)]
pub struct Room {
    commands: mpsc::Sender<Command>,
    snapshot: SharedSnapshot,
}

impl Room {
    /// Joins the room named in `token` on the LiveKit server at `url` (`wss://…`, `https://…`,
    /// or `ws://host:port` for a local server), and returns once media can flow.
    ///
    /// Errors are typed: a bad URL or token before any network traffic, then
    /// [`signal::ConnectError`] for the join (unreachable, 401, 403, 404, version, timeout),
    /// then [`RoomError::MediaTimeout`] if the peer connections do not come up.
    pub async fn connect(
        url: &str,
        token: &str,
        options: RoomOptions,
    ) -> Result<(Room, RoomEvents), RoomError> {
        let server = ServerUrl::parse(url)?;
        let token = Token::new(token.trim());
        let info = crate::TokenInfo::inspect(&token)?;
        let signal_options = SignalOptions {
            auto_subscribe: options.auto_subscribe,
            connect_timeout: options.connect_timeout,
            join_timeout: options.join_timeout,
        };
        let (socket, join) = signal::connect(&server, &token, &signal_options).await?;
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let snapshot = Arc::new(RwLock::new(Snapshot {
            room_name: join.room_name.clone(),
            room_sid: join.room_sid.clone(),
            local: LocalParticipant {
                sid: join.local_sid.clone(),
                identity: join.local_identity.clone(),
                name: info.name,
                tracks: Vec::new(),
            },
            remotes: Vec::new(),
            state: ConnectionState::Connected,
        }));
        let candidates = options::CandidateOptions {
            bind_addrs: options.bind_addrs.clone(),
            relay_only: options.relay_only,
            turn_tls_roots: options.turn_tls_roots.clone(),
        };
        let session = Session::establish(socket, join, &candidates, &events_tx).await?;
        let (commands_tx, commands_rx) = mpsc::channel(COMMAND_CAPACITY);
        let (joined_tx, joined_rx) = oneshot::channel();
        let reconnector = Reconnector::new(
            options.reconnect_policy,
            options.connect_timeout + options.join_timeout,
            options.media_timeout,
        );
        let engine = Engine::new(
            Endpoint {
                server,
                token,
                signal: signal_options,
                candidates,
            },
            session,
            commands_rx,
            events_tx,
            Arc::clone(&snapshot),
            reconnector,
            options.media_timeout,
            joined_tx,
        );
        tokio::spawn(engine.run());
        joined_rx.await.map_err(|_| RoomError::NotConnected)??;
        if options.watch_network {
            netwatch::spawn(commands_tx.downgrade());
        }
        Ok((
            Room {
                commands: commands_tx,
                snapshot,
            },
            RoomEvents { rx: events_rx },
        ))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Snapshot> {
        self.snapshot.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The room's name.
    pub fn name(&self) -> String {
        self.read().room_name.clone()
    }

    /// The room's server id (`RM_…`).
    pub fn sid(&self) -> String {
        self.read().room_sid.clone()
    }

    /// Ourselves.
    pub fn local_participant(&self) -> LocalParticipant {
        self.read().local.clone()
    }

    /// Everybody else, ordered by identity.
    pub fn remote_participants(&self) -> Vec<RemoteParticipant> {
        self.read().remotes.clone()
    }

    /// Connected, reconnecting or disconnected.
    pub fn connection_state(&self) -> ConnectionState {
        self.read().state
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, RoomError>>) -> Command,
    ) -> Result<T, RoomError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| RoomError::NotConnected)?;
        rx.await.map_err(|_| RoomError::NotConnected)?
    }

    /// Publishes a track: `AddTrackRequest`, the server's `TrackPublished`, then a publisher
    /// offer. Write encoded frames to the returned handle. While reconnecting, the track is
    /// published once the connection is back.
    pub async fn publish_track(&self, options: LocalTrackOptions) -> Result<LocalTrack, RoomError> {
        self.ask(|reply| Command::Publish { options, reply }).await
    }

    /// The connection right now: the path, round-trip time, loss and jitter of each peer
    /// connection (for the diagnostics panel and `convene-cli join --stats`). Empty (both
    /// `None`) while not connected, e.g. during a full reconnect.
    pub async fn stats(&self) -> ConnectionStats {
        let taken_at_ms = u64::try_from(crate::clock::unix_now_millis()).unwrap_or_default();
        let (reply, pcs) = oneshot::channel();
        let pcs = match self.commands.send(Command::PeerConnections { reply }).await {
            Ok(()) => pcs.await.ok().flatten(),
            Err(_) => None,
        };
        let Some(pcs) = pcs else {
            return ConnectionStats {
                taken_at_ms,
                ..ConnectionStats::default()
            };
        };
        let now = std::time::Instant::now();
        let selector = || webrtc::peer_connection::StatsSelector::None;
        let publisher = pcs.publisher.get_stats(now, selector()).await;
        let subscriber = pcs.subscriber.get_stats(now, selector()).await;
        let tunnels = pcs.turn_tunnels.as_deref();
        ConnectionStats {
            taken_at_ms,
            publisher: Some(TransportStats::from_report(&publisher, tunnels)),
            subscriber: Some(TransportStats::from_report(&subscriber, tunnels)),
        }
    }

    /// Stops publishing a track.
    pub async fn unpublish_track(&self, track: &LocalTrack) -> Result<(), RoomError> {
        let track = track.clone();
        self.ask(|reply| Command::Unpublish { track, reply }).await
    }

    /// Mutes or unmutes one of our tracks (frames written while muted are dropped).
    pub async fn set_muted(&self, track: &LocalTrack, muted: bool) -> Result<(), RoomError> {
        let track = track.clone();
        self.ask(|reply| Command::SetMuted {
            track,
            muted,
            reply,
        })
        .await
    }

    /// Subscribes to (or unsubscribes from) a remote track; needed when `auto_subscribe` is
    /// off.
    pub async fn set_subscribed(&self, track_sid: &str, subscribed: bool) -> Result<(), RoomError> {
        let track_sid = track_sid.to_owned();
        self.ask(|reply| Command::SetSubscribed {
            track_sid,
            subscribed,
            reply,
        })
        .await
    }

    /// Sends a data message to everyone else (or to `options.destination_identities`).
    ///
    /// Right after joining (or a reconnect) the data channels may still be opening; a send
    /// then waits for them, up to [`DATA_CHANNEL_OPEN_WAIT`], instead of failing.
    pub async fn send_data(
        &self,
        payload: &[u8],
        options: DataSendOptions,
    ) -> Result<(), RoomError> {
        let payload = payload.to_vec();
        self.ask(|reply| Command::SendData {
            payload,
            options,
            reply,
        })
        .await
    }

    /// Tells the room the network changed (from an OS notification the app receives), so
    /// it reconnects now instead of waiting for a timeout.
    pub fn network_changed(&self) {
        let _ = self.commands.try_send(Command::NetworkChanged);
    }

    /// Leaves: sends `leave` so others see us go at once, and closes everything. Bounded
    /// (about 1.5 s even if the server does not answer); safe to call twice.
    pub async fn disconnect(&self) {
        let (reply, done) = oneshot::channel();
        if self
            .commands
            .send(Command::Disconnect { reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
    }
}
