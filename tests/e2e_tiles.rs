//! A measurement, not a test (ignored by `cargo test`): the real app showing four video
//! tiles, our own camera and three invited test participants (640x360@30 test patterns),
//! on a 1920x1080 virtual display with the window at 1600x1000 (a 2 x 2 grid of tiles about
//! 640 pixels wide). Prints how many pictures each tile drew per second and the tile sizes.
//!
//! xvfb-run -a -s "-screen 0 1920x1080x24" cargo test --release --test e2e_tiles -- --ignored --nocapture
//!
//! The invited participants run inside the app (their encoders and the local server share
//! the machine with the tiles), so this is a pessimistic figure for a real call.

mod support;

use std::time::{Duration, Instant};

use support::display_available;
use support::webdriver::{WebDriver, click, save_screenshot, wait_for_text};

const MEASURE: Duration = Duration::from_secs(10);
const TILES: [&str; 4] = [
    "video-self",
    "video-test-participant",
    "video-test-participant-2",
    "video-test-participant-3",
];

/// Every tile's drawn-picture counter and size.
async fn counters(client: &fantoccini::Client) -> Vec<(String, f64, f64, f64, String)> {
    let mut read = Vec::new();
    for tile in TILES {
        let script = format!(
            "const c = document.querySelector(\"[data-testid='{tile}']\");\
             return c ? [Number(c.dataset.frames), c.clientWidth, c.clientHeight,\
                         c.dataset.renderer + ' in ' + c.dataset.thread] : [0, 0, 0, ''];"
        );
        let value = client.execute(&script, vec![]).await.expect("read");
        let number = |n: usize| value[n].as_f64().unwrap_or(0.0);
        read.push((
            tile.to_owned(),
            number(0),
            number(1),
            number(2),
            value[3].as_str().unwrap_or_default().to_owned(),
        ));
    }
    read
}

/// Waits for the first `tiles` tiles to draw, then prints their drawing rates.
async fn measure(client: &fantoccini::Client, tiles: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while counters(client).await[..tiles]
        .iter()
        .any(|(_, frames, _, _, _)| *frames < 10.0)
    {
        assert!(Instant::now() < deadline, "{:?}", counters(client).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = counters(client).await;
    let started = Instant::now();
    tokio::time::sleep(MEASURE).await;
    let after = counters(client).await;
    let elapsed = started.elapsed().as_secs_f64();
    let rates: Vec<String> = before[..tiles]
        .iter()
        .zip(&after)
        .map(
            |((_, first, _, _, _), (_, last, width, height, renderer))| {
                format!(
                    "{:.1} ({renderer}, {width}x{height})",
                    (last - first) / elapsed
                )
            },
        )
        .collect();
    println!("  {tiles} tile(s): {}", rates.join(", "));
}

#[tokio::test]
#[ignore = "a measurement: run it with --ignored on a 1920x1080 display"]
async fn four_tiles_draw_at_the_camera_rate() {
    if !display_available("four_tiles_draw_at_the_camera_rate") {
        return;
    }
    let driver = WebDriver::start_with_env(&[("CONVENE_FAKE_MEDIA", "1")]).await;
    let client = driver.launch_app().await;
    client
        .set_window_rect(0, 0, 1600, 1000)
        .await
        .expect("resize the window");
    // TILES_QUERY forces a renderer (`renderer=canvas` or `renderer=webgl`) or drawing on
    // the page's thread (`tiles=page`); default: the app's choice.
    if let Ok(query) = std::env::var("TILES_QUERY") {
        let mut url = client.current_url().await.expect("the page's URL");
        url.set_query(Some(&query));
        client
            .goto(url.as_str())
            .await
            .expect("reload with the renderer asked for");
    }
    click(&client, "local-room").await;
    wait_for_text(&client, "local-room-status", "running at ws://127.0.0.1:").await;
    click(&client, "join").await;
    wait_for_text(&client, "state-self", "camera on").await;
    println!("tiles in the app, pictures drawn per second over {MEASURE:?}:");
    measure(&client, 1).await;
    for (n, guest) in [
        "test-participant",
        "test-participant-2",
        "test-participant-3",
    ]
    .into_iter()
    .enumerate()
    {
        click(&client, "invite").await;
        wait_for_text(&client, &format!("state-{guest}"), "camera on").await;
        measure(&client, n + 2).await;
    }
    save_screenshot(&client, "four-tiles.png").await;
    client.close().await.expect("end the WebDriver session");
    drop(driver.process);
}
