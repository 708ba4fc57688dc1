//! The network lab shared by the network tests and the reliability run: `scripts/netlab.sh`
//! (the one QA uses by hand) driven from Rust, `convene-cli` processes started inside it,
//! and their JSON lines read back.

#![allow(dead_code)] // Each test binary uses a different part.

use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub const CLI: &str = env!("CARGO_BIN_EXE_convene-cli");
pub const WAIT: Duration = Duration::from_secs(30);
static NEXT_LAB: AtomicU32 = AtomicU32::new(1);

fn ip(args: &[&str]) -> bool {
    std::process::Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this machine lets us build the lab.
pub fn lab_available() -> bool {
    let probe = format!(
        "cvprobe{}x{}",
        std::process::id(),
        NEXT_LAB.fetch_add(1, Ordering::Relaxed)
    );
    let ok = ip(&["netns", "add", &probe]);
    if ok {
        ip(&["netns", "del", &probe]);
    }
    if !ok && std::env::var("CONVENE_REQUIRE_E2E").as_deref() == Ok("1") {
        panic!("network namespaces are required (run as root with iproute2)");
    }
    ok
}

/// The network lab of `scripts/netlab.sh` (the one QA uses by hand): two namespaces joined
/// by a wifi and a cell link; taken down on drop (with the processes started in it).
pub struct Lab {
    pub server_ns: String,
    pub client_ns: String,
    pub lab: u32,
    processes: Vec<Child>,
}

/// Lab numbers this test binary may use.
const LABS_PER_RUN: u32 = 8;
static NEXT_LAB_NUMBER: AtomicU32 = AtomicU32::new(0);

const NETLAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/netlab.sh");

impl Lab {
    pub fn new() -> Self {
        Self::build(&["up"])
    }

    /// A lab whose wifi link goes through the user-space delay relay (`netlab.sh delay`).
    pub fn delayable() -> Self {
        Self::build(&["up", "--delayable"])
    }

    fn build(up: &[&str]) -> Self {
        // Lab numbers are the third byte of the lab's addresses: away from a person's lab 1,
        // one per lab of this run (at most LABS_PER_RUN at once; numbers are reused in
        // turn) and apart for concurrent runs.
        let index = NEXT_LAB_NUMBER.fetch_add(1, Ordering::Relaxed) % LABS_PER_RUN;
        let lab = 100 + (std::process::id() % 19) * LABS_PER_RUN + index;
        let lab_value = Self {
            server_ns: format!("convene-lab{lab}-server"),
            client_ns: format!("convene-lab{lab}-client"),
            lab,
            processes: Vec::new(),
        };
        lab_value.run(&["down"]);
        lab_value.run(up);
        lab_value
    }

    /// `scripts/netlab.sh <args>` on this lab.
    pub fn run(&self, args: &[&str]) {
        let status = std::process::Command::new("bash")
            .arg(NETLAB)
            .args(args)
            .env("LAB", self.lab.to_string())
            .stdout(Stdio::null())
            .status()
            .expect("run scripts/netlab.sh");
        assert!(status.success(), "netlab.sh {}", args.join(" "));
    }

    pub fn server_url(&self) -> String {
        format!("ws://10.201.{}.1:7880", self.lab)
    }

    pub fn spawn(&mut self, ns: &str, args: &[&str], token: Option<&str>) -> mpsc::Receiver<Value> {
        self.spawn_program(ns, CLI, args, token)
    }

    /// Runs `program` with `args` in namespace `ns` until the lab goes; its stdout lines come
    /// out of the receiver (JSON values, other lines as strings).
    pub fn spawn_program(
        &mut self,
        ns: &str,
        program: &str,
        args: &[&str],
        token: Option<&str>,
    ) -> mpsc::Receiver<Value> {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(token) = token {
            command.env("CONVENE_TOKEN", token);
        }
        let mut child = command.spawn().expect("start convene-cli in the lab");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // JSON lines from `join`; the server's plain text arrives as strings.
                let value = serde_json::from_str::<Value>(&line).unwrap_or(Value::String(line));
                // Once nobody reads the lines any more, they are still drained: a closed pipe
                // would make the process's next print fail (a restarted server died so).
                let _ = tx.send(value).await;
            }
        });
        self.processes.push(child);
        rx
    }
}

impl Lab {
    /// Kills the `index`-th process started in the lab (e.g. 0: the server), like a crash.
    pub fn kill(&mut self, index: usize) {
        if let Some(child) = self.processes.get_mut(index) {
            let _ = child.start_kill();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.processes {
            let _ = child.start_kill();
        }
        self.run(&["down"]);
    }
}

pub fn token(identity: &str) -> String {
    convene_room::AccessToken::new("devkey", "secret")
        .identity(identity)
        .room_join("lab")
        .ttl_secs(600)
        .sign(convene_room::clock::unix_now_secs())
        .expect("sign")
        .expose()
        .to_owned()
}

/// Reads lines until `pick` accepts one; returns it and everything read.
pub async fn wait_line(
    lines: &mut mpsc::Receiver<Value>,
    log: &mut Vec<Value>,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let line = tokio::time::timeout_at(deadline, lines.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; lines so far: {log:#?}"))
            .unwrap_or_else(|| panic!("the process ended; lines so far: {log:#?}"));
        if line["event"] != "media" {
            log.push(line.clone());
        }
        if pick(&line) {
            return line;
        }
    }
}

pub fn packets(line: &Value) -> u64 {
    line["packets"].as_u64().unwrap_or(0)
}

/// Starts the server and a publisher (silence, plus `publisher_extra` arguments) in the
/// server namespace, then the participant under test in the client namespace (`media`
/// lines every `report_ms`); returns once audio flows to it.
pub async fn lab_with_flowing_media(publisher_extra: &[&str], report_ms: &str) -> FlowingLab {
    let (mut lab, publisher) = lab_with_publisher(publisher_extra).await;
    let (client, log) = join_client(&mut lab, &["--report-ms", report_ms]).await;
    FlowingLab {
        lab,
        client,
        publisher,
        log,
    }
}

/// A lab with the server and a publisher (silence, plus `publisher_extra`) running on the
/// server side; returns the publisher's lines.
pub async fn lab_with_publisher(publisher_extra: &[&str]) -> (Lab, mpsc::Receiver<Value>) {
    start_publisher(Lab::new(), &[], publisher_extra).await
}

/// Starts the server (`convene-cli server` with `server_extra`) and a publisher (silence,
/// plus `publisher_extra`) on `lab`'s server side; returns the lab and the publisher's lines.
pub async fn start_publisher(
    mut lab: Lab,
    server_extra: &[&str],
    publisher_extra: &[&str],
) -> (Lab, mpsc::Receiver<Value>) {
    let server_ns = lab.server_ns.clone();
    let bind = format!("10.201.{}.1:7880", lab.lab);
    let mut server = lab.spawn(
        &server_ns,
        &[&["server", "--dev", "--bind", &bind], server_extra].concat(),
        None,
    );
    let mut log = Vec::new();
    wait_line(&mut server, &mut log, |l| {
        l.as_str()
            .is_some_and(|t| t.starts_with("convene devserver on"))
    })
    .await;
    let url = lab.server_url();
    let publisher_token = token("publisher");
    let mut publisher = lab.spawn(
        &server_ns,
        &[
            &[
                "join",
                "--url",
                &url,
                "--publish-silence",
                "--no-watch-network",
            ],
            publisher_extra,
        ]
        .concat(),
        Some(&publisher_token),
    );
    wait_line(&mut publisher, &mut log, |l| {
        l["event"] == "localTrackPublished"
    })
    .await;
    (lab, publisher)
}

/// Starts the participant under test on the client side (`convene-cli join` with `extra`
/// arguments); returns its lines once the publisher's audio flows to it.
pub async fn join_client(lab: &mut Lab, extra: &[&str]) -> (mpsc::Receiver<Value>, Vec<Value>) {
    let client_ns = lab.client_ns.clone();
    let url = lab.server_url();
    let client_token = token("roamer");
    let mut client = lab.spawn(
        &client_ns,
        &[&["join", "--url", &url], extra].concat(),
        Some(&client_token),
    );
    let mut log = Vec::new();
    wait_line(&mut client, &mut log, |l| l["event"] == "trackSubscribed").await;
    wait_line(&mut client, &mut log, |l| packets(l) >= 25).await;
    (client, log)
}

/// A lab with audio flowing from the publisher to the participant under test.
pub struct FlowingLab {
    /// The lab (taken down on drop).
    pub lab: Lab,
    /// The participant under test's JSON lines.
    pub client: mpsc::Receiver<Value>,
    /// The publisher's JSON lines.
    pub publisher: mpsc::Receiver<Value>,
    /// The participant's lines read so far.
    pub log: Vec<Value>,
}
