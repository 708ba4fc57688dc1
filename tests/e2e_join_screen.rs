//! The real app under a virtual display, driven through WebKitWebDriver: the join screen is
//! shown, the real backend (Rust commands over Tauri IPC) validates what is typed, and
//! "Start a local room" starts the embedded server and fills in its URL and token.

mod support;

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use convene_room::AccessToken;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::{APP_BINARY, artifacts_dir, display_available};
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(30);

/// WebKitWebDriver on a free port, allowed to automate Tauri's webview.
struct WebDriver {
    process: Child,
    port: u16,
}

impl WebDriver {
    async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("pick a free port")
            .port();
        let process = Command::new("WebKitWebDriver")
            .arg(format!("--port={port}"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start WebKitWebDriver (Debian package webkit2gtk-driver)");
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "WebKitWebDriver did not listen"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { process, port }
    }

    async fn launch_app(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "webkitgtk:browserOptions".into(),
            json!({ "binary": APP_BINARY, "args": [] }),
        );
        ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("start a WebDriver session on the app")
    }
}

async fn wait_for_text(client: &Client, test_id: &str, needle: &str) -> String {
    let xpath = format!("//*[@data-testid='{test_id}'][contains(., \"{needle}\")]");
    let element = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no {test_id} containing {needle:?}: {e}"));
    element.text().await.expect("read the element's text")
}

async fn fill(client: &Client, test_id: &str, text: &str) {
    let field = client
        .find(Locator::Css(&format!("[data-testid='{test_id}']")))
        .await
        .expect("find the field");
    field.clear().await.expect("clear the field");
    field.send_keys(text).await.expect("type into the field");
}

/// Saves a screenshot once the page has painted its current DOM (two animation frames):
/// WebKitGTK's snapshot otherwise can show the previous frame.
async fn save_screenshot(client: &Client, name: &str) {
    client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            vec![],
        )
        .await
        .expect("wait for a paint");
    let screenshot = client.screenshot().await.expect("take a screenshot");
    std::fs::write(artifacts_dir("e2e").join(name), screenshot).expect("save the screenshot");
}

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
