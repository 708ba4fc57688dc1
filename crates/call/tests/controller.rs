//! The call actor against the real local server: joins, leaves that give up a join under
//! way, the preview during a call, device changes, and that a slow device change holds up
//! neither the diagnostics nor Leave.

use std::sync::Arc;
use std::time::Duration;

use convene_call::{
    CallController, CallError, CallEvent, CallEventSink, CallOptions, DeviceChange, DeviceChoice,
    DeviceKind, JoinRequest, LOCAL_CAMERA_FEED, LevelSink, LocalPicture, PreviewRequest,
    VideoSources,
};
use convene_room::webrtc_kit::MediaKind;
use convene_room::{Room, RoomEvent, RoomOptions};
use convene_testkit::{SignalProxy, loopback_options, start_server, wait_event};

const BOUND: Duration = Duration::from_secs(4);

fn ignore_events() -> CallEventSink {
    Arc::new(|_| ())
}

/// A join of `url` as whoever `token` names, with the synthetic devices (`camera` and
/// `microphone` on or off).
fn request(
    url: &str,
    token: &str,
    camera: bool,
    microphone: bool,
    sink: CallEventSink,
) -> JoinRequest {
    JoinRequest {
        url: url.to_owned(),
        token: token.to_owned(),
        options: CallOptions {
            camera,
            microphone,
            ..CallOptions::synthetic()
        },
        room_options: RoomOptions::for_server(url),
        sink,
    }
}

/// The picture the frame server would send for our own tile.
fn own_tile(controller: &CallController) -> Option<LocalPicture> {
    controller.find(LOCAL_CAMERA_FEED)
}

/// Joins `url` with the camera and microphone off.
async fn join_with_devices_off(controller: &CallController, url: &str, token: &str) {
    controller
        .join(request(url, token, false, false, ignore_events()))
        .await
        .expect("joins");
}

/// Turns our microphone or camera on or off in the call.
async fn enable(
    controller: &CallController,
    kind: MediaKind,
    enabled: bool,
) -> Result<convene_call::DevicesInCall, CallError> {
    controller
        .change_device(DeviceChange::Enable { kind, enabled })
        .await
}

fn preview(camera: bool, microphone: bool) -> PreviewRequest {
    let ignore_levels: LevelSink = Arc::new(|_| ());
    PreviewRequest {
        devices: DeviceChoice::synthetic(),
        camera,
        microphone,
        level: ignore_levels,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_asked_for_during_a_call_opens_nothing_and_keeps_our_tile() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("controller", "app", 600).expect("token");
    let controller = CallController::start();

    // Before the call the preview shows the test pattern as our tile.
    let status = controller.start_preview(preview(true, false)).await;
    assert!(status.camera, "{status:?}");
    assert!(own_tile(&controller).is_some());
    controller
        .join(request(
            &server.url(),
            token.expose(),
            true,
            false,
            ignore_events(),
        ))
        .await
        .expect("joins");
    let call_view = own_tile(&controller).expect("our tile during the call");

    // A join screen mounted for a moment asks for a preview and stops it again: nothing
    // opens and our tile still shows the call's camera.
    let status = controller.start_preview(preview(true, false)).await;
    assert!(!status.camera && !status.microphone, "{status:?}");
    assert_eq!(status.problems.len(), 1);
    controller.stop_preview().await;
    let after = own_tile(&controller).expect("our tile still there");
    assert!(after.same_channel(&call_view));

    controller.leave().await;
    assert!(own_tile(&controller).is_none());
}

/// A window that loads while a join is under way hears the call's first events before
/// the join returns; asking for the current call then must give it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_call_asked_for_during_a_join_is_that_call() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("starting", "app", 600).expect("token");
    let controller = CallController::start();
    let (first_event, mut heard) = tokio::sync::mpsc::channel::<()>(1);
    let sink: CallEventSink = Arc::new(move |_| {
        let _ = first_event.try_send(());
    });
    let joining = {
        let controller = controller.clone();
        let request = request(&server.url(), token.expose(), true, true, sink);
        tokio::spawn(async move { controller.join(request).await })
    };
    heard.recv().await.expect("the call's first event");
    let current = controller.current().await.expect("the call being joined");
    assert_eq!(current.room, "starting");
    joining.await.expect("join task").expect("joins");
    controller.leave().await;
}

/// Closing the window while joining a server that does not answer: the join is given up
/// at once, not after its connect timeout (10 s), and the app can exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leave_gives_up_a_join_to_a_server_that_does_not_answer() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let url = format!("ws://{}", silent.local_addr().expect("address"));
    let token = convene_room::token::AccessToken::new("key", "secret")
        .identity("app")
        .room_join("silent")
        .sign(convene_room::clock::unix_now_secs())
        .expect("token");
    let controller = CallController::start();
    let joining = {
        let controller = controller.clone();
        let request = request(&url, token.expose(), true, true, ignore_events());
        tokio::spawn(async move { controller.join(request).await })
    };
    // The join is under way once it has reached the server; the server never answers.
    let (_held, _) = silent.accept().await.expect("the join connects");

    tokio::time::timeout(BOUND, controller.leave())
        .await
        .expect("leave does not wait for the connect timeout");
    let outcome = tokio::time::timeout(BOUND, joining)
        .await
        .expect("the join gives up")
        .expect("join task");
    assert!(matches!(outcome, Err(CallError::Cancelled)), "{outcome:?}");
    assert!(controller.current().await.is_none());
}

/// Closing the window just after the join reached the room (its devices still opening):
/// the others see us leave at once, not after the server's 15 s timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leave_as_the_join_reaches_the_room_leaves_it() {
    let server = start_server(Duration::from_secs(15)).await;
    let watcher_token = server.token("closing", "watcher", 600).expect("token");
    let (_watcher, mut events) =
        Room::connect(&server.url(), watcher_token.expose(), loopback_options())
            .await
            .expect("watcher joins");
    let token = server.token("closing", "app", 600).expect("token");
    let controller = CallController::start();
    let (joined, mut heard) = tokio::sync::mpsc::channel::<()>(1);
    let sink: CallEventSink = Arc::new(move |event| {
        if matches!(event, CallEvent::Joined { .. }) {
            let _ = joined.try_send(());
        }
    });
    let joining = {
        let controller = controller.clone();
        let request = request(&server.url(), token.expose(), true, true, sink);
        tokio::spawn(async move { controller.join(request).await })
    };
    heard.recv().await.expect("the join reaches the room");
    controller.leave().await;

    let mut seen = Vec::new();
    wait_event(
        &mut events,
        &mut seen,
        Duration::from_secs(5),
        |event| match event {
            RoomEvent::ParticipantDisconnected(p) if p.identity == "app" => Some(()),
            _ => None,
        },
    )
    .await;
    // Whether the join finished first (and the leave took the call) or was given up, no
    // call is left behind.
    let outcome = joining.await.expect("join task");
    assert!(
        matches!(outcome, Ok(_) | Err(CallError::Cancelled)),
        "{outcome:?}"
    );
    assert!(controller.current().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_change_in_the_call_and_changes_after_leaving_are_refused() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("devices", "app", 600).expect("token");
    let controller = CallController::start();
    join_with_devices_off(&controller, &server.url(), token.expose()).await;

    // The camera joined off opens (on a task of its own) and shows in our tile.
    let on = enable(&controller, MediaKind::Video, true)
        .await
        .expect("on");
    assert!(on.camera && !on.microphone, "{on:?}");
    let mut own = own_tile(&controller).expect("our tile");
    tokio::time::timeout(Duration::from_secs(10), own.wait_for(Option::is_some))
        .await
        .expect("a picture in time")
        .expect("pictures");

    // A camera that is not there is refused and the test pattern goes on.
    let refused = controller
        .change_device(DeviceChange::Switch {
            kind: DeviceKind::Camera,
            id: Some("no-such-camera".to_owned()),
        })
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let off = enable(&controller, MediaKind::Video, false)
        .await
        .expect("off");
    assert!(!off.camera);
    assert_eq!(off.devices.camera, DeviceChoice::synthetic().camera);

    controller.leave().await;
    let after = enable(&controller, MediaKind::Video, true).await;
    assert!(matches!(after, Err(CallError::NotInCall)), "{after:?}");
}

/// Turning the microphone on publishes it, which waits for the server; with the signaling
/// connection cut that can take the publish timeout (10 s). Meanwhile the call still
/// answers: the diagnostics at once, and Leave within its bound (the change is given up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_device_change_holds_up_neither_the_diagnostics_nor_leave() {
    let server = start_server(Duration::from_secs(15)).await;
    let proxy = SignalProxy::start(server.local_addr()).await;
    let token = server.token("slow", "app", 600).expect("token");
    let controller = CallController::start();
    join_with_devices_off(&controller, &proxy.url(), token.expose()).await;

    proxy.cut_for(Duration::from_secs(8));
    let changing = {
        let controller = controller.clone();
        tokio::spawn(async move {
            controller
                .change_device(DeviceChange::Enable {
                    kind: MediaKind::Audio,
                    enabled: true,
                })
                .await
        })
    };
    let diagnostics = tokio::time::timeout(Duration::from_secs(2), controller.diagnostics())
        .await
        .expect("the diagnostics are not held up by the change");
    assert!(diagnostics.is_ok(), "{diagnostics:?}");
    assert!(controller.current().await.is_some());

    tokio::time::timeout(BOUND, controller.leave())
        .await
        .expect("Leave is not held up by the change");
    let change = tokio::time::timeout(BOUND, changing)
        .await
        .expect("the change ends with the call")
        .expect("change task");
    println!("the change under way ended with {change:?}");
    assert!(controller.current().await.is_none());
}
