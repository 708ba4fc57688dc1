//! A client under test as a child process: Convene (this binary in the `convene-peer`
//! role), the Python SDK (`tests/peers/bench_peer.py`) or livekit-client in headless
//! Chromium (`tests/peers/bench-browser.mjs`). All three speak the same JSON lines
//! (`ready`, `connected`, `first_frame`, `latency`, `reconnecting`, `reconnected`, `done`).

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Which client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Convene's own (`convene-room` + `convene-call`).
    Convene,
    /// The `livekit` Python SDK from PyPI.
    Python,
    /// `livekit-client` from npm in headless Chromium.
    Browser,
}

impl Client {
    /// All three, in the table's order.
    pub const ALL: [Client; 3] = [Client::Convene, Client::Python, Client::Browser];

    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            Client::Convene => "Convene",
            Client::Python => "Python SDK",
            Client::Browser => "livekit-client (Chromium)",
        }
    }

    /// A short identity prefix.
    pub fn tag(self) -> &'static str {
        match self {
            Client::Convene => "convene",
            Client::Python => "python",
            Client::Browser => "browser",
        }
    }
}

/// What a run asks of the peer.
pub struct PeerRun<'a> {
    pub url: &'a str,
    pub token: &'a str,
    /// Whose video to time and read stamps from.
    pub from: &'a str,
    /// Publish our own camera and microphone (a two-party call).
    pub publish: bool,
    /// Leave after this long.
    pub duration: Duration,
}

/// A running peer.
pub struct Peer {
    pub client: Client,
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// The last `latency` line seen.
    pub latency: Option<Value>,
}

impl Peer {
    /// Starts the peer and waits for its `ready` line (runtime loaded, not yet connecting).
    pub async fn start(client: Client, run: &PeerRun<'_>) -> Self {
        let peers = convene_testkit::peers_dir();
        let duration = run.duration.as_secs_f64().to_string();
        let mut command = match client {
            Client::Convene => {
                let mut command = Command::new(std::env::current_exe().expect("this binary"));
                command
                    .env(super::ROLE_ENV, "convene-peer")
                    .env("RUST_LOG", "off")
                    .env("BENCH_URL", run.url)
                    .env("BENCH_TOKEN", run.token)
                    .env("BENCH_FROM", run.from)
                    .env("BENCH_PUBLISH", if run.publish { "1" } else { "0" })
                    .env("BENCH_DURATION", &duration);
                command
            }
            Client::Python => {
                let mut command = Command::new(peers.join(".venv/bin/python"));
                command.arg(peers.join("bench_peer.py"));
                command
            }
            Client::Browser => {
                let mut command = Command::new("node");
                command.arg(peers.join("bench-browser.mjs"));
                command
            }
        };
        if client != Client::Convene {
            command.args(["--url", run.url, "--token", run.token, "--from", run.from]);
            command.args(["--duration", &duration]);
            if run.publish {
                command.arg("--publish");
            }
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("start the {} peer: {error}", client.name()));
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut peer = Self {
            client,
            child,
            lines,
            latency: None,
        };
        peer.wait_for("ready", Duration::from_secs(60)).await;
        peer
    }

    /// The peer's process id (the root of its process tree).
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Whether the process tree's root is a driver rather than the client (the browser's
    /// Node process).
    pub fn root_is_driver(&self) -> bool {
        self.client == Client::Browser
    }

    /// The next line with `event` (others are skipped; `latency` lines are kept).
    pub async fn wait_for(&mut self, event: &str, limit: Duration) -> Value {
        let client = self.client.name();
        tokio::time::timeout(limit, async {
            loop {
                let line = self
                    .lines
                    .next_line()
                    .await
                    .expect("read the peer")
                    .unwrap_or_else(|| panic!("the {client} peer ended before `{event}`"));
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                match value["event"].as_str() {
                    Some("error") => panic!("the {client} peer failed: {value}"),
                    Some("latency") => self.latency = Some(value.clone()),
                    _ => {}
                }
                if value["event"] == event {
                    return value;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the {client} peer sent no `{event}` in {limit:?}"))
    }

    /// Asks the peer to leave (stdin closes) and waits for it to finish.
    pub async fn finish(mut self) -> Option<Value> {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = self.lines.next_line().await {
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                match value["event"].as_str() {
                    Some("latency") => self.latency = Some(value),
                    Some("done") => break,
                    _ => {}
                }
            }
        })
        .await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let _ = self.child.start_kill();
        self.latency
    }
}
