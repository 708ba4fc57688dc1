//! Helpers shared by the end-to-end tests: a virtual-display guard, the real app binary
//! started as a child process with its log captured, and where screenshots go.

#![allow(dead_code)]

pub mod webdriver;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The app binary under test, built by cargo for this test run.
pub const APP_BINARY: &str = env!("CARGO_BIN_EXE_convene");

/// True when a display is available. Without one the test is skipped, unless
/// `CONVENE_REQUIRE_E2E` is set (CI sets it): then a missing display fails the test.
pub fn display_available(test: &str) -> bool {
    if std::env::var_os("DISPLAY").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CONVENE_REQUIRE_E2E").is_none(),
        "{test}: CONVENE_REQUIRE_E2E is set but there is no DISPLAY (run under xvfb-run)"
    );
    eprintln!("{test}: skipped, no DISPLAY (run under xvfb-run to include it)");
    false
}

/// Where tests save screenshots: `test-artifacts/<group>/` at the repository root.
pub fn artifacts_dir(group: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test-artifacts")
        .join(group);
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
}

/// A D-Bus session bus of the test's own (`dbus-daemon --session`), stopped on drop.
///
/// The app is a single instance per session bus (a second launch hands its command line to
/// the first and exits), so every app a test starts gets a private bus: tests running side
/// by side never reach each other's app, and a test can start a second launch on the same
/// bus to see the hand-over.
pub struct PrivateBus {
    daemon: std::process::Child,
    address: String,
}

impl PrivateBus {
    /// Starts a session bus and waits for its address.
    pub fn start() -> Self {
        use std::io::BufRead;
        let mut daemon = std::process::Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon (Debian package dbus-daemon)");
        let stdout = daemon.stdout.take().expect("piped stdout");
        let mut address = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut address)
            .expect("read the bus address");
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon said {address:?}");
        Self { daemon, address }
    }

    /// The value for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The real app running as a child, with every stderr log line forwarded to a channel.
pub struct RunningApp {
    pub child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    pub log: Vec<String>,
    /// Its own session bus (see [`PrivateBus`]).
    pub bus: std::sync::Arc<PrivateBus>,
}

impl RunningApp {
    /// Starts the app binary with extra environment variables.
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with(&[], env)
    }

    /// Starts the app binary with command-line arguments (e.g. a `convene://join` link) and
    /// extra environment variables.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_on_bus(std::sync::Arc::new(PrivateBus::start()), args, env)
    }

    /// Starts the app binary on the session bus `bus` (where another instance may run).
    pub fn start_on_bus(
        bus: std::sync::Arc<PrivateBus>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(APP_BINARY);
        command
            .env("CONVENE_CONFIG_DIR", fresh_config_dir())
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start the app binary");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            log: Vec::new(),
            bus,
        }
    }

    /// The process id, for signals and for finding the window.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the app is running")
    }

    /// Waits (at most `timeout`) for a log line containing `needle`.
    pub async fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Ok(None) => panic!(
                    "the app exited before logging {needle:?}:\n{}",
                    self.log.join("\n")
                ),
                Err(_) => panic!(
                    "no log line {needle:?} within {timeout:?}:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// Waits (at most `timeout`) for the process to exit; returns how long that took.
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> Duration {
        self.wait_for_exit_status(timeout).await.0
    }

    /// Waits (at most `timeout`) for the process to exit; returns how long that took and
    /// its exit status.
    pub async fn wait_for_exit_status(
        &mut self,
        timeout: Duration,
    ) -> (Duration, std::process::ExitStatus) {
        let started = tokio::time::Instant::now();
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => {
                let status = status.expect("wait for the app");
                let elapsed = started.elapsed();
                while let Ok(line) = self.lines.try_recv() {
                    self.log.push(line);
                }
                (elapsed, status)
            }
            Err(_) => panic!(
                "the app did not exit within {timeout:?}:\n{}",
                self.log.join("\n")
            ),
        }
    }

    /// Drains the remaining log lines (after exit) and tells whether one contains `needle`.
    pub async fn logged(&mut self, needle: &str) -> bool {
        while let Some(line) = self.lines.recv().await {
            self.log.push(line);
        }
        self.log.iter().any(|line| line.contains(needle))
    }
}

/// Sends `signal` (e.g. `TERM`) to `pid`.
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Closes `pid`'s window the way a window manager does (`WM_DELETE_WINDOW`).
pub fn close_window_like_a_window_manager(pid: u32) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/close_window.py");
    // Debian's interpreter: python3-xlib is installed there by scripts/system-packages.sh.
    let status = std::process::Command::new("/usr/bin/python3")
        .args([script, &pid.to_string(), "30"])
        .status()
        .expect("run close_window.py");
    assert!(
        status.success(),
        "close_window.py found no window for {pid}"
    );
}

/// A new, empty settings directory for one app run, so tests never read or write the
/// user's real settings (`CONVENE_CONFIG_DIR`).
pub fn fresh_config_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "convene-e2e-config-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The processes whose parent is `parent` (from `/proc/*/stat`).
pub fn child_processes(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let after_name = &stat[stat.rfind(')')? + 1..];
                    after_name.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// What `ps` shows as `pid`'s command line (`/proc/<pid>/cmdline`, NULs as spaces).
pub fn command_line_of(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

/// A new, empty log directory for one app run (`CONVENE_LOG_DIR`), so a test can read
/// what the app logged when it was not started with its stderr piped.
pub fn fresh_log_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "convene-e2e-logs-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Everything the app logged to its file in `dir` so far.
pub fn logged_in(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("convene.log")).unwrap_or_default()
}

/// A `convene://join` link to `url` with `token`, as a page or a chat would make it.
pub fn join_link(url: &str, token: &str) -> String {
    // Percent-encodes a query value (URLs and JWTs only need these few).
    let encode = |value: &str| {
        value
            .replace('%', "%25")
            .replace(':', "%3A")
            .replace('/', "%2F")
            .replace('?', "%3F")
            .replace('&', "%26")
            .replace('=', "%3D")
    };
    format!("convene://join?url={}&token={}", encode(url), encode(token))
}
