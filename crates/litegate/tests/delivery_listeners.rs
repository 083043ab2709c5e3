//! Change listeners: which fire, where they run, and isolation from
//! panicking and blocking listeners. Also `wait_until_ready`.

mod delivery_support;

use delivery_support::*;
use litegate::delivery::{ConfigChange, ConfigSource, DeliveryEvent, Rejection, WaitError};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

fn changes(c: &Client) -> Arc<Mutex<Vec<ConfigChange>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    c.delivery.on_change(move |ch| s.lock().push(ch.clone()));
    seen
}

fn publish(server: &TestServer, c: &Client, body: Vec<u8>, version: u64) {
    server.set(Behaviour::serve(body, None));
    c.delivery.refresh();
    wait_for("the new version", || {
        c.delivery.status().version == Some(version)
    });
}

#[test]
fn flag_listeners_fire_only_for_their_flag() {
    let server = TestServer::start(Behaviour::serve(good(1, false), None));
    let c = start(fast_config(Some(server.url("/config"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    let all = changes(&c);
    let kill_calls = Arc::new(AtomicUsize::new(0));
    let k = kill_calls.clone();
    c.delivery.on_flag_change("kill", move |_| {
        k.fetch_add(1, Ordering::SeqCst);
    });

    // Only `other` changes.
    let only_other = signed(
        &doc(2, "production", &[("kill", false), ("other", false)]),
        "release",
        &key(1),
    );
    publish(&server, &c, only_other, 2);
    wait_for("the all-flags listener", || all.lock().len() == 1);
    assert_eq!(all.lock()[0].changed_flags, vec!["other".to_owned()]);
    assert_eq!(all.lock()[0].old_version, Some(1));
    assert_eq!(all.lock()[0].new_version, 2);
    assert_eq!(all.lock()[0].source, ConfigSource::Remote);

    // A new version that changes nothing an evaluation could see.
    let same_flags = signed(
        &doc(3, "production", &[("kill", false), ("other", false)]),
        "release",
        &key(1),
    );
    publish(&server, &c, same_flags, 3);
    // Now the kill switch flips, and `new` appears.
    let flipped = signed(
        &doc(
            4,
            "production",
            &[("kill", true), ("other", false), ("new", true)],
        ),
        "release",
        &key(1),
    );
    publish(&server, &c, flipped, 4);
    wait_for("the kill listener", || {
        kill_calls.load(Ordering::SeqCst) == 1
    });
    wait_for("second change", || all.lock().len() == 2);
    let last = all.lock()[1].clone();
    assert_eq!(
        last.changed_flags,
        vec!["kill".to_owned(), "new".to_owned()]
    );
    assert_eq!(last.old_version, Some(3), "v3 changed nothing, so no event");
    assert_eq!(kill_calls.load(Ordering::SeqCst), 1);
}

#[test]
fn listeners_run_off_the_runtime_thread_and_outside_locks() {
    let server = TestServer::start(Behaviour::serve(good(1, false), None));
    let c = start(fast_config(Some(server.url("/config"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    let store = c.delivery.store().clone();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    c.delivery.on_change(move |_| {
        // Reading the store and status here would deadlock if called under
        // the store's locks.
        let version = store.current().map(|d| d.version);
        let status_version = store.status().version;
        let thread = std::thread::current().name().map(str::to_owned);
        let _ = tx.lock().send((version, status_version, thread));
    });
    publish(&server, &c, good(2, true), 2);
    let (version, status_version, thread) =
        rx.recv_timeout(Duration::from_secs(20)).expect("called");
    assert_eq!((version, status_version), (Some(2), Some(2)));
    assert_eq!(thread.as_deref(), Some("litegate-listeners"));
}

#[test]
fn a_panicking_listener_does_not_stop_the_others() {
    let server = TestServer::start(Behaviour::serve(good(1, false), None));
    let c = start(fast_config(Some(server.url("/config"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    c.delivery.on_change(|_| panic!("listener bug"));
    let seen = changes(&c);
    publish(&server, &c, good(2, true), 2);
    wait_for("first change", || seen.lock().len() == 1);
    publish(&server, &c, good(3, false), 3);
    wait_for("second change, same dispatch thread", || {
        seen.lock().len() == 2
    });
}

#[test]
fn a_blocking_listener_does_not_stop_the_others() {
    let server = TestServer::start(Behaviour::serve(good(1, false), None));
    let c = start(fast_config(Some(server.url("/config"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let blocked_calls = Arc::new(Mutex::new(Vec::new()));
    let b = blocked_calls.clone();
    c.delivery.on_change(move |ch| {
        b.lock().push(ch.new_version);
        if ch.new_version == 2 {
            // Blocks until the test releases it.
            let _ = release_rx.lock().recv_timeout(Duration::from_secs(60));
        }
    });
    let seen = changes(&c);
    publish(&server, &c, good(2, true), 2);
    publish(&server, &c, good(3, false), 3);
    wait_for("others still notified", || seen.lock().len() == 2);
    assert!(c.delivery.status().listener_stalls >= 1);
    assert_eq!(*blocked_calls.lock(), vec![2]);
    // Once released, the blocked listener gets what it missed, in order.
    release_tx.send(()).expect("release");
    wait_for("backlog delivered", || blocked_calls.lock().len() == 2);
    assert_eq!(*blocked_calls.lock(), vec![2, 3]);
}

#[test]
fn event_listeners_see_rejections_and_removed_listeners_do_not() {
    let server = TestServer::start(Behaviour::serve(good(5, false), None));
    let c = start(fast_config(Some(server.url("/config"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = events.clone();
    c.delivery.on_event(move |ev| e.lock().push(ev.clone()));
    let removed = Arc::new(AtomicUsize::new(0));
    let r = removed.clone();
    let id = c.delivery.on_change(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert!(c.delivery.remove_listener(id));
    assert!(!c.delivery.remove_listener(id));
    server.set(Behaviour::serve(good(2, true), None));
    wait_for("a rejected event", || {
        events.lock().iter().any(|e| {
            matches!(
                e,
                DeliveryEvent::Rejected(Rejection::StaleVersion { offered: 2, .. })
            )
        })
    });
    publish(&server, &c, good(6, true), 6);
    wait_for("an applied event", || {
        events
            .lock()
            .iter()
            .any(|e| matches!(e, DeliveryEvent::Applied { version: 6, .. }))
    });
    assert_eq!(removed.load(Ordering::SeqCst), 0);
}

#[test]
fn wait_until_ready_times_out_with_the_reason_and_refuses_runtime_threads() {
    let server = TestServer::start(Behaviour::Status {
        code: 500,
        retry_after: None,
    });
    let c = start(fast_config(Some(server.url("/config"))));
    wait_for("a failure", || {
        c.delivery.status().consecutive_failures >= 1
    });
    match c.delivery.wait_until_ready(Duration::from_millis(200)) {
        Err(WaitError::TimedOut {
            last_error: Some(_),
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
    // From inside the SDK's runtime: refused instead of deadlocking.
    let delivery = Arc::new(c.delivery);
    let d = delivery.clone();
    let (tx, rx) = mpsc::channel();
    c.runtime.handle().spawn(async move {
        let _ = tx.send(d.wait_until_ready(Duration::from_secs(5)));
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(20)).expect("ran"),
        Err(WaitError::OnRuntimeThread)
    );
    // And it returns as soon as the server recovers.
    server.set(Behaviour::serve(good(1, true), None));
    delivery.refresh();
    delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready after recovery");
}
