//! Issue 14, items 5 and 6: one storage directory, one client. A second
//! client on a locked directory, or any client on a directory it cannot
//! create or write, starts memory-only and says so in `status()`, instead of
//! losing data silently or not starting.

mod delivery_support;

use litegate::client::{Client, ClientConfig};
use std::time::Duration;

fn config(dir: &std::path::Path) -> ClientConfig {
    let mut c = ClientConfig::new("test-app", "production");
    c.bootstrap = Some(delivery_support::doc(1, "production", &[("on", true)]));
    c.storage_dir = Some(dir.to_path_buf());
    c
}

#[test]
fn a_second_client_on_a_locked_directory_is_memory_only_and_says_so() {
    let dir = tempfile::tempdir().expect("dir");
    let first = Client::start(config(dir.path())).expect("first");
    assert_eq!(first.status().memory_only, None);
    assert!(dir.path().join("config").is_dir());
    let second = Client::start(config(dir.path())).expect("second starts");
    let why = second.status().memory_only.expect("memory-only");
    assert!(why.contains("in use by another LiteGate client"), "{why}");
    assert!(second.bool_value("on", false), "flags still work");
    assert_eq!(second.config().storage_dir.as_deref(), Some(dir.path()));
    // The first one lets go at shutdown (its handle still alive): the next
    // client gets the directory.
    first.shutdown(Duration::from_secs(2));
    drop(second);
    let third = Client::start(config(dir.path())).expect("third");
    assert_eq!(third.status().memory_only, None);
}

#[test]
fn an_unwritable_directory_at_first_start_means_memory_only_not_no_client() {
    // Nothing can be created under /proc, root or not.
    let dir = std::path::Path::new("/proc/litegate-storage");
    let client = Client::start(config(dir)).expect("starts with the bootstrap");
    let why = client.status().memory_only.expect("memory-only");
    assert!(why.contains("cannot be created"), "{why}");
    assert!(client.bool_value("on", false));
    assert_eq!(client.status().config_version, Some(1));
}
