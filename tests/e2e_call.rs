//! The real app in a real call, under a virtual display: started with a `convene://join`
//! link and the synthetic devices, joined with a click, and when its
//! window is closed (or it gets SIGTERM) the others see it leave within a second, not after
//! the server's 15 s timeout; and the call screen driven through WebKitWebDriver (tiles
//! draw the test participant's video, mute, banners, leave).

mod support;

use std::time::{Duration, Instant};

use convene_call::{CHAT_TOPIC, ChatMessage};
use convene_room::AccessToken;
use convene_room::room::RoomEvent;
use convene_room::{Room, RoomEvents};
use convene_testkit::{SignalProxy, loopback_options, start_server, wait_event};
use support::webdriver::{WebDriver, click, fill, save_screenshot, wait_for_text};
use support::{
    close_window_like_a_window_manager, display_available, fresh_log_dir, join_link, logged_in,
    send_signal,
};

const WAIT: Duration = Duration::from_secs(60);
/// What the others may wait to see the app leave.
const LEAVE_SEEN_WITHIN: Duration = Duration::from_secs(1);

/// Waits until the app ("me") is in the room with its microphone published.
async fn wait_for_the_app(events: &mut RoomEvents, seen: &mut Vec<String>) {
    wait_event(events, seen, WAIT, |event| match event {
        RoomEvent::ParticipantConnected(p) if p.identity == "me" => Some(()),
        _ => None,
    })
    .await;
    wait_event(events, seen, WAIT, |event| match event {
        RoomEvent::TrackPublished {
            participant_identity,
            ..
        } if participant_identity == "me" => Some(()),
        _ => None,
    })
    .await;
}

/// 128 bits that differ between runs (a test secret; no cryptographic need): the standard
/// library seeds every `RandomState` randomly.
fn fastrand_u128() -> u128 {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new();
    (u128::from(random.hash_one(1_u8)) << 64) | u128::from(random.hash_one(2_u8))
}

/// Whether process `pid` still runs.
fn running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

async fn leave_is_seen_at_once(ending: fn(u32), test: &str) {
    if !display_available(test) {
        return;
    }
    let server = start_server(Duration::from_secs(15)).await;
    let watcher_token = server.token("e2e", "watcher", 600).expect("token");
    let app_token = server.token("e2e", "me", 600).expect("token");
    let (watcher, mut events) =
        Room::connect(&server.url(), watcher_token.expose(), loopback_options())
            .await
            .expect("the watcher joins");
    let mut seen = Vec::new();

    // The link fills the join screen; the user turns the microphone on and joins.
    let link = join_link(&server.url(), app_token.expose());
    let logs = fresh_log_dir();
    let driver = WebDriver::start_with_fake_media_logging_to(&logs).await;
    let client = driver.launch_app_with(&[&link]).await;
    wait_for_text(&client, "link-room", "e2e").await;
    click(&client, "prejoin-mic").await;
    click(&client, "join").await;
    wait_for_the_app(&mut events, &mut seen).await;
    wait_for_text(&client, "state-self", "mic on").await;

    let pid = driver.app_pid().await;
    tokio::task::spawn_blocking(move || ending(pid))
        .await
        .expect("end the app");
    // From the moment the close or the signal was delivered (the helper has returned;
    // starting Python for the window close is not the app's time).
    let asked = Instant::now();
    wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::ParticipantDisconnected(p) if p.identity == "me" => Some(()),
        _ => None,
    })
    .await;
    let took = asked.elapsed();
    let exit_deadline = Instant::now() + Duration::from_secs(10);
    while running(pid) {
        assert!(Instant::now() < exit_deadline, "the app did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        took < LEAVE_SEEN_WITHIN,
        "the others saw the app leave after {took:?}: {seen:#?}"
    );
    let log = logged_in(&logs);
    assert!(log.contains("convene ready"), "{log}");
    assert!(!log.contains(app_token.expose()), "token logged");
    let _ = std::fs::remove_dir_all(&logs);

    drop(client);
    drop(driver.process);
    watcher.disconnect().await;
    server.shutdown().await;
}

#[tokio::test]
async fn closing_the_window_leaves_the_call_at_once() {
    leave_is_seen_at_once(
        close_window_like_a_window_manager,
        "closing_the_window_leaves_the_call_at_once",
    )
    .await;
}

#[tokio::test]
async fn sigterm_leaves_the_call_at_once() {
    leave_is_seen_at_once(
        |pid| send_signal(pid, "TERM"),
        "sigterm_leaves_the_call_at_once",
    )
    .await;
}

/// Waits until the canvas `test_id` has drawn `frames` pictures; returns its frame count
/// and the mean colour and saturation of its lower half (below the pattern's stamp bars).
async fn wait_for_pictures(
    client: &fantoccini::Client,
    test_id: &str,
    frames: u64,
) -> serde_json::Value {
    let script = format!(
        "const c = document.querySelector(\"[data-testid='{test_id}']\");\
         if (!c || Number(c.dataset.frames) < {frames}) return null;\
         const copy = document.createElement('canvas');\
         copy.width = c.width; copy.height = c.height;\
         const g2 = copy.getContext('2d'); g2.drawImage(c, 0, 0);\
         const d = g2.getImageData(0, c.height / 2, c.width, c.height / 2).data;\
         let r = 0, g = 0, b = 0;\
         for (let i = 0; i < d.length; i += 4) {{ r += d[i]; g += d[i + 1]; b += d[i + 2]; }}\
         const n = d.length / 4; r /= n; g /= n; b /= n;\
         return {{ frames: Number(c.dataset.frames), renderer: c.dataset.renderer,\
                  thread: c.dataset.thread, r, g, b,\
                  saturation: Math.max(r, g, b) - Math.min(r, g, b) }};"
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let result = client
            .execute(&script, vec![])
            .await
            .expect("read the canvas");
        if !result.is_null() {
            return result;
        }
        assert!(
            Instant::now() < deadline,
            "{test_id} drew fewer than {frames} pictures"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the element `test_id`'s `data-<attribute>` is a number `accept`s.
async fn wait_for_attribute(
    client: &fantoccini::Client,
    test_id: &str,
    attribute: &str,
    accept: impl Fn(f64) -> bool,
) -> f64 {
    let script = format!(
        "const e = document.querySelector(\"[data-testid='{test_id}']\");\
         return e ? Number(e.dataset.{attribute}) : null;"
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let value = client.execute(&script, vec![]).await.expect("read");
        if let Some(value) = value.as_f64().filter(|value| accept(*value)) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{test_id} data-{attribute} stayed at {value}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The call screen in the real app: the pre-join preview and meter, join the local room
/// with the camera off, see another participant arrive, turn the camera on, mute reaches
/// them, chat, invite the test participant, leave.
#[tokio::test]
async fn the_call_screen_joins_mutes_invites_and_leaves() {
    if !display_available("the_call_screen_joins_mutes_invites_and_leaves") {
        return;
    }
    // The local room's credentials are random at every start; this test names them (the
    // test hook CONVENE_LOCAL_ROOM_KEYS) so that its watcher can sign a token.
    let secret = format!("{:032x}{:032x}", fastrand_u128(), fastrand_u128());
    let keys = format!("e2e-key:{secret}");
    let driver = WebDriver::start_with_env(&[
        ("CONVENE_FAKE_MEDIA", "1"),
        ("CONVENE_LOCAL_ROOM_KEYS", keys.as_str()),
    ])
    .await;
    let client = driver.launch_app().await;

    // Before joining: the camera preview draws the test pattern and the meter follows the
    // test tone (half amplitude: -6 dBFS fills the meter to 0.9).
    let preview = wait_for_pictures(&client, "preview-video", 10).await;
    assert!(preview["saturation"].as_f64() > Some(20.0), "{preview}");
    // WebKitGTK has OffscreenCanvas: the tile worker draws, not the page's thread.
    assert_eq!(preview["thread"], "worker", "{preview}");
    let meter = wait_for_attribute(&client, "mic-level", "level", |level| level > 0.7).await;
    println!("pre-join: preview {preview}, meter {meter}");
    save_screenshot(&client, "pre-join.png").await;
    // Join with the camera off.
    click(&client, "prejoin-camera").await;
    wait_for_text(&client, "preview-off", "Camera is off").await;

    click(&client, "local-room").await;
    let status = wait_for_text(&client, "local-room-status", "running at ws://127.0.0.1:").await;
    let url = status
        .split_whitespace()
        .find(|word| word.starts_with("ws://"))
        .expect("the local room's URL")
        .trim_end_matches(['.', ','])
        .to_owned();
    click(&client, "join").await;
    wait_for_text(&client, "call-room", "local").await;
    wait_for_text(&client, "state-self", "mic on · camera off").await;

    let token = AccessToken::new("e2e-key", &secret)
        .identity("watcher")
        .room_join("local")
        .sign(convene_room::clock::unix_now_secs())
        .expect("sign");
    let (watcher, mut events) = Room::connect(&url, token.expose(), loopback_options())
        .await
        .expect("the watcher joins the app's local room");
    let mut seen = Vec::new();
    let me = watcher
        .remote_participants()
        .into_iter()
        .find(|p| p.identity == "me")
        .expect("the app is in the room");
    assert_eq!(me.tracks.len(), 1, "joined with the camera off: {me:?}");
    wait_for_text(&client, "tile-watcher", "watcher").await;

    // Turning the camera on publishes it; our own tile shows it.
    click(&client, "toggle-camera").await;
    let camera = wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::TrackPublished {
            participant_identity,
            track,
        } if participant_identity == "me" => Some(track),
        _ => None,
    })
    .await;
    assert_eq!(camera.kind, convene_room::webrtc_kit::MediaKind::Video);
    wait_for_text(&client, "state-self", "mic on · camera on").await;
    let own = wait_for_pictures(&client, "video-self", 10).await;
    assert!(own["saturation"].as_f64() > Some(20.0), "{own}");
    wait_for_text(&client, "participant-list", "watcher").await;

    click(&client, "toggle-mic").await;
    wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::TrackMuted {
            participant_identity,
            ..
        } if participant_identity == "me" => Some(()),
        _ => None,
    })
    .await;
    wait_for_text(&client, "toggle-mic", "Unmute microphone").await;

    // Chat both ways with the watcher, in LiveKit's chat format.
    // U+E007 is WebDriver's Enter key.
    fill(&client, "chat-input", "hello watcher\u{E007}").await;
    let data = wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::DataReceived(data) if data.topic.as_deref() == Some(CHAT_TOPIC) => Some(data),
        _ => None,
    })
    .await;
    let sent = ChatMessage::decode(&data.payload).expect("a chat message");
    assert_eq!(sent.message, "hello watcher");
    let reply = ChatMessage::new("hello app", 0);
    watcher
        .send_data(&reply.encode(), ChatMessage::send_options())
        .await
        .expect("reply");
    wait_for_text(&client, "chat-lines", "watcher: hello app").await;

    click(&client, "invite").await;
    wait_for_text(&client, "state-test-participant", "mic on · camera on").await;
    // Its test pattern is drawn in the tile: pictures keep coming and they are the
    // pattern's colours, not the empty tile's.
    let drawn = wait_for_pictures(&client, "video-test-participant", 30).await;
    assert!(drawn["saturation"].as_f64() > Some(20.0), "{drawn}");
    println!("the test participant's tile: {drawn}");
    save_screenshot(&client, "call-with-test-participant.png").await;

    let asked = Instant::now();
    click(&client, "leave").await;
    wait_event(&mut events, &mut seen, WAIT, |event| match event {
        RoomEvent::ParticipantDisconnected(p) if p.identity == "me" => Some(()),
        _ => None,
    })
    .await;
    assert!(
        asked.elapsed() < LEAVE_SEEN_WITHIN * 3,
        "{:?}",
        asked.elapsed()
    );
    wait_for_text(&client, "join-screen", "Join a meeting").await;
    // The server is remembered for next time (the token is not).
    let remembered = client
        .find(fantoccini::Locator::Css("[data-testid='server-url']"))
        .await
        .expect("the server field")
        .prop("value")
        .await
        .expect("its value");
    assert_eq!(remembered.as_deref(), Some(url.as_str()));

    watcher.disconnect().await;
    client.close().await.expect("end the WebDriver session");
    drop(driver.process);
}

/// The connection banners in the real app: the signaling connection is cut and refused
/// for 4 s ("Reconnecting…", then "Reconnected"), then the server shuts down
/// ("Disconnected: the server shut down" with Rejoin).
#[tokio::test]
async fn the_banners_follow_a_dropped_connection_and_a_server_shutdown() {
    if !display_available("the_banners_follow_a_dropped_connection_and_a_server_shutdown") {
        return;
    }
    let server = start_server(Duration::from_secs(15)).await;
    let proxy = SignalProxy::start(server.local_addr()).await;
    let token = server.token("banners", "me", 600).expect("token");
    let link = join_link(&proxy.url(), token.expose());
    let exports = std::env::temp_dir().join(format!("convene-e2e-exports-{}", std::process::id()));
    let exports_dir = exports.to_string_lossy().into_owned();
    let driver = WebDriver::start_with_env(&[
        ("CONVENE_FAKE_MEDIA", "1"),
        ("CONVENE_EXPORT_DIR", exports_dir.as_str()),
    ])
    .await;
    let client = driver.launch_app_with(&[&link]).await;
    // A link only fills the join screen: the microphone is turned on and Join pressed.
    wait_for_text(&client, "link-room", "banners").await;
    click(&client, "prejoin-mic").await;
    click(&client, "join").await;
    wait_for_text(&client, "call-room", "banners").await;
    wait_for_text(&client, "state-self", "mic on").await;

    proxy.cut_for(Duration::from_secs(4));
    wait_for_text(&client, "banner", "Reconnecting").await;
    save_screenshot(&client, "banner-reconnecting.png").await;
    wait_for_text(&client, "banner", "Reconnected").await;
    save_screenshot(&client, "banner-reconnected.png").await;

    // The diagnostics panel shows the path in use and the reconnect in its timeline; the
    // export is a JSON file with the same.
    click(&client, "toggle-diagnostics").await;
    wait_for_text(&client, "diagnostics-stats", "host, UDP 127.0.0.1").await;
    wait_for_text(&client, "diagnostics-timeline", "reconnected").await;
    save_screenshot(&client, "diagnostics.png").await;
    click(&client, "export-diagnostics").await;
    let saved = wait_for_text(&client, "export-result", "Saved to").await;
    let path = saved.trim_start_matches("Saved to ").trim();
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("the exported file")).expect("JSON");
    let events: Vec<&str> = exported["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter_map(|entry| entry["event"]["event"].as_str())
        .collect();
    let reconnecting = events.iter().position(|e| *e == "reconnecting");
    let reconnected = events.iter().position(|e| *e == "reconnected");
    assert!(
        reconnecting.is_some() && reconnecting < reconnected,
        "{events:?}"
    );
    assert_eq!(
        exported["stats"]["publisher"]["path"]["local"]["kind"],
        "host"
    );
    let _ = std::fs::remove_dir_all(&exports);

    server.shutdown().await;
    wait_for_text(&client, "banner", "Disconnected: the server shut down").await;
    wait_for_text(&client, "rejoin", "Rejoin").await;
    save_screenshot(&client, "banner-disconnected.png").await;

    client.close().await.expect("end the WebDriver session");
    drop(driver.process);
}
