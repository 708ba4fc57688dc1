//! Outside programs the tests run (coturn, openssl): whether they are here, and the
//! certificates the TURN/TLS tests need.

use std::path::Path;
use std::process::{Command, Stdio};

/// Whether `program` runs here (`probe` is a harmless argument such as `--help`); when it
/// does not and CONVENE_REQUIRE_E2E=1, that fails the test.
pub fn program_installed(program: &str, probe: &str) -> bool {
    let found = Command::new(program)
        .arg(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found || std::env::var("CONVENE_REQUIRE_E2E").as_deref() != Ok("1"),
        "{program} is required: scripts/system-packages.sh installs it"
    );
    found
}

/// A self-signed certificate (`cert.pem`) and key (`key.pem`) in `dir` for
/// `subject_alt_name` (`DNS:localhost`, `IP:10.0.0.1`), made with openssl; returns the
/// certificate (PEM).
pub fn self_signed_certificate(dir: &Path, subject_alt_name: &str) -> String {
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=convene-test"])
        .arg("-addext")
        .arg(format!("subjectAltName={subject_alt_name}"))
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl could not make a certificate");
    std::fs::read_to_string(dir.join("cert.pem")).expect("the certificate")
}
