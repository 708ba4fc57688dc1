//! One private PulseAudio daemon per test binary, so the real cpal paths (PulseAudio host)
//! run against deterministic devices: `fake_mic` (a 440 Hz tone, the default input) and
//! `fake_speaker` (a null sink, the default output, whose `fake_speaker.monitor` records what
//! was played).
//!
//! Tone sources are built as `module-sine` playing into a null sink whose monitor is remapped
//! to the source name, not with `module-sine-source`: that one has a fixed 2 s latency, and
//! cpal 0.18's fixed buffer size (max length = one 20 ms callback) then loses nearly all of
//! its audio and stalls. Monitors have dynamic latency like hardware sources.
//!
//! The daemon runs in the foreground (`--daemonize=no`) under a small `sh` watchdog that kills
//! it as soon as this test process is gone (and removes its dir), since Rust never drops statics: no daemon is left
//! behind however the binary ends. It lives in its own temp dir (`XDG_RUNTIME_DIR`, `HOME`),
//! and this process points `PULSE_SERVER` at its socket before cpal is touched.
//!
//! Without `pulseaudio` installed the tests skip, unless `CONVENE_REQUIRE_E2E=1` (CI).

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Proof that the daemon runs (its socket is `$XDG_RUNTIME_DIR/pulse/native`).
pub struct Pulse;

static PULSE: OnceLock<Option<Pulse>> = OnceLock::new();

/// The daemon, started on first use; `None` (after a message) when PulseAudio is missing and
/// the end-to-end tests are not required.
pub fn pulse() -> Option<&'static Pulse> {
    PULSE.get_or_init(start).as_ref()
}

fn start() -> Option<Pulse> {
    let installed = Command::new("pulseaudio")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            std::env::var("CONVENE_REQUIRE_E2E").as_deref() != Ok("1"),
            "pulseaudio is not installed but CONVENE_REQUIRE_E2E=1"
        );
        eprintln!(
            "skipping: pulseaudio is not installed (apt-get install pulseaudio pulseaudio-utils)"
        );
        return None;
    }
    let dir = std::env::temp_dir().join(format!("convene-pulse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("pulse dir");
    let status = Command::new("chmod").arg("700").arg(&dir).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "chmod 700 {}",
        dir.display()
    );
    let socket = dir.join("pulse").join("native");
    // SAFETY: runs once, inside the OnceLock initialiser, before any test touches cpal or
    // spawns pactl; other test threads are blocked on this OnceLock, not reading the env.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("XDG_RUNTIME_DIR", &dir);
        std::env::set_var("HOME", &dir);
        std::env::set_var("PULSE_SERVER", format!("unix:{}", socket.display()));
        std::env::remove_var("PULSE_RUNTIME_PATH");
    }
    let log = dir.join("pulseaudio.log");
    // The watchdog: start the daemon, kill it once this test process has exited.
    let script = format!(
        "pulseaudio --daemonize=no --exit-idle-time=-1 -n --log-target=file:{log} \
         --load='module-native-protocol-unix auth-anonymous=1' \
         --load=module-cli-protocol-unix \
         --load='module-null-sink sink_name=fake_speaker' \
         --load='module-null-sink sink_name=fake_mic_feed' \
         --load='module-sine sink=fake_mic_feed frequency=440' \
         --load='module-remap-source master=fake_mic_feed.monitor source_name=fake_mic' & \
         pa=$!; while kill -0 {parent} 2>/dev/null && kill -0 $pa 2>/dev/null; do sleep 0.3; done; \
         kill $pa 2>/dev/null; wait $pa; rm -rf '{dir}'",
        log = log.display(),
        parent = std::process::id(),
        dir = dir.display(),
    );
    // Never waited for on purpose: the watchdog must outlive this process to clean up.
    #[allow(clippy::zombie_processes)]
    let _watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the pulseaudio watchdog");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !pactl_ok(&["info"]) {
        assert!(
            Instant::now() < deadline,
            "pulseaudio did not come up; log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pactl(&["set-default-source", "fake_mic"]);
    pactl(&["set-default-sink", "fake_speaker"]);
    Some(Pulse)
}

fn pactl_ok(args: &[&str]) -> bool {
    Command::new("pactl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `pacmd` (the CLI protocol: commands `pactl` lacks, like `kill-source-output`);
/// panics on failure.
pub fn pacmd(args: &[&str]) {
    let out = Command::new("pacmd")
        .args(args)
        .output()
        .expect("run pacmd");
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && said.is_empty(),
        "pacmd {args:?} failed: {said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `pactl` against the private daemon; panics on failure; returns its stdout.
pub fn pactl(args: &[&str]) -> String {
    let out = Command::new("pactl")
        .args(args)
        .output()
        .expect("run pactl");
    assert!(
        out.status.success(),
        "pactl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Loads a module, returning its index for [`unload_module`].
pub fn load_module(name: &str, args: &[&str]) -> String {
    let mut all = vec!["load-module", name];
    all.extend_from_slice(args);
    pactl(&all)
}

/// A source named `name` playing a `hz` tone (see the module docs); returns the modules to
/// pass to [`unload_tone_source`].
pub fn load_tone_source(name: &str, hz: u32) -> Vec<String> {
    let feed = format!("{name}_feed");
    vec![
        load_module("module-null-sink", &[&format!("sink_name={feed}")]),
        load_module(
            "module-sine",
            &[&format!("sink={feed}"), &format!("frequency={hz}")],
        ),
        load_module(
            "module-remap-source",
            &[
                &format!("master={feed}.monitor"),
                &format!("source_name={name}"),
            ],
        ),
    ]
}

/// Removes a source made by [`load_tone_source`] (the named source first).
pub fn unload_tone_source(modules: &[String]) {
    for index in modules.iter().rev() {
        unload_module(index);
    }
}

/// Unloads a module loaded with [`load_module`].
pub fn unload_module(index: &str) {
    pactl(&["unload-module", index]);
}
