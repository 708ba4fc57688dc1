//! The .deb as people install it: `scripts/test-package.sh` builds it (`tauri bundle`),
//! installs it with dpkg and runs this test (ignored by a plain `cargo test`, since it needs
//! the package installed): the desktop entry registers the `convene://` scheme and passes
//! the link on, the icons and the runtime dependencies are declared, and the installed
//! binary opens the join screen under Xvfb.

mod support;

use std::path::Path;
use std::process::Command;

use support::display_available;
use support::webdriver::{WebDriver, save_screenshot, wait_for_text};

/// Where the package puts the app (override with `CONVENE_INSTALLED_APP`).
fn installed_binary() -> String {
    std::env::var("CONVENE_INSTALLED_APP").unwrap_or_else(|_| "/usr/bin/convene".to_owned())
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
#[ignore = "needs the package installed: scripts/test-package.sh"]
fn the_package_declares_its_entry_icons_scheme_and_dependencies() {
    let entry = std::fs::read_to_string("/usr/share/applications/Convene.desktop")
        .expect("the package installs a desktop entry");
    for line in [
        "Name=Convene",
        "Exec=convene %u",
        "Icon=convene",
        "MimeType=x-scheme-handler/convene;",
        "Categories=",
    ] {
        assert!(
            entry.lines().any(|l| l.starts_with(line)),
            "{line} missing in:\n{entry}"
        );
    }
    if Path::new("/usr/bin/desktop-file-validate").exists() {
        run(
            "desktop-file-validate",
            &["/usr/share/applications/Convene.desktop"],
        );
    }
    for size in ["32x32", "128x128", "256x256@2"] {
        let icon = format!("/usr/share/icons/hicolor/{size}/apps/convene.png");
        assert!(Path::new(&icon).exists(), "{icon} missing");
    }

    let fields = run(
        "dpkg-query",
        &["-W", "-f", "${Version}|${Depends}|${Section}", "convene"],
    );
    let [version, depends, section] = fields.split('|').collect::<Vec<_>>()[..] else {
        panic!("unexpected dpkg-query output: {fields}");
    };
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(section, "video");
    for library in [
        "libwebkit2gtk-4.1-0",
        "libgtk-3-0",
        "libasound2",
        "libvpx7",
        "libssl3",
    ] {
        assert!(depends.contains(library), "{library} not in {depends}");
    }
    // Every library the binary links is owned by a declared package (or libc/libstdc++).
    let linked = run("objdump", &["-p", &installed_binary()]);
    for library in linked
        .lines()
        .filter_map(|line| line.trim().strip_prefix("NEEDED"))
        .map(str::trim)
    {
        let owner = run("dpkg", &["-S", &format!("*/{library}")]);
        let package = owner
            .split(':')
            .next()
            .expect("dpkg -S names a package")
            .trim();
        let implied = [
            "libc6",
            "libgcc-s1",
            "libstdc++6",
            "libglib2.0-0",
            "libcairo2",
            "libgdk-pixbuf-2.0-0",
            "libsoup-3.0-0",
            "libjavascriptcoregtk-4.1-0",
        ];
        assert!(
            depends.contains(package) || implied.contains(&package),
            "{library} comes from {package}, which the package does not depend on ({depends})"
        );
    }
}

#[tokio::test]
#[ignore = "needs the package installed: scripts/test-package.sh"]
async fn the_installed_app_opens_on_the_join_screen() {
    if !display_available("the_installed_app_opens_on_the_join_screen") {
        return;
    }
    let driver = WebDriver::start().await;
    let client = driver.launch_binary(&installed_binary(), &[]).await;
    let screen = wait_for_text(&client, "join-screen", "Join a meeting").await;
    assert!(screen.contains("Start a local room"), "{screen}");
    save_screenshot(&client, "installed-join-screen.png").await;
    client.close().await.expect("close the window");
}
