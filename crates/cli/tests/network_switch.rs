//! Network changes in a lab of network namespaces (needs root and `ip`; skipped otherwise,
//! unless CONVENE_REQUIRE_E2E=1 makes that an error).
//!
//! The lab is `scripts/netlab.sh`, the one QA uses by hand (a lab number of its own per test):
//! a "server" namespace running
//! `convene-cli server` and a publisher (`convene-cli join --publish-silence`), and a
//! "client" namespace running the participant under test (`convene-cli join`), joined by two
//! veth links, "wifi" (10.201.N.0/24) and "cell" (10.202.N.0/24). The client's default route
//! prefers wifi.
//!
//! * wifi down for 3 s, then up: Reconnecting (resume) then Reconnected, no full
//!   reconnect, and the publisher's audio flows again.
//! * WiFi -> cellular (wifi down and its address gone): the client notices the change at
//!   once, resumes with an ICE restart over the cell link, and media flows again.
//! * A lossy uplink (nftables drops 40 % of UDP): the others see that participant's connection quality go
//!   from excellent to poor.

use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const CLI: &str = env!("CARGO_BIN_EXE_convene-cli");
const WAIT: Duration = Duration::from_secs(30);
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
fn lab_available() -> bool {
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
struct Lab {
    server_ns: String,
    client_ns: String,
    lab: u32,
    processes: Vec<Child>,
}

/// Lab numbers this test binary may use.
const LABS_PER_RUN: u32 = 6;
static NEXT_LAB_NUMBER: AtomicU32 = AtomicU32::new(0);

const NETLAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/netlab.sh");

impl Lab {
    fn new() -> Self {
        // Lab numbers are the third byte of the lab's addresses: away from a person's lab 1,
        // one per test of this run (at most LABS_PER_RUN) and apart for concurrent runs.
        let index = NEXT_LAB_NUMBER.fetch_add(1, Ordering::Relaxed);
        assert!(index < LABS_PER_RUN, "more labs than numbers set aside");
        let lab = 100 + (std::process::id() % 25) * LABS_PER_RUN + index;
        let lab_value = Self {
            server_ns: format!("convene-lab{lab}-server"),
            client_ns: format!("convene-lab{lab}-client"),
            lab,
            processes: Vec::new(),
        };
        lab_value.run(&["down"]);
        lab_value.run(&["up"]);
        lab_value
    }

    /// `scripts/netlab.sh <args>` on this lab.
    fn run(&self, args: &[&str]) {
        let status = std::process::Command::new("bash")
            .arg(NETLAB)
            .args(args)
            .env("LAB", self.lab.to_string())
            .stdout(Stdio::null())
            .status()
            .expect("run scripts/netlab.sh");
        assert!(status.success(), "netlab.sh {}", args.join(" "));
    }

    fn server_url(&self) -> String {
        format!("ws://10.201.{}.1:7880", self.lab)
    }

    fn spawn(&mut self, ns: &str, args: &[&str], token: Option<&str>) -> mpsc::Receiver<Value> {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns, CLI])
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
                if tx.send(value).await.is_err() {
                    return;
                }
            }
        });
        self.processes.push(child);
        rx
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

fn token(identity: &str) -> String {
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
async fn wait_line(
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

fn packets(line: &Value) -> u64 {
    line["packets"].as_u64().unwrap_or(0)
}

/// Starts the server and publisher, then the client; returns once audio flows.
async fn lab_with_flowing_media() -> (Lab, mpsc::Receiver<Value>, Vec<Value>) {
    let mut lab = Lab::new();
    let server_ns = lab.server_ns.clone();
    let client_ns = lab.client_ns.clone();
    let bind = format!("10.201.{}.1:7880", lab.lab);
    let mut server = lab.spawn(&server_ns, &["server", "--bind", &bind], None);
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
            "join",
            "--url",
            &url,
            "--publish-silence",
            "--no-watch-network",
        ],
        Some(&publisher_token),
    );
    wait_line(&mut publisher, &mut log, |l| {
        l["event"] == "localTrackPublished"
    })
    .await;
    let client_token = token("roamer");
    let mut client = lab.spawn(
        &client_ns,
        &["join", "--url", &url, "--report-ms", "200"],
        Some(&client_token),
    );
    let mut log = Vec::new();
    wait_line(&mut client, &mut log, |l| l["event"] == "trackSubscribed").await;
    wait_line(&mut client, &mut log, |l| packets(l) >= 25).await;
    (lab, client, log)
}

/// Waits for a resume (and no full reconnect), then for 50 more packets (1 s of audio).
async fn expect_resume_and_media(client: &mut mpsc::Receiver<Value>, log: &mut Vec<Value>) {
    let reconnecting = wait_line(client, log, |l| l["event"] == "reconnecting").await;
    assert_eq!(reconnecting["kind"], "resume", "{log:#?}");
    wait_line(client, log, |l| l["event"] == "reconnected").await;
    assert!(
        !log.iter()
            .any(|l| l["kind"] == "full" || l["event"] == "disconnected"),
        "resumed without a full reconnect: {log:#?}"
    );
    let after = packets(&wait_line(client, log, |l| l["event"] == "media").await);
    wait_line(client, log, |l| packets(l) >= after + 50).await;
}

#[tokio::test]
async fn wifi_down_for_three_seconds_resumes_and_media_flows_again() {
    if !lab_available() {
        eprintln!("skipped: no network namespaces here");
        return;
    }
    let (lab, mut client, mut log) = lab_with_flowing_media().await;
    lab.run(&["link", "wifi", "down"]);
    // The outage itself: three seconds of no network, as in the QA scenario.
    tokio::time::sleep(Duration::from_secs(3)).await;
    lab.run(&["link", "wifi", "up"]);
    expect_resume_and_media(&mut client, &mut log).await;
}

#[tokio::test]
async fn wifi_to_cellular_resumes_with_an_ice_restart() {
    if !lab_available() {
        eprintln!("skipped: no network namespaces here");
        return;
    }
    let (lab, mut client, mut log) = lab_with_flowing_media().await;
    // WiFi goes away for good (link and address); only the cell route is left.
    lab.run(&["link", "wifi", "gone"]);
    expect_resume_and_media(&mut client, &mut log).await;
}

#[tokio::test]
async fn a_lossy_uplink_shows_as_poor_connection_quality_to_the_others() {
    if !lab_available() {
        eprintln!("skipped: no network namespaces here");
        return;
    }
    let (mut lab, mut client, mut log) = lab_with_flowing_media().await;
    let client_ns = lab.client_ns.clone();
    let url = lab.server_url();
    let lossy_token = token("lossy");
    let _lossy = lab.spawn(
        &client_ns,
        &["join", "--url", &url, "--fake-media", "--no-watch-network"],
        Some(&lossy_token),
    );
    let quality_of = |identity: &'static str, quality: &'static str| {
        move |l: &Value| {
            l["event"] == "connectionQuality"
                && l["identity"] == identity
                && l["quality"] == quality
        }
    };
    wait_line(&mut client, &mut log, quality_of("lossy", "excellent")).await;
    // From now on 40 % of the client namespace's UDP is dropped each way (nftables: this
    // kernel has no netem). Retransmissions recover part of it; what stays lost is well
    // beyond "good". Signaling (TCP) is untouched.
    lab.run(&["loss", "40", "udp"]);
    wait_line(&mut client, &mut log, quality_of("lossy", "poor")).await;
}
