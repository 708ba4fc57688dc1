//! Decoded video to the webview: a WebSocket on 127.0.0.1, protected by a random token,
//! that sends each subscribed track's newest picture as raw I420 scaled to the tile.
//!
//! Why not Tauri IPC: pictures are megabytes a second per tile and IPC serialises them;
//! a local WebSocket carries binary frames as they are. Why newest-wins: a tile that draws
//! slower than the stream should show the latest picture, never a queue of old ones.
//!
//! Protocol. Connect to `ws://127.0.0.1:<port>/?token=<token>`. Send text
//! `{"subscribe": "<track sid>", "width": 640, "height": 360}` (the tile size) or
//! `{"unsubscribe": "<track sid>"}`. Receive binary messages: one byte `n`, `n` bytes of
//! track sid (UTF-8), width and height as little-endian `u16`, then the I420 planes.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::{BufMut, BytesMut};
use convene_media::video::I420Frame;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::video_registry::{PictureFeed, VideoSources};

/// How long a tile waits for a track not known yet (announced, not yet decoded).
const UNKNOWN_TRACK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest tile edge a client may ask for (pictures are never scaled up anyway).
const MAX_EDGE: u16 = 1920;

/// The running server; dropping it stops accepting connections.
pub struct FrameServer {
    address: SocketAddr,
    token: String,
    task: tokio::task::JoinHandle<()>,
}

impl FrameServer {
    /// Listens on 127.0.0.1 (a free port) and serves the tracks `sources` finds.
    pub async fn start(sources: Arc<dyn VideoSources>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let expected = token.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, expected.clone(), sources.clone()));
            }
        });
        Ok(Self {
            address,
            token,
            task,
        })
    }

    /// The URL the webview connects to (contains the token: do not log it).
    pub fn url(&self) -> String {
        format!("ws://{}/?token={}", self.address, self.token)
    }
}

impl Drop for FrameServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, token: String, sources: Arc<dyn VideoSources>) {
    // The error type is tungstenite's callback contract, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let query = request.uri().query().unwrap_or_default();
        if query
            .split('&')
            .any(|pair| pair == format!("token={token}"))
        {
            Ok(response)
        } else {
            let mut refused = ErrorResponse::new(Some("bad token".to_owned()));
            *refused.status_mut() = StatusCode::FORBIDDEN;
            Err(refused)
        }
    };
    let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
        return;
    };
    let (mut sink, mut incoming) = socket.split();
    // Newest-wins per tile, fair between tiles: a feed only marks its track as having a
    // new picture; each round sends every marked track's newest picture once. A slow
    // webview sees fewer pictures per tile, never a queue and never one tile starved.
    let fresh = Arc::new(FreshPictures::default());
    let mut feeds: HashMap<String, Feed> = HashMap::new();
    loop {
        tokio::select! {
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    handle_request(&text, &sources, &fresh, &mut feeds);
                }
                Some(Ok(_)) => {}
                _ => break,
            },
            () = fresh.wake.notified() => {
                let marked = std::mem::take(
                    &mut *fresh.marked.lock().unwrap_or_else(PoisonError::into_inner),
                );
                for sid in marked {
                    let Some(feed) = feeds.get(&sid) else { continue };
                    let Some(latest) = feed.latest.get() else { continue };
                    let picture = latest.borrow().clone();
                    let Some(picture) = picture else { continue };
                    let message = encode_for_tile(&sid, &picture.frame, feed.tile);
                    if sink.send(Message::Binary(message.into())).await.is_err() {
                        feeds.values().for_each(|feed| feed.task.abort());
                        return;
                    }
                }
            }
        }
    }
    feeds.values().for_each(|feed| feed.task.abort());
}

/// Tracks with a picture not sent yet, and the wake-up of the connection's sender.
#[derive(Default)]
struct FreshPictures {
    marked: Mutex<HashSet<String>>,
    wake: Notify,
}

impl FreshPictures {
    fn mark(&self, sid: &str) {
        self.marked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sid.to_owned());
        self.wake.notify_one();
    }
}

/// One subscribed tile on a connection; `latest` is set once the track is found.
struct Feed {
    latest: Arc<OnceLock<PictureFeed>>,
    tile: (u16, u16),
    task: tokio::task::JoinHandle<()>,
}

#[derive(serde::Deserialize)]
struct FeedRequest {
    subscribe: Option<String>,
    unsubscribe: Option<String>,
    width: Option<u16>,
    height: Option<u16>,
}

fn handle_request(
    text: &str,
    sources: &Arc<dyn VideoSources>,
    fresh: &Arc<FreshPictures>,
    feeds: &mut HashMap<String, Feed>,
) {
    let Ok(request) = serde_json::from_str::<FeedRequest>(text) else {
        tracing::debug!("ignoring a malformed video feed request");
        return;
    };
    if let Some(sid) = request.unsubscribe
        && let Some(feed) = feeds.remove(&sid)
    {
        feed.task.abort();
    }
    let Some(sid) = request.subscribe else {
        return;
    };
    let tile = (
        request.width.unwrap_or(640).clamp(16, MAX_EDGE),
        request.height.unwrap_or(360).clamp(16, MAX_EDGE),
    );
    // The same track again: the tile was resized.
    if let Some(feed) = feeds.get_mut(&sid) {
        feed.tile = tile;
        return;
    }
    let latest = Arc::new(OnceLock::new());
    let task = tokio::spawn(mark_new_pictures(
        sid.clone(),
        sources.clone(),
        latest.clone(),
        fresh.clone(),
    ));
    feeds.insert(sid, Feed { latest, tile, task });
}

/// Finds `sid` (a tile may ask as soon as the track is announced, a moment before it is
/// subscribed and decoded: it is looked for again at each addition, for a while), then
/// marks it whenever it has a new picture (and at once, if it has one already).
async fn mark_new_pictures(
    sid: String,
    sources: Arc<dyn VideoSources>,
    found: Arc<OnceLock<PictureFeed>>,
    fresh: Arc<FreshPictures>,
) {
    let give_up = tokio::time::Instant::now() + UNKNOWN_TRACK_PATIENCE;
    let mut additions = sources.additions();
    let mut latest = loop {
        additions.borrow_and_update();
        if let Some(latest) = sources.find(&sid) {
            break latest;
        }
        match tokio::time::timeout_at(give_up, additions.changed()).await {
            Ok(Ok(())) => {}
            _ => {
                tracing::debug!(%sid, "no such video track; the tile stays empty");
                return;
            }
        }
    };
    let _ = found.set(latest.clone());
    loop {
        if latest.borrow_and_update().is_some() {
            fresh.mark(&sid);
        }
        if latest.changed().await.is_err() {
            return;
        }
    }
}

/// The wire message for `frame` shrunk to fit `tile` (not copied twice when it fits).
pub fn encode_for_tile(sid: &str, frame: &I420Frame, tile: (u16, u16)) -> Vec<u8> {
    let fits = frame.width <= usize::from(tile.0) && frame.height <= usize::from(tile.1);
    if fits {
        encode_message(sid, frame)
    } else {
        encode_message(sid, &scale_to_fit(frame, tile))
    }
}

/// The wire message for one picture (see the module documentation).
pub fn encode_message(sid: &str, frame: &I420Frame) -> Vec<u8> {
    let sid = &sid.as_bytes()[..sid.len().min(255)];
    let mut message =
        BytesMut::with_capacity(5 + sid.len() + frame.y.len() + frame.u.len() + frame.v.len());
    message.put_u8(sid.len() as u8);
    message.put_slice(sid);
    message.put_u16_le(frame.width as u16);
    message.put_u16_le(frame.height as u16);
    message.put_slice(&frame.y);
    message.put_slice(&frame.u);
    message.put_slice(&frame.v);
    message.to_vec()
}

/// Scales `frame` down (never up) to fit inside `tile`, keeping its aspect ratio; nearest
/// neighbour, which is enough for tiles and costs a copy.
pub fn scale_to_fit(frame: &I420Frame, tile: (u16, u16)) -> I420Frame {
    let (max_w, max_h) = (usize::from(tile.0), usize::from(tile.1));
    if frame.width <= max_w && frame.height <= max_h {
        return frame.clone();
    }
    let ratio = (max_w as f64 / frame.width as f64).min(max_h as f64 / frame.height as f64);
    let width = (((frame.width as f64 * ratio) as usize) & !1).max(2);
    let height = (((frame.height as f64 * ratio) as usize) & !1).max(2);
    let mut scaled = I420Frame::filled(width, height, 0, 0, 0);
    // Reads with `get`: a malformed picture (planes shorter than its size says, or empty)
    // gives black, never a panic that would end every tile's feed.
    let pick = |plane: &[u8], src_w: usize, src_h: usize, out: &mut [u8], w: usize, h: usize| {
        for y in 0..h {
            let sy = y * src_h / h;
            for x in 0..w {
                let source = plane.get(sy * src_w + x * src_w / w).copied();
                if let Some(slot) = out.get_mut(y * w + x) {
                    *slot = source.unwrap_or(0);
                }
            }
        }
    };
    let (fw, fh) = (frame.width, frame.height);
    pick(&frame.y, fw, fh, &mut scaled.y, width, height);
    pick(
        &frame.u,
        fw / 2,
        fh / 2,
        &mut scaled.u,
        width / 2,
        height / 2,
    );
    pick(
        &frame.v,
        fw / 2,
        fh / 2,
        &mut scaled.v,
        width / 2,
        height / 2,
    );
    scaled
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_media::synthetic::TestPattern;

    #[test]
    fn a_degenerate_picture_is_scaled_without_panicking() {
        // 0 wide and 3000 high, as a 1-pixel-wide remote picture once arrived here.
        let empty = I420Frame {
            width: 0,
            height: 3000,
            y: Vec::new(),
            u: Vec::new(),
            v: Vec::new(),
        };
        let scaled = scale_to_fit(&empty, (640, 360));
        assert_eq!(scaled.y.len(), scaled.width * scaled.height);
        // Planes shorter than the size says.
        let short = I420Frame {
            width: 4000,
            height: 4000,
            y: vec![200; 10],
            u: vec![128; 10],
            v: vec![128; 10],
        };
        let scaled = scale_to_fit(&short, (640, 360));
        assert!(scaled.width <= 640 && scaled.height <= 360);
    }

    #[test]
    fn pictures_shrink_to_the_tile_keeping_their_aspect_and_are_framed_with_their_sid() {
        let frame = TestPattern::new(640, 360).next_frame(0);
        let scaled = scale_to_fit(&frame, (320, 320));
        assert_eq!((scaled.width, scaled.height), (320, 180));
        let (y, u, v) = scaled.mean_yuv();
        let (ey, eu, ev) = frame.mean_yuv();
        assert!((y - ey).abs() < 4.0 && (u - eu).abs() < 4.0 && (v - ev).abs() < 4.0);
        assert_eq!(scale_to_fit(&frame, (1280, 720)), frame, "never scaled up");
        let message = encode_message("TR_x", &scaled);
        assert_eq!(message[0], 4);
        assert_eq!(&message[1..5], b"TR_x");
        assert_eq!(u16::from_le_bytes([message[5], message[6]]), 320);
        assert_eq!(u16::from_le_bytes([message[7], message[8]]), 180);
        assert_eq!(message.len(), 9 + 320 * 180 * 3 / 2);
    }

    #[tokio::test]
    async fn a_tile_asking_before_its_track_is_decoded_gets_it_once_added_and_bad_tokens_are_refused()
     {
        use futures_util::SinkExt;
        use std::time::Instant;

        let registry = crate::VideoRegistry::default();
        let server = FrameServer::start(Arc::new(registry.clone()))
            .await
            .expect("start");
        let refused =
            tokio_tungstenite::connect_async(server.url().replace("token=", "token=x")).await;
        assert!(refused.is_err(), "a wrong token is refused");

        let (mut socket, _) = tokio_tungstenite::connect_async(server.url())
            .await
            .expect("connect");
        let picture = || {
            Some(Arc::new(crate::DecodedVideo {
                frame: TestPattern::new(640, 360).next_frame(0),
                decoded_at: Instant::now(),
                sequence: 1,
            }))
        };
        let (_first_pictures, first) = tokio::sync::watch::channel(picture());
        registry.insert("TR_first", first);
        for sid in ["TR_late", "TR_first"] {
            let request = format!(r#"{{"subscribe": "{sid}", "width": 320, "height": 180}}"#);
            socket
                .send(Message::Text(request.into()))
                .await
                .expect("subscribe");
        }
        let mut next_picture = async || {
            let message = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
                .await
                .expect("a picture in time")
                .expect("open")
                .expect("a message");
            match message {
                Message::Binary(bytes) => bytes,
                other => panic!("expected a picture, got {other:?}"),
            }
        };
        // Requests are handled in order: once TR_first's picture comes, the tile for
        // TR_late is waiting for a track not known yet. It appears (announced, then decoded).
        assert_eq!(&next_picture().await[1..9], b"TR_first");
        let (_late_pictures, late) = tokio::sync::watch::channel(picture());
        registry.insert("TR_late", late);
        let bytes = next_picture().await;
        assert_eq!(&bytes[1..8], b"TR_late");
        assert_eq!(
            u16::from_le_bytes([bytes[8], bytes[9]]),
            320,
            "scaled to the tile"
        );
    }
}
