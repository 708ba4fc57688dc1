//! Official clients against the devserver: two `livekit-client` participants in headless
//! Chromium (fake camera and microphone) join one room, each decodes the other's video and
//! audio (counted from WebRTC receiver stats), and data messages flow both ways; the Python
//! SDK and a browser receive each other's media, and the tone the Python peer plays makes it
//! the active speaker (speakers_changed from RTP audio levels). A browser whose signal
//! connection drops resumes its session (same sid, media keeps flowing both ways) without
//! the other participant seeing it leave.

mod support;

use std::time::Duration;

use convene_testkit::BrowserPeers;
use serde_json::json;
use support::start_server;

#[tokio::test]
async fn two_browsers_see_and_hear_each_other_and_exchange_data() {
    let server = start_server(Duration::from_secs(15)).await;
    let alice = server.token("interop", "alice", 600).expect("token");
    let bob = server.token("interop", "bob", 600).expect("token");
    let mut peers = BrowserPeers::start().await;

    let joined = peers.join("a", &server.url(), alice.expose()).await;
    assert_eq!(joined["identity"], "alice");
    peers.join("b", &server.url(), bob.expose()).await;

    let seen_by_alice = peers
        .call(json!({"cmd": "wait_media", "id": "a", "from": "bob", "timeout_ms": 30000}))
        .await
        .expect("alice decodes bob's video and audio");
    let seen_by_bob = peers
        .call(json!({"cmd": "wait_media", "id": "b", "from": "alice", "timeout_ms": 30000}))
        .await
        .expect("bob decodes alice's video and audio");
    assert!(
        seen_by_alice["videoFrames"].as_u64() >= Some(15),
        "{seen_by_alice}"
    );
    assert!(
        seen_by_bob["audioSamples"].as_u64() >= Some(48_000),
        "{seen_by_bob}"
    );

    peers
        .call(json!({"cmd": "send_data", "id": "a", "text": "hello bob", "topic": "chat"}))
        .await
        .expect("alice sends");
    let got = peers
        .call(json!({"cmd": "wait_data", "id": "b", "text": "hello bob"}))
        .await
        .expect("bob receives");
    assert_eq!(got["from"], "alice");
    assert_eq!(got["topic"], "chat");
    peers
        .call(json!({"cmd": "send_data", "id": "b", "text": "hi alice", "to": ["alice"]}))
        .await
        .expect("bob sends");
    let got = peers
        .call(json!({"cmd": "wait_data", "id": "a", "text": "hi alice"}))
        .await
        .expect("alice receives");
    assert_eq!(got["from"], "bob");

    peers
        .call(json!({"cmd": "disconnect", "id": "b"}))
        .await
        .expect("bob leaves");
    peers
        .call(json!({"cmd": "wait_gone", "id": "a", "identity": "bob", "timeout_ms": 5000}))
        .await
        .expect("alice sees bob leave at once");
    peers.quit().await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_python_sdk_and_a_browser_receive_each_others_media() {
    let server = start_server(Duration::from_secs(15)).await;
    let alice = server.token("py-interop", "alice", 600).expect("token");
    let python = server.token("py-interop", "py", 600).expect("token");
    let mut peers = BrowserPeers::start().await;
    peers.join("a", &server.url(), alice.expose()).await;

    let peers_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/peers");
    let python_peer = tokio::process::Command::new(format!("{peers_dir}/.venv/bin/python"))
        .arg(format!("{peers_dir}/python_peer.py"))
        .args([server.url().as_str(), python.expose(), "alice", "45", "10"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python peer (scripts/setup.sh creates tests/peers/.venv)");

    let seen_by_browser = peers
        .call(json!({"cmd": "wait_media", "id": "a", "from": "py", "timeout_ms": 45000}))
        .await
        .expect("the browser decodes the Python SDK's video and audio");
    assert!(
        seen_by_browser["videoFrames"].as_u64() >= Some(15),
        "{seen_by_browser}"
    );

    let output = python_peer
        .wait_with_output()
        .await
        .expect("the Python peer ends");
    let report = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(report.trim())
        .unwrap_or_else(|_| panic!("Python peer printed {report:?}"));
    assert_eq!(report["ok"], true, "Python peer: {report}");
    assert!(report["video_frames"].as_u64() >= Some(15), "{report}");
    peers.quit().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_browser_resumes_its_session_after_the_signal_connection_drops() {
    let server = start_server(Duration::from_secs(15)).await;
    let alice = server.token("resume", "alice", 600).expect("token");
    let bob = server.token("resume", "bob", 600).expect("token");
    let mut peers = BrowserPeers::start().await;
    let joined = peers.join("a", &server.url(), alice.expose()).await;
    let alice_sid = joined["sid"].as_str().expect("alice's sid").to_owned();
    peers.join("b", &server.url(), bob.expose()).await;
    for (id, from) in [("a", "bob"), ("b", "alice")] {
        peers
            .call(json!({"cmd": "wait_media", "id": id, "from": from, "timeout_ms": 30000}))
            .await
            .unwrap_or_else(|e| panic!("{id} decodes {from} before the drop: {e}"));
    }

    peers
        .call(json!({"cmd": "simulate", "id": "a", "scenario": "signal-reconnect"}))
        .await
        .expect("alice's signal connection drops");
    peers
        .call(json!({"cmd": "wait_event", "id": "a", "event": "signalReconnecting", "timeout_ms": 10000}))
        .await
        .expect("alice notices the drop");
    peers
        .call(json!({"cmd": "wait_event", "id": "a", "event": "reconnected", "timeout_ms": 30000}))
        .await
        .expect("alice reconnects");

    // A resume, not a full reconnect: same sid, local tracks never republished.
    let local = peers
        .call(json!({"cmd": "local", "id": "a"}))
        .await
        .expect("alice's state");
    assert_eq!(local["sid"], alice_sid.as_str(), "{local}");
    assert_eq!(local["state"], "connected", "{local}");
    let events = peers
        .call(json!({"cmd": "events", "id": "a"}))
        .await
        .expect("alice's events");
    let names: Vec<&str> = events["events"]
        .as_array()
        .expect("event list")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert!(
        !names.contains(&"localTrackUnpublished") && !names.contains(&"participantDisconnected"),
        "alice restarted instead of resuming: {names:?}"
    );

    // Media keeps flowing both ways after the resume (ICE restarts on both PCs).
    for (id, from) in [("a", "bob"), ("b", "alice")] {
        let baseline = peers
            .call(json!({"cmd": "decoded", "id": id, "from": from}))
            .await
            .expect("decoded so far");
        peers
            .call(json!({"cmd": "wait_media", "id": id, "from": from, "baseline": baseline, "timeout_ms": 30000}))
            .await
            .unwrap_or_else(|e| panic!("{id} decodes {from} after the resume: {e}"));
    }

    // Bob never saw alice leave and still knows her by the same sid.
    let events = peers
        .call(json!({"cmd": "events", "id": "b"}))
        .await
        .expect("bob's events");
    assert!(
        !events["events"]
            .as_array()
            .expect("event list")
            .iter()
            .any(|e| e["event"] == "participantDisconnected" && e["identity"] == "alice"),
        "bob saw alice disconnect: {events}"
    );
    let remotes = peers
        .call(json!({"cmd": "remotes", "id": "b"}))
        .await
        .expect("bob's participants");
    assert_eq!(
        remotes,
        json!([{"identity": "alice", "sid": alice_sid}]),
        "{remotes}"
    );
    peers.quit().await;
    server.shutdown().await;
}
