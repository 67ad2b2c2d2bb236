//! What the tests that load liboxmq_zmq.so with `dlopen` share.

use std::path::PathBuf;

/// liboxmq_zmq.so, built first: `cargo test` builds the library as an rlib only.
pub fn built_library() -> PathBuf {
    let built = std::process::Command::new(env!("CARGO"))
        .args(["build", "-p", "oxmq-capi", "--lib"])
        .status()
        .unwrap();
    assert!(built.success());
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/liboxmq_zmq.so
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("liboxmq_zmq.so");
    assert!(path.exists(), "{} not built", path.display());
    path
}
