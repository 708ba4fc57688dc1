//! The real app under a virtual display, driven through WebKitWebDriver: the join screen is
//! shown, the real backend (Rust commands over Tauri IPC) validates what is typed, and
//! "Start a local room" starts the embedded server and fills in its URL and token; a
//! `convene://join` link only fills the join screen, in the one running instance.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use convene_room::AccessToken;
use convene_room::Room;
use convene_room::room::RoomEvent;
use convene_testkit::{SignalProxy, loopback_options, start_server, wait_event};
use fantoccini::Locator;
use support::webdriver::{
    WAIT, WebDriver, click, fill, save_screenshot, wait_for_absence, wait_for_text,
};
use support::{RunningApp, artifacts_dir, display_available, fresh_log_dir, join_link, logged_in};

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

#[tokio::test]
async fn the_app_opens_on_the_join_screen_and_checks_input() {
    if !display_available("the_app_opens_on_the_join_screen_and_checks_input") {
        return;
    }
    let driver = WebDriver::start().await;
    let client = driver.launch_app().await;

    let heading = wait_for_text(&client, "join-screen", "Join a meeting").await;
    assert!(heading.contains("Start a local room"), "{heading}");

    fill(&client, "server-url", "my-project.livekit.cloud").await;
    wait_for_text(&client, "server-url-message", "add ws://").await;

    fill(&client, "token", "hello").await;
    wait_for_text(&client, "token-message", "not a JWT").await;

    let valid = AccessToken::new("devkey", "secret")
        .identity("alice")
        .name("Alice")
        .room_join("standup")
        .sign(unix_now())
        .expect("sign a token");
    fill(&client, "server-url", "https://my-project.livekit.cloud").await;
    fill(&client, "token", valid.expose()).await;
    let summary = wait_for_text(&client, "token-summary", "standup").await;
    assert!(summary.contains("alice"), "{summary}");
    assert!(summary.contains("expires in 6 h"), "{summary}");
    let join = client
        .find(Locator::Css("[data-testid='join']"))
        .await
        .expect("find Join");
    assert!(join.is_enabled().await.expect("read Join's state"));
    save_screenshot(&client, "join-screen.png").await;

    let expired = AccessToken::new("devkey", "secret")
        .identity("alice")
        .room_join("standup")
        .ttl_secs(60)
        .sign(unix_now() - 3_600)
        .expect("sign a token");
    fill(&client, "token", expired.expose()).await;
    wait_for_text(&client, "token-summary", "ask for a new token").await;
    assert!(!join.is_enabled().await.expect("read Join's state"));

    // "Start a local room" starts the embedded server and fills in the form.
    client
        .find(Locator::Css("[data-testid='local-room']"))
        .await
        .expect("find Start a local room")
        .click()
        .await
        .expect("click Start a local room");
    wait_for_text(&client, "local-room-status", "running at ws://127.0.0.1:").await;
    let summary = wait_for_text(&client, "token-summary", "local").await;
    assert!(summary.contains("me"), "{summary}");
    let screenshot = client.screenshot().await.expect("take a screenshot");
    std::fs::write(
        artifacts_dir("e2e").join("local-room-started.png"),
        screenshot,
    )
    .expect("save the screenshot");

    client.close().await.expect("end the WebDriver session");
    drop(driver.process);
}

/// Waits (bounded) until the app's log file in `dir` holds `needle`; returns the log.
async fn wait_for_logged(dir: &std::path::Path, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let log = logged_in(dir);
        if log.contains(needle) {
            return log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {needle:?} in the log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `convene://join` link (which any web page can open) only fills the join screen: the
/// app opens no device and no connection until Join is clicked, starts with the camera and
/// microphone off (first run: both would be on), keeps the token off its command line, and
/// a call joined that way can be rejoined after it was ended.
#[tokio::test]
async fn a_link_opens_no_device_and_no_socket_until_join_is_clicked() {
    if !display_available("a_link_opens_no_device_and_no_socket_until_join_is_clicked") {
        return;
    }
    let server = start_server(Duration::from_secs(15)).await;
    let proxy = SignalProxy::start(server.local_addr()).await;
    let token = server.token("linked", "me", 600).expect("token");
    let link = join_link(&proxy.url(), token.expose());
    let logs = fresh_log_dir();
    let driver = WebDriver::start_with_fake_media_logging_to(&logs).await;
    let client = driver.launch_app_with(&[&link]).await;

    // What the link asks for is shown: whose server, which room, as whom.
    wait_for_text(&client, "link-room", "linked").await;
    wait_for_text(&client, "link-host", "127.0.0.1").await;
    wait_for_text(&client, "link-identity", "me").await;
    wait_for_text(&client, "preview-off", "Camera is off").await;
    wait_for_text(&client, "prejoin-mic", "Microphone off").await;
    let log = wait_for_logged(&logs, "preview started").await;
    save_screenshot(&client, "join-link.png").await;
    assert!(log.contains("a join link was opened"), "{log}");
    assert!(
        !log.contains("opening the camera") && !log.contains("opening the microphone"),
        "a device was opened for a link:\n{log}"
    );
    assert_eq!(proxy.connections(), 0, "connected before Join was clicked");
    let pid = driver.app_pid().await;
    let command_line = support::command_line_of(pid);
    assert!(command_line.contains("convene://join"), "{command_line}");
    assert!(
        !command_line.contains(token.expose()),
        "the token stays on the command line: {command_line}"
    );

    client
        .find(Locator::Css("[data-testid='join']"))
        .await
        .expect("find Join")
        .click()
        .await
        .expect("click Join");
    wait_for_text(&client, "call-room", "linked").await;
    wait_for_text(&client, "state-self", "mic off · camera off").await;
    assert!(proxy.connections() > 0, "Join connects");
    let log = logged_in(&logs);
    assert!(
        !log.contains("opening the camera") && !log.contains("opening the microphone"),
        "joined with both off, yet:\n{log}"
    );

    // Ended from elsewhere (the same identity joins on another device), then Rejoin.
    let (impostor, mut impostor_events) =
        Room::connect(&server.url(), token.expose(), loopback_options())
            .await
            .expect("the same identity joins elsewhere");
    wait_for_text(&client, "banner", "Disconnected").await;
    click(&client, "rejoin").await;
    let mut seen = Vec::new();
    wait_event(&mut impostor_events, &mut seen, WAIT, |event| match event {
        RoomEvent::Disconnected(reason) => Some(reason),
        _ => None,
    })
    .await;
    wait_for_absence(&client, "banner").await;
    wait_for_text(&client, "call-room", "linked").await;
    drop(impostor);

    let _ = std::fs::remove_dir_all(&logs);
    client.close().await.expect("end the WebDriver session");
    drop(driver.process);
    server.shutdown().await;
}

/// One instance: a link opened while Convene runs reaches the running window (its join
/// screen shows the invitation) and the launched process exits at once, with its token.
#[tokio::test]
async fn a_link_opened_while_convene_runs_reaches_its_window_and_the_launch_exits() {
    if !display_available(
        "a_link_opened_while_convene_runs_reaches_its_window_and_the_launch_exits",
    ) {
        return;
    }
    let driver = WebDriver::start_with_env(&[("CONVENE_FAKE_MEDIA", "1")]).await;
    let client = driver.launch_app().await;
    wait_for_text(&client, "join-screen", "Join a meeting").await;

    let token = AccessToken::new("devkey", "secret")
        .identity("alice")
        .room_join("handover")
        .sign(unix_now())
        .expect("sign a token");
    let link = join_link("wss://meet.example.org", token.expose());
    let mut launched = RunningApp::start_on_bus(driver.bus.clone(), &[&link], &[]);
    let (took, status) = launched.wait_for_exit_status(Duration::from_secs(20)).await;
    println!("the second launch exited after {took:?} with {status}");
    assert!(status.success(), "{status}: {}", launched.log.join("\n"));
    assert!(
        !launched
            .log
            .iter()
            .any(|line| line.contains("convene ready")),
        "the second launch started an app of its own:\n{}",
        launched.log.join("\n")
    );

    wait_for_text(&client, "link-room", "handover").await;
    wait_for_text(&client, "link-host", "meet.example.org").await;
    wait_for_text(&client, "preview-off", "Camera is off").await;
    save_screenshot(&client, "join-link-handed-over.png").await;

    client.close().await.expect("end the WebDriver session");
    drop(driver.process);
}
