//! What the benches' child processes share: a bench binary runs itself again in another
//! role (chosen by an environment variable), reads the child's first line as its
//! announcement, and a child runs until its stdin closes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use convene_call::{FakeMedia, FakeMediaSettings};
use convene_room::Room;

/// Starts this binary again with `role_env=role` and `env`, stdin and stdout piped.
pub fn child(role_env: &str, role: &str, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(std::env::current_exe().expect("this binary"));
    command
        .env(role_env, role)
        // Logs would mix with the announcements on stdout.
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("start a child")
}

/// The child's first line (its announcement), trimmed.
pub fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("piped"))
        .read_line(&mut line)
        .expect("read");
    line.trim().to_owned()
}

/// Returns when stdin reaches its end (the parent closed it or went away).
pub async fn wait_for_stdin_to_close() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    })
    .await;
}

/// Milliseconds since the Unix epoch (the clock the test pattern stamps).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// Child role: joins `url` with `token`, publishes the 640x360@30 test pattern and tone,
/// says `ready`, and leaves when stdin closes.
pub async fn publish_pattern(url: &str, token: &str) {
    let (room, _events) = Room::connect(url, token, convene_testkit::loopback_options())
        .await
        .expect("the publisher joins");
    let _media = FakeMedia::publish(&room, FakeMediaSettings::default())
        .await
        .expect("publish the test pattern");
    println!("ready");
    wait_for_stdin_to_close().await;
    room.disconnect().await;
}
