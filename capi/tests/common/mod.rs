//! What the tests that load liboxmq_zmq.so with `dlopen` share.

use std::ffi::c_void;
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

/// The function `name` (NUL-terminated) in the library `h` opened, as the pointer type `F`.
///
/// # Safety
/// `F` must be the function's true type.
pub unsafe fn sym<F: Copy>(h: *mut c_void, name: &str) -> F {
    assert!(name.ends_with('\0'), "{name:?} is not NUL-terminated");
    let p = libc::dlsym(h, name.as_ptr().cast());
    assert!(!p.is_null(), "{name}");
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
    std::mem::transmute_copy(&p)
}
