//! The real app under a virtual display, driven through WebKitWebDriver: the join screen is
//! shown, the real backend (Rust commands over Tauri IPC) validates what is typed, and
//! "Start a local room" starts the embedded server and fills in its URL and token.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use convene_room::AccessToken;
use fantoccini::Locator;
use support::webdriver::{WebDriver, fill, save_screenshot, wait_for_text};
use support::{artifacts_dir, display_available};

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
