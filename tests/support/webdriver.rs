//! Driving the real app's webview through WebKitWebDriver (Debian's webkit2gtk-driver).

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};

use super::{APP_BINARY, artifacts_dir};

pub const WAIT: Duration = Duration::from_secs(30);

/// WebKitWebDriver on a free port, allowed to automate Tauri's webview.
pub struct WebDriver {
    pub process: Child,
    port: u16,
    /// The session bus of the apps it launches (see [`super::PrivateBus`]).
    pub bus: std::sync::Arc<super::PrivateBus>,
}

impl WebDriver {
    /// Starts the driver.
    pub async fn start() -> Self {
        Self::start_with_env(&[]).await
    }

    /// Starts the driver; `env` reaches the app it launches.
    pub async fn start_with_env(env: &[(&str, &str)]) -> Self {
        let bus = std::sync::Arc::new(super::PrivateBus::start());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("pick a free port")
            .port();
        let mut command = Command::new("WebKitWebDriver");
        command.env("CONVENE_CONFIG_DIR", super::fresh_config_dir());
        command.env("DBUS_SESSION_BUS_ADDRESS", bus.address());
        command.envs(env.iter().copied());
        let process = command
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
        Self { process, port, bus }
    }

    /// The app this driver launched (its child process), once it runs.
    pub async fn app_pid(&self) -> u32 {
        let driver = self.process.id().expect("the driver runs");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let children = super::child_processes(driver);
            if let Some(app) = children
                .into_iter()
                .find(|pid| super::command_line_of(*pid).contains("convene"))
            {
                return app;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no app under the driver"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the driver for apps with the synthetic devices that log to `logs` (read it
    /// with [`super::logged_in`]).
    pub async fn start_with_fake_media_logging_to(logs: &std::path::Path) -> Self {
        let logs = logs.to_string_lossy().into_owned();
        Self::start_with_env(&[
            ("CONVENE_FAKE_MEDIA", "1"),
            ("CONVENE_LOG_DIR", logs.as_str()),
        ])
        .await
    }

    /// Starts the app and a WebDriver session on its window.
    pub async fn launch_app(&self) -> Client {
        self.launch_app_with(&[]).await
    }

    /// Starts the app with command-line arguments (e.g. a join link) and a session on it.
    pub async fn launch_app_with(&self, args: &[&str]) -> Client {
        self.launch_binary(APP_BINARY, args).await
    }

    /// Starts the app at `binary` (e.g. the installed package's) and a session on it.
    pub async fn launch_binary(&self, binary: &str, args: &[&str]) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "webkitgtk:browserOptions".into(),
            json!({ "binary": binary, "args": args }),
        );
        ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("start a WebDriver session on the app")
    }
}

/// Waits for the element `test_id` to contain `needle`; returns its text.
/// The page may re-render the element between finding and reading it; then it is found
/// again.
pub async fn wait_for_text(client: &Client, test_id: &str, needle: &str) -> String {
    let xpath = format!("//*[@data-testid='{test_id}'][contains(., \"{needle}\")]");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = client
            .wait()
            .at_most(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .for_element(Locator::XPath(&xpath))
            .await;
        let element = match found {
            Ok(element) => element,
            Err(error) => {
                let page = client
                    .execute("return document.body.innerText;", vec![])
                    .await
                    .map(|text| text.as_str().unwrap_or_default().to_owned())
                    .unwrap_or_default();
                panic!("no {test_id} containing {needle:?}: {error}\npage text:\n{page}");
            }
        };
        match element.text().await {
            Ok(text) => return text,
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing_free_note(test_id, &error);
            }
            Err(error) => panic!("cannot read {test_id}: {error}"),
        }
    }
}

/// Notes a re-rendered element on stderr (the test retries).
fn tracing_free_note(test_id: &str, error: &fantoccini::error::CmdError) {
    eprintln!("{test_id} changed while being read ({error}); finding it again");
}

/// Replaces the text of the field `test_id`.
pub async fn fill(client: &Client, test_id: &str, text: &str) {
    let field = client
        .find(Locator::Css(&format!("[data-testid='{test_id}']")))
        .await
        .expect("find the field");
    field.clear().await.expect("clear the field");
    field.send_keys(text).await.expect("type into the field");
}

/// Saves a screenshot once the page has painted its current DOM (two animation frames):
/// WebKitGTK's snapshot otherwise can show the previous frame.
pub async fn save_screenshot(client: &Client, name: &str) {
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

/// Clicks the element `test_id`.
pub async fn click(client: &Client, test_id: &str) {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!("[data-testid='{test_id}']")))
        .await
        .unwrap_or_else(|e| panic!("no {test_id}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {test_id}: {e}"));
}

/// Waits until no element `test_id` is on the page (a banner went away).
pub async fn wait_for_absence(client: &Client, test_id: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let selector = format!("[data-testid='{test_id}']");
    loop {
        let found = client
            .find_all(Locator::Css(&selector))
            .await
            .unwrap_or_else(|error| panic!("look for {test_id}: {error}"));
        if found.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{test_id} still shown after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
