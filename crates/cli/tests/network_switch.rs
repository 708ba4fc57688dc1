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
//! * UDP blocked from the start: the call runs over ICE/TCP (audio arrives, TCP pair in use).
//! * UDP blocked mid-call: a resume (ICE restart) moves the call to ICE/TCP.
//! * Delay on the wifi link (the lab's user-space relay): the round-trip time in the stats
//!   follows it and audio keeps flowing.
//! * Direct UDP blocked but UDP to the TURN server open: the call runs over TURN/UDP.
//! * No UDP, and TCP only to the signaling port and TURN/TLS: the call runs over TURN/TLS.
//! * A lossy uplink (nftables drops 40 % of UDP): the others see that participant's connection quality go
//!   from excellent to poor.

mod support;

use std::time::Duration;

use convene_testkit::tools::{program_installed, self_signed_certificate};
use serde_json::Value;
use support::{
    Lab, join_client, lab_available, lab_with_flowing_media, lab_with_publisher, packets,
    start_publisher, token, wait_line,
};
use tokio::sync::mpsc;

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
    let support::FlowingLab {
        lab,
        mut client,
        mut log,
        ..
    } = lab_with_flowing_media(&[], "200").await;
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
    let support::FlowingLab {
        lab,
        mut client,
        mut log,
        ..
    } = lab_with_flowing_media(&[], "200").await;
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
    let support::FlowingLab {
        mut lab,
        mut client,
        mut log,
        ..
    } = lab_with_flowing_media(&[], "200").await;
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

#[tokio::test]
async fn with_udp_blocked_the_call_runs_over_ice_tcp() {
    if !lab_available() {
        eprintln!("skipped: no network namespaces here");
        return;
    }
    let (mut lab, _publisher) = lab_with_publisher(&[]).await;
    // A network that lets only TCP through (as many corporate and hotel networks do).
    lab.run(&["block-udp", "on"]);
    let (mut client, mut log) = join_client(
        &mut lab,
        &["--report-ms", "300", "--stats", "--no-watch-network"],
    )
    .await;
    let stats = wait_line(&mut client, &mut log, |l| {
        l["event"] == "stats" && l["stats"]["subscriber"]["path"].is_object()
    })
    .await;
    let path = &stats["stats"]["subscriber"]["path"]["local"];
    assert_eq!(path["protocol"], "tcp", "{stats}");
    assert_eq!(path["kind"], "host", "{stats}");
}

#[tokio::test]
async fn udp_blocked_mid_call_resumes_over_ice_tcp() {
    if !lab_available() {
        eprintln!("skipped: no network namespaces here");
        return;
    }
    let (mut lab, _publisher) = lab_with_publisher(&[]).await;
    let (mut client, mut log) = join_client(&mut lab, &["--report-ms", "200", "--stats"]).await;
    let path_protocol = |l: &Value| l["stats"]["subscriber"]["path"]["local"]["protocol"].clone();
    let before = wait_line(&mut client, &mut log, |l| {
        l["event"] == "stats" && l["stats"]["subscriber"]["path"].is_object()
    })
    .await;
    assert_eq!(path_protocol(&before), "udp", "{before}");

    // The network starts dropping UDP (a captive portal or a VPN coming up): ICE notices the
    // silence, the client resumes, UDP fails again, and the restart carries on over TCP.
    lab.run(&["block-udp", "on"]);
    expect_resume_and_media(&mut client, &mut log).await;
    wait_line(&mut client, &mut log, |l| {
        l["event"] == "stats" && path_protocol(l) == "tcp"
    })
    .await;
}

#[tokio::test]
async fn delay_on_the_link_shows_in_the_round_trip_time_and_audio_keeps_flowing() {
    if !lab_available() {
        eprintln!("skipped: no network namespaces here");
        return;
    }
    let (mut lab, _publisher) = start_publisher(Lab::delayable(), &[], &[]).await;
    let (mut client, mut log) = join_client(
        &mut lab,
        &["--report-ms", "300", "--stats", "--no-watch-network"],
    )
    .await;
    let round_trip = |l: &Value| l["stats"]["subscriber"]["roundTripMs"].as_f64();
    let before = wait_line(&mut client, &mut log, |l| round_trip(l).is_some()).await;
    assert!(round_trip(&before) < Some(100.0), "{before}");

    // 150 ms on the wifi link (a satellite hop, or a VPN to another continent). Whether the
    // answers come back over wifi too depends on the pair ICE chose (the lab's two links
    // reach the same server), so at least one way is delayed.
    lab.run(&["delay", "150"]);
    wait_line(&mut client, &mut log, |l| {
        round_trip(l).is_some_and(|ms| ms >= 145.0)
    })
    .await;
    let after = packets(&wait_line(&mut client, &mut log, |l| l["event"] == "media").await);
    wait_line(&mut client, &mut log, |l| packets(l) >= after + 50).await;
}

/// coturn in the lab's server namespace on its wifi address (3478 for UDP and TCP, 5349
/// for TLS with `certificate`), credentials `convene` / `turn-lab-password`; returns once it
/// listens. Its state lives in `state` (the caller removes it).
async fn start_lab_coturn(lab: &mut Lab, state: &std::path::Path, tls: bool) {
    let server_ip = format!("10.201.{}.1", lab.lab);
    let server_ns = lab.server_ns.clone();
    let mut args = vec![
        "-c".to_owned(),
        "/dev/null".to_owned(),
        "-n".to_owned(),
        format!("--listening-ip={server_ip}"),
        format!("--relay-ip={server_ip}"),
        "--listening-port=3478".to_owned(),
        "--no-dtls".to_owned(),
        "--no-cli".to_owned(),
        "--fingerprint".to_owned(),
        "--lt-cred-mech".to_owned(),
        "--user=convene:turn-lab-password".to_owned(),
        "--realm=convene.test".to_owned(),
        "--simple-log".to_owned(),
        "--log-file=stdout".to_owned(),
        format!("--pidfile={}", state.join("pid").display()),
        format!("--userdb={}", state.join("turndb").display()),
    ];
    if tls {
        self_signed_certificate(state, &format!("IP:{server_ip}"));
        args.push("--tls-listening-port=5349".to_owned());
        args.push(format!("--cert={}", state.join("cert.pem").display()));
        args.push(format!("--pkey={}", state.join("key.pem").display()));
    } else {
        args.push("--no-tls".to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut coturn = lab.spawn_program(&server_ns, "turnserver", &args, None);
    let mut log = Vec::new();
    wait_line(&mut coturn, &mut log, |l| {
        l.as_str()
            .is_some_and(|t| t.contains("Total General servers"))
    })
    .await;
}

/// The pair the participant under test receives on, once there is one.
async fn subscriber_path(client: &mut mpsc::Receiver<Value>, log: &mut Vec<Value>) -> Value {
    let stats = wait_line(client, log, |l| {
        l["event"] == "stats" && l["stats"]["subscriber"]["path"].is_object()
    })
    .await;
    stats["stats"]["subscriber"]["path"]["local"].clone()
}

/// A lab with coturn in the server namespace, the server handing it out (over UDP, or TLS
/// on 5349 when `tls`) and a publisher; returns them and coturn's state folder (the test
/// removes it).
async fn lab_with_turn_server(tls: bool) -> (Lab, mpsc::Receiver<Value>, std::path::PathBuf) {
    let mut lab = Lab::new();
    let state = std::env::temp_dir().join(format!("convene-lab-coturn-{}", lab.lab));
    std::fs::create_dir_all(&state).expect("coturn's folder");
    start_lab_coturn(&mut lab, &state, tls).await;
    let turn_url = if tls {
        format!("turns:10.201.{}.1:5349?transport=tcp", lab.lab)
    } else {
        format!("turn:10.201.{}.1:3478?transport=udp", lab.lab)
    };
    let server_extra = [
        "--turn",
        &turn_url,
        "--turn-user",
        "convene",
        "--turn-password",
        "turn-lab-password",
    ];
    let (lab, publisher) = start_publisher(lab, &server_extra, &[]).await;
    (lab, publisher, state)
}

/// LiveKit's second path: direct UDP to the server is blocked but UDP to its TURN server
/// (coturn in the server namespace, handed out by the server) passes. The call runs over a
/// TURN/UDP relay, not over ICE/TCP, which waits until UDP relays had their chance.
#[tokio::test]
async fn with_direct_udp_blocked_the_call_runs_over_turn_udp() {
    if !lab_available() || !program_installed("turnserver", "--help") {
        eprintln!("skipped: no network namespaces or no coturn here");
        return;
    }
    let (mut lab, _publisher, state) = lab_with_turn_server(false).await;
    lab.run(&["block-udp", "on", "3478"]);
    let (mut client, mut log) = join_client(
        &mut lab,
        &["--report-ms", "300", "--stats", "--no-watch-network"],
    )
    .await;
    let path = subscriber_path(&mut client, &mut log).await;
    assert_eq!(path["kind"], "relay", "{path}");
    assert_eq!(path["protocol"], "udp", "{path}");
    let _ = std::fs::remove_dir_all(&state);
}

/// LiveKit's last path: a network with no UDP that lets TCP through only to the signaling
/// port and to TURN over TLS (5349 here, 443 in LiveKit Cloud). The call runs over a relay
/// reached through our TURN/TLS tunnel, the certificate checked against `--turn-ca`.
#[tokio::test]
async fn with_only_tls_to_the_turn_server_open_the_call_runs_over_turn_tls() {
    if !lab_available() || !program_installed("turnserver", "--help") {
        eprintln!("skipped: no network namespaces or no coturn here");
        return;
    }
    let (mut lab, _publisher, state) = lab_with_turn_server(true).await;
    lab.run(&["only-tcp", "7880,5349"]);
    let certificate = state.join("cert.pem").display().to_string();
    let (mut client, mut log) = join_client(
        &mut lab,
        &[
            "--report-ms",
            "300",
            "--stats",
            "--no-watch-network",
            "--turn-ca",
            &certificate,
        ],
    )
    .await;
    let path = subscriber_path(&mut client, &mut log).await;
    assert_eq!(path["kind"], "relay", "{path}");
    assert_eq!(path["relayProtocol"], "tls", "{path}");
    let _ = std::fs::remove_dir_all(&state);
}
